//! The server's one error type: an HTTP status, a stable code and a message, answered
//! as an `ApiError` body. Handlers and table modules build it here, so the table
//! modules depend on nothing of the handlers.
//!
//! [`CODES`] is the catalogue of every (status, code) pair the HTTP API answers: the
//! OpenAPI document lists each status's codes from it, and in debug builds (every test
//! and the API fuzzer) building an error that is not in it panics, so a new code cannot
//! reach a client undocumented.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use softphone_proto::ApiError;

/// Every (HTTP status, stable code, meaning) the HTTP API answers with an `ApiError`
/// body. Signaling frames carry codes of their own (docs/protocol.md).
pub const CODES: &[(u16, &str, &str)] = &[
    (400, "request.malformed_json", "the body is not JSON"),
    (400, "request.invalid_id", "a path parameter is malformed"),
    (
        400,
        "request.invalid_query",
        "a query parameter is malformed",
    ),
    (400, "request.invalid", "a header or parameter is malformed"),
    (
        400,
        "request.not_websocket",
        "not a WebSocket upgrade request",
    ),
    (401, "auth.missing_token", "no bearer token"),
    (
        401,
        "auth.invalid_token",
        "the token is unknown, revoked or expired",
    ),
    (401, "auth.invalid_credentials", "wrong e-mail or password"),
    (
        401,
        "link.invalid",
        "the call link is unknown, revoked or expired",
    ),
    (403, "auth.forbidden", "the caller's role may not do this"),
    (
        403,
        "media.bad_signature",
        "the signed URL's signature does not match",
    ),
    (403, "media.expired", "the signed URL has expired"),
    (
        404,
        "not_found",
        "no such item, or not visible to the caller",
    ),
    (
        409,
        "conflict.duplicate",
        "another record holds a unique value",
    ),
    (
        409,
        "conflict.immutable",
        "the record's owner or kind cannot change",
    ),
    (409, "release.exists", "that version is already uploaded"),
    (
        409,
        "release.no_key",
        "the server has no update_pubkey to verify with",
    ),
    (
        409,
        "upload.conflict",
        "an upload for this call exists with other metadata",
    ),
    (
        409,
        "upload.no_call",
        "no call record of the uploader's under this call id",
    ),
    (
        409,
        "upload.offset_mismatch",
        "Upload-Offset differs from the server's (ask HEAD)",
    ),
    (412, "upload.tus_version", "Tus-Resumable is not 1.0.0"),
    (413, "request.too_large", "the JSON body is over 1 MiB"),
    (413, "body.too_large", "the body is over the route's limit"),
    (
        413,
        "upload.too_large",
        "Upload-Length is over the recording limit",
    ),
    (
        413,
        "upload.too_long",
        "the appended bytes pass Upload-Length",
    ),
    (
        415,
        "request.content_type",
        "send Content-Type: application/json",
    ),
    (
        415,
        "upload.content_type",
        "send Content-Type: application/offset+octet-stream",
    ),
    (
        422,
        "request.invalid",
        "a value is out of range or of the wrong type",
    ),
    (
        422,
        "request.unknown_field",
        "the body has a field the API does not know",
    ),
    (
        422,
        "release.bad_signature",
        "the signature does not verify for this version",
    ),
    (422, "release.no_signature", "no Update-Signature header"),
    (
        423,
        "upload.busy",
        "another request is appending to this upload",
    ),
    (
        426,
        "request.not_websocket",
        "the connection cannot be upgraded",
    ),
    (
        429,
        "rate_limited",
        "too many requests from this address (Retry-After)",
    ),
    (429, "upload.quota", "too many unfinished uploads"),
    (
        429,
        "signal.too_many_connections",
        "too many signaling connections",
    ),
    (
        460,
        "upload.checksum_mismatch",
        "the bytes' SHA-256 differs; start again",
    ),
    (500, "internal", "a server fault, logged"),
    (503, "auth.busy", "password checks are saturated; retry"),
    (
        503,
        "not_ready",
        "the database or the object store does not answer",
    ),
];

/// The catalogued codes an answer with `status` may carry, in [`CODES`] order.
pub fn codes_for(status: u16) -> impl Iterator<Item = (&'static str, &'static str)> {
    CODES
        .iter()
        .filter(move |(s, _, _)| *s == status)
        .map(|(_, c, m)| (*c, *m))
}

/// An error response: HTTP status plus a stable code.
#[derive(Debug)]
pub struct Error {
    status: StatusCode,
    code: &'static str,
    pub(crate) message: String,
}

impl Error {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(
            codes_for(status.as_u16()).any(|(c, _)| c == code),
            "{} {code} is not in error::CODES",
            status.as_u16()
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_listed_once_per_status() {
        let mut seen = std::collections::BTreeSet::new();
        for (status, code, meaning) in CODES {
            assert!(seen.insert((status, code)), "{status} {code} twice");
            assert!(StatusCode::from_u16(*status).is_ok(), "{status}");
            assert!(!meaning.is_empty());
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "418 teapot.brewing is not in error::CODES")]
    fn an_uncatalogued_error_is_refused_in_debug_builds() {
        let _ = Error::new(StatusCode::IM_A_TEAPOT, "teapot.brewing", "no");
    }
}
