//! `call` and `answer`: one WebRTC call from the command line through the call engine
//! (`softphone-call`), with the account from `--server/--user` (password on stdin) or
//! from the profile's keyring session. The call record goes to the profile's local
//! store (synced like a note) when the call has a lead and a profile is signed in,
//! and to `RECORDING.json` next to the recording otherwise.

use anyhow::{bail, Context, Result};
use clap::Args;
use softphone_call::machine::Timeouts;
use softphone_call::{
    AudioIn, AudioOut, CallEvent, CallReport, CallSetup, CallState, Command, EndReason, IceServer,
    PeerConfig, RecordSpec,
};
use softphone_controller::agent::{ended_normally, save_call, Account, Agent, LiveCall, SavedCall};
use softphone_recorder::RecorderConfig;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Options shared by `call` and `answer`.
#[derive(Args, Debug)]
pub struct CallArgs {
    /// Server URL; with --user, signs in with the password read from stdin instead of
    /// using the profile's session.
    #[arg(long, requires = "user")]
    pub server: Option<String>,
    /// Account e-mail (with --server).
    #[arg(long, requires = "server")]
    pub user: Option<String>,
    /// Capture device (default: the system default input).
    #[arg(long, conflicts_with = "input_wav")]
    pub input: Option<String>,
    /// Send this WAV file (played in real time, then silence) instead of a microphone.
    #[arg(long)]
    pub input_wav: Option<PathBuf>,
    /// Playback device (default: the system default output).
    #[arg(long, conflicts_with = "output_wav")]
    pub output: Option<String>,
    /// Write what the other side says to this WAV file instead of a speaker.
    #[arg(long)]
    pub output_wav: Option<PathBuf>,
    /// Record both directions to this .opus file (agent left, remote right).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Hang up after this many seconds of talk.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Print state changes, one quality sample per second and the final report as JSON
    /// lines.
    #[arg(long)]
    pub stats_json: bool,
    /// Send these DTMF digits (RFC 4733) two seconds into the call.
    #[arg(long)]
    pub dtmf: Option<String>,
    /// The lead this call is about (the call record is then stored and synced).
    #[arg(long)]
    pub lead: Option<Uuid>,
    /// Opus bitrate, bit/s (default 40000).
    #[arg(long, default_value_t = 40_000)]
    pub bitrate: i32,
    /// Previous frames each packet repeats (RFC 2198 redundancy) when the peer accepts
    /// it; 0 sends plain Opus. Each one adds the Opus bitrate again.
    #[arg(long, default_value_t = softphone_call::red::RED_DISTANCE)]
    pub red: usize,
    /// STUN/TURN URL (repeatable). Default: the servers the server hands out
    /// (`GET /api/v1/ice-servers`, TURN credentials included).
    #[arg(long = "ice-server")]
    pub ice_servers: Vec<String>,
    /// Local UDP address for media (repeatable; default 0.0.0.0:0).
    #[arg(long = "media-addr")]
    pub media_addrs: Vec<String>,
    /// Send media through a TURN server only (W3C `iceTransportPolicy: "relay"`): the
    /// peer never learns this machine's addresses, and the call fails rather than go
    /// direct when no relay works. Always on under the policy's
    /// `ice_transport_policy: relay`.
    #[arg(long)]
    pub relay_only: bool,
}

impl CallArgs {
    /// The administrator's recording policy (the machine's file, then the
    /// organisation's policy cached in `profile`), checked before anything connects: a
    /// call with `--record` under `recording: off`, or without it under `forced`, is
    /// refused. Returns the recording bitrate per track the policy fixes, kbit/s.
    fn check_policy(&self, profile: Option<&Path>) -> Result<Option<u32>> {
        use softphone_controller::admin::{AdminConfig, PolicyError};
        let policy = AdminConfig::load_effective(&AdminConfig::system_path(), profile)?;
        match policy.record_call(self.record.is_some()) {
            Ok(_) => {}
            Err(e @ PolicyError::RecordingForced) => bail!("{e}: add --record FILE"),
            Err(e) => bail!("{e}: leave out --record"),
        }
        let asked: Vec<IceServer> = if self.ice_servers.is_empty() {
            vec![]
        } else {
            vec![IceServer {
                urls: self.ice_servers.clone(),
                ..Default::default()
            }]
        };
        if let Err(e) = policy.ice_servers_for(&asked) {
            bail!("{e}: leave out --ice-server");
        }
        if let Err(e) = policy.relay_only(self.relay_only) {
            bail!("{e}: leave out --relay-only");
        }
        Ok(policy.recording_bitrate(None)?)
    }

