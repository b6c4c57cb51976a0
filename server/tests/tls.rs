//! The deployment docs/server.md recommends, for real: nginx from Debian terminates TLS
//! (a throwaway CA made with openssl) in front of the real server, and the real client
//! signs in, syncs, uploads and plays a recording, opens signaling over `wss://`, and
//! makes a call link whose guest page connects over `wss://` and rings.
//!
//! The CA is trusted only through `SSL_CERT_FILE`, the way a corporate CA reaches a
//! Linux machine. This binary holds this one test, because the variable is read once
//! per process.

mod common;

use common::{boot, data_dir};
use futures_util::StreamExt;
use softphone_client::{Client, UploadMeta};
use softphone_proto::signal::{ClientMsg, ServerMsg};
use softphone_proto::{Change, CreateLink, Lead, LeadUpsert, Note, NoteUpsert};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (scripts/setup-debian.sh)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and a certificate for `localhost` and 127.0.0.1 signed by it
/// (`server.pem`, `server.key`).
fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=Softphone test CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    run(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    run(dir, &csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n\
         subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
}

/// nginx in the foreground, killed on drop.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts nginx on a free port of 127.0.0.1 with TLS, proxying to `upstream`
/// (WebSocket upgrades included); returns it and its port.
async fn start_nginx(dir: &Path, upstream: std::net::SocketAddr) -> (Nginx, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir.display();
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.key;
        client_max_body_size 0;
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 1h;
            proxy_request_buffering off;
            proxy_buffering off;
        }}
    }}
}}
"#
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .spawn()
        .expect("nginx is installed (scripts/setup-debian.sh: nginx-light)");
    let nginx = Nginx(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (nginx, port);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "nginx did not listen: {}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );
}

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
    make_certificates(tmp.path());
    // SAFETY (edition 2024 wording): set before any thread of this process reads it;
    // this binary holds this one test.
    std::env::set_var("SSL_CERT_FILE", tmp.path().join("ca.pem"));
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let (_nginx, port) = start_nginx(tmp.path(), server.addr).await;
    let base = format!("https://localhost:{port}");

    // Sign in and sync, through TLS.
    let mut alice = Client::new(&base).unwrap();
    alice
        .login("alice@acme.test", "alice-password")
        .await
        .unwrap();
    let lead = Uuid::now_v7();
    alice
        .put::<Lead>(
            lead,
            &LeadUpsert {
                name: "Over TLS".into(),
                phone: None,
                email: None,
                company: None,
                assigned_user_id: None,
            },
        )
        .await
        .unwrap();
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
    let file = tmp.path().join("call.opus");
    std::fs::write(&file, &bytes).unwrap();
    let meta = UploadMeta {
        call_id: Uuid::now_v7(),
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

    // A call link: an https URL (the proxy said so), whose page connects over wss://
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
        matches!(guest_next(&mut guest).await, ServerMsg::Incoming { call_id: c, .. } if c == call_id),
        "the guest rings over wss"
    );
    drop(sig);
    server.stop().await.unwrap();
}
