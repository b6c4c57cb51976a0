//! The administrator's policy file (`SOFTPHONE_ADMIN_CONFIG`) as the CLI meets it: a
//! recording choice against the policy is refused with a clear error before anything
//! connects, and a malformed file stops every command.

mod common;

use common::{run, softphone};
use std::path::Path;

fn with_policy(policy: &Path, args: &[&str]) -> (bool, String) {
    let out = run(softphone()
        .env("SOFTPHONE_ADMIN_CONFIG", policy)
        .env("SOFTPHONE_PROFILE", policy.with_file_name("profile"))
        .args(args));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn recording_against_the_policy_is_refused_before_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("config.json");
    let rec = dir.path().join("call.opus");
    let rec = rec.to_str().unwrap();

    std::fs::write(&policy, r#"{"recording": "off"}"#).unwrap();
    let (ok, err) = with_policy(&policy, &["call", "echo", "--record", rec]);
    assert!(!ok);
    assert!(
        err.contains("your administrator turned call recording off: leave out --record"),
        "{err}"
    );
    let (ok, err) = with_policy(&policy, &["answer", "--wait", "1", "--record", rec]);
    assert!(!ok && err.contains("turned call recording off"), "{err}");

    std::fs::write(&policy, r#"{"recording": "forced"}"#).unwrap();
    let (ok, err) = with_policy(&policy, &["call", "echo"]);
    assert!(!ok);
    assert!(
        err.contains("your administrator requires every call to be recorded: add --record FILE"),
        "{err}"
    );
    // Allowed choices get past the policy to the next check (no account here).
    let (ok, err) = with_policy(&policy, &["call", "echo", "--record", rec]);
    assert!(!ok && !err.contains("administrator"), "{err}");
    assert!(!Path::new(rec).exists());

    std::fs::write(
        &policy,
        r#"{"ice_servers": [{"urls": ["turn:relay.example.com:3478"], "username": "u", "credential": "c"}]}"#,
    )
    .unwrap();
    let (ok, err) = with_policy(
        &policy,
        &["call", "echo", "--ice-server", "stun:other:3478"],
    );
    assert!(!ok);
    assert!(
        err.contains("your administrator set the STUN/TURN servers: leave out --ice-server"),
        "{err}"
    );

    std::fs::write(&policy, r#"{"ice_transport_policy": "all"}"#).unwrap();
    let (ok, err) = with_policy(&policy, &["call", "echo", "--relay-only"]);
    assert!(!ok);
    assert!(
        err.contains("your administrator set how calls connect (ice_transport_policy: all): leave out --relay-only"),
        "{err}"
    );
    // Relay-only with only a STUN server could never connect: the file is refused.
    std::fs::write(
        &policy,
        r#"{"ice_transport_policy": "relay", "ice_servers": [{"urls": ["stun:stun.example.com:3478"]}]}"#,
    )
    .unwrap();
    let (ok, err) = with_policy(&policy, &["devices", "--json"]);
    assert!(!ok);
    assert!(
        err.contains("ice_transport_policy relay needs a turn: or turns: server"),
        "{err}"
    );

    std::fs::write(&policy, r#"{"local_recordings": {"keep_days": 30}}"#).unwrap();
    let (ok, err) = with_policy(&policy, &["sync", "--once", "--prune"]);
    assert!(!ok);
    assert!(
        err.contains("your administrator keeps call recordings on this machine for 30 days"),
        "{err}"
    );

    std::fs::write(
        &policy,
        r#"{"recording": "forced", "recording_bitrate_kbps": 2}"#,
    )
    .unwrap();
    let (ok, err) = with_policy(&policy, &["devices", "--json"]);
    assert!(!ok);
    assert!(
        err.contains("admin policy") && err.contains("recording_bitrate_kbps 2 is outside 6-256"),
        "{err}"
    );
}
