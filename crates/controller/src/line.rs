//! The signed-in agent's phone line in the desktop app: one call at a time (dialed, or
//! taken from the signaling line kept open while signed in), the devices and recording
//! choice calls use, presence (said again after every reconnect), the ringtone, and the
//! call record kept when a call ends.
//!
//! Key design decision: what the line shows goes through a [`Shell`] (incoming call,
//! call event, meter levels, call ended, alert), so the Tauri app's commands are a few
//! lines that translate, and the line itself is tested with a fake shell against the
//! real server (`tests/line.rs`).

use crate::admin::{AdminConfig, PolicyError};
use crate::agent::{ended_normally, Agent, AgentError, LiveCall, Phone, SavedCall};
use crate::player::Ringtone;
use serde::{Deserialize, Serialize};
use softphone_audio::MeterReading;
use softphone_call::{AudioIn, AudioOut, CallEvent, CallSetup, CallState, Command, RecordSpec};
use softphone_proto::signal::Presence;
use softphone_recorder::RecorderConfig;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

/// How often the meters' levels reach the shell: 20 fps, the most a meter needs.
pub const LEVELS_EVERY: Duration = Duration::from_millis(50);

/// The first wait before the signaling line is opened again after it broke; it doubles
/// up to [`RECONNECT_MAX`].
pub const RECONNECT_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between reconnects.
pub const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// What the line shows the agent; the app forwards each to its window.
pub trait Shell: Send + Sync + 'static {
    /// A call rings in (its ringtone is starting on the chosen speaker).
    fn incoming(&self, call: &IncomingCall);
    /// Every call event but the meter levels: state, quality each second, DTMF,
    /// notices.
    fn call_event(&self, event: &CallEvent);
    /// The latest mic and remote levels, at most every [`LEVELS_EVERY`], and only
    /// while the meters can be seen ([`PhoneLine::set_meters_visible`]).
    fn levels(&self, levels: &Levels);
    /// What the call panel shows changed ([`CallView`]): the window draws the panel
    /// from this alone.
    fn view(&self, view: &CallView);
    /// A call ended; its record is kept (store or beside the recording).
    fn ended(&self, ended: &CallEnded);
    /// The sync round after a call ran (the lists may have changed).
    fn synced(&self);
    /// Draw the agent's eye to the ringing call from `from_name` (window attention,
    /// a notification when the window is not focused).
    fn alert(&self, from_name: &str);
}

/// Devices and recording for calls (the dialer's and the settings' choices).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

/// What the window shows when a call ends.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

/// The latest mic and remote levels, sent together as one event per frame: each
/// message to the webview costs a script evaluation there, and one per meter doubled
/// the web process's share of a call's CPU (docs/benchmarks.md).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Default, Serialize)]
pub struct Levels {
    /// The agent's microphone (after mute), when it reported since the last frame.
    pub mic: Option<MeterReading>,
    /// The remote audio, when it reported since the last frame.
    pub remote: Option<MeterReading>,
}

/// What the call panel shows, as the call (not the window) knows it: sent whenever it
/// changes, so a command the call refused never shows as done.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallView {
    /// Call id.
    pub call_id: Uuid,
    /// True for a call the agent placed.
    pub outgoing: bool,
    /// The call's state (`dialing`, `ringing_in`, `connected`, `on_hold`, …).
    pub state: CallState,
    /// The microphone is muted.
    pub muted: bool,
    /// The call is on hold.
    pub held: bool,
    /// When media first connected, Unix ms (the panel's timer counts from it); `None`
    /// before.
    pub connected_at_ms: Option<i64>,
}

impl CallView {
    /// Applies one call event; true when the view changed.
    pub fn apply(&mut self, event: &CallEvent, now_ms: i64) -> bool {
        let before = self.clone();
        match event {
            CallEvent::State { state } => {
                self.held = matches!(state, CallState::OnHold);
                if matches!(state, CallState::Connected) && self.connected_at_ms.is_none() {
                    self.connected_at_ms = Some(now_ms);
                }
                self.state = state.clone();
            }
            CallEvent::Muted { muted } => self.muted = *muted,
            _ => {}
        }
        *self != before
    }
}

