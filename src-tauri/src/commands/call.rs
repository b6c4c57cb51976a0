//! Calls in the app: dial through the signed-in agent's `Phone`, take incoming calls on
//! a signaling line kept open while signed in, forward the engine's events to the
//! webview, keep the call record (store + sync) when a call ends.
//!
//! Events: `incoming-call` (`{call_id, from, from_name}`, while the ringtone plays),
//! `call-event` (every other `CallEvent`: state, quality each second, DTMF, notices),
//! `call-levels` (`{mic, remote}` meter readings, at most 20/s), `call-ended` (a summary) and `sync-changed` once the
//! call record and recording have been offered to the server.

use super::AgentSlot;
use super::UiError;
use serde::{Deserialize, Serialize};
use softphone_audio::MeterReading;
use softphone_call::{AudioIn, AudioOut, CallEvent, CallSetup, CallState, Command, RecordSpec};
use softphone_controller::agent::{ended_normally, Agent, AgentError, LiveCall, Phone, SavedCall};
use softphone_controller::player::Ringtone;
use softphone_proto::signal::Presence;
use softphone_recorder::{RecorderConfig, RecordingMeta};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_notification::NotificationExt;
use tokio::sync::mpsc;
use uuid::Uuid;

/// The call in progress (where its commands go), the devices and recording choice calls
/// use, and whether the incoming-call line runs.
#[derive(Default)]
pub struct CallSlot {
    current: Mutex<Option<mpsc::Sender<Command>>>,
    prefs: Mutex<CallPrefs>,
    line: AtomicBool,
    /// The presence the agent chose; the line (re)announces it.
    presence: Mutex<Option<Presence>>,
    presence_tx: Mutex<Option<mpsc::UnboundedSender<Presence>>>,
    /// The window is hidden (minimised, another workspace): meter levels are not sent.
    meters_hidden: AtomicBool,
}

impl CallSlot {
    /// Claims the slot for a new call, atomically: false when a call already runs (or
    /// is being set up). The claim holds until [`CallSlot::set`] or
    /// [`CallSlot::release`].
    pub(crate) fn claim(&self) -> bool {
        let mut current = self.current.lock().expect("call lock");
        if current.is_some() {
            return false;
        }
        // A placeholder until the call's own command sender exists.
        *current = Some(mpsc::channel(1).0);
        true
    }

    /// Where the claimed call's commands go.
    fn set(&self, commands: mpsc::Sender<Command>) {
        *self.current.lock().expect("call lock") = Some(commands);
    }

    /// Frees the slot (the call ended or never started).
    pub(crate) fn release(&self) {
        self.current.lock().expect("call lock").take();
    }

    fn prefs(&self) -> CallPrefs {
        self.prefs.lock().expect("prefs lock").clone()
    }
}

/// Devices and recording for calls (the dialer's and the settings' choices).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallPrefs {
    /// Capture device id from `list_devices`; `None` = the system default.
    pub input: Option<String>,
    /// Playback device id (also rings there); `None` = the system default.
    pub output: Option<String>,
    /// Record calls (agent left, remote right).
    pub record: bool,
    /// Recording bitrate per track, kbit/s (6-256; `None` = the recorder's default, 32).
    #[serde(default)]
    pub bitrate_kbps: Option<u32>,
}

/// What the UI shows when a call ends.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct CallEnded {
    /// Call id.
    pub call_id: Uuid,
    /// Stable end reason, e.g. `local_hangup`, `remote_hangup`, `failed`.
    pub end_reason: String,
    /// True when either side hung up (not a failure).
    pub normal: bool,
    /// Talk time, ms.
    pub duration_ms: i64,
    /// Mean MOS, jitter (ms), loss (%), RTT (ms) and level; absent when no media came.
    pub quality: Option<softphone_proto::CallQuality>,
    /// The recording file, when one was made.
    pub recording: Option<String>,
    /// Whether the record went to the store (synced) or beside the recording.
    pub saved_to_store: bool,
}

