//! Request rate limits per client address (governor's GCRA): a strict one for login
//! (password guessing) and a generous one for everything else. Over the limit answers
//! 429 `rate_limited` with `Retry-After`.

use crate::{AppState, Config};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;

/// The two limiters.
pub struct Limits {
    api: DefaultKeyedRateLimiter<IpAddr>,
    login: DefaultKeyedRateLimiter<IpAddr>,
}

fn nz(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN)
}

impl Limits {
    /// From the configured rates (validated positive).
    pub fn new(cfg: &Config) -> Self {
        Self {
            api: RateLimiter::keyed(
                Quota::per_second(nz(cfg.api_rate_per_sec)).allow_burst(nz(cfg.api_burst)),
            ),
            login: RateLimiter::keyed(
                Quota::per_minute(nz(cfg.login_rate_per_min)).allow_burst(nz(cfg.login_burst)),
            ),
        }
    }

    /// Drops state of addresses that are back to a full burst (bounds memory).
    pub fn forget_idle(&self) {
        self.api.retain_recent();
        self.login.retain_recent();
    }
}

/// Axum middleware applying [`Limits`].
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let limiter = if req.uri().path() == softphone_proto::routes::LOGIN {
        &state.limits.login
    } else {
        &state.limits.api
    };
    match limiter.check_key(&ip) {
        Ok(()) => next.run(req).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::warn!(%ip, path = req.uri().path(), "rate limited");
            let mut resp = crate::Error::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {secs} s"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
    }
}
