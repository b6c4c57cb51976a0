//! Request ids and the access log.
//!
//! Every request gets an `x-request-id`: the client's (or the TLS proxy's, e.g. nginx's
//! `$request_id`) when it is 1-64 characters of `[A-Za-z0-9._:-]`, a fresh UUID
//! otherwise, so a hostile value never reaches a log line. The id is echoed in the
//! response and is a field of the `request` span that every log line written while
//! handling the request carries, with the method and the route *template* (never the
//! path: call-link ids and signed playback URLs stay out of the logs). One INFO line
//! per response gives status and latency.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

/// The request id header.
pub const HEADER: &str = "x-request-id";

/// True for an incoming id worth keeping (see the module docs).
pub fn usable(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=64).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(c))
}

async fn drop_unusable(mut req: Request, next: Next) -> Response {
    if req.headers().get(HEADER).is_some_and(|v| !usable(v)) {
        req.headers_mut().remove(HEADER);
    }
    next.run(req).await
}

fn span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    tracing::info_span!("request", request_id = id, method = %req.method(), route)
}

/// Wraps `app` in the request id and access log layers (outermost first: drop an
/// unusable id, set one, open the span and log the response, echo the id).
pub fn apply<S: Clone + Send + Sync + 'static>(app: Router<S>) -> Router<S> {
    let header = HeaderName::from_static(HEADER);
    app.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn(drop_unusable))
            .layer(SetRequestIdLayer::new(header.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(span)
                    .on_request(())
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(header)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_kept() {
        for ok in ["abc", "5f0c6d1e-8a5b-4f7e-9c1a-2b3c4d5e6f70", "req.1:2_3"] {
            assert!(usable(&HeaderValue::from_static(ok)), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in ["", "has space", "line\tbreak", "quote\"", long.as_str()] {
            assert!(!usable(&HeaderValue::from_str(bad).unwrap()), "{bad:?}");
        }
    }
}
