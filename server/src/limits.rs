//! Request rate limits per client address (governor's GCRA): a strict one for login
//! (password guessing) and a generous one for everything else, plus a cap on failed
//! logins per account (guessing one password from many addresses). Over a limit
//! answers 429 `rate_limited` with `Retry-After`.
//!
//! The client address is the TCP peer, unless the peer is one of `trusted_proxies`:
//! then it is the right-most address of `X-Forwarded-For` (or `Forwarded: for=`) that
//! is not itself a trusted proxy, so a client cannot pick its own key by sending the
//! header. IPv6 clients are keyed by their /64, the block one host usually holds.

use crate::{AppState, Config};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Accounts whose failed logins are counted at once; past this, the oldest windows are
/// forgotten first (bounds memory against a spray of made-up e-mails).
const MAX_TRACKED_ACCOUNTS: usize = 100_000;

/// The limiters.
pub struct Limits {
    api: DefaultKeyedRateLimiter<IpAddr>,
    login: DefaultKeyedRateLimiter<IpAddr>,
    trusted_proxies: Vec<IpNet>,
    /// Failed logins per account (lowercased e-mail): count and window start.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    max_failures: u32,
    failure_window: Duration,
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
            trusted_proxies: cfg.trusted_proxy_nets().unwrap_or_default(),
            failures: Mutex::default(),
            max_failures: cfg.login_account_failures,
            failure_window: Duration::from_secs(cfg.login_account_window_secs),
        }
    }

    /// Drops state of addresses that are back to a full burst, and failure windows that
    /// ended (bounds memory).
    pub fn forget_idle(&self) {
        self.api.retain_recent();
        self.login.retain_recent();
        let window = self.failure_window;
        self.failures_lock()
            .retain(|_, (_, start)| start.elapsed() < window);
    }

    fn failures_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Ok` when `account` (a lowercased e-mail) may try a password now; otherwise the
    /// seconds until its failure window ends.
    pub fn account_allows(&self, account: &str) -> Result<(), u64> {
        let g = self.failures_lock();
        match g.get(account) {
            Some((n, start))
                if *n >= self.max_failures && start.elapsed() < self.failure_window =>
            {
                let left = self.failure_window.saturating_sub(start.elapsed());
                Err(left.as_secs() + u64::from(left.subsec_nanos() > 0))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed login for `account`.
    pub fn account_failed(&self, account: &str) {
        let mut g = self.failures_lock();
        if g.len() >= MAX_TRACKED_ACCOUNTS && !g.contains_key(account) {
            let window = self.failure_window;
            g.retain(|_, (_, start)| start.elapsed() < window);
            if g.len() >= MAX_TRACKED_ACCOUNTS {
                if let Some(oldest) = g.iter().min_by_key(|(_, v)| v.1).map(|(k, _)| k.clone()) {
                    g.remove(&oldest);
                }
            }
        }
        let e = g.entry(account.to_string()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= self.failure_window {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }

    /// A successful login clears the account's failures.
    pub fn account_succeeded(&self, account: &str) {
        self.failures_lock().remove(account);
    }

    /// The address a request is counted against (see the module comment).
    pub fn client_key(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|n| n.contains(ip));
        let client = if trusted(&peer) {
            forwarded_chain(headers)
                .into_iter()
                .rev()
                .find(|ip| !trusted(ip))
                .unwrap_or(peer)
        } else {
            peer
        };
        key_of(client)
    }
}

/// The limiter key of an address: IPv4 as is, IPv6 by its /64 (an IPv4-mapped IPv6
/// address as its IPv4 address).
pub fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The addresses a request passed through, client first: every `X-Forwarded-For`
/// entry, or when there is none, every `for=` of `Forwarded` (RFC 7239). Entries that
/// are not addresses (`unknown`, obfuscated names) are skipped.
fn forwarded_chain(headers: &axum::http::HeaderMap) -> Vec<IpAddr> {
    let xff: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| parse_node(s.trim()))
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .flat_map(|elem| elem.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            k.eq_ignore_ascii_case("for")
                .then(|| parse_node(v.trim().trim_matches('"')))
                .flatten()
        })
        .collect()
}

/// An address from `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1` or `[2001:db8::1]:80`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// Axum middleware applying [`Limits`].
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let ip = state.limits.client_key(peer, req.headers());
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
            // The route template, never the path: a call link's path is its token.
            let route = req
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map_or("unmatched", |p| p.as_str());
            tracing::warn!(%ip, route, "rate limited");
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn limits(trusted: &[&str]) -> Limits {
        Limits::new(&Config {
            trusted_proxies: trusted.iter().map(|s| s.to_string()).collect(),
            ..Config::default()
        })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let l = limits(&["10.0.0.0/8"]);
        let spoof = headers(&[("x-forwarded-for", "203.0.113.9")]);
        let direct: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            l.client_key(direct, &spoof),
            direct,
            "untrusted peer: header ignored"
        );
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        // The client put a fake address first; the proxy appended the real one.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.9.9.9")]);
        assert_eq!(
            l.client_key(proxy, &chain),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        let fwd = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=https, for=\"[2001:db8:1:2::77]:4711\"",
        )]);
        assert_eq!(
            l.client_key(proxy, &fwd),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            l.client_key(proxy, &HeaderMap::new()),
            proxy,
            "no header: the proxy itself"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_forwarded_header_gives_an_address(xff in proptest::prelude::any::<String>(), fwd in proptest::prelude::any::<String>()) {
            let l = limits(&["127.0.0.1"]);
            let mut h = HeaderMap::new();
            if let Ok(v) = xff.parse() {
                h.insert("x-forwarded-for", v);
            }
            if let Ok(v) = fwd.parse() {
                h.insert("forwarded", v);
            }
            let _ = l.client_key("127.0.0.1".parse().unwrap(), &h);
        }
    }

    #[test]
    fn ipv6_is_keyed_by_its_64() {
        let a = key_of("2001:db8:aa:bb:1::1".parse().unwrap());
        let b = key_of("2001:db8:aa:bb:ffff::2".parse().unwrap());
        let c = key_of("2001:db8:aa:bc::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            key_of("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn an_account_locks_after_its_failures_and_a_success_clears_them() {
        let cfg = Config {
            login_account_failures: 3,
            ..Config::default()
        };
        let l = Limits::new(&cfg);
        for _ in 0..3 {
            assert!(l.account_allows("a@x.test").is_ok());
            l.account_failed("a@x.test");
        }
        let secs = l.account_allows("a@x.test").unwrap_err();
        assert!(
            (1..=cfg.login_account_window_secs).contains(&secs),
            "{secs}"
        );
        assert!(
            l.account_allows("b@x.test").is_ok(),
            "other accounts unaffected"
        );
        l.account_succeeded("a@x.test");
        assert!(l.account_allows("a@x.test").is_ok());
    }
}
