//! Operational limits against the real server: login and API rate limits, expiry of
//! abandoned uploads, and playback links that verify on a second instance sharing the
//! signing key.

mod common;

use common::{boot_with, client, data_dir};
use softphone_client::{Client, ClientError, UploadMeta};
use std::time::Duration;

fn status_code(e: &ClientError) -> Option<(u16, &str)> {
    match e {
        ClientError::Api { status, code, .. } => Some((*status, code.as_str())),
        _ => None,
    }
}

#[tokio::test]
async fn password_guessing_is_rate_limited_per_address() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| {
        c.login_burst = 3;
        c.login_rate_per_min = 1;
    })
    .await;
    let mut guesser = Client::new(&server.url()).unwrap();
    for _ in 0..3 {
        let e = guesser.login("alice@acme.test", "guess").await.unwrap_err();
        assert_eq!(status_code(&e), Some((401, "auth.invalid_credentials")));
    }
    // Even the right password waits now: the limit is on attempts, not failures.
    let e = guesser
        .login("alice@acme.test", "alice-password")
        .await
        .unwrap_err();
    assert_eq!(status_code(&e), Some((429, "rate_limited")));
    let raw = reqwest::Client::new()
        .post(format!(
            "{}{}",
            server.url(),
            softphone_proto::routes::LOGIN
        ))
        .json(&serde_json::json!({"email": "a@b.c", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 429);
    let retry: u64 = raw.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // Other routes are on their own budget.
    guesser.health().await.unwrap();
    server.stop().await.unwrap();
}

/// A login as `email` with `password`, as sent through a proxy that says the client is
/// `client` (`X-Forwarded-For`); returns the status.
async fn login_from(url: &str, client: &str, email: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{url}{}", softphone_proto::routes::LOGIN))
        .header("x-forwarded-for", client)
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget_and_ipv6_counts_by_64() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| {
        c.login_burst = 2;
        c.login_rate_per_min = 1;
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let url = server.url();
    for _ in 0..2 {
        assert_eq!(
            login_from(&url, "203.0.113.1", "x@y.test", "guess").await,
            401
        );
    }
    assert_eq!(
        login_from(&url, "203.0.113.1", "x@y.test", "guess").await,
        429
    );
    // Another client behind the same proxy is not punished for the first one.
    assert_eq!(
        login_from(&url, "203.0.113.2", "x@y.test", "guess").await,
        401
    );
    // Two addresses of one IPv6 /64 share a budget; the next /64 has its own.
    for host in ["2001:db8:0:1::a", "2001:db8:0:1::b"] {
        assert_eq!(login_from(&url, host, "x@y.test", "guess").await, 401);
    }
    assert_eq!(
        login_from(&url, "2001:db8:0:1::c", "x@y.test", "guess").await,
        429
    );
    assert_eq!(
        login_from(&url, "2001:db8:0:2::a", "x@y.test", "guess").await,
        401
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_cannot_pick_its_own_key_with_forwarded_headers() {
    let (_dir, data) = data_dir();
    // No trusted proxy: the TCP peer is the client, whatever the headers say.
    let server = boot_with(&data, |c| {
        c.login_burst = 2;
        c.login_rate_per_min = 1;
    })
    .await;
    let url = server.url();
    let mut statuses = vec![];
    for i in 0..4 {
        statuses.push(login_from(&url, &format!("198.51.100.{i}"), "x@y.test", "guess").await);
    }
    assert_eq!(statuses, [401, 401, 429, 429]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn guessing_one_account_from_many_addresses_locks_that_account_only() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| {
        c.trusted_proxies = vec!["127.0.0.1".into()];
        c.login_account_failures = 5;
    })
    .await;
    let url = server.url();
    // Every guess comes from a new address, so the per-address limit never trips.
    for i in 0..5 {
        let ip = format!("192.0.2.{i}");
        assert_eq!(login_from(&url, &ip, "alice@acme.test", "guess").await, 401);
    }
    // Now even the right password waits, from a fresh address, in any letter case.
    assert_eq!(
        login_from(&url, "192.0.2.99", "Alice@Acme.test", "alice-password").await,
        429
    );
    // Bob's account is untouched.
    assert_eq!(
        login_from(&url, "192.0.2.98", "bob@acme.test", "bob-password").await,
        200
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn api_bursts_beyond_the_limit_get_429() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| {
        c.api_burst = 5;
        c.api_rate_per_sec = 1;
    })
    .await;
    let c = Client::new(&server.url()).unwrap();
    let mut refused = 0;
    for _ in 0..8 {
        if let Err(e) = c.health().await {
            assert_eq!(status_code(&e), Some((429, "rate_limited")));
            assert!(e.is_retryable());
            refused += 1;
        }
    }
    assert!(
        (2..=3).contains(&refused),
        "{refused} of 8 refused with a burst of 5"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn abandoned_uploads_expire_and_their_bytes_go() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| {
        c.upload_expiry_secs = 1;
        c.upload_sweep_secs = 1;
    })
    .await;
    let alice = client(&server.url(), "alice@acme.test").await;
    let meta = UploadMeta {
        call_id: common::call_with_lead(&alice).await,
        sha256: "0".repeat(64),
        duration_ms: 1000,
        channels: 2,
    };
    let (location, _) = alice.upload_create(1000, &meta).await.unwrap();
    alice
        .upload_patch(&location, 0, vec![7; 400])
        .await
        .unwrap();
    let staged = || std::fs::read_dir(data.join("uploads")).unwrap().count();
    assert_eq!(staged(), 1);
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Err(e) = alice.upload_offset(&location).await {
            assert_eq!(status_code(&e), Some((404, "not_found")));
            gone = true;
            break;
        }
    }
    assert!(gone, "the idle upload was not expired within 10 s");
    assert_eq!(staged(), 0, "staged bytes deleted with the row");
    // Starting again for the call is a fresh upload from byte 0.
    let (_, offset) = alice.upload_create(1000, &meta).await.unwrap();
    assert_eq!(offset, 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_shared_signing_key_lets_any_instance_serve_a_link() {
    let (_dir, data) = data_dir();
    let key = "5a".repeat(32);
    let a = boot_with(&data, |c| c.url_signing_key = Some(key.clone())).await;
    let b = boot_with(&data, |c| c.url_signing_key = Some(key.clone())).await;
    let other_key = boot_with(&data, |_| {}).await;
    let alice = client(&a.url(), "alice@acme.test").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.opus");
    let bytes = vec![42u8; 10_000];
    std::fs::write(&file, &bytes).unwrap();
    let call_id = common::call_with_lead(&alice).await;
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    alice
        .upload_recording(
            &file,
            &UploadMeta {
                call_id,
                sha256: sha,
                duration_ms: 1000,
                channels: 2,
            },
            4096,
            |_, _| {},
        )
        .await
        .unwrap();
    let (url_a, _) = alice.recording_url(call_id, 60).await.unwrap();
    let on = |server: &softphone_server::Running| {
        let mut u = url_a.clone();
        u.set_port(Some(server.addr.port())).unwrap();
        u
    };
    assert_eq!(alice.download(&on(&b), None).await.unwrap(), bytes);
    let e = alice.download(&on(&other_key), None).await.unwrap_err();
    assert_eq!(status_code(&e).map(|s| s.0), Some(403));
    for s in [a, b, other_key] {
        s.stop().await.unwrap();
    }
}