/// What the dialer asks for.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Deserialize)]
pub struct DialRequest {
    /// `echo`, a colleague's name or id, or a browser link id.
    pub target: String,
    /// The lead the call is about: the call record is stored and synced with it.
    pub lead: Option<Uuid>,
    /// Record both directions (agent left, remote right) to the profile's `recordings/`.
    pub record: bool,
    /// Capture device id from `list_devices`; `None` = the system default.
    pub input: Option<String>,
    /// Playback device id from `list_devices`; `None` = the system default.
    pub output: Option<String>,
}

/// Dials `request.target` on the chosen devices. Returns the call id; `call-event`s
/// follow, then `call-ended`.
///
/// Errors: `auth.not_signed_in`, `agent.unknown_target`, `call.busy` while another call
/// runs, `client.*` when the server is unreachable.
#[tauri::command]
pub async fn start_call(
    app: AppHandle,
    agents: State<'_, AgentSlot>,
    calls: State<'_, CallSlot>,
    request: DialRequest,
) -> Result<Uuid, UiError> {
    let DialRequest {
        target,
        lead,
        record,
        input,
        output,
    } = request;
    let agent = agents.get()?;
    crate::commands::admin_policy()?.record_call(record)?;
    let prefs = CallPrefs {
        input,
        output,
        record,
        bitrate_kbps: calls.prefs().bitrate_kbps,
    };
    *calls.prefs.lock().expect("prefs lock") = prefs.clone();
    // Held while dialing, so a second click or an incoming call sees the agent busy.
    if !calls.claim() {
        return Err(UiError {
            code: "call.busy".into(),
            message: "a call is already in progress".into(),
        });
    }
    let call_id = Uuid::now_v7();
    let dialed = async {
        let mut setup = setup_for(&agent, call_id, lead, &prefs)?;
        agent.account().fill_ice_servers(&mut setup).await;
        let recording = setup.record.as_ref().map(|r| r.path.clone());
        agent.journal_call(call_id, lead, recording.as_deref(), &target, true)?;
        let phone = agent.account().phone().await?;
        Ok::<_, UiError>(phone.dial_as(call_id, &target, setup)?)
    }
    .await;
    let call = match dialed {
        Ok(c) => c,
        Err(e) => {
            calls.release();
            return Err(e);
        }
    };
    calls.set(call.commands());
    tauri::async_runtime::spawn(async move {
        let phone = run_to_end(&app, &agent, call, lead, None).await;
        phone.close().await;
    });
    Ok(call_id)
}

/// The call's recording spec when `prefs.record`: `recordings/<call id>.opus` in the
/// profile, the agent on the left.
fn setup_for(
    agent: &Agent,
    call_id: Uuid,
    lead: Option<Uuid>,
    prefs: &CallPrefs,
) -> Result<CallSetup, UiError> {
    // The administrator's recording policy wins over saved preferences.
    let (record, bitrate_kbps) = crate::commands::admin_policy()
        .unwrap_or_default()
        .enforce_recording(prefs.record, prefs.bitrate_kbps);
    let record = if record {
        let dir = agent.profile().join("recordings");
        std::fs::create_dir_all(&dir).map_err(|e| UiError {
            code: "recorder.io".into(),
            message: format!("{}: {e}", dir.display()),
        })?;
        Some(RecordSpec {
            path: dir.join(format!("{call_id}.opus")),
            meta: RecordingMeta {
                call_id: call_id.to_string(),
                lead_id: lead.map(|l| l.to_string()),
                start_time: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                    .to_string(),
                left: format!("agent:{}", agent.account().settings.email),
                right: "remote".into(),
                extra: vec![],
            },
            config: RecorderConfig {
                bitrate_per_channel: bitrate_kbps
                    .map_or(RecorderConfig::default().bitrate_per_channel, |k| {
                        k.clamp(6, 256) as i32 * 1000
                    }),
                ..RecorderConfig::live_call()
            },
        })
    } else {
        None
    };
    Ok(CallSetup {
        input: AudioIn::Device(prefs.input.clone()),
        output: AudioOut::Device(prefs.output.clone()),
        record,
        ..CallSetup::default()
    })
}

