//! The files an operator installs (packaging/server): the systemd unit passes
//! `systemd-analyze verify` with no warning (an unknown or misspelt key is only a
//! warning there, so stderr must be empty too), and the default settings file loads.

use std::path::Path;
use std::process::Command;

fn packaging(file: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../packaging/server")
        .join(file)
}

#[test]
fn the_systemd_unit_verifies_clean() {
    let unit = std::fs::read_to_string(packaging("softphone-server.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/softphone-server "));
    // verify checks that ExecStart exists: point it at the binary under test.
    let unit = unit.replace(
        "/usr/bin/softphone-server",
        env!("CARGO_BIN_EXE_softphone-server"),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("softphone-server.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (package systemd, installed by scripts/setup-debian.sh)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "warnings:\n{stderr}");
}

#[test]
fn the_default_settings_file_loads() {
    let cfg = softphone_server::Config::load(Some(&packaging("server.toml"))).unwrap();
    assert_eq!(
        cfg.data_dir,
        std::path::PathBuf::from("/var/lib/softphone-server")
    );
    assert_eq!(cfg.log_format, softphone_server::config::LogFormat::Json);
    assert!(cfg.metrics_listen.unwrap().ip().is_loopback());
}
