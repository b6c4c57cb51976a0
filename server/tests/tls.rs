//! The deployment docs/server.md recommends, for real: nginx from Debian terminates TLS
//! (a throwaway CA made with openssl, `softphone_testkit::tls`) in front of the real
//! server, and the real client
//! signs in, syncs, uploads and plays a recording, opens signaling over `wss://`, and
//! makes a call link whose guest page connects over `wss://` and rings.
//!
//! The same runs against the server terminating TLS itself (`tls_cert`/`tls_key`),
//! which also refuses plain HTTP on that port and reloads a renewed certificate.
//!
//! The CA is trusted only through `SSL_CERT_FILE`, the way a corporate CA reaches a
//! Linux machine. This binary holds this one test, because the variable is read once
//! per process.

mod common;

use common::{boot, boot_with, data_dir};
use futures_util::StreamExt;
use softphone_client::{Client, UploadMeta};
use softphone_proto::signal::{ClientMsg, ServerMsg};
use softphone_proto::{Change, CreateLink, Note, NoteUpsert};
use softphone_testkit::tls::{Certificate, TlsProxy};
use std::time::Duration;
use uuid::Uuid;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn guest_next(guest: &mut Ws) -> ServerMsg {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), guest.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = frame {
            return serde_json::from_str::<ServerMsg>(&t).unwrap();
        }
    }
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[tokio::test]
async fn login_sync_upload_signaling_and_a_call_link_work_over_https_and_wss() {
    let tmp = tempfile::tempdir().unwrap();
    let cert = Certificate::make(tmp.path()).unwrap();
    // Set before any client of this process exists (the trust store is read once);
    // this binary holds this one test.
    std::env::set_var("SSL_CERT_FILE", &cert.ca);

    // Behind nginx, as docs/server.md recommends.
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let nginx = tmp.path().join("nginx");
    std::fs::create_dir(&nginx).unwrap();
    let proxy = TlsProxy::start_with(&nginx, &cert, server.addr).unwrap();
    exercise(&proxy.url(), proxy.port).await;
    drop(proxy);
    server.stop().await.unwrap();

    // The server terminating TLS itself (`tls_cert`/`tls_key`), for small installs.
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| {
        c.tls_cert = Some(cert.cert.clone());
        c.tls_key = Some(cert.key.clone());
    })
    .await;
    assert!(server.url().starts_with("https://"), "{}", server.url());
    let port = server.addr.port();
    exercise(&format!("https://localhost:{port}"), port).await;
    tls_listener_refuses_plain_http_and_reloads(&server, tmp.path()).await;
    server.stop().await.unwrap();
}

