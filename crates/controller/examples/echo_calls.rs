//! Memory over many calls without the webview: signs in, then places `N` recorded
//! echo calls one after another the way the desktop app does (dial through a fresh
//! phone line, events drained, hang-up, call record saved, one sync round) and prints
//! the process's RSS and PSS after a warm-up call and every ten calls.
//!
//! Usage: `echo_calls SERVER_URL EMAIL N [--devices]` with the password on stdin;
//! silence in and nothing out unless `--devices` (the default PulseAudio devices).
//! Run under `heaptrack` to see what the calls leave behind (benches/app-footprint.sh
//! measures the whole app, web process included).

use softphone_call::{AudioIn, AudioOut, CallEvent, CallSetup, CallState, Command, RecordSpec};
use softphone_controller::agent::{Account, Agent};
use softphone_recorder::RecorderConfig;
use std::io::BufRead;
use std::time::{Duration, Instant};

/// RSS and PSS of this process, KiB (`/proc/self/smaps_rollup`).
fn memory_kib() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Rss:"), field("Pss:"))
}

async fn one_call(agent: &Agent, devices: bool, n: usize) -> Result<(), String> {
    let call_id = uuid::Uuid::now_v7();
    let dir = agent.profile().join("recordings");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let setup = CallSetup {
        input: if devices {
            AudioIn::Device(None)
        } else {
            AudioIn::Silence
        },
        output: if devices {
            AudioOut::Device(None)
        } else {
            AudioOut::Discard
        },
        record: Some(RecordSpec {
            path: dir.join(format!("{call_id}.opus")),
            meta: softphone_controller::new_meta(
                Some(call_id.to_string()),
                None,
                "agent",
                "remote",
            ),
            config: RecorderConfig::live_call(),
        }),
        ..CallSetup::default()
    };
    let phone = agent.account().phone().await.map_err(|e| e.to_string())?;
    let mut call = phone
        .dial_as(call_id, "echo", setup)
        .map_err(|e| e.to_string())?;
    let mut connected_at = None;
    let started = Instant::now();
    loop {
        let wait = tokio::time::timeout(Duration::from_millis(100), call.next_event()).await;
        match wait {
            Ok(Some(CallEvent::State { state })) => {
                if matches!(state, CallState::Connected) && connected_at.is_none() {
                    connected_at = Some(Instant::now());
                }
                if matches!(state, CallState::Ended { .. }) {
                    break;
                }
            }
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => break,
        }
        let hang_up = connected_at.is_some_and(|t| t.elapsed() > Duration::from_secs(1))
            || started.elapsed() > Duration::from_secs(20);
        if hang_up {
            call.send(Command::Hangup).await;
        }
    }
    let (report, phone) = call.finish().await;
    if connected_at.is_none() {
        return Err(format!("call {n} never connected: {:?}", report.end_reason));
    }
    agent.save_call(&report, None).map_err(|e| e.to_string())?;
    let _ = agent.sync_once().await;
    phone.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    softphone_controller::tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: echo_calls SERVER_URL EMAIL N [--devices] (password on stdin)".into());
    }
    let (server, email) = (&args[1], &args[2]);
    let n: usize = args[3].parse().map_err(|e| format!("N: {e}"))?;
    let devices = args.iter().any(|a| a == "--devices");
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| e.to_string())?;
    let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
    let account = Account::sign_in(server, email, password.trim())
        .await
        .map_err(|e| e.to_string())?;
    let (agent, _) = Agent::open(profile.path(), account).map_err(|e| e.to_string())?;
    one_call(&agent, devices, 0).await?;
    let (rss0, pss0) = memory_kib();
    println!("after warm-up: RSS {rss0} KiB, PSS {pss0} KiB");
    for i in 1..=n {
        one_call(&agent, devices, i).await?;
        if i % 10 == 0 || i == n {
            let (rss, pss) = memory_kib();
            println!(
                "after {i} calls: RSS {rss} KiB ({:+}), PSS {pss} KiB ({:+})",
                rss as i64 - rss0 as i64,
                pss as i64 - pss0 as i64
            );
        }
    }
    Ok(())
}
