//! Request extractors whose rejections are [`Error`]s with stable codes, so malformed
//! input never answers axum's plain-text defaults:
//!
//! | input | status | code |
//! | --- | --- | --- |
//! | body is not JSON | 400 | `request.malformed_json` |
//! | JSON of the wrong shape or type | 422 | `request.invalid` |
//! | a field the server does not know | 422 | `request.unknown_field` |
//! | no `Content-Type: application/json` | 415 | `request.content_type` |
//! | body over the limit (1 MiB) | 413 | `request.too_large` |
//! | an id in the path that is not a UUID | 400 | `request.invalid_id` |
//! | a bad query parameter | 400 | `request.invalid_query` |
//! | not a WebSocket upgrade (on a signaling route) | 400 | `request.not_websocket` |
//! | a connection that cannot be upgraded | 426 | `request.not_websocket` |
//!
//! Unknown fields are refused rather than ignored: a newer app writing a field this server
//! would drop learns so instead of losing data. Clients, in turn, ignore unknown fields
//! in answers, so a newer server works with older apps.

use crate::Error;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::StatusCode;

/// A JSON request body.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct JsonBody<T>(pub T);

/// Path parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct Path<T>(pub T);

/// Query parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct Query<T>(pub T);

/// A WebSocket upgrade request.
pub struct WsUpgrade(pub axum::extract::WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for WsUpgrade {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Error> {
        axum::extract::WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(WsUpgrade)
            .map_err(Error::from)
    }
}

impl From<WebSocketUpgradeRejection> for Error {
    fn from(r: WebSocketUpgradeRejection) -> Self {
        let status = if r.status() == StatusCode::UPGRADE_REQUIRED {
            StatusCode::UPGRADE_REQUIRED
        } else {
            StatusCode::BAD_REQUEST
        };
        Error::new(status, "request.not_websocket", r.body_text())
    }
}

impl From<JsonRejection> for Error {
    fn from(r: JsonRejection) -> Self {
        let text = r.body_text();
        match r {
            JsonRejection::JsonDataError(_) if text.contains("unknown field") => Error::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "request.unknown_field",
                text,
            ),
            JsonRejection::JsonDataError(_) => {
                Error::new(StatusCode::UNPROCESSABLE_ENTITY, "request.invalid", text)
            }
            JsonRejection::JsonSyntaxError(_) => {
                Error::new(StatusCode::BAD_REQUEST, "request.malformed_json", text)
            }
            JsonRejection::MissingJsonContentType(_) => Error::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.content_type",
                "send Content-Type: application/json",
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Error::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request.too_large",
                "request body over 1 MiB",
            ),
            other => Error::new(
                StatusCode::BAD_REQUEST,
                "request.invalid",
                other.body_text(),
            ),
        }
    }
}

impl From<PathRejection> for Error {
    fn from(r: PathRejection) -> Self {
        Error::new(
            StatusCode::BAD_REQUEST,
            "request.invalid_id",
            format!("bad path parameter: {}", r.body_text()),
        )
    }
}

impl From<QueryRejection> for Error {
    fn from(r: QueryRejection) -> Self {
        Error::new(
            StatusCode::BAD_REQUEST,
            "request.invalid_query",
            r.body_text(),
        )
    }
}
