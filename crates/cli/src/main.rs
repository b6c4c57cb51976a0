//! `softphone`: the headless client. Every subcommand is a thin translation of
//! arguments into calls on `softphone-controller`, so what the CLI does, the app does.
//! Errors print as one line (`error: …`) with exit status 1; usage errors exit 2.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use softphone_controller::{
    new_meta, recover_recordings, start_capture, CaptureRequest, Event, InputSpec, RecordTarget,
};
use softphone_recorder::{export_voice, ExportOptions, RecorderConfig};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

mod account;
mod call;

#[derive(Parser)]
#[command(name = "softphone", version, about = "Agent Softphone headless client")]
struct Cli {
    /// Profile folder for the local store and account settings (default: the platform
    /// data folder, e.g. ~/.local/share/agent-softphone).
    #[arg(long, env = "SOFTPHONE_PROFILE", global = true)]
    profile: Option<PathBuf>,
    /// Accept a plain http:// server on another machine (passwords and recordings cross
    /// the network unencrypted). Without it only https:// and http:// on this machine
    /// work, unless the admin policy file allows plain HTTP.
    #[arg(long, global = true)]
    allow_insecure_http: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List audio input and output devices.
    Devices {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the microphone level (0-100, dBFS, low-level and clip flags).
    Meter {
        #[command(flatten)]
        input: InputArgs,
        /// Stop after this many seconds of audio.
        #[arg(long)]
        seconds: Option<f64>,
        /// JSON lines: time_ms, level, rms_dbfs, peak_dbfs, low, clip.
        #[arg(long)]
        json: bool,
    },
    /// Record a dual-track Ogg Opus file (left = agent/input, right = remote).
    Record {
        /// Output file; written as OUT.part until finished. Never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Stop after this many seconds (default: until Ctrl-C or the input ends).
        #[arg(long)]
        seconds: Option<f64>,
        #[command(flatten)]
        input: InputArgs,
        /// WAV file for the remote (right) track; silence when absent.
        #[arg(long)]
        remote_wav: Option<PathBuf>,
        /// Bitrate per channel, bits per second.
        #[arg(long, default_value_t = 32_000)]
        bitrate: i32,
        /// libopus complexity 0-10 (10 = best quality per bit, most CPU).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=10))]
        complexity: i32,
        /// Call id for the metadata (default: a new UUIDv7).
        #[arg(long)]
        call_id: Option<String>,
        /// Lead id for the metadata.
        #[arg(long)]
        lead_id: Option<String>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a mono Ogg Opus voice message (WhatsApp-ready, <= 16 MB) from a recording.
    ExportVoice {
        input: PathBuf,
        output: PathBuf,
        /// Target bitrate, bits per second.
        #[arg(long, default_value_t = 24_000)]
        bitrate: i32,
    },
    /// Repair recordings left unfinished by a crash (*.opus.part) in DIR.
    Recover {
        dir: PathBuf,
        /// JSON lines, one per file.
        #[arg(long)]
        json: bool,
    },
    /// Log in to a server; the password is read from stdin, the token kept in the OS
    /// keyring (never on disk).
    Login {
        /// Server URL, e.g. http://127.0.0.1:8787.
        #[arg(long)]
        server: String,
        /// Account e-mail.
        #[arg(long)]
        email: String,
    },
    /// Revoke the session and remove the token from the keyring (local data stays).
    Logout,
    /// Write a note on a lead (saved locally at once, synced when online).
    Note {
        /// Lead id.
        lead: String,
        /// Text.
        text: String,
        /// Call the note belongs to.
        #[arg(long)]
        call: Option<String>,
    },
    /// Full-text search over local notes and messages.
    Search { query: String },
    /// Queue a finished recording for upload.
    Upload {
        /// The .opus file.
        file: PathBuf,
        /// Its call id.
        #[arg(long)]
        call_id: String,
    },
    /// Push pending changes and pull new ones; keeps running (live) unless --once.
    Sync {
        /// One round, then exit (status 1 when something is left or failed).
        #[arg(long)]
        once: bool,
        /// Print the round's report as JSON (with --once).
        #[arg(long)]
        json: bool,
        /// Delete local recording files once the server confirmed them.
        #[arg(long)]
        prune: bool,
    },
    /// Online/offline, pending and parked changes, bytes left to upload.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print a support report: version, platform, admin policy, account, sync state,
    /// devices and the last log lines, with phone numbers, e-mails and tokens redacted.
    Diagnostics,
    /// Place a WebRTC call to `echo` (the server's echo test), a colleague's user id or
    /// display name; hang up with Ctrl-C or --seconds.
    Call {
        /// `echo`, a user id, or a display name.
        target: String,
        #[command(flatten)]
        args: call::CallArgs,
    },
    /// Browser call links for prospects: `link new` prints a page URL to send them;
    /// while their page is open, `softphone call LINK_ID` rings it.
    Link {
        #[command(subcommand)]
        action: LinkAction,
    },
    /// Wait for one incoming call and answer it.
    Answer {
        /// Give up after this many seconds without a call.
        #[arg(long, default_value_t = 300.0)]
        wait: f64,
        #[command(flatten)]
        args: call::CallArgs,
    },
}

#[derive(Subcommand)]
enum LinkAction {
    /// A new link: prints its id and the page URL.
    New {
        /// The lead it is for (kept on the call record).
        #[arg(long)]
        lead: Option<String>,
        /// Good for one answered call.
        #[arg(long)]
        single_use: bool,
        /// Lifetime, seconds (default: the server's, 2 h; at most the admin's maximum).
        #[arg(long)]
        ttl: Option<i64>,
        /// Print the link as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Your links that can still be opened, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a link: its page is disconnected at once and cannot be opened again.
    Revoke {
        /// The link id.
        id: String,
    },
}

#[derive(Args)]
#[group(multiple = false)]
struct InputArgs {
    /// Capture device id or name (see `softphone devices`); default device if absent.
    #[arg(long)]
    input: Option<String>,
    /// Read the input from a WAV file instead of a device.
    #[arg(long)]
    input_wav: Option<PathBuf>,
}

impl InputArgs {
    fn spec(&self) -> InputSpec {
        match (&self.input, &self.input_wav) {
            (_, Some(p)) => InputSpec::Wav(p.clone()),
            (d, None) => InputSpec::Device(d.clone()),
        }
    }
}

fn main() -> ExitCode {
    softphone_controller::tune_allocator();
    let cli = Cli::parse();
    let admin_path = softphone_controller::admin::AdminConfig::system_path();
    let admin = match softphone_controller::admin::AdminConfig::load_effective(&admin_path, None) {
        Ok(admin) => admin,
        Err(e) => {
            eprintln!("error: admin policy: {e}");
            return ExitCode::FAILURE;
        }
    };
    admin.apply_to_process(cli.allow_insecure_http);
    // User-facing problems are printed as `warning:`/`error:` lines; tracing output is
    // for diagnosis only: opt in with SOFTPHONE_LOG=info (stderr), and SOFTPHONE_LOG_DIR
    // for the redacted rotating file the app writes (softphone_controller::logs), whose
    // filter the admin policy's `log_level` sets when present.
    let filter = std::env::var("SOFTPHONE_LOG").ok();
    let log_dir = std::env::var_os("SOFTPHONE_LOG_DIR").map(PathBuf::from);
    let logs = softphone_controller::logs::LogConfig {
        file_filter: admin.log_filter(),
        dir: log_dir,
        stderr_filter: filter,
    };
    if let Err(e) = softphone_controller::logs::init(&logs) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    match run(cli.command, cli.profile) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn seconds_to_ms(s: Option<f64>) -> Result<Option<u64>> {
    match s {
        Some(s) if !(s.is_finite() && s > 0.0) => bail!("--seconds must be a positive number"),
        Some(s) => Ok(Some((s * 1000.0).round() as u64)),
        None => Ok(None),
    }
}

fn run(cmd: Command, profile: Option<PathBuf>) -> Result<()> {
    match cmd {
        Command::Login { server, email } => {
            account::login(&account::profile_dir(profile)?, &server, &email)
        }
        Command::Logout => account::logout(&account::profile_dir(profile)?),
        Command::Note { lead, text, call } => account::note(
            &account::profile_dir(profile)?,
            &lead,
            &text,
            call.as_deref(),
        ),
        Command::Search { query } => account::search(&account::profile_dir(profile)?, &query),
        Command::Upload { file, call_id } => {
            account::upload(&account::profile_dir(profile)?, &file, &call_id)
        }
        Command::Sync { once, json, prune } => {
            account::sync(&account::profile_dir(profile)?, once, json, prune)
        }
        Command::Status { json } => account::status(&account::profile_dir(profile)?, json),
        Command::Diagnostics => account::diagnostics(profile),
        Command::Call { target, args } => {
            let p = account::profile_dir(profile).ok();
            call::call(&target, &args, p.as_deref())
        }
        Command::Link { action } => {
            let profile = account::profile_dir(profile)?;
            match action {
                LinkAction::New {
                    lead,
                    single_use,
                    ttl,
                    json,
                } => account::link_new(&profile, lead.as_deref(), single_use, ttl, json),
                LinkAction::List { json } => account::link_list(&profile, json),
                LinkAction::Revoke { id } => account::link_revoke(&profile, &id),
            }
        }
        Command::Answer { wait, args } => {
            let p = account::profile_dir(profile).ok();
            call::answer(&args, wait, p.as_deref())
        }
        Command::Devices { json } => {
            let devices = softphone_audio::list_devices()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&devices)?);
            } else {
                for d in devices {
                    println!(
                        "{:6} {} {}  [{}]  rates {:?} Hz  channels {:?}",
                        format!("{:?}", d.direction).to_lowercase(),
                        if d.is_default { "*" } else { " " },
                        d.name,
                        d.id,
                        d.sample_rates,
                        d.channels
                    );
                }
            }
            Ok(())
        }
        Command::Meter {
            input,
            seconds,
            json,
        } => {
            let handle = start_capture(CaptureRequest {
                input: input.spec(),
                remote: None,
                record: None,
                max_ms: seconds_to_ms(seconds)?,
            })?;
            let flag = handle.stop_flag();
            ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
            let mut out = std::io::stdout().lock();
            for ev in handle.events.iter() {
                match ev {
                    Event::Meter(r) if json => writeln!(out, "{}", serde_json::to_string(&r)?)?,
                    Event::Meter(r) => {
                        let bar = "#".repeat((r.level / 2.0) as usize);
                        writeln!(
                            out,
                            "{:>7} ms {:>5.1} {:<50} rms {:>6.1} dBFS peak {:>6.1} dBFS{}{}",
                            r.time_ms,
                            r.level,
                            bar,
                            r.rms_dbfs,
                            r.peak_dbfs,
                            if r.low { " LOW" } else { "" },
                            if r.clip { " CLIP" } else { "" }
                        )?
                    }
                    Event::DeviceError { message, .. } => eprintln!("warning: {message}"),
                    Event::Warning { message, .. } => eprintln!("warning: {message}"),
                    Event::Started { .. } => {}
                }
            }
            let result = handle.join()?;
            if let softphone_controller::StopReason::DeviceError { message, .. } = result.stop {
                bail!("{message}");
            }
            Ok(())
        }
        Command::Record {
            out,
            seconds,
            input,
            remote_wav,
            bitrate,
            complexity,
            call_id,
            lead_id,
            json,
        } => {
            let spec = input.spec();
            let left = match &spec {
                InputSpec::Wav(p) => format!("agent:file:{}", p.display()),
                _ => "agent".to_string(),
            };
            let right = match &remote_wav {
                Some(p) => format!("remote:file:{}", p.display()),
                None => "remote:none".to_string(),
            };
            let handle = start_capture(CaptureRequest {
                input: spec,
                remote: remote_wav.map(InputSpec::Wav),
                record: Some(RecordTarget {
                    path: out.clone(),
                    config: RecorderConfig {
                        bitrate_per_channel: bitrate,
                        complexity,
                        ..Default::default()
                    },
                    meta: new_meta(call_id, lead_id, &left, &right),
                }),
                max_ms: seconds_to_ms(seconds)?,
            })
            .with_context(|| format!("cannot record to {}", out.display()))?;
            let flag = handle.stop_flag();
            ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
            for ev in handle.events.iter() {
                match ev {
                    Event::DeviceError { message, .. } | Event::Warning { message, .. } => {
                        eprintln!("warning: {message}")
                    }
                    _ => {}
                }
            }
            let result = handle.join()?;
            let rec = result.recording.context("no recording produced")?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&serde_json::json!({
                        "stop": result.stop,
                        "captured_ms": result.captured_ms,
                        "recording": rec,
                    }))?
                );
            } else {
                println!(
                    "{}  {} ms  {} bytes  sha256 {}",
                    rec.path.display(),
                    rec.duration_ms,
                    rec.bytes,
                    rec.sha256
                );
            }
            if let softphone_controller::StopReason::DeviceError { message, .. } = result.stop {
                bail!("recording saved, but the input failed: {message}");
            }
            Ok(())
        }
        Command::ExportVoice {
            input,
            output,
            bitrate,
        } => {
            let s = export_voice(&input, &output, &ExportOptions { bitrate })
                .with_context(|| format!("cannot export {}", input.display()))?;
            println!("{}", serde_json::to_string(&s)?);
            if !s.fits_play_button {
                eprintln!(
                    "note: over 512 KB, WhatsApp shows it as an audio file, not a voice note"
                );
            }
            Ok(())
        }
        Command::Recover { dir, json } => {
            let results = recover_recordings(&dir)?;
            let mut failed = 0;
            for (path, r) in &results {
                match r {
                    Ok(rep) if json => println!("{}", serde_json::to_string(rep)?),
                    Ok(rep) => println!(
                        "repaired {} -> {} ({} ms, {} bytes, dropped {} damaged bytes)",
                        path.display(),
                        rep.summary.path.display(),
                        rep.summary.duration_ms,
                        rep.summary.bytes,
                        rep.dropped_bytes
                    ),
                    Err(e) => {
                        failed += 1;
                        if json {
                            println!(
                                "{}",
                                serde_json::json!({"source": path, "error": e.to_string(), "code": e.code()})
                            );
                        } else {
                            eprintln!("error: {}: {e}", path.display());
                        }
                    }
                }
            }
            if results.is_empty() && !json {
                println!("nothing to recover in {}", dir.display());
            }
            if failed > 0 {
                bail!("{failed} file(s) could not be repaired (left untouched)");
            }
            Ok(())
        }
    }
}
