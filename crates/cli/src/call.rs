//! `call` and `answer`: one WebRTC call from the command line through the call engine
//! (`softphone-call`), with the account from `--server/--user` (password on stdin) or
//! from the profile's keyring session. The call record goes to the profile's local
//! store (synced like a note) when the call has a lead and a profile is signed in,
//! and to `RECORDING.json` next to the recording otherwise.

use anyhow::{bail, Context, Result};
use clap::Args;
use softphone_call::machine::{CallMachine, Timeouts};
use softphone_call::{
    run_call, AudioIn, AudioOut, CallEvent, CallReport, CallSetup, Command, EndReason, IceServer,
    PeerConfig, RecordSpec,
};
use softphone_client::{Client, SignalConn};
use softphone_proto::signal::ServerMsg;
use softphone_proto::{Call, CallDirection, CallUpsert};
use softphone_recorder::{RecorderConfig, RecordingMeta};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
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
    /// STUN/TURN URL (repeatable).
    #[arg(long = "ice-server")]
    pub ice_servers: Vec<String>,
    /// Local UDP address for media (repeatable; default 0.0.0.0:0).
    #[arg(long = "media-addr")]
    pub media_addrs: Vec<String>,
}

impl CallArgs {
    fn setup(&self, call_id: Uuid, agent: &str) -> Result<CallSetup> {
        if !(6_000..=256_000).contains(&self.bitrate) {
            bail!("--bitrate must be 6000-256000 bit/s");
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
                meta: RecordingMeta {
                    call_id: call_id.to_string(),
                    lead_id: self.lead.map(|l| l.to_string()),
                    start_time: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                        .to_string(),
                    left: format!("agent:{agent}"),
                    right: "remote".into(),
                    extra: vec![],
                },
                config: RecorderConfig::default(),
            }),
            encoder: softphone_call::EncoderSettings {
                bitrate_bps: self.bitrate,
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
            },
            timeouts: Timeouts::default(),
            candidate_rewrite: None,
        })
    }
}

struct Session {
    /// Holds the session token for the call's duration.
    _client: Client,
    signal: SignalConn,
    user_id: Uuid,
    email: String,
    /// Colleagues from `welcome`: (id, display name).
    members: Vec<(Uuid, String)>,
}

async fn connect(args: &CallArgs, profile: Option<&Path>) -> Result<Session> {
    let (client, email) = match (&args.server, &args.user) {
        (Some(server), Some(user)) => {
            let mut pw = String::new();
            std::io::stdin()
                .read_to_string(&mut pw)
                .context("reading the password from stdin")?;
            let mut c = Client::new(server)?;
            c.login(user, pw.trim_end_matches(['\r', '\n'])).await?;
            (c, user.clone())
        }
        _ => {
            let profile = profile.context("no --server/--user and no profile")?;
            let (s, token) = softphone_store::credentials::load(profile)
                .context("not signed in: run `softphone login` or pass --server and --user")?;
            (Client::new(&s.server_url)?.with_token(token), s.email)
        }
    };
    let mut signal = client.signal().await?;
    let (user_id, members) = match signal.recv().await? {
        Some(ServerMsg::Welcome { user_id, presence }) => (
            user_id,
            presence
                .into_iter()
                .map(|p| (p.user_id, p.display_name))
                .collect(),
        ),
        other => bail!("expected the server's welcome, got {other:?}"),
    };
    Ok(Session {
        _client: client,
        signal,
        user_id,
        email,
        members,
    })
}

/// `echo`, a user id, or a colleague's display name (case-insensitive).
fn resolve(target: &str, members: &[(Uuid, String)]) -> Result<String> {
    if target == "echo" || Uuid::parse_str(target).is_ok() {
        return Ok(target.to_string());
    }
    let found: Vec<_> = members
        .iter()
        .filter(|(_, n)| n.eq_ignore_ascii_case(target))
        .collect();
    match found.as_slice() {
        [(id, _)] => Ok(id.to_string()),
        [] => bail!("no colleague called `{target}`: use `echo`, a user id or a display name"),
        _ => bail!("several colleagues are called `{target}`: use the user id"),
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
            "{:>5.1} s  jitter {:>5.1} ms  loss {:>4.1} % ({:.1} % total)  rtt {}  send {:>4.1} kbit/s  recv {:>4.1} kbit/s  MOS {:.2}  {:?}",
            q.t_s,
            q.jitter_ms,
            q.packet_loss_pct,
            q.packet_loss_total_pct,
            q.rtt_ms.map(|r| format!("{r:.0} ms")).unwrap_or_else(|| "-".into()),
            q.send_kbps,
            q.recv_kbps,
            q.mos,
            q.level
        ),
        CallEvent::DtmfReceived { digit } => println!("dtmf received: {digit}"),
        CallEvent::Notice { code, message } => eprintln!("warning: {code}: {message}"),
    }
    let _ = std::io::stdout().flush();
}

