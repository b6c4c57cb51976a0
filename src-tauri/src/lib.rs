//! Agent Softphone desktop shell.
//!
//! Key design decision: this crate stays thin. Commands (in [`commands`]) translate
//! between the webview and `softphone-controller`, and forward controller events as
//! Tauri events; no audio, recording or storage logic lives here.

mod bindings;
pub mod commands;
mod tray;

use tauri::Manager;

/// Builds and runs the app (blocks until the last window closes).
pub fn run() {
    let _ = commands::STARTED.set(std::time::Instant::now());
    // Logs to stderr; RUST_LOG overrides (e.g. `RUST_LOG=debug`).
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,agent_softphone_lib=info".into()),
        )
        .try_init();
    tauri::Builder::default()
        // First: a second launch only brings the running window forward (two instances
        // would fight over the devices and the signaling line).
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_notification::init())
        .manage(commands::AppState::default())
        .manage(commands::account::AgentSlot::default())
        .manage(commands::call::CallSlot::default())
        .manage(commands::timeline::PlayerSlot::default())
        .setup(|app| {
            if let Err(e) = tray::build(app) {
                tracing::warn!(error = %e, "no tray icon");
            }
            // Recordings a crash left unfinished are repaired before anything else.
            if let Ok(dir) = app.path().app_data_dir() {
                let recordings = dir.join("recordings");
                if std::fs::create_dir_all(&recordings).is_ok() {
                    let _ = softphone_controller::recover_recordings(&recordings);
                }
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::ui_ready,
            commands::account::search,
            commands::list_devices,
            commands::start_meter,
            commands::stop_meter,
            commands::play_test_tone,
            commands::account::account,
            commands::account::sign_in_defaults,
            commands::account::sign_in,
            commands::account::leads,
            commands::account::notes,
            commands::account::write_note,
            commands::account::sync_now,
            commands::call::start_call,
            commands::call::call_command,
            commands::call::set_call_prefs,
            commands::call::set_presence,
            commands::call::meters_visible,
            commands::timeline::timeline,
            commands::timeline::recording_waveform,
            commands::timeline::play_recording,
            commands::timeline::stop_playback,
        ])
        .run(tauri::generate_context!())
        .expect("error while running Agent Softphone");
}
