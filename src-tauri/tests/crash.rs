//! The organisation's policy from the server applies in the app from sign-in, and
//! the desktop app killed in the middle of a recorded call (SIGKILL: no hang-up, no
//! finish, no save) loses neither the call nor its recording: at its next start it
//! repairs the cut recording, makes the call record (end reason `crashed`, its real
//! duration, its lead) and syncs both, so the server holds a recording that plays.
//!
//! Real parts as in `e2e.rs`: the app binary in WebKitGTK under Xvfb through
//! tauri-driver, the real server on 127.0.0.1:0, PulseAudio's virtual devices and the
//! session in gnome-keyring (`scripts/test-all.sh` starts them). A separate test
//! binary, so it never runs beside the main end-to-end test on the same devices.

mod harness;

use harness::*;
use softphone_controller::agent::Account;
use softphone_proto::Change;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The app's own process (not tauri-driver's or WebKitWebDriver's, which carry the same
/// environment): the `agent-softphone` executable started with `profile`.
fn app_pid(profile: &Path) -> Option<i32> {
    let needle = format!("SOFTPHONE_PROFILE={}", profile.display());
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let exe = std::fs::read_link(e.path().join("exe")).unwrap_or_default();
        if exe.file_name().and_then(|n| n.to_str()) != Some("agent-softphone") {
            continue;
        }
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

/// `opusinfo`'s channel count and playback length (s) of `file`, after checking that
/// it reports no error or warning.
fn opusinfo(file: &Path) -> Result<(u32, f64)> {
    let out = Command::new("opusinfo").arg(file).output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() || text.contains("WARNING") || text.contains("ERROR") {
        return Err(format!("opusinfo complains:\n{text}").into());
    }
    let channels = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Channels: "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no channel count in:\n{text}"))?;
    // "Playback length: 0m:07.493s"
    let length = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Playback length: "))
        .and_then(|v| {
            let (m, s) = v.trim().trim_end_matches('s').split_once('m')?;
            let s = s.trim_start_matches(':');
            Some(m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
        })
        .ok_or_else(|| format!("no playback length in:\n{text}"))?;
    Ok((channels, length))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_killed_in_a_recorded_call_keeps_the_call_and_its_recording() -> Result<()> {
    require_session()?;
    let tmp = tempfile::Builder::new()
        .prefix("softphone-crash-")
        .tempdir()?;
    let voice = speech(tmp.path())?;
    let (server, _data) = demo_server(tmp.path()).await?;
    let url = format!("http://{}", server.addr);
    let (email, _, _) = softphone_server::demo::ACCOUNTS[2];
    // The organisation's policy on the server fixes the recording quality; the app
    // applies it from sign-in.
    let (admin_email, _, _) = softphone_server::demo::ACCOUNTS[0];
    let boss = Account::sign_in(&url, admin_email, softphone_server::demo::PASSWORD).await?;
    boss.client()
        .set_org_policy(&softphone_proto::OrgPolicy {
            recording_bitrate_kbps: Some(24),
            ..Default::default()
        })
        .await?;
    let (_xvfb, display) = start_xvfb()?;
    let profile = tmp.path().join("profile");
    let admin = tmp.path().join("admin-config.json");
    std::fs::write(
        &admin,
        serde_json::json!({ "server_url": url, "recording": "forced" }).to_string(),
    )?;
    let env = |log: &str| -> Vec<(&'static str, std::ffi::OsString)> {
        vec![
            ("SOFTPHONE_PROFILE", profile.clone().into_os_string()),
            ("SOFTPHONE_ADMIN_CONFIG", admin.clone().into_os_string()),
            ("RUST_LOG", "warn".into()),
            ("SOFTPHONE_LOG_DIR", tmp.path().join(log).into_os_string()),
        ]
    };
    let env1 = env("logs-1");
    let first: Vec<(&str, &std::ffi::OsStr)> =
        env1.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let (driver, c) = launch_app(&display, &first, &tmp.path().join("app-1.log")).await?;

    // Sign in, and call echo about the first lead with recording forced.
    wait_visible(&c, "#signin").await?;
    find(&c, "#email").await?.send_keys(email).await?;
    find(&c, "#password")
        .await?
        .send_keys(softphone_server::demo::PASSWORD)
        .await?;
    find(&c, "#signin-form button[type=submit]")
        .await?
        .click()
        .await?;
    wait_count(&c, "#leads li", 10, 20).await?;
    let policy = wait_text(&c, "#record-policy", 10, |t| t.contains("24 kbit/s")).await?;
    assert!(policy.contains("set by your administrator"), "{policy}");
    let fixed = c
        .execute(
            "return [document.getElementById('bitrate').value, document.getElementById('bitrate').disabled]",
            vec![],
        )
        .await?;
    assert_eq!(fixed, serde_json::json!(["24", true]));
    let lead: uuid::Uuid = attr(&c, "#leads li:nth-child(1) button", "data-lead")
        .await?
        .parse()?;
    let target = find(&c, "#target").await?;
    target.clear().await?;
    target.send_keys("echo").await?;
    find(&c, "#dial").await?.click().await?;
    wait_text(&c, "#call-state", 20, |t| {
        t.eq_ignore_ascii_case("connected")
    })
    .await?;
    // Speech into the virtual microphone for the whole call.
    let mut talk = Command::new("sh");
    talk.arg("-c").arg(format!(
        "while :; do paplay -d micfeed '{}' || exit; done",
        voice.display()
    ));
    let talking = spawn(&mut talk, "paplay loop")?;
    tokio::time::sleep(Duration::from_secs(8)).await;

    // SIGKILL the app itself.
    let pid = app_pid(&profile).ok_or("the app's process was not found")?;
    // SAFETY: kill(2) with a pid read from /proc; no memory is involved.
    let r = unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_eq!(r, 0, "kill({pid}) failed");
    for _ in 0..50 {
        if app_pid(&profile).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(app_pid(&profile).is_none(), "the app survived SIGKILL");
    drop(talking);
    drop(c);
    drop(driver);
    let cut: Vec<_> = std::fs::read_dir(profile.join("recordings"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        cut.iter().any(|n| n.ends_with(".part")),
        "the recording was cut mid-write: {cut:?}"
    );

    // Start it again: signed in from the keyring, it recovers and syncs the call.
    let env2 = env("logs-2");
    let second: Vec<(&str, &std::ffi::OsStr)> =
        env2.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let (_driver, c) = launch_app(&display, &second, &tmp.path().join("app-2.log")).await?;
    wait_count(&c, "#leads li", 10, 20).await?;
    find(&c, "#sync-now").await?.click().await?;

    let agent = Account::sign_in(&url, email, softphone_server::demo::PASSWORD).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let call = loop {
        let page = agent.client().changes(0, 1000).await?;
        let found = page.changes.into_iter().find_map(|ch| match ch {
            Change::Call(call) if call.lead_id == lead && call.has_recording => Some(call),
            _ => None,
        });
        if let Some(call) = found {
            break call;
        }
        if std::time::Instant::now() > deadline {
            // What the restarted app saw: its log, and whether the call is still in the
            // journal (recovery skipped it) or in the outbox (recovered, not pushed).
            let mut why = String::new();
            if let Ok(files) = softphone_controller::logs::files(&tmp.path().join("logs-2")) {
                for f in files {
                    why.push_str(&std::fs::read_to_string(f).unwrap_or_default());
                }
            }
            if let Ok((store, _)) = softphone_store::Store::open(&profile) {
                why.push_str(&format!(
                    "\njournal: {:?}\nstatus: {:?}",
                    store.journal().map(|j| j.len()),
                    store.status()
                ));
            }
            return Err(format!(
                "no call record with its recording on the server after 60 s\n{why}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(call.end_reason.as_deref(), Some("crashed"), "{call:?}");
    let duration = call.duration_ms.unwrap_or(0);
    assert!(duration >= 6_000, "{duration} ms recorded");
    let (u, _) = agent.client().recording_url(call.id, 60).await?;
    let bytes = agent.client().download(&u, None).await?;
    let got = tmp.path().join("from-server.opus");
    std::fs::write(&got, &bytes)?;
    let (channels, secs) = opusinfo(&got)?;
    assert_eq!(channels, 2, "agent left, remote right");
    assert!(secs >= 6.0, "{secs:.1} s plays");
    // The timeline shows it as a call that ended in a crash, recording on the server.
    click(&c, &format!("#leads button[data-lead='{lead}']")).await?;
    wait_text(&c, LAST_CALL, 30, |t| t.contains("echo test")).await?;
    c.close().await?;
    server.stop().await?;
    Ok(())
}
