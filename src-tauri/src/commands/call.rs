//! Calls from the app: dial through the signed-in agent's `Phone`, forward the engine's
//! events to the webview, keep the call record (store + sync) when it ends.
//!
//! Events: `call-event` (every `CallEvent`: state, quality each second, mic and remote
//! levels at most 20/s each, DTMF, notices) and `call-ended` (a summary).

use super::account::AgentSlot;
use super::UiError;
use serde::{Deserialize, Serialize};
use softphone_call::{AudioIn, AudioOut, CallSetup, Command, RecordSpec};
use softphone_controller::agent::{ended_normally, SavedCall};
use softphone_recorder::{RecorderConfig, RecordingMeta};
use std::sync::Mutex;
use tauri::{AppHandle, Emitter, Manager, State};
use tokio::sync::mpsc;
use uuid::Uuid;

/// The call in progress: where its commands go.
#[derive(Default)]
pub struct CallSlot(Mutex<Option<mpsc::Sender<Command>>>);

/// What the UI shows when a call ends.
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
    if calls.0.lock().expect("call lock").is_some() {
        return Err(UiError {
            code: "call.busy".into(),
            message: "a call is already in progress".into(),
        });
    }
    let agent = agents.get()?;
    let call_id = Uuid::now_v7();
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
            config: RecorderConfig::default(),
        })
    } else {
        None
    };
    let setup = CallSetup {
        input: AudioIn::Device(input),
        output: AudioOut::Device(output),
        record,
        ..CallSetup::default()
    };
    let phone = agent.account().phone().await?;
    let mut call = phone.dial_as(call_id, &target, setup)?;
    *calls.0.lock().expect("call lock") = Some(call.commands());
    tauri::async_runtime::spawn(async move {
        while let Some(e) = call.next_event().await {
            let _ = app.emit("call-event", &e);
        }
        let (report, phone) = call.finish().await;
        phone.close().await;
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
            calls.0.lock().expect("call lock").take();
        }
        let _ = app.emit("call-ended", &ended);
        let _ = agent.sync_once().await;
        let _ = app.emit("sync-changed", ());
    });
    Ok(call_id)
}

/// Sends one command to the call in progress: `mute`, `unmute`, `hold`, `resume`,
/// `hangup`, or `dtmf` with `digit` (0-9, *, #, A-D; RFC 4733).
///
/// Errors: `call.none` without a call, `controller.invalid` for an unknown command.
#[tauri::command]
pub async fn call_command(
    calls: State<'_, CallSlot>,
    command: String,
    digit: Option<char>,
) -> Result<(), UiError> {
    let cmd = match (command.as_str(), digit) {
        ("mute", _) => Command::Mute(true),
        ("unmute", _) => Command::Mute(false),
        ("hold", _) => Command::Hold(true),
        ("resume", _) => Command::Hold(false),
        ("hangup", _) => Command::Hangup,
        ("dtmf", Some(d)) => Command::Dtmf(d),
        _ => {
            return Err(UiError {
                code: "controller.invalid".into(),
                message: format!("unknown call command `{command}`"),
            })
        }
    };
    let tx = calls.0.lock().expect("call lock").clone();
    match tx {
        Some(tx) if tx.send(cmd).await.is_ok() => Ok(()),
        _ => Err(UiError {
            code: "call.none".into(),
            message: "no call in progress".into(),
        }),
    }
}
