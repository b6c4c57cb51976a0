//! `softphone-scenario`: the whole product end to end, headless, every step verified.
//!
//! Key design decision: the agent is driven only through `softphone-controller` (the
//! API the desktop app uses), against the real server started in-process on
//! 127.0.0.1:0, with real audio through the PulseAudio virtual devices and a prospect in
//! headless Chromium on the browser call page. Nothing is stubbed; each step checks its
//! real outcome (speech heard, file valid, rows on the server, hashes equal), and the
//! process exits 0 only when all of them held.
//!
//! Needs: PulseAudio with the virtual devices of `tests/scripts/pulse-virtual.sh`,
//! Chromium, opus-tools, sox, espeak-ng and an unlocked Secret Service keyring (all
//! set up by `scripts/setup-debian.sh` and `scripts/scenario.sh`).

mod speech;

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use sha2::{Digest, Sha256};
use softphone_call::{AudioIn, AudioOut, CallEvent, CallSetup, CallState, Command, RecordSpec};
use softphone_controller::agent::{Account, Agent, SavedCall};
use softphone_proto::{Change, Lead};
use softphone_recorder::RecorderConfig;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "softphone-scenario",
    about = "Headless end-to-end scenario of Agent Softphone"
)]
struct Opts {
    /// Talk time of the call, seconds (the mute happens in its middle).
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Working folder (default: a temporary one, removed at the end unless --keep).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the working folder (server data, recording, captures) for inspection.
    #[arg(long)]
    keep: bool,
    /// Chromium binary.
    #[arg(long, env = "CHROMIUM", default_value = "/usr/bin/chromium")]
    chromium: PathBuf,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// What the scenario verified, printed at the end.
#[derive(Debug, Default, serde::Serialize)]
struct Summary {
    lead: String,
    call_id: String,
    setup_ms: Option<u64>,
    talk_ms: i64,
    mos: f64,
    jitter_ms: f64,
    packet_loss_pct: f64,
    rtt_ms: f64,
    quality: String,
    agent_heard_prospect: f64,
    prospect_packets_received: f64,
    prospect_mean_power: f64,
    recording_left_vs_agent: f64,
    recording_right_vs_prospect: f64,
    mute_silence_ms: u64,
    recording_path: String,
    recording_bytes: u64,
    pending_while_offline: usize,
    offline_push_error: String,
    synced_notes: usize,
    synced_call: bool,
    downloaded_sha256: String,
    steps: Vec<String>,
}

impl Summary {
    fn step(&mut self, s: impl Into<String>) {
        let s = s.into();
        eprintln!("ok: {s}");
        self.steps.push(s);
    }
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error,pulseaudio::client::reactor=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let opts = Opts::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&opts)) {
        Ok(s) => {
            if opts.json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            } else {
                print_summary(&s);
            }
            println!("scenario passed: all {} steps verified", s.steps.len());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scenario FAILED: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn print_summary(s: &Summary) {
    println!("call {} with lead {}", s.call_id, s.lead);
    println!(
        "  setup {} ms, talk {:.1} s; MOS {:.2}, jitter {:.1} ms, loss {:.2} %, RTT {:.0} ms ({})",
        s.setup_ms
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into()),
        s.talk_ms as f64 / 1000.0,
        s.mos,
        s.jitter_ms,
        s.packet_loss_pct,
        s.rtt_ms,
        s.quality
    );
    println!(
        "  agent heard the prospect (median correlation) {:.2}; prospect received {} packets, mean power {:.1e}",
        s.agent_heard_prospect, s.prospect_packets_received, s.prospect_mean_power
    );
    println!(
        "  recording {} ({} bytes): left = agent {:.2}, right = prospect {:.2}; mute left {} ms of silence",
        s.recording_path,
        s.recording_bytes,
        s.recording_left_vs_agent,
        s.recording_right_vs_prospect,
        s.mute_silence_ms
    );
    println!(
        "  offline: {} pending ({}); after the server came back: {} notes and the call synced, recording sha256 {}",
        s.pending_while_offline, s.offline_push_error, s.synced_notes, s.downloaded_sha256
    );
}

/// Spawned helper processes, killed (whole process group) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        // SAFETY: kill(2) on our own child's process group.
        unsafe { libc::kill(-pid, libc::SIGTERM) };
        std::thread::sleep(Duration::from_millis(300));
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut std::process::Command) -> Result<Proc> {
    let name = format!("{:?}", cmd.get_program());
    Ok(Proc(
        cmd.process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}"))?,
    ))
}

