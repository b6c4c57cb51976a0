//! The headless scenario as a test: runs the `softphone-scenario` binary (real server,
//! real devices, real Chromium, real keyring) and requires every step verified.
//! Needs what `scripts/test-all.sh` starts (PulseAudio virtual devices, an unlocked
//! Secret Service); SOFTPHONE_SKIP_DEVICE_TESTS=1, SOFTPHONE_SKIP_BROWSER_TESTS=1 or
//! SOFTPHONE_SKIP_KEYRING_TESTS=1 skip it explicitly.

use std::process::Command;

#[test]
fn the_main_job_works_end_to_end() {
    for var in [
        "SOFTPHONE_SKIP_DEVICE_TESTS",
        "SOFTPHONE_SKIP_BROWSER_TESTS",
        "SOFTPHONE_SKIP_KEYRING_TESTS",
    ] {
        if std::env::var(var).as_deref() == Ok("1") {
            eprintln!("skipping: {var}=1");
            return;
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_softphone-scenario"))
        .args(["--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}\n{stdout}");
    assert!(out.status.success(), "the scenario failed");
    let json_end = stdout.rfind('}').expect("no summary");
    let summary: serde_json::Value = serde_json::from_str(&stdout[..=json_end]).unwrap();
    // The figures behind the verdict, checked again from the outside.
    assert_eq!(summary["synced_notes"], 2);
    assert_eq!(summary["synced_call"], true);
    assert_eq!(summary["pending_while_offline"], 4);
    assert!(summary["recording_bytes"].as_u64().unwrap() > 10_000);
    assert!(summary["agent_heard_prospect"].as_f64().unwrap() > 0.8);
    assert!(summary["mute_silence_ms"].as_u64().unwrap() >= 3000);
    assert!(
        stdout.contains("scenario passed: all 9 steps verified"),
        "{stdout}"
    );
}