async fn drive(
    mut session: Session,
    machine: CallMachine,
    dial_to: Option<String>,
    args: &CallArgs,
    accept: bool,
) -> Result<CallReport> {
    let call_id = machine.call_id;
    let setup = args.setup(call_id, &session.email)?;
    let (cmd_tx, cmd_rx) = mpsc::channel(16);
    let (ev_tx, mut ev_rx) = mpsc::channel(256);
    if accept {
        cmd_tx.send(Command::Accept).await?;
    }
    let stop = cmd_tx.clone();
    ctrlc::set_handler(move || {
        let _ = stop.try_send(Command::Hangup);
    })
    .ok();
    let json = args.stats_json;
    let seconds = args.seconds.map(Duration::from_secs_f64);
    let dtmf = args.dtmf.clone();
    let watcher = tokio::spawn(async move {
        let mut connected: Option<Instant> = None;
        loop {
            let deadline = match (connected, seconds) {
                (Some(c), Some(s)) => tokio::time::Instant::from_std(c + s),
                _ => tokio::time::Instant::now() + Duration::from_secs(3600),
            };
            tokio::select! {
                e = ev_rx.recv() => {
                    let Some(e) = e else { break };
                    if let CallEvent::State { state } = &e {
                        if *state == softphone_call::CallState::Connected && connected.is_none() {
                            connected = Some(Instant::now());
                            if let Some(d) = &dtmf {
                                let tx = cmd_tx.clone();
                                let digits = d.clone();
                                tokio::spawn(async move {
                                    tokio::time::sleep(Duration::from_secs(2)).await;
                                    for c in digits.chars() {
                                        let _ = tx.send(Command::Dtmf(c)).await;
                                    }
                                });
                            }
                        }
                    }
                    print_event(&e, json);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = cmd_tx.send(Command::Hangup).await;
                    connected = None;
                }
            }
        }
    });
    let report = run_call(&mut session.signal, machine, dial_to, setup, cmd_rx, ev_tx).await;
    let _ = watcher.await;
    let _ = session.signal.close().await;
    Ok(report)
}

fn finish(
    report: &CallReport,
    args: &CallArgs,
    profile: Option<&Path>,
    agent_id: Uuid,
) -> Result<()> {
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
        if let Some(r) = &report.recording {
            println!(
                "recording {} ({} bytes, {} ms)",
                r.path.display(),
                r.bytes,
                r.duration_ms
            );
        }
    }
    if let Some(e) = &report.recording_error {
        eprintln!("warning: the recording failed: {e}");
    }
    store_record(report, args, profile, agent_id)?;
    match &report.end_reason {
        EndReason::LocalHangup | EndReason::RemoteHangup => Ok(()),
        other => bail!(
            "call ended: {}{}",
            other.as_str(),
            match other {
                EndReason::Failed(d) => format!(" ({d})"),
                _ => String::new(),
            }
        ),
    }
}

/// The call record: the local store (synced) when there is a lead and a signed-in
/// profile, else `RECORDING.json` beside the recording.
fn store_record(
    report: &CallReport,
    args: &CallArgs,
    profile: Option<&Path>,
    agent_id: Uuid,
) -> Result<()> {
    let upsert = CallUpsert {
        lead_id: args.lead.unwrap_or(Uuid::nil()),
        direction: if report.outgoing {
            CallDirection::Outbound
        } else {
            CallDirection::Inbound
        },
        remote: report.remote.clone(),
        started_at_ms: report.started_at_ms,
        answered_at_ms: report.answered_at_ms,
        ended_at_ms: Some(report.ended_at_ms),
        duration_ms: Some(report.duration_ms),
        end_reason: Some(report.end_reason.as_str().to_string()),
        disposition: None,
        quality: report.quality.clone(),
    };
    let signed_in =
        profile.filter(|p| matches!(softphone_store::credentials::settings(p), Ok(Some(_))));
    if let (Some(lead), Some(profile)) = (args.lead, signed_in) {
        let (mut store, _) = softphone_store::Store::open(profile)?;
        let call = Call {
            id: report.call_id,
            lead_id: lead,
            direction: upsert.direction,
            agent_id,
            remote: upsert.remote.clone(),
            started_at_ms: upsert.started_at_ms,
            answered_at_ms: upsert.answered_at_ms,
            ended_at_ms: upsert.ended_at_ms,
            duration_ms: upsert.duration_ms,
            end_reason: upsert.end_reason.clone(),
            disposition: None,
            quality: upsert.quality.clone(),
            has_recording: false,
            version: 0,
            updated_at: 0,
        };
        store.queue::<Call>(report.call_id, Some(lead), &call, &upsert)?;
        if let Some(r) = &report.recording {
            store.add_recording(report.call_id, &r.path, r.duration_ms, 2)?;
        }
        if !args.stats_json {
            println!("call record saved to the local store (pending sync)");
        }
    } else if let Some(r) = &report.recording {
        let path = r.path.with_extension("json");
        std::fs::write(&path, serde_json::to_vec_pretty(report)?)?;
        if !args.stats_json {
            println!("call record written to {}", path.display());
        }
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
        let session = connect(args, profile).await?;
        let to = resolve(target, &session.members)?;
        let agent = session.user_id;
        let machine = CallMachine::outgoing(Uuid::now_v7(), Instant::now(), Timeouts::default());
        let report = drive(session, machine, Some(to), args, false).await?;
        finish(&report, args, profile, agent)
    })
}

/// `softphone answer …`: waits for one incoming call (up to `wait` seconds) and answers it.
pub fn answer(args: &CallArgs, wait: f64, profile: Option<&Path>) -> Result<()> {
    runtime()?.block_on(async {
        let mut session = connect(args, profile).await?;
        if !args.stats_json {
            println!("waiting for a call…");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(wait);
        let machine = loop {
            match tokio::time::timeout_at(deadline, session.signal.recv()).await {
                Err(_) => bail!("no call within {wait} s"),
                Ok(Ok(Some(ServerMsg::Incoming {
                    call_id,
                    from,
                    from_name,
                    offer,
                }))) => {
                    if !args.stats_json {
                        println!("incoming call from {from_name} ({from})");
                    }
                    break CallMachine::incoming(
                        call_id,
                        from.to_string(),
                        offer,
                        Instant::now(),
                        Timeouts::default(),
                    );
                }
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) => bail!("the server closed the signaling connection"),
                Ok(Err(e)) => return Err(e.into()),
            }
        };
        let agent = session.user_id;
        let report = drive(session, machine, None, args, true).await?;
        finish(&report, args, profile, agent)
    })
}