fn run_tool(cmd: &mut std::process::Command) -> Result<String> {
    let out = cmd.output().with_context(|| {
        format!(
            "running {:?} (run scripts/setup-debian.sh)",
            cmd.get_program()
        )
    })?;
    ensure!(
        out.status.success(),
        "{:?} failed: {}",
        cmd.get_program(),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The agent's voice (alsa-utils' recorded human voices) and the prospect's (espeak-ng),
/// both 48 kHz mono 16-bit.
fn make_speech(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let agent = dir.join("agent-voice.wav");
    softphone_testkit::alsa_speech(&softphone_testkit::ALSA_VOICES, &agent, &[])?;
    let raw = dir.join("prospect-raw.wav");
    run_tool(
        std::process::Command::new("espeak-ng")
            .arg("-w")
            .arg(&raw)
            .arg(
                "Hello, this is Maria. Yes, I got your email about the renewal. \
         We would like to add three more seats before the end of the month, \
         and I have a question about the invoice from last week.",
            ),
    )?;
    let prospect = dir.join("prospect-voice.wav");
    run_tool(
        std::process::Command::new("sox")
            .arg(&raw)
            .args(["-r", "48000", "-c", "1", "-b", "16"])
            .arg(&prospect),
    )?;
    Ok((agent, prospect))
}

async fn start_server(
    data: &Path,
    listen: std::net::SocketAddr,
) -> Result<softphone_server::Running> {
    let mut cfg = softphone_server::Config::new(data.to_path_buf());
    cfg.listen = listen;
    cfg.media_udp_addrs = vec!["127.0.0.1:0".into()];
    softphone_server::start(&cfg).await
}

fn sha256_file(p: &Path) -> Result<String> {
    Ok(hex::encode(Sha256::digest(std::fs::read(p)?)))
}

/// The last `SOFTPHONE_STATS {json}` line the browser call page logged.
fn browser_stats(log: &str) -> Option<serde_json::Value> {
    log.lines().rev().find_map(|l| {
        let rest = &l[l.find("SOFTPHONE_STATS ")? + "SOFTPHONE_STATS ".len()..];
        serde_json::from_str(&rest[..=rest.rfind('}')?].replace("\\\"", "\"")).ok()
    })
}

async fn run(opts: &Opts) -> Result<Summary> {
    let mut s = Summary::default();
    // Removed on return unless --keep.
    let mut tmp = None;
    let dir = match &opts.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("softphone-scenario-")
                .tempdir()?;
            if opts.keep {
                let p = t.keep();
                eprintln!("working folder (kept): {}", p.display());
                p
            } else {
                let p = t.path().to_path_buf();
                tmp = Some(t);
                p
            }
        }
    };
    ensure!(
        opts.chromium.exists(),
        "{} missing: run scripts/setup-debian.sh",
        opts.chromium.display()
    );
    run_tool(std::process::Command::new("pactl").arg("info")).context(
        "no PulseAudio server: run `eval \"$(tests/scripts/pulse-virtual.sh start)\"` first",
    )?;
    let sinks = run_tool(std::process::Command::new("pactl").args(["list", "short", "sinks"]))?;
    ensure!(
        sinks.contains("micfeed") && sinks.contains("speaker"),
        "PulseAudio lacks the virtual devices (speaker, micfeed, vmic): start it with tests/scripts/pulse-virtual.sh"
    );
    let (agent_voice, prospect_voice) = make_speech(&dir)?;
    let agent_src = speech::read_wav(&agent_voice)?.0.remove(0);
    let prospect_src = speech::read_wav(&prospect_voice)?.0.remove(0);

    // 1. The server with demo data.
    let data = dir.join("server");
    {
        let conn = softphone_server::db::open(&data)?;
        softphone_server::demo::seed(&conn)?;
    }
    let server = start_server(&data, "127.0.0.1:0".parse()?).await?;
    let addr = server.addr;
    let url = format!("http://{addr}");
    s.step(format!("server with demo data at {url}"));

    // 2. The agent signs in; the session lives in the OS keyring and is resumed from it.
    let profile = dir.join("profile");
    let (email, _, _) = softphone_server::demo::ACCOUNTS[1];
    Account::sign_in(&url, email, softphone_server::demo::PASSWORD)
        .await?
        .remember(&profile)
        .context("saving the session in the OS keyring")?;
    let settings = std::fs::read_to_string(profile.join("settings.json"))?;
    ensure!(
        !settings.contains("token"),
        "settings.json must not hold the token"
    );
    let agent = Agent::resume(&profile).context("resuming the session from the keyring")?;
    let round = agent.sync_once().await?;
    if let Err(e) = &round.pull {
        bail!("first pull failed: {e}");
    }
    let mut leads: Vec<Lead> = agent.leads()?;
    leads.sort_by(|a, b| a.name.cmp(&b.name));
    let lead = leads
        .first()
        .context("the demo agent has no leads")?
        .clone();
    s.lead = lead.name.clone();
    s.step(format!(
        "{email} signed in (token in the keyring), pulled {} leads",
        leads.len()
    ));

    // 3. The prospect opens the call link in headless Chromium.
    let account = agent.account().clone();
    let link = account
        .create_link(&softphone_proto::CreateLink {
            lead_id: Some(lead.id),
            ..Default::default()
        })
        .await?;
    let sink_module = run_tool(std::process::Command::new("pactl").args([
        "load-module",
        "module-null-sink",
        "sink_name=prospect_speaker",
        "sink_properties=device.description=Prospect_Speaker",
    ]))?;
    let _unload = Unload(sink_module.trim().to_string());
    let chromium_log = dir.join("chromium.log");
    let chromium = spawn(
        softphone_testkit::chromium_peer(
            &opts.chromium,
            &prospect_voice,
            &dir.join("chromium-profile"),
            &format!("{}?autojoin=1&autoanswer=1&raw=1", link.url),
        )
        // The prospect's speaker is their own: not the agent's virtual speaker.
        .env("PULSE_SINK", "prospect_speaker")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&chromium_log)?),
    )?;
    let mut phone = account.phone().await?;
    phone
        .wait_online(link.id, Duration::from_secs(30))
        .await
        .context("the prospect's browser never joined")?;
    s.step("the prospect joined from headless Chromium through the call link page");

    // 4. The call, on the agent's real (virtual) microphone and speaker, recorded.
    let speaker_raw = dir.join("agent-speaker.raw");
    let parecord = spawn(
        std::process::Command::new("parecord")
            .args([
                "-d",
                "speaker.monitor",
                "--raw",
                "--format=float32le",
                "--rate=48000",
                "--channels=1",
                // Low latency for the monitored sink: parecord's default fragment (up
                // to 2 s) lets the null sink render far ahead, and its rewinds reach
                // the monitor as lost and repeated blocks.
                "--latency-msec=20",
            ])
            .arg(&speaker_raw),
    )?;
    let recording = dir.join("recordings").join("call.opus");
    std::fs::create_dir_all(recording.parent().unwrap_or(&dir))?;
    let setup = CallSetup {
        input: AudioIn::Device(None),
        output: AudioOut::Device(None),
        record: Some(RecordSpec {
            path: recording.clone(),
            meta: softphone_controller::new_meta(
                Some(String::new()),
                Some(lead.id.to_string()),
                &format!("agent:{email}"),
                "prospect",
            ),
            config: RecorderConfig::live_call(),
        }),
        ..CallSetup::default()
    };
    let mut call = phone.dial(&link.id.to_string(), setup)?;
    call.wait_for(Duration::from_secs(30), |e| {
        matches!(
            e,
            CallEvent::State {
                state: CallState::Connected
            }
        )
    })
    .await
    .context("the call never connected")?;
    let t0 = Instant::now();
    // The agent talks: the voice loops into the virtual microphone for the whole call.
    let talk_for = Duration::from_secs_f64(opts.seconds);
    let feeder = tokio::spawn({
        let voice = agent_voice.clone();
        async move {
            while t0.elapsed() < talk_for {
                let _ = tokio::process::Command::new("paplay")
                    .args(["-d", "micfeed"])
                    .arg(&voice)
                    .kill_on_drop(true)
                    .status()
                    .await;
            }
        }
    });
    let mute_at = talk_for.mul_f64(0.4);
    let unmute_at = mute_at + Duration::from_secs(4);
    // (seconds since connect, muted, mic level reading)
    let mut mic: Vec<(f64, bool, f32)> = vec![];
    let mut muted = false;
    let mut sent_mute = false;
    let mut sent_unmute = false;
    while t0.elapsed() < talk_for {
        let tick = tokio::time::sleep(Duration::from_millis(50));
        tokio::select! {
            e = call.next_event() => match e {
                Some(CallEvent::MicLevel(r)) => mic.push((t0.elapsed().as_secs_f64(), muted, r.rms_dbfs)),
                Some(CallEvent::State { state: CallState::Ended { reason: r } }) => bail!("the call ended early: {}", r.as_str()),
                Some(_) => {}
                None => bail!("the call ended early"),
            },
            _ = tick => {}
        }
        if !sent_mute && t0.elapsed() >= mute_at {
            call.send(Command::Mute(true)).await;
            muted = true;
            sent_mute = true;
        }
        if !sent_unmute && t0.elapsed() >= unmute_at {
            call.send(Command::Mute(false)).await;
            muted = false;
            sent_unmute = true;
        }
    }
    call.send(Command::Hangup).await;
    let (report, phone) = call.finish().await;
    phone.close().await;
    feeder.abort();
    drop(parecord);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(chromium);
    s.call_id = report.call_id.to_string();
    s.setup_ms = report.setup_ms;
    s.talk_ms = report.duration_ms;
    ensure!(
        softphone_controller::agent::ended_normally(&report.end_reason),
        "the call ended with {}",
        report.end_reason.as_str()
    );
    let q = report
        .quality
        .clone()
        .context("no media arrived from the prospect")?;
    s.mos = q.mos;
    s.jitter_ms = q.jitter_ms;
    s.packet_loss_pct = q.packet_loss_pct;
    s.rtt_ms = q.rtt_ms;
    s.quality = q.level.to_string();
    s.step(format!(
        "call connected in {} ms, {:.1} s of talk, hung up by the agent",
        report.setup_ms.unwrap_or(0),
        report.duration_ms as f64 / 1000.0
    ));

    // 5. Both directions carried the speech.
    let heard = speech::heard(&speech::read_f32_raw(&speaker_raw)?, &prospect_src);
    s.agent_heard_prospect = speech::median(&heard);
    ensure!(
        heard.len() >= 16 && s.agent_heard_prospect > 0.8,
        "the agent's speaker did not carry the prospect's speech: per 250 ms {heard:.2?}"
    );
    let log = std::fs::read_to_string(&chromium_log)?;
    let stats = browser_stats(&log).context("the browser page logged no call stats")?;
    s.prospect_packets_received = stats["packetsReceived"].as_f64().unwrap_or(0.0);
    s.prospect_mean_power = stats["totalAudioEnergy"].as_f64().unwrap_or(0.0)
        / stats["totalSamplesDuration"]
            .as_f64()
            .unwrap_or(1.0)
            .max(1.0);
    ensure!(
        s.prospect_packets_received > 25.0 * opts.seconds && s.prospect_mean_power > 3e-4,
        "the prospect did not hear the agent: {stats}"
    );
    s.step("speech flowed both ways (agent's speaker correlates with the prospect's voice; the browser received speech-level audio)");

    // 6. Mute: the meter showed silence and nothing was sent.
    let during: Vec<_> = mic
        .iter()
        .filter(|(t, m, _)| *m && *t > mute_at.as_secs_f64() + 0.3)
        .collect();
    let before_loud = mic
        .iter()
        .filter(|(t, m, _)| !*m && *t < mute_at.as_secs_f64())
        .any(|(_, _, db)| *db > -40.0);
    ensure!(
        before_loud && !during.is_empty() && during.iter().all(|(_, _, db)| *db < -60.0),
        "the mic meter did not follow mute: before speech={before_loud}, during mute {:?}",
        during.iter().map(|x| x.2).collect::<Vec<_>>()
    );
    s.step("mute silenced the mic meter, unmute brought it back");

    // 7. The recording: a valid two-track Ogg Opus file, agent left, prospect right.
    let rec = report
        .recording
        .clone()
        .with_context(|| format!("no recording: {:?}", report.recording_error))?;
    s.recording_path = rec.path.display().to_string();
    s.recording_bytes = rec.bytes;
    let info = run_tool(std::process::Command::new("opusinfo").arg(&rec.path))?;
    ensure!(
        info.contains("Channels: 2") && !info.contains("WARNING") && !info.contains("ERROR"),
        "opusinfo does not accept the recording:\n{info}"
    );
    let decoded = dir.join("recording-decoded.wav");
    run_tool(
        std::process::Command::new("opusdec")
            .args(["--quiet", "--rate", "48000"])
            .arg(&rec.path)
            .arg(&decoded),
    )?;
    let (tracks, _) = speech::read_wav(&decoded)?;
    ensure!(
        tracks.len() == 2,
        "the recording has {} tracks",
        tracks.len()
    );
    let left = speech::heard(&tracks[0], &agent_src);
    let right = speech::heard(&tracks[1], &prospect_src);
    s.recording_left_vs_agent = speech::median(&left);
    s.recording_right_vs_prospect = speech::median(&right);
    s.mute_silence_ms = speech::longest_silence_ms(&tracks[0], -60.0);
    ensure!(
        s.recording_left_vs_agent > 0.8 && s.recording_right_vs_prospect > 0.8,
        "recording tracks: left vs agent {left:.2?}, right vs prospect {right:.2?}"
    );
    ensure!(
        s.mute_silence_ms >= 3000,
        "the left track has no silence for the 4 s mute (longest {} ms)",
        s.mute_silence_ms
    );
    s.step(format!(
        "recording passes opusinfo: agent left ({:.2}), prospect right ({:.2}), {} ms muted",
        s.recording_left_vs_agent, s.recording_right_vs_prospect, s.mute_silence_ms
    ));
    ensure!(
        agent.save_call(&report, Some(lead.id))? == SavedCall::Store,
        "the call record did not go to the local store"
    );

    // 8. The server goes away; the agent writes two notes anyway.
    server.stop().await?;
    let notes = [
        agent.write_note(
            lead.id,
            Some(report.call_id),
            "Wants three more seats before month end; send the revised quote.",
        )?,
        agent.write_note(
            lead.id,
            None,
            "Question about last week's invoice: check with billing.",
        )?,
    ];
    let offline = agent.sync_once().await?;
    s.pending_while_offline = offline.status.pending;
    s.offline_push_error = offline.push.stopped_by.clone().unwrap_or_default();
    ensure!(
        offline.push.pushed == 0
            && offline.push.stopped_by.is_some()
            && !offline.status.online
            // the call record, its recording upload and the two notes
            && offline.status.pending == 4
            && offline.status.bytes_left == rec.bytes,
        "with the server down: {offline:?}"
    );
    let local = agent.notes(lead.id)?;
    ensure!(
        notes.iter().all(|n| local.iter().any(|l| l.id == n.id)),
        "the notes are not in the local store"
    );
    s.step(format!(
        "server stopped: two notes saved locally, {} changes and {} recording bytes pending",
        offline.status.pending, offline.status.bytes_left
    ));

    // 9. The server comes back on the same address; everything syncs.
    let server = start_server(&data, addr).await?;
    let mut last = None;
    for _ in 0..5 {
        let r = agent.sync_once().await?;
        let done = r.status.pending == 0 && r.status.bytes_left == 0 && r.pull.is_ok();
        last = Some(r);
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let last = last.context("no sync round ran")?;
    ensure!(
        last.status.pending == 0 && last.status.bytes_left == 0 && last.status.online,
        "after reconnecting: {last:?}"
    );

    // 10. What the server holds, seen by a fresh session of the same agent.
    let fresh = Account::sign_in(&url, email, softphone_server::demo::PASSWORD).await?;
    let client = fresh.client();
    let mut changes = vec![];
    let mut since = 0;
    loop {
        let page = client.changes(since, 500).await?;
        changes.extend(page.changes);
        since = page.next;
        if !page.more {
            break;
        }
    }
    for n in &notes {
        let copies = changes
            .iter()
            .filter(|c| matches!(c, Change::Note(x) if x.body == n.body && x.lead_id == lead.id))
            .count();
        ensure!(
            copies == 1,
            "note {:?} is on the server {copies} times",
            n.body
        );
    }
    s.synced_notes = notes.len();
    let call_row = changes
        .iter()
        .find_map(|c| match c {
            Change::Call(x) if x.id == report.call_id => Some(x.clone()),
            _ => None,
        })
        .context("the call record is not on the server")?;
    ensure!(
        call_row.lead_id == lead.id
            && call_row.has_recording
            && call_row.duration_ms == Some(report.duration_ms),
        "the server's call record differs: {call_row:?}"
    );
    s.synced_call = true;
    let (signed, _) = client.recording_url(report.call_id, 300).await?;
    let bytes = client.download(&signed, None).await?;
    let local_sha = sha256_file(&rec.path)?;
    s.downloaded_sha256 = hex::encode(Sha256::digest(&bytes));
    ensure!(
        s.downloaded_sha256 == local_sha,
        "the downloaded recording differs: {} vs {local_sha}",
        s.downloaded_sha256
    );
    s.step(format!(
        "server back: each note on the server exactly once, the call record with its recording, and the recording downloaded through a signed URL with the same sha256 ({} bytes)",
        bytes.len()
    ));
    server.stop().await?;
    drop(tmp);
    Ok(s)
}

/// Unloads a PulseAudio module when dropped.
struct Unload(String);

impl Drop for Unload {
    fn drop(&mut self) {
        let _ = std::process::Command::new("pactl")
            .args(["unload-module", &self.0])
            .status();
    }
}