/// How often the meters' levels reach the webview: 20 fps, the most a meter needs.
const LEVELS_EVERY: Duration = Duration::from_millis(50);

/// The latest mic and remote levels, sent together as one `call-levels` event per
/// frame: each message to the webview costs a script evaluation there, and one per
/// meter doubled the web process's share of a call's CPU (docs/benchmarks.md).
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Default, Serialize)]
pub(crate) struct Levels {
    /// The agent's microphone (after mute), when it reported since the last frame.
    mic: Option<MeterReading>,
    /// The remote audio, when it reported since the last frame.
    remote: Option<MeterReading>,
}

/// Forwards a call's events until it ends (stopping `ring` once it is no longer
/// ringing), then keeps the record, frees the slot, tells the UI and syncs. Returns
/// the phone for the next call.
async fn run_to_end(
    app: &AppHandle,
    agent: &Arc<Agent>,
    mut call: LiveCall,
    lead: Option<Uuid>,
    mut ring: Option<Ringtone>,
) -> Phone {
    let mut levels = Levels::default();
    let mut flushed = Instant::now() - LEVELS_EVERY;
    while let Some(e) = call.next_event().await {
        match e {
            CallEvent::MicLevel(r) => levels.mic = Some(r),
            CallEvent::RemoteLevel(r) => levels.remote = Some(r),
            e => {
                if let CallEvent::State { state } = &e {
                    if !matches!(state, CallState::RingingIn) {
                        // Dropping only flags the ringtone thread: it stops within 20 ms.
                        ring.take();
                    }
                }
                let _ = app.emit("call-event", &e);
                continue;
            }
        }
        let hidden = app
            .try_state::<CallSlot>()
            .is_some_and(|c| c.meters_hidden.load(Ordering::Relaxed));
        if !hidden && flushed.elapsed() >= LEVELS_EVERY {
            let _ = app.emit("call-levels", &std::mem::take(&mut levels));
            flushed = Instant::now();
        }
    }
    drop(ring);
    let (report, phone) = call.finish().await;
    let saved = agent.save_call(&report, lead);
    let ended = CallEnded {
        call_id: report.call_id,
        end_reason: report.end_reason.as_str().to_string(),
        normal: ended_normally(&report.end_reason),
        duration_ms: report.duration_ms,
        quality: report.quality.clone(),
        recording: report
            .recording
            .as_ref()
            .map(|r| r.path.display().to_string()),
        saved_to_store: matches!(saved, Ok(SavedCall::Store)),
    };
    if let Some(calls) = app.try_state::<CallSlot>() {
        calls.release();
    }
    let _ = app.emit("call-ended", &ended);
    let _ = agent.sync_once().await;
    let _ = app.emit("sync-changed", ());
    phone
}

/// What the UI shows while a call rings in.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub(crate) struct IncomingCall {
    call_id: Uuid,
    from: Uuid,
    from_name: String,
}

