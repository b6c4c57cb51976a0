//! Calls in the app: the commands translate and delegate to the controller's
//! `PhoneLine`, and the window is its `Shell`.
//!
//! Events: `incoming-call` (`{call_id, from, from_name}`, while the ringtone plays),
//! `call-view` (the call panel's `CallView`: state, muted, held, the timer's start),
//! `call-event` (every other `CallEvent`: state, quality each second, DTMF, notices),
//! `call-levels` (`{mic, remote}` meter readings, at most 20/s), `call-ended` (a
//! summary) and `sync-changed` once the call record and recording have been offered
//! to the server.

use super::AgentSlot;
use super::UiError;
use serde::Deserialize;
use softphone_call::{CallEvent, Command};
pub use softphone_controller::line::PhoneLine;
use softphone_controller::line::{
    CallEnded, CallPrefs, CallView, IncomingCall, Levels, LineError, Shell,
};
use softphone_proto::signal::Presence;
use std::sync::Arc;
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_notification::NotificationExt;
use uuid::Uuid;

impl From<LineError> for UiError {
    fn from(e: LineError) -> Self {
        UiError {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// The window as the phone line's [`Shell`]: each thing the line shows is an event.
struct Window(AppHandle);

impl Shell for Window {
    fn incoming(&self, call: &IncomingCall) {
        let _ = self.0.emit("incoming-call", call);
    }
    fn call_event(&self, event: &CallEvent) {
        let _ = self.0.emit("call-event", event);
    }
    fn levels(&self, levels: &Levels) {
        let _ = self.0.emit("call-levels", levels);
    }
    fn view(&self, view: &CallView) {
        let _ = self.0.emit("call-view", view);
    }
    fn ended(&self, ended: &CallEnded) {
        let _ = self.0.emit("call-ended", ended);
    }
    fn synced(&self) {
        let _ = self.0.emit("sync-changed", ());
    }
    /// The window asks for attention and, when it is not focused, an OS notification
    /// (without a notification service, as in a bare session, only the ringtone and
    /// the window remain).
    fn alert(&self, from_name: &str) {
        let Some(w) = self.0.get_webview_window("main") else {
            return;
        };
        let _ = w.request_user_attention(Some(tauri::UserAttentionType::Critical));
        if !w.is_focused().unwrap_or(false) {
            let _ = self
                .0
                .notification()
                .builder()
                .title("Incoming call")
                .body(format!("{from_name} is calling"))
                .show();
        }
    }
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
/// runs, `policy.*`, `client.*` when the server is unreachable.
#[tauri::command]
pub async fn start_call(
    app: AppHandle,
    agents: State<'_, AgentSlot>,
    line: State<'_, Arc<PhoneLine>>,
    request: DialRequest,
) -> Result<Uuid, UiError> {
    let DialRequest {
        target,
        lead,
        record,
        input,
        output,
    } = request;
    let prefs = CallPrefs {
        input,
        output,
        record,
        bitrate_kbps: None,
    };
    let shell = Arc::new(Window(app));
    Ok(line
        .dial(agents.get()?, shell, &target, lead, prefs)
        .await?)
}

/// Keeps the signed-in agent reachable (once per app run): see [`PhoneLine::start`].
pub fn start_line(app: AppHandle, agent: Arc<softphone_controller::agent::Agent>) {
    let Some(line) = app.try_state::<Arc<PhoneLine>>() else {
        return;
    };
    let rt = tauri::async_runtime::handle().inner().clone();
    line.start(&rt, agent, Arc::new(Window(app.clone())));
}

/// Sets the agent's presence: `available`, `busy` or `wrap_up` (calls to a busy or
/// wrapping-up agent fail with `busy`). Kept for reconnects. Another value is refused
/// by Tauri before this runs (the argument is a typed `Presence`).
#[tauri::command]
pub fn set_presence(line: State<'_, Arc<PhoneLine>>, status: Presence) -> Result<(), UiError> {
    line.set_presence(status);
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

/// Whether the meters can be seen: the webview reports its visibility, and while it is
/// hidden no `call-levels` are sent (each costs the web process a script evaluation for
/// a meter nobody sees; agents often keep the softphone in the background in a call).
#[tauri::command]
pub fn meters_visible(line: State<'_, Arc<PhoneLine>>, visible: bool) {
    line.set_meters_visible(visible);
}

/// Sets the devices and recording choice for calls (incoming ones included).
///
/// Errors: `policy.recording_off`, `policy.recording_forced`, `policy.bitrate_fixed`
/// when the choice goes against the administrator's policy (nothing is changed);
/// `admin.config` when the policy file is unreadable.
#[tauri::command]
pub fn set_call_prefs(line: State<'_, Arc<PhoneLine>>, prefs: CallPrefs) -> Result<(), UiError> {
    Ok(line.set_prefs(&crate::commands::admin_policy()?, prefs)?)
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
    line: State<'_, Arc<PhoneLine>>,
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
    Ok(line.command(cmd).await?)
}
