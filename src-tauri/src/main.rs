// Prevents an extra console window on Windows in release.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // `--version` answers without a display, a window or a log file: the installer
    // checks (scripts/check-packages.sh) and support scripts start the installed binary
    // this way.
    if let Some(arg) = std::env::args().nth(1) {
        match arg.as_str() {
            "--version" | "-V" => {
                println!("agent-softphone {}", env!("CARGO_PKG_VERSION"));
                return;
            }
            // What the updater asks the server for, e.g. `linux-x86_64-deb`; `none` for
            // a binary not installed from a package, which never updates itself.
            "--update-target" => {
                println!(
                    "{}",
                    agent_softphone_lib::commands::update::install_target()
                        .unwrap_or_else(|| "none".into())
                );
                return;
            }
            "--help" | "-h" => {
                println!(
                    "agent-softphone {}: the Agent Softphone desktop app.\n\
                     Usage: agent-softphone [--version | --update-target | --help]\n\
                     Environment: SOFTPHONE_PROFILE (profile folder), SOFTPHONE_ADMIN_CONFIG\n\
                     (admin policy file), SOFTPHONE_LOG_DIR / SOFTPHONE_LOG (log file folder\n\
                     and filter), RUST_LOG (stderr filter).",
                    env!("CARGO_PKG_VERSION")
                );
                return;
            }
            _ => {}
        }
    }
    softphone_controller::tune_allocator();
    // Before any thread starts: WebKitGTK reads these when it initialises.
    #[cfg(target_os = "linux")]
    {
        agent_softphone_lib::prefer_cpu_painting();
        agent_softphone_lib::prefer_interpreted_javascript();
    }
    agent_softphone_lib::run()
}
