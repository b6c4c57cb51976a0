//! Tauri commands: translate arguments, delegate to `softphone-controller`, and map
//! errors to `{ code, message }` with stable codes the UI can switch on.

pub mod account;
pub mod call;
pub mod links;
pub mod timeline;
pub mod update;

use serde::Serialize;
use softphone_controller::agent::Agent;
use softphone_controller::{
    start_capture, CaptureRequest, ControllerError, Event, InputSpec, SessionHandle,
};
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Emitter, State};

/// Error shape the UI receives.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Serialize)]
pub struct UiError {
    /// Stable code, e.g. `audio.device_not_found`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl From<ControllerError> for UiError {
    fn from(e: ControllerError) -> Self {
        Self {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

impl From<softphone_controller::admin::PolicyError> for UiError {
    fn from(e: softphone_controller::admin::PolicyError) -> Self {
        Self {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// The administrator's policy: the machine's file, with the organisation's policy
/// (fetched at sign-in and by sync, cached in the profile) filling what the file leaves
/// unset. Read when needed (both are small, and an admin who changes either expects the
/// next call to follow).
///
/// Errors: `admin.config` when the file is unreadable or malformed.
pub fn admin_policy() -> Result<softphone_controller::admin::AdminConfig, UiError> {
    use softphone_controller::admin::AdminConfig;
    let profile = softphone_controller::agent::default_profile();
    AdminConfig::load_effective(&AdminConfig::system_path(), profile.as_deref()).map_err(|e| {
        UiError {
            code: "admin.config".into(),
            message: e.to_string(),
        }
    })
}

impl From<softphone_audio::AudioError> for UiError {
    fn from(e: softphone_audio::AudioError) -> Self {
        ControllerError::from(e).into()
    }
}

/// The signed-in agent, once there is one (every command module reads it; kept here
/// so the modules do not import each other for it).
#[derive(Default)]
pub struct AgentSlot(pub(crate) Mutex<Option<Arc<Agent>>>);

impl AgentSlot {
    pub(crate) fn get(&self) -> Result<Arc<Agent>, UiError> {
        self.0
            .lock()
            .expect("agent lock")
            .clone()
            .ok_or_else(|| UiError {
                code: "auth.not_signed_in".into(),
                message: "not signed in".into(),
            })
    }
}

/// Shell state: the running meter session, if any.
#[derive(Default)]
pub struct AppState {
    meter: Mutex<Option<SessionHandle>>,
}

/// The folder of the app's log files, once `run` set logging up (`None`: stderr only).
pub static LOG_DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();

/// When the app started (set first thing in `run`), for [`ui_ready`].
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The front end calls this once its first screen is drawn and usable: the app logs
/// `window usable` with the time since start (ms), which the start-up benchmark reads.
#[tauri::command]
pub fn ui_ready() {
    if let Some(t) = STARTED.get() {
        tracing::info!(elapsed_ms = t.elapsed().as_millis() as u64, "window usable");
    }
}

/// Lists capture and playback devices.
#[tauri::command]
pub fn list_devices() -> Result<Vec<softphone_audio::DeviceInfo>, UiError> {
    Ok(softphone_audio::list_devices()?)
}

/// Starts the microphone level meter on `device` (id; `None` = default). Emits
/// `meter` events (MeterReading, at most 20/s) and `audio-error` on device failure.
#[tauri::command]
pub fn start_meter(
    app: AppHandle,
    state: State<'_, AppState>,
    device: Option<String>,
) -> Result<(), UiError> {
    let mut slot = state.meter.lock().expect("meter lock");
    if let Some(old) = slot.take() {
        old.stop();
    }
    let mut handle = start_capture(CaptureRequest {
        input: InputSpec::Device(device),
        remote: None,
        record: None,
        max_ms: None,
    })?;
    let events = handle.take_events();
    std::thread::spawn(move || {
        for ev in events.iter() {
            let _ = match &ev {
                Event::Meter(r) => app.emit("meter", r),
                Event::DeviceError { .. } | Event::Warning { .. } => app.emit("audio-error", &ev),
                Event::Started { .. } => app.emit("meter-started", &ev),
            };
        }
    });
    *slot = Some(handle);
    Ok(())
}

/// Plays the speaker test tone (three rising notes, 1.2 s) on `output` (device id;
/// `None` = the default) and returns once it has played.
///
/// Errors: `audio.device_not_found`, `audio.device_open`, `audio.device_lost`.
#[tauri::command]
pub async fn play_test_tone(output: Option<String>) -> Result<(), UiError> {
    blocking(move || softphone_controller::player::play_test_tone(output)).await
}

/// Runs `f` (decoding a file, opening a device) on the blocking pool, off the async
/// workers. Errors: `f`'s, or `controller.crashed` when it panicked.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ControllerError> + Send + 'static,
) -> Result<T, UiError> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| UiError {
            code: "controller.crashed".into(),
            message: e.to_string(),
        })?
        .map_err(Into::into)
}

/// Stops the level meter.
#[tauri::command]
pub fn stop_meter(state: State<'_, AppState>) -> Result<(), UiError> {
    if let Some(h) = state.meter.lock().expect("meter lock").take() {
        h.stop();
        h.join()?;
    }
    Ok(())
}
