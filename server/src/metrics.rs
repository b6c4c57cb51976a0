//! Prometheus metrics (`GET /metrics`, OpenMetrics text format).
//!
//! Key decision: one [`Registry`] per running server (prometheus-client, ADR 0017),
//! not a process-global recorder, so several servers in one test process count apart.
//! Labels only ever take values from fixed sets (route templates, not paths; a method
//! outside the usual ones is `other`), so no request can grow the series count.
//!
//! Scrape access: on the API listener only with `Authorization: Bearer METRICS_TOKEN`
//! when `metrics_token` is set (404 otherwise, as if the route did not exist); on
//! `metrics_listen`, a separate listener meant for a private address, without a token.

use crate::{AppState, Error};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};

/// Path of the scrape endpoint on both listeners.
pub const ROUTE: &str = "/metrics";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route template (`/api/v1/notes/{id}`), or `unmatched`.
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// Why a login failed, as the `reason` label of `softphone_login_failures_total`.
#[derive(Clone, Copy, Debug)]
pub enum LoginFailure {
    /// Wrong e-mail or password, or a disabled account (401).
    Credentials,
    /// The account's failure cap was reached (429).
    AccountLimited,
    /// No hashing slot within the wait (503 `auth.busy`).
    Busy,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s in 15 doublings: a feed read and a 5 MiB upload part both land inside.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The server's metrics. Counters are cheap atomics; gauges of the signaling hub are
/// read when scraped.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    login_failures: Family<ReasonLabels, Counter>,
    upload_bytes: Counter,
    sync_pushes: Family<KindLabels, Counter>,
    signal_connections: Gauge,
    calls: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("softphone");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, seconds (a WebSocket counts until its upgrade)",
            latency.clone(),
        );
        let login_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "login_failures",
            "Refused logins, by reason (credentials, account_limited, busy)",
            login_failures.clone(),
        );
        let upload_bytes = Counter::default();
        registry.register(
            "upload_bytes",
            "Recording bytes received through tus PATCH requests",
            upload_bytes.clone(),
        );
        let sync_pushes = Family::<KindLabels, Counter>::default();
        registry.register(
            "sync_pushes",
            "Records written by clients (PUT accepted), by kind",
            sync_pushes.clone(),
        );
        let signal_connections = Gauge::default();
        registry.register(
            "signal_connections",
            "Open signaling connections (agents' WebSockets, call-link pages, echo peers)",
            signal_connections.clone(),
        );
        let calls = Gauge::default();
        registry.register(
            "calls",
            "Calls ringing or in progress through the signaling hub",
            calls.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            login_failures,
            upload_bytes,
            sync_pushes,
            signal_connections,
            calls,
        }
    }
}

impl Metrics {
    /// Counts one refused login.
    pub fn login_failed(&self, why: LoginFailure) {
        let reason = match why {
            LoginFailure::Credentials => "credentials",
            LoginFailure::AccountLimited => "account_limited",
            LoginFailure::Busy => "busy",
        };
        self.login_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Adds `bytes` received for recordings.
    pub fn uploaded(&self, bytes: u64) {
        self.upload_bytes.inc_by(bytes);
    }

    /// Counts one accepted client write of a record of `kind` (the table name).
    pub fn pushed(&self, kind: &'static str) {
        self.sync_pushes.get_or_create(&KindLabels { kind }).inc();
    }

    /// The OpenMetrics text, with the hub's gauges read now.
    pub fn render(&self, hub: &crate::signal::Hub) -> String {
        let (conns, calls) = hub.counts();
        self.signal_connections.set(conns as i64);
        self.calls.set(calls as i64);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Axum middleware counting every request and timing it to its response head.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = method_label(req.method());
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    let m = &state.metrics;
    m.latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
            method,
        })
        .observe(start.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

fn openmetrics(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `GET /metrics` on the API listener: needs `Authorization: Bearer` with
/// `metrics_token`; 404 `not_found` when no token is configured, 401 `auth.invalid_token`
/// for a wrong or missing one.
pub async fn scrape(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(want) = state.metrics_token.as_deref() else {
        return Error::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response();
    };
    let given = crate::bearer(&headers).unwrap_or_default();
    // Compare digests: equal-length values, so the comparison's timing reveals nothing
    // about the token.
    if Sha256::digest(given.as_bytes()) != Sha256::digest(want.as_bytes()) {
        return Error::new(
            StatusCode::UNAUTHORIZED,
            "auth.invalid_token",
            "send Authorization: Bearer METRICS_TOKEN",
        )
        .into_response();
    }
    openmetrics(state.metrics.render(&state.hub))
}

/// The router of `metrics_listen`: `GET /metrics`, no token.
pub fn private_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route(
            ROUTE,
            axum::routing::get(|State(s): State<AppState>| async move {
                openmetrics(s.metrics.render(&s.hub))
            }),
        )
        .with_state(state)
}
