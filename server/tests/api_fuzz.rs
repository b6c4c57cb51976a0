//! A schema-driven fuzzer against the real server, as an API client would meet it:
//! schemathesis (PyPI, installed by scripts/setup-debian.sh) reads docs/openapi.json and
//! sends generated and mutated requests to every operation, signed in as an admin. Two
//! checks must hold for every answer: no 5xx, and no status the document does not list
//! for that operation. Each error code the server builds must be in `error::CODES`
//! (debug builds panic otherwise, which the fuzzer sees as a dropped connection), so the
//! document's per-status code lists stay whole too.
//!
//! The run is reproducible: a fixed seed, 20 examples per operation, no example
//! database. Logout is left out: it would revoke the token the rest of the run uses.

mod common;

use common::{boot_with, data_dir, login};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_no_5xx_and_no_undocumented_status() {
    let (dir, data) = data_dir();
    // The rate limits stay on (429 is documented), but high enough that the fuzzer
    // reaches the handlers behind them.
    let server = boot_with(&data, |c| {
        c.api_rate_per_sec = 100_000;
        c.api_burst = 100_000;
        c.login_rate_per_min = 100_000;
        c.login_burst = 100_000;
    })
    .await;
    let url = server.url();
    let (bearer, _) = login(&url, "boss@acme.test").await;
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let work = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .current_dir(&work)
            .args(["run", spec.to_str().unwrap(), "--url", &url])
            .args(["-H", &format!("Authorization: {bearer}")])
            .args(["--checks", "not_a_server_error,status_code_conformance"])
            .args(["--max-examples", "20", "--seed", "1"])
            .args(["--generation-database", "none"])
            .args(["--exclude-operation-id", "logout", "--no-color"])
            .output()
    })
    .await
    .unwrap()
    .expect("schemathesis is missing: run scripts/setup-debian.sh");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found answers the document does not allow:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It really ran: every operation but logout was tested.
    let listed = softphone_server::openapi::listed().len();
    assert!(
        report.contains(&format!("Tested: {}", listed - 1)),
        "not every operation was tested:\n{report}"
    );
    server.stop().await.unwrap();
}
