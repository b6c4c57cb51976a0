//! The server's one error type: an HTTP status, a stable code and a message, answered
//! as an `ApiError` body. Handlers and table modules build it here, so the table
//! modules depend on nothing of the handlers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use softphone_proto::ApiError;

/// An error response: HTTP status plus a stable code.
#[derive(Debug)]
pub struct Error {
    status: StatusCode,
    code: &'static str,
    pub(crate) message: String,
}

impl Error {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = ApiError {
            code: self.code.to_string(),
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// 404 `not_found`: the item does not exist or the caller may not see it (the two are
/// never told apart).
pub(crate) fn not_found() -> Error {
    Error::new(StatusCode::NOT_FOUND, "not_found", "no such item")
}

/// 422 `request.invalid` with what is wrong.
pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::new(StatusCode::UNPROCESSABLE_ENTITY, "request.invalid", msg)
}

/// 403 `auth.forbidden` with what the caller may not do.
pub(crate) fn forbidden(msg: impl Into<String>) -> Error {
    Error::new(StatusCode::FORBIDDEN, "auth.forbidden", msg)
}

/// A database error inside a transaction: 500 `internal`, logged.
pub(crate) fn tx_err(e: rusqlite::Error) -> Error {
    Error::internal(e)
}