/// Keeps the signed-in agent reachable (once per app run): a signaling line waits for
/// incoming calls, reconnecting with back-off (1 s doubling to 30 s) when it breaks. A
/// call that arrives while another runs is rejected as busy.
pub fn start_line(app: AppHandle, agent: Arc<Agent>) {
    let Some(calls) = app.try_state::<CallSlot>() else {
        return;
    };
    if calls.line.swap(true, Ordering::AcqRel) {
        return;
    }
    let (presence_tx, mut presence_rx) = mpsc::unbounded_channel();
    *calls.presence_tx.lock().expect("presence lock") = Some(presence_tx);
    tauri::async_runtime::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        loop {
            let mut phone = match agent.account().phone().await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "signaling line down; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            backoff = Duration::from_secs(1);
            // A new connection starts `available`: say again what the agent chose.
            let chosen = *app
                .state::<CallSlot>()
                .presence
                .lock()
                .expect("presence lock");
            if let Some(p) = chosen {
                if let Err(e) = phone.set_presence(p).await {
                    tracing::warn!(error = %e, "cannot set presence; reconnecting");
                    continue;
                }
            }
            loop {
                let next = tokio::select! {
                    next = phone.next_incoming(Duration::from_secs(3600)) => next,
                    Some(p) = presence_rx.recv() => match phone.set_presence(p).await {
                        Ok(()) => continue,
                        Err(e) => Err(e),
                    },
                };
                let incoming = match next {
                    Ok(i) => i,
                    Err(AgentError::Timeout(_)) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "signaling line lost; reconnecting");
                        break;
                    }
                };
                // Claimed here, released by `run_to_end`: an incoming call and a click
                // on Call cannot both take the slot.
                if !app.state::<CallSlot>().claim() {
                    let quiet = CallSetup {
                        input: AudioIn::Silence,
                        output: AudioOut::Discard,
                        ..CallSetup::default()
                    };
                    let call = phone.take_call(incoming, quiet, false);
                    let _ = call.commands().send(Command::Reject).await;
                    let (_, p) = call.finish().await;
                    phone = p;
                    continue;
                }
                let prefs = app.state::<CallSlot>().prefs();
                let setup = match setup_for(&agent, incoming.call_id, None, &prefs) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(code = %e.code, "recording unavailable: {}", e.message);
                        setup_for(
                            &agent,
                            incoming.call_id,
                            None,
                            &CallPrefs {
                                record: false,
                                ..prefs.clone()
                            },
                        )
                        .expect("no recording, no I/O")
                    }
                };
                let mut setup = setup;
                agent.account().fill_ice_servers(&mut setup).await;
                let recording = setup.record.as_ref().map(|r| r.path.clone());
                if let Err(e) = agent.journal_call(
                    incoming.call_id,
                    None,
                    recording.as_deref(),
                    &incoming.from.to_string(),
                    false,
                ) {
                    tracing::warn!(error = %e, "cannot journal the incoming call");
                }
                let shown = IncomingCall {
                    call_id: incoming.call_id,
                    from: incoming.from,
                    from_name: incoming.from_name.clone(),
                };
                let call = phone.take_call(incoming, setup, false);
                app.state::<CallSlot>().set(call.commands());
                // Opening the device blocks until the server runs the stream (up to a
                // second or more under load): off the async workers, started first.
                let ring = tauri::async_runtime::spawn_blocking({
                    let output = prefs.output.clone();
                    move || Ringtone::start(output)
                });
                let _ = app.emit("incoming-call", &shown);
                tauri::async_runtime::spawn_blocking({
                    let app = app.clone();
                    let from = shown.from_name.clone();
                    move || alert(&app, &from)
                });
                let ring = match ring.await {
                    Ok(Ok(r)) => Some(r),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "no ringtone");
                        None
                    }
                    Err(_) => None,
                };
                phone = run_to_end(&app, &agent, call, None, ring).await;
            }
        }
    });
}

/// Draws the agent's eye to a ringing call: the window asks for attention and, when it
/// is not focused, an OS notification (without a notification service, as in a bare
/// session, only the ringtone and the window remain).
fn alert(app: &AppHandle, from: &str) {
    let Some(w) = app.get_webview_window("main") else {
        return;
    };
    let _ = w.request_user_attention(Some(tauri::UserAttentionType::Critical));
    if !w.is_focused().unwrap_or(false) {
        let _ = app
            .notification()
            .builder()
            .title("Incoming call")
            .body(format!("{from} is calling"))
            .show();
    }
}

/// Sets the agent's presence: `available`, `busy` or `wrap_up` (calls to a busy or
/// wrapping-up agent fail with `busy`). Kept for reconnects. Another value is refused
/// by Tauri before this runs (the argument is a typed `Presence`).
#[tauri::command]
pub fn set_presence(calls: State<'_, CallSlot>, status: Presence) -> Result<(), UiError> {
    apply_presence(&calls, status);
    Ok(())
}