    /// The call's setup; `fixed_kbps`: the recording bitrate per track the policy fixes
    /// ([`Self::check_policy`]).
    fn setup(&self, agent: &str, fixed_kbps: Option<u32>) -> Result<CallSetup> {
        if !(6_000..=256_000).contains(&self.bitrate) {
            bail!("--bitrate must be 6000-256000 bit/s");
        }
        if self.red > 2 {
            bail!("--red must be 0, 1 or 2");
        }
        Ok(CallSetup {
            input: match &self.input_wav {
                Some(p) => AudioIn::Wav(p.clone()),
                None => AudioIn::Device(self.input.clone()),
            },
            output: match &self.output_wav {
                Some(p) => AudioOut::Wav(p.clone()),
                None => AudioOut::Device(self.output.clone()),
            },
            record: self.record.as_ref().map(|p| RecordSpec {
                path: p.clone(),
                // The call id is set by the call engine.
                meta: softphone_controller::new_meta(
                    Some(String::new()),
                    self.lead.map(|l| l.to_string()),
                    &format!("agent:{agent}"),
                    "remote",
                ),
                config: RecorderConfig {
                    bitrate_per_channel: fixed_kbps
                        .map_or(RecorderConfig::live_call().bitrate_per_channel, |k| {
                            k as i32 * 1000
                        }),
                    ..RecorderConfig::live_call()
                },
            }),
            encoder: softphone_call::EncoderSettings {
                bitrate_bps: self.bitrate,
                red_distance: self.red,
                ..Default::default()
            },
            peer: PeerConfig {
                ice_servers: if self.ice_servers.is_empty() {
                    vec![]
                } else {
                    vec![IceServer {
                        urls: self.ice_servers.clone(),
                        ..Default::default()
                    }]
                },
                udp_addrs: if self.media_addrs.is_empty() {
                    PeerConfig::default().udp_addrs
                } else {
                    self.media_addrs.clone()
                },
                relay_only: self.relay_only,
            },
            timeouts: Timeouts::default(),
            candidate_rewrite: None,
        })
    }
}

/// The account from `--server/--user` (password on stdin, nothing saved) or from the
/// profile's keyring session, and the profile's agent when there is one.
async fn account(args: &CallArgs, profile: Option<&Path>) -> Result<(Account, Option<Agent>)> {
    match (&args.server, &args.user) {
        (Some(server), Some(user)) => {
            let mut pw = String::new();
            std::io::stdin()
                .read_to_string(&mut pw)
                .context("reading the password from stdin")?;
            let account = Account::sign_in(server, user, pw.trim_end_matches(['\r', '\n'])).await?;
            Ok((account, None))
        }
        _ => {
            let profile = profile.context("no --server/--user and no profile")?;
            let agent = Agent::resume(profile)
                .context("not signed in: run `softphone login` or pass --server and --user")?;
            Ok((agent.account().clone(), Some(agent)))
        }
    }
}

fn print_event(e: &CallEvent, json: bool) {
    match e {
        CallEvent::MicLevel(_) | CallEvent::RemoteLevel(_) => {}
        _ if json => {
            if let Ok(s) = serde_json::to_string(e) {
                println!("{s}");
            }
        }
        CallEvent::State { state } => println!("state: {state:?}"),
        CallEvent::Quality(q) => println!(
            "{:>5.1} s  jitter {:>5.1} ms  loss {:>4.1} % ({:.1} % total, {} concealed)  rtt {}  send {:>4.1} kbit/s  recv {:>4.1} kbit/s  MOS {:.2}  {:?}",
            q.t_s,
            q.jitter_ms,
            q.packet_loss_pct,
            q.packet_loss_total_pct,
            q.concealed_pct.map(|c| format!("{c:.1} %")).unwrap_or_else(|| "-".into()),
            q.rtt_ms.map(|r| format!("{r:.0} ms")).unwrap_or_else(|| "-".into()),
            q.send_kbps,
            q.recv_kbps,
            q.mos,
            q.level
        ),
        CallEvent::DtmfReceived { digit } => println!("dtmf received: {digit}"),
        CallEvent::Muted { muted } => println!("{}", if *muted { "muted" } else { "unmuted" }),
        CallEvent::Notice { code, message } => eprintln!("warning: {code}: {message}"),
    }
    let _ = std::io::stdout().flush();
}