/// What the window shows while a call rings in.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct IncomingCall {
    /// Call id.
    pub call_id: Uuid,
    /// The caller's user id.
    pub from: Uuid,
    /// The caller's display name.
    pub from_name: String,
}

/// Why the line refused; `code()` gives a stable code.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// A call already runs or is being set up (or an update installs).
    #[error("a call is already in progress")]
    Busy,
    /// A call command without a call.
    #[error("no call in progress")]
    NoCall,
    /// The choice goes against the administrator's policy.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The policy file is unreadable.
    #[error("admin policy: {0}")]
    AdminConfig(String),
    /// The recordings folder cannot be made.
    #[error("{0}")]
    RecordingsFolder(String),
    /// Signing in, signaling or the store failed.
    #[error(transparent)]
    Agent(#[from] AgentError),
}

impl LineError {
    /// `call.busy`, `call.none`, `policy.*`, `admin.config`, `recorder.io`, or the
    /// agent's code.
    pub fn code(&self) -> &str {
        match self {
            LineError::Busy => "call.busy",
            LineError::NoCall => "call.none",
            LineError::Policy(p) => p.code(),
            LineError::AdminConfig(_) => "admin.config",
            LineError::RecordingsFolder(_) => "recorder.io",
            LineError::Agent(a) => a.code(),
        }
    }
}

/// The call in progress (where its commands go), the devices and recording choice calls
/// use, presence, and whether the incoming-call line runs.
#[derive(Default)]
pub struct PhoneLine {
    current: Mutex<Option<mpsc::Sender<Command>>>,
    prefs: Mutex<CallPrefs>,
    line: AtomicBool,
    /// The presence the agent chose; the line (re)announces it.
    presence: Mutex<Option<Presence>>,
    presence_tx: Mutex<Option<mpsc::UnboundedSender<Presence>>>,
    /// The window is hidden (minimised, another workspace): meter levels are not sent.
    meters_hidden: AtomicBool,
}

