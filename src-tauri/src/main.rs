// Prevents an extra console window on Windows in release.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    softphone_controller::tune_allocator();
    // Before any thread starts: WebKitGTK reads these when it initialises.
    #[cfg(target_os = "linux")]
    {
        agent_softphone_lib::prefer_cpu_painting();
        agent_softphone_lib::prefer_interpreted_javascript();
    }
    agent_softphone_lib::run()
}
