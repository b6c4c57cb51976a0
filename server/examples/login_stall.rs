//! Does a flood of failed logins stall everyone else? An authenticated `GET /api/v1/me`
//! (a database read) 20 times a second for `SECS` while 50 logins a second fail
//! (Argon2 each), against the real server in this process. Prints one JSON line with
//! the p50/p99/max of the GETs, under load and without it.
//!
//! `cargo run --release -p softphone-server --example login_stall -- [SECS]`
//! (benches/server-ab.sh runs it against an earlier revision too, in one run).

use softphone_server::{add_user, db, Config};
use std::time::{Duration, Instant};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn probe(url: &str, token: &str, secs: u64) -> Vec<f64> {
    let http = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let end = Instant::now() + Duration::from_secs(secs);
    let mut ms = Vec::new();
    while Instant::now() < end {
        tick.tick().await;
        let t = Instant::now();
        let r = http
            .get(format!("{url}/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("me");
        assert!(r.status().is_success(), "{}", r.status());
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs: u64 = std::env::args().nth(1).map_or(Ok(10), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let conn = db::open(&data)?;
    add_user(
        &conn,
        "Bench",
        "a@bench.test",
        "A",
        softphone_proto::Role::Agent,
        "bench-password",
    )?;
    drop(conn);
    let mut cfg = Config::new(data);
    cfg.listen = "127.0.0.1:0".parse()?;
    // Measure the lock, not the rate limiter: let every attempt through.
    cfg.login_rate_per_min = 1_000_000;
    cfg.login_burst = 1_000_000;
    cfg.api_rate_per_sec = 1_000_000;
    cfg.api_burst = 1_000_000;
    let server = softphone_server::start(&cfg).await?;
    let url = server.url();
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "a@bench.test", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().expect("token").to_string();

    let mut idle = probe(&url, &token, secs).await;

    let flood_url = url.clone();
    let flood = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut n = 0u64;
        loop {
            tick.tick().await;
            n += 1;
            let (http, url) = (http.clone(), flood_url.clone());
            // Each attempt a different unknown account: no per-account limit applies,
            // and every one costs a full Argon2 verification (the dummy hash).
            tokio::spawn(async move {
                let _ = http
                    .post(format!("{url}/api/v1/auth/login"))
                    .json(&serde_json::json!({"email": format!("nobody{n}@bench.test"), "password": "wrong"}))
                    .send()
                    .await;
            });
        }
    });
    let mut loaded = probe(&url, &token, secs).await;
    flood.abort();
    println!(
        "{}",
        serde_json::json!({
            "idle_ms": {"p50": pct(&mut idle, 0.5), "p99": pct(&mut idle, 0.99), "max": pct(&mut idle, 1.0)},
            "flood_ms": {"p50": pct(&mut loaded, 0.5), "p99": pct(&mut loaded, 0.99), "max": pct(&mut loaded, 1.0)},
            "samples": loaded.len(),
        })
    );
    server.stop().await?;
    Ok(())
}
