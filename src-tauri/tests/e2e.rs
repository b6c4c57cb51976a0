//! The desktop app end to end, through WebDriver, as an agent uses it.
//!
//! Steps: sign in; a colleague calls (ringtone on the speaker, answer, hear him, hang
//! up); an echo call (mic meter in silence, speech and mute; keypad; hang up); the call
//! and its recording in the timeline; a note written with the server down, pending,
//! then synced once; a call link made, listed and revoked; search; in a narrow window,
//! the views (bar and Alt+1-4) with the call panel kept on screen during a call; a call
//! under a relay-only policy with no TURN server refused with its reason.
//!
//! Real parts only: the app binary cargo built for this test (assets embedded) in a
//! real WebKitGTK window under a private Xvfb, driven by `tauri-driver` (npm
//! `@crabnebula/tauri-driver`, installed by `npm ci`) over WebKitWebDriver; the real
//! server with demo data in this process on 127.0.0.1:0; the real PulseAudio virtual
//! devices (`tests/scripts/pulse-virtual.sh`: speech goes into `micfeed`, the app
//! captures `vmic`); the session in gnome-keyring. `scripts/test-all.sh` starts D-Bus,
//! the keyring and PulseAudio; this test starts Xvfb, tauri-driver and the server.
//!
//! Screenshots of the main screens go to `$SOFTPHONE_SCREENSHOTS` (default: a folder in
//! the temp dir; `docs/screenshots/` holds the committed ones).

mod harness;