impl PhoneLine {
    /// Claims the line for a new call (or an update's install), atomically: false when
    /// a call already runs or is being set up. The claim holds until the call's
    /// commands are set or [`PhoneLine::release`].
    pub fn claim(&self) -> bool {
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

    /// Frees the line (the call ended or never started).
    pub fn release(&self) {
        self.current.lock().expect("call lock").take();
    }

    /// The devices and recording choice calls use now.
    pub fn prefs(&self) -> CallPrefs {
        self.prefs.lock().expect("prefs lock").clone()
    }

    /// Sets the devices and recording choice for calls (incoming ones included).
    ///
    /// Errors: [`LineError::Policy`] when the choice goes against the administrator's
    /// policy (nothing is changed), [`LineError::AdminConfig`].
    pub fn set_prefs(&self, policy: &AdminConfig, prefs: CallPrefs) -> Result<(), LineError> {
        policy.record_call(prefs.record)?;
        policy.recording_bitrate(prefs.bitrate_kbps)?;
        *self.prefs.lock().expect("prefs lock") = prefs;
        Ok(())
    }

    /// Remembers the agent's presence and tells the server through the line (again
    /// after every reconnect).
    pub fn set_presence(&self, p: Presence) {
        *self.presence.lock().expect("presence lock") = Some(p);
        if let Some(tx) = self.presence_tx.lock().expect("presence lock").as_ref() {
            let _ = tx.send(p);
        }
    }

    /// Whether the meters can be seen; while not, no [`Shell::levels`] are sent.
    pub fn set_meters_visible(&self, visible: bool) {
        self.meters_hidden.store(!visible, Ordering::Relaxed);
    }

    /// Sends one command to the call in progress; resolves once the call has it.
    ///
    /// Errors: [`LineError::NoCall`].
    pub async fn command(&self, cmd: Command) -> Result<(), LineError> {
        let tx = self.current.lock().expect("call lock").clone();
        match tx {
            Some(tx) if tx.send(cmd).await.is_ok() => Ok(()),
            _ => Err(LineError::NoCall),
        }
    }

    /// Dials `target` (`echo`, a colleague's name or id, a browser link id) about
    /// `lead` on `prefs`' devices, recording when `prefs.record` (the policy wins) at
    /// the bitrate last set with [`Self::set_prefs`] (`prefs.bitrate_kbps` is ignored);
    /// `prefs` become the line's choices for incoming calls too.
    /// Returns the call id at once; the call runs on, reported through `shell`.
    ///
    /// Errors: [`LineError::Busy`] while another call runs, [`LineError::Policy`],
    /// [`LineError::Agent`] (unknown target, server unreachable).
    pub async fn dial(
        self: &Arc<Self>,
        agent: Arc<Agent>,
        shell: Arc<dyn Shell>,
        target: &str,
        lead: Option<Uuid>,
        prefs: CallPrefs,
    ) -> Result<Uuid, LineError> {
        policy_of(&agent)?.record_call(prefs.record)?;
        let prefs = CallPrefs {
            bitrate_kbps: self.prefs().bitrate_kbps,
            ..prefs
        };
        *self.prefs.lock().expect("prefs lock") = prefs.clone();
        // Held while dialing, so a second click or an incoming call sees the agent busy.
        if !self.claim() {
            return Err(LineError::Busy);
        }
        let call_id = Uuid::now_v7();
        let dialed = async {
            let mut setup = setup_for(&agent, call_id, lead, &prefs)?;
            agent.account().fill_ice_servers(&mut setup).await;
            let recording = setup.record.as_ref().map(|r| r.path.clone());
            agent.journal_call(call_id, lead, recording.as_deref(), target, true)?;
            let phone = agent.account().phone().await?;
            Ok::<_, LineError>(phone.dial_as(call_id, target, setup)?)
        }
        .await;
        let call = match dialed {
            Ok(c) => c,
            Err(e) => {
                self.release();
                return Err(e);
            }
        };
        self.set(call.commands());
        let line = self.clone();
        tokio::spawn(async move {
            let phone = line
                .run_to_end(&agent, &*shell, call, lead, None, true)
                .await;
            phone.close().await;
        });
        Ok(call_id)
    }

    /// Keeps the signed-in agent reachable (once per line): a signaling line on `rt`
    /// waits for incoming calls, reconnecting with back-off ([`RECONNECT_FIRST`]
    /// doubling to [`RECONNECT_MAX`]) when it breaks, and announcing the chosen presence
    /// again each time. A call that arrives while another runs is rejected as busy.
    pub fn start(
        self: &Arc<Self>,
        rt: &tokio::runtime::Handle,
        agent: Arc<Agent>,
        shell: Arc<dyn Shell>,
    ) {
        if self.line.swap(true, Ordering::AcqRel) {
            return;
        }
        let (presence_tx, presence_rx) = mpsc::unbounded_channel();
        *self.presence_tx.lock().expect("presence lock") = Some(presence_tx);
        let line = self.clone();
        rt.spawn(async move { line.keep_line(agent, shell, presence_rx).await });
    }

    async fn keep_line(
        &self,
        agent: Arc<Agent>,
        shell: Arc<dyn Shell>,
        mut presence_rx: mpsc::UnboundedReceiver<Presence>,
    ) {
        let mut backoff = RECONNECT_FIRST;
        loop {
            let mut phone = match agent.account().phone().await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "signaling line down; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RECONNECT_MAX);
                    continue;
                }
            };
            backoff = RECONNECT_FIRST;
            // A new connection starts `available`: say again what the agent chose.
            let chosen = *self.presence.lock().expect("presence lock");
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
                // on Call cannot both take the line.
                if !self.claim() {
                    let quiet = CallSetup {
                        input: AudioIn::Silence,
                        output: AudioOut::Discard,
                        ..CallSetup::default()
                    };
                    let call = phone.take_call(incoming, quiet, false);
                    let _ = call.commands().send(Command::RejectBusy).await;
                    let (_, p) = call.finish().await;
                    phone = p;
                    continue;
                }
                let prefs = self.prefs();
                let mut setup =
                    setup_for(&agent, incoming.call_id, None, &prefs).unwrap_or_else(|e| {
                        tracing::warn!(code = e.code(), "recording unavailable: {e}");
                        let quiet = CallPrefs {
                            record: false,
                            ..prefs.clone()
                        };
                        setup_for(&agent, incoming.call_id, None, &quiet)
                            .expect("no recording, no I/O")
                    });
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
                self.set(call.commands());
                // Opening the device blocks until the server runs the stream (up to a
                // second or more under load): off the async workers, started first.
                let ring = tokio::task::spawn_blocking({
                    let output = prefs.output.clone();
                    move || Ringtone::start(output)
                });
                shell.incoming(&shown);
                tokio::task::spawn_blocking({
                    let shell = shell.clone();
                    let from = shown.from_name.clone();
                    move || shell.alert(&from)
                });
                let ring = match ring.await {
                    Ok(Ok(r)) => Some(r),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "no ringtone");
                        None
                    }
                    Err(_) => None,
                };
                phone = self
                    .run_to_end(&agent, &*shell, call, None, ring, false)
                    .await;
            }
        }
    }

    /// Forwards a call's events until it ends (stopping `ring` once it is no longer
    /// ringing), with the panel's [`CallView`] whenever it changes, then keeps the
    /// record, frees the line, tells the shell and syncs.
    /// Returns the phone for the next call.
    async fn run_to_end(
        &self,
        agent: &Agent,
        shell: &dyn Shell,
        mut call: LiveCall,
        lead: Option<Uuid>,
        mut ring: Option<Ringtone>,
        outgoing: bool,
    ) -> Phone {
        let mut view = CallView {
            call_id: call.call_id,
            outgoing,
            state: if outgoing {
                CallState::Dialing
            } else {
                CallState::RingingIn
            },
            muted: false,
            held: false,
            connected_at_ms: None,
        };
        shell.view(&view);
        let mut levels = Levels::default();
        let mut flushed = Instant::now() - LEVELS_EVERY;
        while let Some(e) = call.next_event().await {
            match e {
                CallEvent::MicLevel(r) => levels.mic = Some(r),
                CallEvent::RemoteLevel(r) => levels.remote = Some(r),
                e => {
                    if view.apply(&e, softphone_store::now_ms()) {
                        shell.view(&view);
                    }
                    if let CallEvent::State { state } = &e {
                        if !matches!(state, CallState::RingingIn) {
                            // Dropping only flags the ringtone thread: it stops within
                            // 20 ms.
                            ring.take();
                        }
                    }
                    shell.call_event(&e);
                    continue;
                }
            }
            if !self.meters_hidden.load(Ordering::Relaxed) && flushed.elapsed() >= LEVELS_EVERY {
                shell.levels(&std::mem::take(&mut levels));
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
        self.release();
        shell.ended(&ended);
        let _ = agent.sync_once().await;
        shell.synced();
        phone
    }
}

/// The administrator's policy for `agent`: the machine's, over the organisation's
/// cached in its profile.
fn policy_of(agent: &Agent) -> Result<AdminConfig, LineError> {
    AdminConfig::load_effective(&AdminConfig::system_path(), Some(agent.profile()))
        .map_err(|e| LineError::AdminConfig(e.to_string()))
}

/// The call's setup on `prefs`' devices, with a recording spec when the policy and
/// `prefs.record` say so: `recordings/<call id>.opus` in the profile, the agent on the
/// left.
fn setup_for(
    agent: &Agent,
    call_id: Uuid,
    lead: Option<Uuid>,
    prefs: &CallPrefs,
) -> Result<CallSetup, LineError> {
    // The administrator's recording policy wins over saved preferences.
    let (record, bitrate_kbps) = policy_of(agent)
        .unwrap_or_default()
        .enforce_recording(prefs.record, prefs.bitrate_kbps);
    let record = if record {
        let dir = agent.profile().join("recordings");
        std::fs::create_dir_all(&dir)
            .map_err(|e| LineError::RecordingsFolder(format!("{}: {e}", dir.display())))?;
        Some(RecordSpec {
            path: dir.join(format!("{call_id}.opus")),
            meta: crate::new_meta(
                Some(call_id.to_string()),
                lead.map(|l| l.to_string()),
                &format!("agent:{}", agent.account().settings.email),
                "remote",
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_at_a_time_until_released() {
        let line = PhoneLine::default();
        assert!(line.claim());
        assert!(!line.claim(), "a second call or an install waits");
        line.release();
        assert!(line.claim());
    }

    #[tokio::test]
    async fn a_command_without_a_call_is_refused() {
        let line = PhoneLine::default();
        let e = line.command(Command::Hangup).await.unwrap_err();
        assert_eq!(e.code(), "call.none");
    }
}