/// Login, sync, a recording's upload and playback, signaling and a call link's guest
/// page, all over `https://` and `wss://` at `base` (TLS port `port`).
async fn exercise(base: &str, port: u16) {
    // Sign in and sync, through TLS.
    let mut alice = Client::new(base).unwrap();
    alice
        .login("alice@acme.test", "alice-password")
        .await
        .unwrap();
    let lead = common::new_lead(&alice, "Over TLS").await;
    let note = Uuid::now_v7();
    alice
        .put::<Note>(
            note,
            &NoteUpsert {
                lead_id: lead,
                call_id: None,
                body: "written behind nginx".into(),
                deleted: false,
            },
        )
        .await
        .unwrap();
    let page = alice.changes(0, 100).await.unwrap();
    assert!(
        page.changes
            .iter()
            .any(|c| matches!(c, Change::Note(n) if n.id == note)),
        "the note comes back in the feed"
    );

    // A recording goes up in pieces and comes back through a signed URL.
    let bytes: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("call.opus");
    std::fs::write(&file, &bytes).unwrap();
    let meta = UploadMeta {
        call_id: common::new_call(&alice, lead).await,
        sha256: sha(&bytes),
        duration_ms: 60_000,
        channels: 2,
    };
    let info = alice
        .upload_recording(&file, &meta, 1 << 20, |_, _| {})
        .await
        .unwrap();
    assert_eq!(info.sha256, meta.sha256);
    let (url, _) = alice.recording_url(meta.call_id, 300).await.unwrap();
    assert_eq!(url.scheme(), "https", "{url}");
    assert_eq!(sha(&alice.download(&url, None).await.unwrap()), meta.sha256);

    // Signaling over wss://.
    let mut sig = alice.signal().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), sig.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(first, Some(ServerMsg::Welcome { .. })),
        "{first:?}"
    );

    // A call link: an https URL (the proxy or the listener said so), whose page connects over wss://
    // and rings when its agent calls.
    let link = alice.create_link(&CreateLink::default()).await.unwrap();
    assert!(
        link.url.starts_with(&format!("{base}/join/")),
        "{}",
        link.url
    );
    let page = reqwest::Client::builder()
        .use_preconfigured_tls((*softphone_client::tls::config()).clone())
        .build()
        .unwrap()
        .get(&link.url)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let token = link.url.rsplit('/').next().unwrap();
    let wss = format!(
        "wss://localhost:{port}{}",
        softphone_proto::link_routes::JOIN_SIGNAL.replace("{token}", token)
    );
    let (mut guest, _) = tokio_tungstenite::connect_async_tls_with_config(
        wss,
        None,
        false,
        Some(tokio_tungstenite::Connector::Rustls(
            softphone_client::tls::config(),
        )),
    )
    .await
    .unwrap();
    assert!(matches!(
        guest_next(&mut guest).await,
        ServerMsg::Welcome { .. }
    ));
    let call_id = Uuid::now_v7();
    sig.send(&ClientMsg::Invite {
        call_id,
        to: link.id.to_string(),
        offer: Some("v=0".into()),
    })
    .await
    .unwrap();
    assert!(
        matches!(guest_next(&mut guest).await, ServerMsg::Incoming { call_id: c, .. } if c != call_id),
        "the guest rings over wss (under an alias of the call id)"
    );
    drop(sig);
}

/// The TLS listener answers plain HTTP with nothing usable, and `reload_tls` serves a
/// renewed certificate to new connections without a restart; a bad file on reload
/// keeps the certificate served before.
async fn tls_listener_refuses_plain_http_and_reloads(
    server: &softphone_server::Running,
    dir: &std::path::Path,
) {
    let port = server.addr.port();
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "plain HTTP is not served on the TLS port"
    );

    // A client that trusts only the renewed certificate's CA.
    let renewed_dir = dir.join("renewed");
    std::fs::create_dir(&renewed_dir).unwrap();
    let renewed = Certificate::make(&renewed_dir).unwrap();
    let trusting_renewed = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&renewed.ca).unwrap()).unwrap(),
        )
        .build()
        .unwrap();
    let health = format!("https://localhost:{port}/api/v1/health");
    assert!(
        trusting_renewed.get(&health).send().await.is_err(),
        "the old certificate is still served"
    );
    // The renewal lands where the config points (certbot's deploy hook, then
    // `systemctl reload`).
    let cfg_cert = std::fs::read(&renewed.cert).unwrap();
    let cfg_key = std::fs::read(&renewed.key).unwrap();
    let served = server_files(dir);
    std::fs::write(&served.1, b"not a key").unwrap();
    std::fs::write(&served.0, &cfg_cert).unwrap();
    let e = server.reload_tls().unwrap_err();
    assert!(format!("{e:#}").contains("tls_key"), "{e:#}");
    assert!(
        trusting_renewed.get(&health).send().await.is_err(),
        "a failed reload keeps the certificate served before"
    );
    std::fs::write(&served.1, &cfg_key).unwrap();
    server.reload_tls().unwrap();
    let r = trusting_renewed.get(&health).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// (`tls_cert`, `tls_key`) the server was started with: [`Certificate::make`]'s files in
/// `dir`.
fn server_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    (dir.join("server.pem"), dir.join("server.key"))
}