use fantoccini::{Client, Locator};
use harness::*;
use softphone_call::{AudioIn, AudioOut, CallSetup, EndReason};
use softphone_controller::agent::Account;
use softphone_proto::Change;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Records `ms` of the virtual speaker's audio (waiting up to 15 s for it: parecord
/// sometimes takes seconds to get its first audio) and returns its RMS and the
/// Goertzel power at the ringtone's 440 + 480 Hz and at 1 kHz (a control frequency).
fn tone_on_speaker(ms: u64) -> Result<(f64, f64, f64)> {
    // parecord writes into its file as audio arrives; SIGINT ends it cleanly. Without
    // `--latency-msec` the server hands a record stream its audio in fragments of up to
    // 2 s, so a 1.5 s recording often got nothing at all (seen here).
    let file = std::env::temp_dir().join(format!("softphone-e2e-ring-{}.raw", std::process::id()));
    let mut rec = Command::new("parecord")
        .args(["-d", "speaker.monitor", "--raw", "--format=float32le"])
        .args(["--rate=48000", "--channels=1", "--latency-msec=20"])
        .arg(&file)
        .stderr(std::fs::File::create(file.with_extension("log"))?)
        .spawn()?;
    let want = ms * 48 * 4; // bytes of 48 kHz mono f32
    let end = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < end
        && std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) < want
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(rec.id() as i32, libc::SIGINT) };
    rec.wait()?;
    let log = std::fs::read_to_string(file.with_extension("log")).unwrap_or_default();
    let _ = std::fs::remove_file(file.with_extension("log"));
    let bytes = std::fs::read(&file)?;
    let _ = std::fs::remove_file(&file);
    let x: Vec<f64> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
        .collect();
    if x.len() < 4800 {
        let pactl = |what: &str| {
            Command::new("pactl")
                .args(["list", "short", what])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        return Err(format!(
            "parecord gave {} samples: {log}\nsink inputs:\n{}\nsources:\n{}",
            x.len(),
            pactl("sink-inputs"),
            pactl("sources")
        )
        .into());
    }
    let goertzel = |f: f64| {
        let w = std::f64::consts::TAU * f / 48_000.0;
        let (mut s1, mut s2) = (0.0, 0.0);
        for v in &x {
            let s0 = v + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2
    };
    let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
    Ok((rms, goertzel(440.0) + goertzel(480.0), goertzel(1000.0)))
}

struct Shots(PathBuf);

impl Shots {
    async fn take(&self, c: &Client, name: &str) -> Result<()> {
        let png = c.screenshot().await?;
        std::fs::write(self.0.join(format!("{name}.png")), png)?;
        Ok(())
    }

    /// A screenshot of the window scrolled so that the last element matching `css` is
    /// in the middle.
    async fn at(&self, c: &Client, css: &str, name: &str) -> Result<()> {
        c.execute(
            "[...document.querySelectorAll(arguments[0])].pop().scrollIntoView({block: 'center'})",
            vec![css.into()],
        )
        .await?;
        self.take(c, name).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_signs_in_calls_echo_and_keeps_notes_through_an_outage() -> Result<()> {
    require_session()?;
    let tmp = tempfile::Builder::new()
        .prefix("softphone-e2e-")
        .tempdir()?;
    let shots = Shots(match std::env::var_os("SOFTPHONE_SCREENSHOTS") {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join("agent-softphone-e2e-screenshots"),
    });
    std::fs::create_dir_all(&shots.0)?;
    let voice = speech(tmp.path())?;

    // The server with demo data.
    let (server, data) = demo_server(tmp.path()).await?;
    let addr = server.addr;
    let url = format!("http://{addr}");
    let (email, _, _) = softphone_server::demo::ACCOUNTS[1];

    // Display, driver, app.
    let (_xvfb, display) = start_xvfb()?;
    let profile = tmp.path().join("profile");
    let logs = tmp.path().join("logs");
    // A managed install: the administrator presets (and locks) the server URL.
    let admin = tmp.path().join("admin-config.json");
    std::fs::write(
        &admin,
        serde_json::json!({
            "server_url": url,
            "lock_server_url": true,
            "recording": "forced",
            "recording_bitrate_kbps": 24,
        })
        .to_string(),
    )?;
    let (_driver, c) = launch_app(
        &display,
        &[
            ("SOFTPHONE_PROFILE", profile.as_os_str()),
            ("SOFTPHONE_ADMIN_CONFIG", admin.as_os_str()),
            ("RUST_LOG", "warn".as_ref()),
            ("SOFTPHONE_LOG_DIR", logs.as_os_str()),
        ],
        &tmp.path().join("app.log"),
    )
    .await?;
    let outcome = drive(
        &c, &shots, &voice, server, &data, addr, &url, email, &logs, &admin,
    )
    .await;
    if outcome.is_err() {
        let _ = shots.take(&c, "failure").await;
        eprintln!(
            "screenshot of the failure: {}",
            shots.0.join("failure.png").display()
        );
    }
    c.close().await?;
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    c: &Client,
    shots: &Shots,
    voice: &Path,
    server: softphone_server::Running,
    data: &Path,
    addr: SocketAddr,
    url: &str,
    email: &str,
    logs: &Path,
    admin: &Path,
) -> Result<()> {
    // A wide window (the leads, the conversation and the call side by side) for the
    // main steps; the narrow window's views are driven further down.
    c.set_window_size(1200, 900).await?;

    // 1. Sign in.
    // The form is in the page from the start but shown only once the app has checked
    // for a saved session.
    wait_visible(c, "#signin").await?;
    // The server comes from the administrator's file, read-only.
    let server_field = find(c, "#server").await?;
    wait_text(c, "#server-locked", 10, |t| t.contains("administrator")).await?;
    assert_eq!(server_field.prop("value").await?.as_deref(), Some(url));
    assert_eq!(
        server_field.prop("readOnly").await?.as_deref(),
        Some("true")
    );
    find(c, "#email").await?.send_keys(email).await?;
    find(c, "#password")
        .await?
        .send_keys(softphone_server::demo::PASSWORD)
        .await?;
    shots.take(c, "sign-in").await?;
    find(c, "#signin-form button[type=submit]")
        .await?
        .click()
        .await?;
    let who = wait_text(c, "#who", 20, |t| t.contains("Ana")).await?;
    assert!(who.contains(url), "{who}");
    wait_count(c, "#leads li", 10, 10).await?;
    // Every demo lead has inbound WhatsApp messages: all but the open one show them
    // unread. Opening a lead reads them; the Unread filter keeps the open lead shown.
    wait_count(c, "#leads .badge", 9, 10).await?;
    wait_count(
        c,
        "#leads li:nth-child(1) button[aria-current='true']",
        1,
        5,
    )
    .await?;
    // A half-written note stays with its lead (autosaved draft).
    let draft = "Half-written: ask about";
    find(c, "#note-body").await?.send_keys(draft).await?;
    wait_text(c, "#draft-state", 5, |t| t.contains("Draft saved")).await?;
    let second_id = attr(c, "#leads li:nth-child(2) button", "data-lead").await?;
    click(c, &format!("#leads button[data-lead='{second_id}']")).await?;
    wait_count(c, "#leads .badge", 8, 10).await?;
    wait_count(
        c,
        &format!("#leads button[data-lead='{second_id}'] .badge"),
        0,
        1,
    )
    .await?;
    assert_eq!(
        find(c, "#note-body").await?.prop("value").await?.as_deref(),
        Some("")
    );
    find(c, ".filters button[data-filter='unread']")
        .await?
        .click()
        .await?;
    wait_count(c, "#leads li", 9, 5).await?;
    find(c, ".filters button[data-filter='all']")
        .await?
        .click()
        .await?;
    wait_count(c, "#leads li", 10, 5).await?;
    click(c, "#leads li:nth-child(1) button").await?;
    wait_count(
        c,
        "#leads li:nth-child(1) button[aria-current='true']",
        1,
        5,
    )
    .await?;
    let note = find(c, "#note-body").await?;
    assert_eq!(note.prop("value").await?.as_deref(), Some(draft));
    note.clear().await?;

    // The speaker test tone plays on the chosen (virtual) speaker.
    find(c, "#test-tone").await?.click().await?;
    wait_text(c, "#tone-result", 15, |t| t.contains("Did you hear")).await?;
    assert!(!find(c, "#error").await?.is_displayed().await?);

    // 2. A colleague calls Ana: the app rings on her speaker, she answers, hears him, and
    //    hangs up; his side ends with a remote hang-up.
    let ana = Account::sign_in(url, email, softphone_server::demo::PASSWORD).await?;
    let (col_email, col_name, _) = softphone_server::demo::ACCOUNTS[0];
    let colleague = Account::sign_in(url, col_email, softphone_server::demo::PASSWORD).await?;
    let mut line = colleague.phone().await?;
    line.wait_online(ana.settings.user_id, Duration::from_secs(20))
        .await
        .map_err(|e| format!("the app's incoming-call line never came online: {e}"))?;
    let setup = CallSetup {
        input: AudioIn::Wav(voice.to_path_buf()),
        output: AudioOut::Discard,
        ..CallSetup::default()
    };
    let mut his = line.dial(&ana.settings.user_id.to_string(), setup)?;
    let ringing = wait_text(c, "#incoming", 15, |t| t.contains(col_name)).await?;
    assert!(ringing.contains("Incoming call"), "{ringing}");
    // The ringtone's stream runs the (otherwise idle) virtual speaker.
    let end = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let sinks = Command::new("pactl")
            .args(["list", "short", "sinks"])
            .output()?;
        let sinks = String::from_utf8_lossy(&sinks.stdout).into_owned();
        if sinks
            .lines()
            .any(|l| l.contains("speaker") && l.contains("RUNNING"))
        {
            break;
        }
        if std::time::Instant::now() > end {
            return Err(format!("nothing plays on the speaker while ringing:\n{sinks}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // 6.5 s covers at least one 2 s "on" part of the 2-in-6 s cadence wherever it starts.
    let (ring, f_ring, f_other) = tone_on_speaker(6500)?;
    assert!(
        ring > 0.01 && f_ring > 50.0 * f_other,
        "no ringtone on the speaker: RMS {ring:.4}, 440+480 Hz power {f_ring:.3e} vs 1 kHz {f_other:.3e}"
    );
    shots.take(c, "incoming").await?;
    find(c, "#accept").await?.click().await?;
    wait_text(c, "#call-state", 20, |t| {
        t.eq_ignore_ascii_case("connected")
    })
    .await?;
    let heard = sample_meter(c, "call-remote", 2500).await?;
    assert!(
        max(&heard) > 25.0,
        "remote meter with the colleague talking: {heard:?}"
    );
    find(c, "#hangup").await?.click().await?;
    wait_text(c, "#call-summary", 20, |t| t.contains("Call ended")).await?;
    tokio::time::timeout(Duration::from_secs(10), async {
        while his.next_event().await.is_some() {}
    })
    .await?;
    let (report, line) = his.finish().await;
    assert_eq!(report.end_reason, EndReason::RemoteHangup, "{report:?}");

    // Presence: busy, his call fails at once with `busy` and the app does not ring;
    // available again, calls ring again.
    let presence = find(c, "#presence").await?;
    presence.select_by_value("busy").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let quiet = || CallSetup {
        input: AudioIn::Silence,
        output: AudioOut::Discard,
        ..CallSetup::default()
    };
    let busy = line.dial(&ana.settings.user_id.to_string(), quiet())?;
    let (report, line) = busy.finish().await;
    assert_eq!(report.end_reason, EndReason::Busy, "{report:?}");
    assert!(!find(c, "#incoming").await?.is_displayed().await?);
    presence.select_by_value("available").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut again = line.dial(&ana.settings.user_id.to_string(), quiet())?;
    wait_text(c, "#incoming", 15, |t| t.contains(col_name)).await?;
    find(c, "#reject").await?.click().await?;
    tokio::time::timeout(Duration::from_secs(10), async {
        while again.next_event().await.is_some() {}
    })
    .await?;
    let (report, line) = again.finish().await;
    assert_eq!(report.end_reason, EndReason::Rejected, "{report:?}");
    line.close().await;

    // 2. Call echo (recorded, about the first lead) on the virtual devices.
    let target = find(c, "#target").await?;
    target.clear().await?;
    target.send_keys("echo").await?;
    find(c, "#dial").await?.click().await?;
    wait_text(c, "#call-state", 20, |t| {
        t.eq_ignore_ascii_case("connected")
    })
    .await?;

    // Silence into the virtual mic: the mic meter stays low.
    let quiet = sample_meter(c, "call-mic", 1500).await?;
    assert!(quiet.len() >= 10, "too few meter readings: {quiet:?}");
    assert!(max(&quiet) < 10.0, "mic meter in silence: {quiet:?}");

    // Speech into the virtual mic: the mic meter moves, and the echo comes back.
    let mut play = Command::new("paplay");
    play.args(["-d", "micfeed"]).arg(voice);
    let mut talk = spawn(&mut play, "paplay")?;
    let loud = sample_meter(c, "call-mic", 2500).await?;
    assert!(max(&loud) > 40.0, "mic meter while speaking: {loud:?}");
    let echo = sample_meter(c, "call-remote", 1500).await?;
    assert!(
        max(&echo) > 25.0,
        "remote meter with the echo coming back: {echo:?}"
    );
    let quality = wait_text(c, "#call-quality", 10, |t| !t.is_empty()).await?;
    shots.take(c, "in-call").await?;

    // Mute: speech goes on, the mic meter falls (its release takes about a second) and
    // stays down.
    find(c, "#mute").await?.click().await?;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let muted = sample_meter(c, "call-mic", 1500).await?;
    assert!(
        max(&muted) < 3.0,
        "mic meter while muted and speaking: {muted:?}"
    );
    assert!(
        talk.0.try_wait()?.is_none(),
        "the speech ended before the muted stretch was measured"
    );
    find(c, "#mute").await?.click().await?;
    wait_text(c, "#mute", 5, |t| t == "Mute").await?;
    drop(talk);

    // Hold: the button follows the call's state (on hold, then connected again).
    find(c, "#hold").await?.click().await?;
    wait_text(c, "#call-state", 10, |t| t.eq_ignore_ascii_case("on hold")).await?;
    wait_text(c, "#hold", 5, |t| t == "Resume").await?;
    find(c, "#hold").await?.click().await?;
    wait_text(c, "#call-state", 10, |t| {
        t.eq_ignore_ascii_case("connected")
    })
    .await?;
    wait_text(c, "#hold", 5, |t| t == "Hold").await?;

    // DTMF from the keypad: sent digits are echoed under it.
    find(c, "#keypad-toggle").await?.click().await?;
    for d in ["1", "2", "#"] {
        find(c, &format!("#keypad button[data-digit='{d}']"))
            .await?
            .click()
            .await?;
    }
    wait_text(c, "#dtmf-sent", 5, |t| t == "12#").await?;
    let errors = c.find(Locator::Id("call-error")).await?;
    assert!(
        !errors.is_displayed().await?,
        "call error: {}",
        errors.text().await?
    );

    // 3. Hang up: the summary, then the call with its recording in the lead's timeline.
    find(c, "#hangup").await?.click().await?;
    let summary = wait_text(c, "#call-summary", 20, |t| t.contains("Call ended")).await?;
    assert!(
        summary.contains("recorded") && summary.contains("saved to the lead"),
        "{summary}"
    );
    let graph = find(c, "#quality-graph").await?;
    assert!(
        graph.is_displayed().await?,
        "no quality graph after the call"
    );
    let label = graph.attr("aria-label").await?.unwrap_or_default();
    assert!(label.contains("seconds"), "{label}");
    let call = wait_text(c, LAST_CALL, 20, |t| t.contains("echo test")).await?;
    assert!(call.contains("local hangup"), "{call}");
    assert!(!quality.is_empty());
    // The waveform's canvas exists only while the call is on screen (ui/timeline.js,
    // waveObserver): scrolled into view, it is created and drawn from the recording.
    c.execute(
        "document.evaluate(arguments[0], document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null)\
         .singleNodeValue.scrollIntoView({block: 'center'})",
        vec![LAST_CALL.into()],
    )
    .await?;
    find(c, &format!("{LAST_CALL}//canvas")).await?;
    let painted_js = "const c = document.evaluate(arguments[0], document, null, \
        XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue; if (!c) return 0; \
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;";
    let mut painted = 0;
    for _ in 0..100 {
        painted = c
            .execute(painted_js, vec![format!("{LAST_CALL}//canvas").into()])
            .await?
            .as_u64()
            .unwrap_or(0);
        if painted > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(painted > 0, "the waveform was not drawn");
    let play = format!("{LAST_CALL}//button[contains(@class,'play')]");
    wait_text(c, LAST_CALL, 30, |t| {
        t.contains("recording uploaded") && t.contains("synced")
    })
    .await?;
    find(c, &play).await?.click().await?;
    wait_text(c, &play, 5, |t| t == "Stop").await?;
    shots.at(c, "#timeline li.call", "timeline").await?;
    find(c, &play).await?.click().await?;
    wait_text(c, &play, 5, |t| t == "Play").await?;

    // 4. The server goes away; a note is saved anyway and shows pending.
    server.stop().await?;
    let body = format!("Offline note {}", std::process::id());
    find(c, "#note-body").await?.send_keys(&body).await?;
    find(c, "#note-save").await?.click().await?;
    let pending = wait_text(c, "#timeline li.note:last-child", 10, |t| t.contains(&body)).await?;
    assert!(pending.contains("pending"), "{pending}");
    wait_text(c, "#sync-state", 15, |t| {
        t.contains("offline") && t.contains("pending")
    })
    .await?;
    shots.at(c, "#timeline li", "offline-note").await?;

    // 5. The server comes back on the same address: after a sync the note is synced.
    let server = start_server(data, addr).await?;
    find(c, "#sync-now").await?.click().await?;
    wait_text(c, "#timeline li.note:last-child", 20, |t| {
        t.contains("synced")
    })
    .await?;
    wait_text(c, "#sync-state", 20, |t| {
        t.contains("online") && t.contains("all synced")
    })
    .await?;

    // The administrator forces recording at 24 kbit/s: the settings show both as set
    // by the administrator and cannot change them.
    let policy = c
        .execute(
            "return [document.getElementById('record').checked, \
                     document.getElementById('record').disabled, \
                     document.getElementById('bitrate').value, \
                     document.getElementById('bitrate').disabled, \
                     document.getElementById('record-policy').textContent]",
            vec![],
        )
        .await?;
    assert_eq!(
        policy,
        serde_json::json!([
            true,
            true,
            "24",
            true,
            "Every call is recorded; recording quality 24 kbit/s: set by your administrator."
        ])
    );

    // Copy diagnostics: the report shows in the settings with the log's last lines,
    // and neither it nor the log file holds the agent's e-mail (the sign-in line and
    // the keyring's debug lines carry it before redaction).
    find(c, "#copy-diagnostics").await?.click().await?;
    wait_text(c, "#diagnostics-result", 10, |t| !t.is_empty()).await?;
    let report = c
        .execute(
            "return document.getElementById('diagnostics-text').value",
            vec![],
        )
        .await?;
    let report = report.as_str().unwrap_or_default();
    assert!(
        report.contains("program: agent-softphone ")
            // A cargo build: not from a package, no update key; it never updates itself.
            && report.contains("(updates: target none, key none, channel stable, on)")
            && report.contains(&format!("server: {url}"))
            && report.contains("--- last log lines ---")
            && report.contains("signed in"),
        "{report}"
    );
    let mut logged = String::new();
    for f in softphone_controller::logs::files(logs)? {
        logged.push_str(&std::fs::read_to_string(f)?);
    }
    assert!(
        logged.contains("signed in") && logged.contains("[email]"),
        "{logged}"
    );
    assert!(!logged.contains(email) && !report.contains(email));
    shots.at(c, "#copy-diagnostics", "diagnostics").await?;

    // Call links: one made for the open lead shows with its page URL and, revoked,
    // is gone from the app and from the server.
    let open_lead = attr(c, "#leads button[aria-current='true']", "data-lead").await?;
    click(c, "#links-box summary").await?;
    find(c, "#link-new").await?.click().await?;
    wait_count(c, "#links li", 1, 10).await?;
    let link_url = c
        .execute(
            "return document.querySelector('#links li input').value",
            vec![],
        )
        .await?;
    let link_url = link_url.as_str().unwrap_or_default().to_string();
    assert!(link_url.starts_with(&format!("{url}/join/")), "{link_url}");
    let label = wait_text(c, "#links li .link-label", 5, |t| t.contains("one call")).await?;
    assert!(label.starts_with("For "), "{label}");
    let agent = Account::sign_in(url, email, softphone_server::demo::PASSWORD).await?;
    let live = agent.links().await?;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].url, link_url);
    assert_eq!(live[0].lead_id.map(|l| l.to_string()), Some(open_lead));
    shots.at(c, "#links-box", "call-links").await?;
    find(c, "#links li button.revoke").await?.click().await?;
    wait_count(c, "#links li", 0, 10).await?;
    assert!(agent.links().await?.is_empty(), "revoked on the server");
    click(c, "#links-box summary").await?;

    // 6. Search, from another lead: the note's words find it and bring its lead back.
    let open = "#leads button[aria-current='true']";
    let lead = attr(c, open, "data-lead").await?;
    click(c, "#leads button.lead-row:not([aria-current])").await?;
    wait_text(c, "#timeline", 10, |t| !t.contains(&body)).await?;
    let word = std::process::id().to_string();
    find(c, "#search").await?.send_keys(&word).await?;
    let hit = format!("//ul[@id='search-results']//button[contains(., '{word}')]");
    let hit_text = wait_text(c, &hit, 10, |t| t.starts_with("note")).await?;
    assert!(hit_text.contains("Offline note"), "{hit_text}");
    find(c, &hit).await?.click().await?;
    wait_text(c, "#timeline", 10, |t| t.contains(&body)).await?;
    assert_eq!(attr(c, open, "data-lead").await?, lead);

    // A narrow window (440 px): one view at a time, switched in the bar or with Alt+1-4.
    // The search above opened the conversation view.
    c.set_window_size(440, 900).await?;
    let shown = |sel: &'static str| async move {
        Ok::<bool, Box<dyn std::error::Error>>(find(c, sel).await?.is_displayed().await?)
    };
    wait_visible(c, "#views").await?;
    wait_visible(c, "#conversation").await?;
    assert!(!shown("#work").await? && !shown("#call").await? && !shown("#settings").await?);
    click(c, "#views button[data-view='leads']").await?;
    wait_visible(c, "#work").await?;
    assert!(!shown("#conversation").await?);
    shots.take(c, "narrow-leads").await?;
    // Picking a lead opens its conversation.
    click(c, &format!("#leads button[data-lead='{lead}']")).await?;
    wait_visible(c, "#conversation").await?;
    assert!(!shown("#work").await?);
    let alt = |digit: &str| {
        format!("document.dispatchEvent(new KeyboardEvent('keydown', {{ key: '{digit}', altKey: true }}))")
    };
    c.execute(&alt("4"), vec![]).await?;
    wait_visible(c, "#settings").await?;
    assert!(!shown("#conversation").await?);
    c.execute(&alt("1"), vec![]).await?;
    wait_visible(c, "#dial").await?;
    // While a call is up, the call panel stays on top of every view.
    let target = find(c, "#target").await?;
    target.clear().await?;
    target.send_keys("echo").await?;
    click(c, "#dial").await?;
    wait_text(c, "#call-state", 20, |t| {
        t.eq_ignore_ascii_case("connected")
    })
    .await?;
    click(c, "#views button[data-view='conversation']").await?;
    wait_visible(c, "#conversation").await?;
    assert!(
        shown("#call").await?,
        "the call panel left the screen in another view"
    );
    assert_eq!(
        attr(c, "#views button[data-view='conversation']", "aria-pressed").await?,
        "true"
    );
    shots.take(c, "narrow-in-call").await?;
    // Hang up from the call view; once the call is over its panel leaves the other
    // views. (Hung up from the conversation view instead, one run of two saw the next
    // click on the bar, right after the panel left the page, not switch the view; the
    // cause is not found yet.)
    click(c, "#views button[data-view='call']").await?;
    click(c, "#hangup").await?;
    wait_text(c, "#call-summary", 20, |t| t.contains("Call ended")).await?;
    click(c, "#views button[data-view='conversation']").await?;
    wait_visible(c, "#conversation").await?;
    assert!(
        !shown("#call").await?,
        "the call panel stays only while the call is up"
    );
    click(c, "#views button[data-view='call']").await?;
    wait_visible(c, "#dial").await?;

    // At 200 % page zoom (what Ctrl+plus sets, through the same webview command) the
    // window's default 440 px are 220 CSS px: scrolled as far right as it goes, the page
    // must not move.
    let zoomed = c
        .execute(
            "return window.__TAURI_INTERNALS__ \
               .invoke('plugin:webview|set_webview_zoom', { label: 'main', value: 2 }) \
               .then(() => new Promise((r) => setTimeout(r, 300))) \
               .then(() => { window.scrollTo(100000, 0); const x = window.scrollX; \
                             window.scrollTo(0, 0); \
                             const wide = [...document.querySelectorAll('body *')] \
                               .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 \
                                 || (e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0 \
                                     && getComputedStyle(e).overflowX === 'visible')) \
                               .slice(0, 8).map((e) => e.tagName + '#' + e.id + '.' + e.className); \
                             const d = document.documentElement; \
                             return [x, window.innerWidth, wide.join(' ') + ` sw=${d.scrollWidth} cw=${d.clientWidth} bw=${document.body.scrollWidth} vv=${window.visualViewport && window.visualViewport.width}`]; });",
            vec![],
        )
        .await?;
    let (x, width) = (zoomed[0].as_f64(), zoomed[1].as_f64().unwrap_or(0.0));
    assert!(
        width > 0.0 && width < 300.0,
        "zoom not applied: {width} CSS px wide"
    );
    shots.take(c, "zoom-200").await?;
    assert_eq!(
        x,
        Some(0.0),
        "at 200 % the page scrolls sideways ({width} CSS px); too wide: {}",
        zoomed[2]
    );
    c.execute(
        "return window.__TAURI_INTERNALS__.invoke('plugin:webview|set_webview_zoom', { label: 'main', value: 1 });",
        vec![],
    )
    .await?;

    // 7. The administrator sends every call through TURN (`ice_transport_policy`, read
    // at each call). This server hands out no TURN server, so the next call fails with
    // that reason instead of connecting directly.
    let mut policy: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(admin)?)?;
    policy["ice_transport_policy"] = "relay".into();
    std::fs::write(admin, policy.to_string())?;
    let target = find(c, "#target").await?;
    target.clear().await?;
    target.send_keys("echo").await?;
    find(c, "#dial").await?.click().await?;
    let why = wait_text(c, "#call-error", 20, |t| t.contains("TURN")).await?;
    assert!(why.contains("relay-only calls need a TURN server"), "{why}");
    let summary = wait_text(c, "#call-summary", 20, |t| t.contains("Call ended")).await?;
    assert!(summary.contains("failed"), "{summary}");

    // On the server exactly once.
    let fresh = Account::sign_in(url, email, softphone_server::demo::PASSWORD).await?;
    let mut since = 0;
    let mut copies = 0;
    loop {
        let page = fresh.client().changes(since, 500).await?;
        copies += page
            .changes
            .iter()
            .filter(|ch| matches!(ch, Change::Note(n) if n.body == body))
            .count();
        since = page.next;
        if !page.more {
            break;
        }
    }
    assert_eq!(copies, 1, "the offline note on the server");
    server.stop().await?;
    Ok(())
}
