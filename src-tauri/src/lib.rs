//! Agent Softphone desktop shell.
//!
//! Key design decision: this crate stays thin. Commands (in [`commands`]) translate
//! between the webview and `softphone-controller`, and forward controller events as
//! Tauri events; no audio, recording or storage logic lives here.

mod bindings;
pub mod commands;
mod tray;

use tauri::Manager;

/// Turns WebKitGTK's accelerated compositing off (`WEBKIT_DISABLE_COMPOSITING_MODE=1`)
/// unless the user set that variable or `SOFTPHONE_GPU_COMPOSITING=1`. Call it first
/// thing in `main`, before any thread starts (it sets an environment variable).
///
/// Why: without a GPU (VMs, VDI and remote desktops, common in call centres; Xvfb here)
/// WebKit composites through GL in software (llvmpipe), and two meters at 20 fps cost
/// 65-131 % of a core in the web process on this 2-core machine. Painting on the CPU
/// instead costs 5 %, and start-up and memory drop too (docs/benchmarks.md: in-call web
/// process CPU 5.2 %, idle PSS 228 MiB instead of 300 MiB, start-up 375 ms instead of
/// 550 ms). The window has no animations or 3D that compositing would help.
pub fn prefer_cpu_painting() {
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none()
        && std::env::var_os("SOFTPHONE_GPU_COMPOSITING").as_deref() != Some("1".as_ref())
    {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
}

/// Runs the window's JavaScript in JavaScriptCore's interpreter (LLInt) only
/// (`JSC_useJIT=false`, read by the WebKitGTK web process from the environment it
/// inherits) unless the user set that variable or `SOFTPHONE_JIT=1`. Call it first
/// thing in `main`, before any thread starts (it sets an environment variable).
///
/// Why (ADR 0012): the window's script is small and event-driven, and the JIT tiers
/// cost more memory than they save time. Measured with `benches/app-footprint.sh`
/// (docs/benchmarks.md, session 14): idle PSS 227 -> 219 MiB, growth over the first 10
/// echo calls +7.3 -> +2.2 MiB, for +1.5 points of a core in the web process during a
/// call (4.6-4.9 -> 6.3-6.4 %, meters drawn at 20 fps). Without a JIT the process that
/// renders leads' messages also has no writable and executable memory.
pub fn prefer_interpreted_javascript() {
    if std::env::var_os("JSC_useJIT").is_none()
        && std::env::var_os("SOFTPHONE_JIT").as_deref() != Some("1".as_ref())
    {
        std::env::set_var("JSC_useJIT", "false");
    }
}

/// Builds and runs the app (blocks until the last window closes).
pub fn run() {
    let _ = commands::STARTED.set(std::time::Instant::now());
    // The redacted rotating log file in the platform's log folder (SOFTPHONE_LOG sets
    // its filter), and stderr (RUST_LOG sets its filter). A folder that cannot be
    // written costs the file, not the app.
    let stderr_filter =
        std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,agent_softphone_lib=info".into());
    // The admin policy's `log_level` wins over SOFTPHONE_LOG; an unreadable policy file
    // is reported on the sign-in screen (`sign_in_defaults`).
    let admin = softphone_controller::admin::AdminConfig::load_effective(
        &softphone_controller::admin::AdminConfig::system_path(),
        None,
    );
    let mut logs = softphone_controller::logs::LogConfig {
        dir: softphone_controller::logs::default_dir(),
        file_filter: admin.as_ref().cloned().unwrap_or_default().log_filter(),
        stderr_filter: Some(stderr_filter),
    };
    if let Err(e) = softphone_controller::logs::init(&logs) {
        eprintln!("warning: {e}; logging to stderr only");
        logs.dir = None;
        logs.file_filter = softphone_controller::logs::DEFAULT_FILTER.into();
        let _ = softphone_controller::logs::init(&logs);
    }
    let _ = commands::LOG_DIR.set(logs.dir);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "Agent Softphone starting"
    );
    // The admin policy's process-wide settings hold before any connection is made.
    if let Ok(admin) = &admin {
        admin.apply_to_process(false);
    }
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
        // Checked, downloaded and verified from our own commands (commands::update);
        // the plugin's JavaScript commands are not granted to the window.
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(commands::AppState::default())
        .manage(commands::AgentSlot::default())
        .manage(std::sync::Arc::new(commands::call::PhoneLine::default()))
        .manage(commands::timeline::PlayerSlot::default())
        .manage(commands::update::UpdateSlot::default())
        .setup(|app| {
            if let Err(e) = tray::build(app) {
                tracing::warn!(error = %e, "no tray icon");
            }
            // Recordings a crash left unfinished in the old app-data folder are repaired
            // first; calls journalled in the profile are recovered (record and
            // recording, wherever it was written) when the agent opens.
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
            commands::account::diagnostics,
            commands::call::start_call,
            commands::call::call_command,
            commands::call::set_call_prefs,
            commands::call::set_presence,
            commands::call::meters_visible,
            commands::timeline::timeline,
            commands::timeline::recording_waveform,
            commands::timeline::play_recording,
            commands::timeline::stop_playback,
            commands::update::check_update,
            commands::links::create_link,
            commands::links::links,
            commands::links::revoke_link,
            commands::update::install_update,
        ])
        .run(tauri::generate_context!())
        .expect("error while running Agent Softphone");
}