/// Prints events, hangs up after `--seconds` of talk, sends `--dtmf`, and returns the
/// report once the call ends.
async fn drive(mut call: LiveCall, args: &CallArgs) -> Result<CallReport> {
    let stop = call.commands();
    ctrlc::set_handler(move || {
        let _ = stop.try_send(Command::Hangup);
    })
    .ok();
    let seconds = args.seconds.map(Duration::from_secs_f64);
    let mut connected: Option<Instant> = None;
    loop {
        let deadline = match (connected, seconds) {
            (Some(c), Some(s)) => tokio::time::Instant::from_std(c + s),
            _ => tokio::time::Instant::now() + Duration::from_secs(3600),
        };
        tokio::select! {
            e = call.next_event() => {
                let Some(e) = e else { break };
                if let CallEvent::State { state: CallState::Connected } = &e {
                    if connected.is_none() {
                        connected = Some(Instant::now());
                        if let Some(digits) = args.dtmf.clone() {
                            let tx = call.commands();
                            tokio::spawn(async move {
                                tokio::time::sleep(Duration::from_secs(2)).await;
                                for c in digits.chars() {
                                    let _ = tx.send(Command::Dtmf(c)).await;
                                }
                            });
                        }
                    }
                }
                print_event(&e, args.stats_json);
            }
            _ = tokio::time::sleep_until(deadline) => {
                call.send(Command::Hangup).await;
                connected = None;
            }
        }
    }
    let (report, phone) = call.finish().await;
    phone.close().await;
    Ok(report)
}

fn finish(report: &CallReport, args: &CallArgs, agent: Option<&Agent>) -> Result<()> {
    if args.stats_json {
        println!(
            "{}",
            serde_json::json!({"event": "report", "report": report})
        );
    } else {
        println!(
            "call {} ended: {} after {:.1} s talk{}",
            report.call_id,
            report.end_reason.as_str(),
            report.duration_ms as f64 / 1000.0,
            report
                .quality
                .as_ref()
                .map(|q| format!(
                    "; MOS {:.2}, jitter {:.1} ms, loss {:.2} %, RTT {:.0} ms ({})",
                    q.mos, q.jitter_ms, q.packet_loss_pct, q.rtt_ms, q.level
                ))
                .unwrap_or_default()
        );
        if let Some(r) = &report.route {
            println!(
                "media went {} -> {} over {}{}",
                r.local_candidate_type,
                r.remote_candidate_type.as_deref().unwrap_or("peer"),
                r.protocol,
                if r.local_candidate_type == "relay" {
                    " (through TURN)"
                } else {
                    ""
                }
            );
        }
        if let Some(r) = &report.recording {
            println!(
                "recording {} ({} bytes, {} ms)",
                r.path.display(),
                r.bytes,
                r.duration_ms
            );
        }
    }
    if report.frames_dropped_before_send > 0 {
        eprintln!(
            "warning: {} ms of the microphone's audio were dropped before sending (the engine fell behind)",
            report.frames_dropped_before_send * 20
        );
    }
    if let Some(e) = &report.recording_error {
        eprintln!("warning: the recording failed: {e}");
    }
    let saved = save_call(agent, report, args.lead)?;
    if !args.stats_json {
        match &saved {
            SavedCall::Store => println!("call record saved to the local store (pending sync)"),
            SavedCall::File(p) => println!("call record written to {}", p.display()),
            SavedCall::Nothing => {}
        }
    }
    if !ended_normally(&report.end_reason) {
        bail!(
            "call ended: {}{}",
            report.end_reason.as_str(),
            match &report.end_reason {
                EndReason::Failed(d) => format!(" ({d})"),
                _ => String::new(),
            }
        );
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// `softphone call TARGET …`.
pub fn call(target: &str, args: &CallArgs, profile: Option<&Path>) -> Result<()> {
    runtime()?.block_on(async {
        let fixed_kbps = args.check_policy(profile)?;
        let (account, agent) = account(args, profile).await?;
        let mut setup = args.setup(&account.settings.email, fixed_kbps)?;
        account.fill_ice_servers(&mut setup).await;
        let phone = account.phone().await?;
        let call_id = Uuid::now_v7();
        // Journalled before any audio, so a kill mid-call is recovered at the next start.
        if let Some(agent) = &agent {
            agent.journal_call(call_id, args.lead, args.record.as_deref(), target, true)?;
        }
        let call = phone.dial_as(call_id, target, setup)?;
        let report = drive(call, args).await?;
        finish(&report, args, agent.as_ref())
    })
}

/// `softphone answer …`: waits for one incoming call (up to `wait` seconds) and answers it.
pub fn answer(args: &CallArgs, wait: f64, profile: Option<&Path>) -> Result<()> {
    runtime()?.block_on(async {
        let fixed_kbps = args.check_policy(profile)?;
        let (account, agent) = account(args, profile).await?;
        let mut setup = args.setup(&account.settings.email, fixed_kbps)?;
        account.fill_ice_servers(&mut setup).await;
        let phone = account.phone().await?;
        if !args.stats_json {
            println!("waiting for a call…");
        }
        let mut phone = phone;
        let incoming = phone.next_incoming(Duration::from_secs_f64(wait)).await?;
        if let Some(agent) = &agent {
            agent.journal_call(
                incoming.call_id,
                args.lead,
                args.record.as_deref(),
                &incoming.from.to_string(),
                false,
            )?;
        }
        let call = phone.take_call(incoming, setup, true);
        let report = drive(call, args).await?;
        finish(&report, args, agent.as_ref())
    })
}