/// `available`, `busy`, `wrap_up` (the wire names, as the tray's menu ids carry them)
/// to a presence.
pub(crate) fn parse_presence(status: &str) -> Option<Presence> {
    match status {
        "available" => Some(Presence::Available),
        "busy" => Some(Presence::Busy),
        "wrap_up" => Some(Presence::WrapUp),
        _ => None,
    }
}

/// Remembers `p` and hands it to the incoming-call line (from the UI or the tray).
pub(crate) fn apply_presence(calls: &CallSlot, p: Presence) {
    *calls.presence.lock().expect("presence lock") = Some(p);
    if let Some(tx) = calls.presence_tx.lock().expect("presence lock").as_ref() {
        let _ = tx.send(p);
    }
}

/// Whether the meters can be seen: the webview reports its visibility, and while it is
/// hidden no `call-levels` are sent (each costs the web process a script evaluation for
/// a meter nobody sees; agents often keep the softphone in the background in a call).
#[tauri::command]
pub fn meters_visible(calls: State<'_, CallSlot>, visible: bool) {
    calls.meters_hidden.store(!visible, Ordering::Relaxed);
}

/// Sets the devices and recording choice for calls (incoming ones included).
///
/// Errors: `policy.recording_off`, `policy.recording_forced`, `policy.bitrate_fixed`
/// when the choice goes against the administrator's policy (nothing is changed);
/// `admin.config` when the policy file is unreadable.
#[tauri::command]
pub fn set_call_prefs(calls: State<'_, CallSlot>, prefs: CallPrefs) -> Result<(), UiError> {
    let policy = crate::commands::admin_policy()?;
    policy.record_call(prefs.record)?;
    policy.recording_bitrate(prefs.bitrate_kbps)?;
    *calls.prefs.lock().expect("prefs lock") = prefs;
    Ok(())
}

/// What the window asks of the call in progress.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallAction {
    /// Answer the ringing call.
    Accept,
    /// Decline the ringing call.
    Reject,
    /// Stop sending the microphone.
    Mute,
    /// Send the microphone again.
    Unmute,
    /// Put the call on hold.
    Hold,
    /// Take it off hold.
    Resume,
    /// End the call.
    Hangup,
    /// Send `digit` as an RFC 4733 telephone event.
    Dtmf,
}

/// Sends one command to the call in progress; `digit` (0-9, *, #, A-D) goes with
/// `dtmf`. Resolves once the call has it: the window shows mute as done then, and hold
/// when the call's state says `on_hold`.
///
/// Errors: `call.none` without a call, `controller.invalid` for `dtmf` without a
/// digit.
#[tauri::command]
pub async fn call_command(
    calls: State<'_, CallSlot>,
    command: CallAction,
    digit: Option<char>,
) -> Result<(), UiError> {
    let cmd = match (command, digit) {
        (CallAction::Accept, _) => Command::Accept,
        (CallAction::Reject, _) => Command::Reject,
        (CallAction::Mute, _) => Command::Mute(true),
        (CallAction::Unmute, _) => Command::Mute(false),
        (CallAction::Hold, _) => Command::Hold(true),
        (CallAction::Resume, _) => Command::Hold(false),
        (CallAction::Hangup, _) => Command::Hangup,
        (CallAction::Dtmf, Some(d)) => Command::Dtmf(d),
        (CallAction::Dtmf, None) => {
            return Err(UiError {
                code: "controller.invalid".into(),
                message: "dtmf needs a digit".into(),
            })
        }
    };
    let tx = calls.current.lock().expect("call lock").clone();
    match tx {
        Some(tx) if tx.send(cmd).await.is_ok() => Ok(()),
        _ => Err(UiError {
            code: "call.none".into(),
            message: "no call in progress".into(),
        }),
    }
}
