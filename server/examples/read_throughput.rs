//! Authenticated reads per second: 8 clients each read a page of 100 changes
//! (`GET /api/v1/changes`, a token lookup and a feed query) as fast as they can for
//! `SECS`, against the real server in this process, over 2,000 stored notes. With
//! `mixed`, one more client writes notes (each a transaction with its fsync) as fast as
//! it can meanwhile. Prints one JSON line: reads per second, their latency
//! percentiles, and writes per second.
//!
//! `cargo run --release -p softphone-server --example read_throughput -- [SECS] [mixed]`
//! (benches/server-ab.sh runs it against an earlier revision too, in one run).

use softphone_server::{add_user, db, Config};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs: u64 = std::env::args().nth(1).map_or(Ok(10), |s| s.parse())?;
    let mixed = std::env::args().nth(2).as_deref() == Some("mixed");
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
    cfg.api_rate_per_sec = 1_000_000;
    cfg.api_burst = 1_000_000;
    let server = softphone_server::start(&cfg).await?;
    let url = server.url();
    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "a@bench.test", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().expect("token").to_string();
    let lead = uuid::Uuid::now_v7();
    http.put(format!("{url}/api/v1/leads/{lead}"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Bench", "phone": null, "email": null, "company": null, "assigned_user_id": null}))
        .send()
        .await?
        .error_for_status()?;
    for i in 0..2000 {
        http.put(format!("{url}/api/v1/notes/{}", uuid::Uuid::now_v7()))
            .bearer_auth(&token)
            .json(&serde_json::json!({"lead_id": lead, "call_id": null, "body": format!("note {i}: called, left a message, will try again on Tuesday")}))
            .send()
            .await?
            .error_for_status()?;
    }
    let end = Instant::now() + Duration::from_secs(secs);
    let writer = mixed.then(|| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                http.put(format!("{url}/api/v1/notes/{}", uuid::Uuid::now_v7()))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"lead_id": lead, "call_id": null, "body": format!("written during the reads {n}")}))
                    .send()
                    .await
                    .expect("put")
                    .error_for_status()
                    .expect("stored");
                n += 1;
            }
            n
        })
    });
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut ms = Vec::new();
            let mut since = 0i64;
            while Instant::now() < end {
                let t = Instant::now();
                let page: serde_json::Value = http
                    .get(format!("{url}/api/v1/changes?since={since}&limit=100"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("changes")
                    .json()
                    .await
                    .expect("json");
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
                since = if page["more"].as_bool() == Some(true) {
                    page["next"].as_i64().unwrap_or(0)
                } else {
                    0
                };
            }
            ms
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let writes = match writer {
        Some(w) => w.await? as f64 / secs as f64,
        None => 0.0,
    };
    all.sort_by(f64::total_cmp);
    let p = |q: f64| all[((all.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{}",
        serde_json::json!({
            "requests_per_s": all.len() as f64 / secs as f64,
            "p50_ms": p(0.5), "p99_ms": p(0.99), "max_ms": p(1.0),
            "writes_per_s": writes,
        })
    );
    server.stop().await?;
    Ok(())
}
