//! What an operator scrapes and reads: Prometheus metrics after real traffic (on the API
//! listener behind `metrics_token`, and on `metrics_listen`), request ids echoed and
//! present in every JSON log line of the real binary, and no raw path in either.

mod common;

use common::{boot_with, client, data_dir, new_lead, CAST};
use softphone_client::UploadMeta;
use softphone_proto::{routes, LoginRequest, Note, NoteUpsert};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use uuid::Uuid;

const TOKEN: &str = "metrics-token-0123456789";

/// The value of the series whose line starts with `series` followed by a space.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

async fn scrape(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{url}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn metrics_count_real_traffic_behind_a_token_and_on_a_private_listener() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| {
        c.metrics_token = Some(TOKEN.into());
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let url = server.url();
    let http = reqwest::Client::new();

    // Traffic: two wrong passwords, a lead, a note, 1000 bytes of an upload, a probe of
    // a path that does not exist, and one signaling socket.
    for _ in 0..2 {
        let r = http
            .post(format!("{url}{}", routes::LOGIN))
            .json(&LoginRequest {
                email: "alice@acme.test".into(),
                password: "wrong-password".into(),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let alice = client(&url, CAST[0].1).await;
    let lead_id = new_lead(&alice, "Metrics lead").await;
    alice
        .put::<Note>(
            Uuid::now_v7(),
            &NoteUpsert {
                lead_id,
                call_id: None,
                body: "counted".into(),
                deleted: false,
            },
        )
        .await
        .unwrap();
    let meta = UploadMeta {
        call_id: common::new_call(&alice, lead_id).await,
        sha256: "0".repeat(64),
        duration_ms: 1000,
        channels: 2,
    };
    let (location, _) = alice.upload_create(5000, &meta).await.unwrap();
    assert_eq!(
        alice
            .upload_patch(&location, 0, vec![7u8; 1000])
            .await
            .unwrap(),
        1000
    );
    let probe = http
        .get(format!("{url}/secret-probe-path-{}", Uuid::now_v7()))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 404);
    let _socket = alice.signal().await.unwrap();

    // On the API listener: no token, a wrong token, then the right one.
    assert_eq!(scrape(&url, None).await.status(), 401);
    assert_eq!(
        scrape(&url, Some("not-the-token-at-all")).await.status(),
        401
    );
    let mut text = String::new();
    for _ in 0..50 {
        let r = scrape(&url, Some(TOKEN)).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        text = r.text().await.unwrap();
        // The socket registers with the hub just after its handshake.
        if value(&text, "softphone_signal_connections") == Some(1.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        value(&text, "softphone_signal_connections"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "softphone_login_failures_total{reason=\"credentials\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(
                "softphone_http_requests_total{{route=\"{}\",method=\"POST\",status=\"401\"}}",
                routes::LOGIN
            )
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(
                "softphone_http_requests_total{{route=\"{}\",method=\"POST\",status=\"200\"}}",
                routes::LOGIN
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "softphone_sync_pushes_total{kind=\"leads\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "softphone_sync_pushes_total{kind=\"notes\"}"),
        Some(1.0)
    );
    assert_eq!(value(&text, "softphone_upload_bytes_total"), Some(1000.0));
    assert_eq!(
        value(
            &text,
            "softphone_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains("secret-probe-path"),
        "raw paths never become labels"
    );
    assert_eq!(
        value(
            &text,
            "softphone_http_request_duration_seconds_count{route=\"/api/v1/notes/{id}\",method=\"PUT\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, "softphone_calls"), Some(0.0));

    // The private listener needs no token and sees the same registry.
    let private = format!("http://{}", server.metrics_addr.unwrap());
    let r = scrape(&private, None).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_eq!(value(&text, "softphone_upload_bytes_total"), Some(1000.0));
    // …and serves nothing else.
    let r = http
        .get(format!("{private}{}", routes::HEALTH))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn without_a_metrics_token_the_api_listener_has_no_metrics() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |_| {}).await;
    assert_eq!(scrape(&server.url(), Some(TOKEN)).await.status(), 404);
    assert!(server.metrics_addr.is_none());
    server.stop().await.unwrap();
}

/// The real binary serving `data` on 127.0.0.1:0 with `env` set; the child and its URL.
fn spawn_server(data: &std::path::Path, env: &[(&str, &str)]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_softphone-server"))
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (child, url)
}

/// Stops `child` with SIGTERM (it must exit cleanly) and returns what it wrote to stderr.
fn stop_and_read_logs(mut child: std::process::Child) -> String {
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    logs
}

/// Runs the real binary with JSON logs, sends requests with a kept, a hostile and no
/// `x-request-id`, and reads its stderr.
#[tokio::test]
async fn every_request_log_line_carries_its_request_id_in_json() {
    let (_dir, data) = data_dir();
    let (child, url) = spawn_server(
        &data,
        &[("SOFTPHONE_LOG_FORMAT", "json"), ("SOFTPHONE_LOG", "info")],
    );
    let http = reqwest::Client::new();
    let login = |id: Option<&str>| {
        let mut req = http
            .post(format!("{url}{}", routes::LOGIN))
            .json(&LoginRequest {
                email: "alice@acme.test".into(),
                password: "wrong-password".into(),
            });
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };
    let kept = login(Some("proxy-req-42")).await.unwrap();
    assert_eq!(kept.status(), 401);
    assert_eq!(kept.headers()["x-request-id"], "proxy-req-42");
    let replaced = login(Some("evil id\" injected=1")).await.unwrap();
    let replaced_id = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        Uuid::parse_str(&replaced_id).is_ok(),
        "an unusable id is replaced by a UUID, got {replaced_id}"
    );
    let fresh = login(None).await.unwrap();
    let fresh_id = fresh.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(Uuid::parse_str(&fresh_id).is_ok());
    // SIGTERM: the server stops gracefully and stderr ends.
    let logs = stop_and_read_logs(child);

    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of = |id: &str| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|l| l["span"]["request_id"] == id)
            .collect()
    };
    for id in ["proxy-req-42", replaced_id.as_str(), fresh_id.as_str()] {
        let mine = of(id);
        // The handler's "login refused" warning is not logged for a plain wrong
        // password; the access line is: status 401 and a latency.
        let access = mine
            .iter()
            .find(|l| l["fields"]["message"] == "finished processing request")
            .unwrap_or_else(|| panic!("no access line for {id} in\n{logs}"));
        assert_eq!(access["fields"]["status"], 401);
        assert_eq!(access["span"]["route"], routes::LOGIN);
        assert_eq!(access["span"]["method"], "POST");
    }
    // Every line logged inside a request names its request; no line holds the hostile
    // value.
    assert!(!logs.contains("injected"), "{logs}");
    let in_requests = lines.iter().filter(|l| l["span"]["name"] == "request");
    for l in in_requests {
        assert!(
            l["span"]["request_id"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{l}"
        );
    }
}

/// A rate-limited call-link page must not write the link's token (its path) to the log.
#[tokio::test]
async fn a_rate_limited_link_page_keeps_its_token_out_of_the_log() {
    let (_dir, data) = data_dir();
    let (child, url) = spawn_server(
        &data,
        &[
            ("SOFTPHONE_API_RATE_PER_SEC", "1"),
            ("SOFTPHONE_API_BURST", "1"),
            ("SOFTPHONE_LOG", "info"),
        ],
    );
    let token = "eyJsIjoic2VjcmV0LWxpbmstdG9rZW4ifQ.c2lnbmF0dXJl";
    let mut limited = 0;
    for _ in 0..5 {
        let r = reqwest::get(format!("{url}/join/{token}")).await.unwrap();
        limited += usize::from(r.status() == 429);
    }
    assert!(limited >= 3, "the burst of 1 limits the rest: {limited}");
    let logs = stop_and_read_logs(child);
    assert!(logs.contains("rate limited"), "{logs}");
    assert!(
        logs.contains("/join/{token}"),
        "the route template is logged: {logs}"
    );
    assert!(
        !logs.contains(token),
        "the link token leaked into the log:\n{logs}"
    );
}
