//! Signaling load benchmark: N authenticated WebSocket connections to the real
//! `softphone-server` binary (a separate process, on loopback), paired into calls, then
//! ICE frames relayed from caller to callee while every connection stays open; prints
//! relay latency p50/p99 and the server's memory. With UPLOADS > 0, that many agents
//! upload 50 MB recordings back to back (tus, 8 MiB PATCHes, fsync'd) while the frames
//! are relayed, and the upload throughput is printed too.
//!
//! `cargo build --release -p softphone-server --bins --examples &&
//!  target/release/examples/signal_load N [RELAYS] [UPLOADS]`
//!
//! Clients and server share the machine's cores, so latencies include the clients' own
//! work; the figure is an upper bound for the server. Each process needs N file
//! descriptors (`ulimit -n`).

use futures_util::{SinkExt, StreamExt};
use softphone_proto::signal::{ClientMsg, IceCandidate, ServerMsg};
use softphone_server::{auth, db};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const ORG_SIZE: usize = 100;

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map_or(Ok(1000), |s| s.parse())?;
    let relays: usize = std::env::args().nth(2).map_or(Ok(5000), |s| s.parse())?;
    let uploads: usize = std::env::args().nth(3).map_or(Ok(0), |s| s.parse())?;
    let n = n - n % 2;
    let dir = tempfile::tempdir()?;
    let conn = db::open(dir.path())?;
    // One hash for every account: hashing 10k passwords with argon2 is not the subject.
    let hash = auth::hash_password("bench-password")?;
    let now = softphone_server::now();
    let tx = conn.unchecked_transaction()?;
    let mut tokens = Vec::with_capacity(n);
    for i in 0..n {
        let org = db::orgs::get_or_create(&tx, &format!("org-{}", i / ORG_SIZE), now)?;
        let user = db::users::insert(
            &tx,
            org,
            &format!("u{i}@bench.test"),
            &format!("User {i}"),
            softphone_proto::Role::Agent,
            &hash,
            now,
        )?;
        let token = auth::new_token();
        db::tokens::insert(&tx, &auth::token_sha256(&token), user, now, now + 86_400)?;
        tokens.push((user, token));
    }
    tx.commit()?;
    drop(conn);

    let bin = std::env::current_exe()?
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("softphone-server"))
        .filter(|p| p.is_file())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "build the server binary first: cargo build --release -p softphone-server --bins"
            )
        })?;
    let mut child = std::process::Command::new(bin)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SOFTPHONE_API_BURST", "1000000000")
        .env("SOFTPHONE_API_RATE_PER_SEC", "1000000000")
        .env("SOFTPHONE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("piped")),
        &mut line,
    )?;
    let base = line
        .trim()
        .strip_prefix("listening on http://")
        .ok_or_else(|| anyhow::anyhow!("unexpected server output: {line}"))?
        .to_string();
    let ws_url = format!("ws://{base}{}", softphone_proto::signal::ROUTE);
    let pid = child.id();
    let rss_idle = rss_mib(pid);

    let latencies = Arc::new(Mutex::new(Vec::<u64>::with_capacity(relays)));
    let accepted = Arc::new(AtomicUsize::new(0));
    let epoch = Instant::now();
    let t0 = Instant::now();
    let mut writers = Vec::with_capacity(n);
    let sem = Arc::new(tokio::sync::Semaphore::new(256));
    let mut connects = Vec::with_capacity(n);
    for (_, token) in &tokens {
        let (url, token, sem) = (ws_url.clone(), token.clone(), sem.clone());
        connects.push(tokio::spawn(async move {
            let _permit = sem.acquire().await;
            let mut req = url.into_client_request()?;
            req.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
            let (ws, _) = tokio_tungstenite::connect_async(req).await?;
            anyhow::Ok(ws)
        }));
    }
    for c in connects {
        let ws = c.await??;
        let (mut sink, mut stream) = ws.split();
        let (wtx, mut wrx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(t) = wrx.recv().await {
                if sink.send(Message::Text(t.into())).await.is_err() {
                    break;
                }
            }
        });
        let (lat, acc, me) = (latencies.clone(), accepted.clone(), wtx.clone());
        tokio::spawn(async move {
            while let Some(Ok(Message::Text(t))) = stream.next().await {
                match serde_json::from_str::<ServerMsg>(&t) {
                    Ok(ServerMsg::Incoming { call_id, .. }) => {
                        let a = ClientMsg::Accept {
                            call_id,
                            answer: None,
                        };
                        let _ = me.send(serde_json::to_string(&a).unwrap_or_default());
                    }
                    Ok(ServerMsg::Accepted { .. }) => {
                        acc.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(ServerMsg::Ice { candidate, .. }) => {
                        if let Ok(sent) = candidate.candidate.parse::<u64>() {
                            let now = epoch.elapsed().as_micros() as u64;
                            if let Ok(mut l) = lat.lock() {
                                l.push(now.saturating_sub(sent));
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
        writers.push(wtx);
    }
    let connect_s = t0.elapsed().as_secs_f64();
    let rss_connected = rss_mib(pid);

    // Pair 2k with 2k+1 (same organisation) and set the calls up.
    let pairs = n / 2;
    let mut calls = Vec::with_capacity(pairs);
    for p in 0..pairs {
        let call_id = Uuid::now_v7();
        let invite = ClientMsg::Invite {
            call_id,
            to: tokens[2 * p + 1].0.to_string(),
            offer: None,
        };
        writers[2 * p].send(serde_json::to_string(&invite)?)?;
        calls.push(call_id);
    }
    let setup = Instant::now();
    while accepted.load(Ordering::Relaxed) < pairs {
        anyhow::ensure!(
            setup.elapsed() < Duration::from_secs(120),
            "calls not set up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let setup_s = setup.elapsed().as_secs_f64();

    // Uploads streaming meanwhile, each from its own agent (one upload in flight each).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let uploaded = Arc::new(AtomicUsize::new(0));
    let mut uploaders = Vec::new();
    if uploads > 0 {
        let bytes: Vec<u8> = (0..50_000_000u32)
            .map(|i| i.wrapping_mul(2_654_435_761).to_be_bytes()[0])
            .collect();
        let file = dir.path().join("rec.opus");
        std::fs::write(&file, &bytes)?;
        let sha = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        for (_, token) in tokens.iter().take(uploads) {
            let client =
                softphone_client::Client::new(&format!("http://{base}"))?.with_token(token.clone());
            let (file, sha, stop, done) =
                (file.clone(), sha.clone(), stop.clone(), uploaded.clone());
            uploaders.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let meta = softphone_client::UploadMeta {
                        call_id: Uuid::now_v7(),
                        sha256: sha.clone(),
                        duration_ms: 0,
                        channels: 2,
                    };
                    client
                        .upload_recording(&file, &meta, 8 << 20, |_, _| {})
                        .await?;
                    done.fetch_add(50, Ordering::Relaxed);
                }
                anyhow::Ok(())
            }));
        }
        // Let the uploads reach full speed first.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    // Relay ICE frames at about 1000/s, spread over the calls.
    let t1 = Instant::now();
    for r in 0..relays {
        let p = (r * 7919) % pairs;
        let ice = ClientMsg::Ice {
            call_id: calls[p],
            candidate: IceCandidate {
                candidate: (epoch.elapsed().as_micros() as u64).to_string(),
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
            },
        };
        writers[2 * p].send(serde_json::to_string(&ice)?)?;
        if r % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    while latencies.lock().map(|l| l.len()).unwrap_or(0) < relays {
        anyhow::ensure!(t1.elapsed() < Duration::from_secs(120), "relays lost");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let relay_s = t1.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mb_done = uploaded.load(Ordering::Relaxed);
    for u in uploaders {
        u.await??;
    }
    let mut l = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    l.sort_unstable();
    if uploads > 0 {
        println!(
            "{uploads} uploads streaming during the relays: {mb_done} MB finished in \
             {relay_s:.1} s of relaying ({:.0} MB/s)",
            mb_done as f64 / relay_s
        );
    }
    println!(
        "connections {n}: connect {connect_s:.2} s, {pairs} calls set up in {setup_s:.2} s; \
         relay latency p50 {:.2} ms p99 {:.2} ms max {:.2} ms over {relays} frames; \
         server RSS {rss_idle:.0} MiB idle, {rss_connected:.0} MiB with all connected",
        pct(&l, 0.5),
        pct(&l, 0.99),
        pct(&l, 1.0),
    );
    let _ = child.kill();
    let _ = child.wait();
    std::process::exit(0);
}
