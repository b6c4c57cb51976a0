//! The app's updater (tauri-plugin-updater, as the app configures it in
//! tauri.conf.json and `commands::update`) against the real server, with keys and
//! signatures from the real `tauri signer`, on Tauri's mock runtime (no window).
//!
//! A correctly signed update is offered and verifies. A changed artifact (in the
//! server's storage), a build trusting another key, a manifest without a signature,
//! an old release's signature announced as a newer version, and an older version are
//! each refused with their reason; "no update" is a 204.

use agent_softphone_lib::commands::update::{check, download};
use softphone_controller::agent::Account;
use softphone_controller::updates::{endpoint, UpdateError, UpdateSource};
use softphone_proto::{update_routes, Role, UpdateChannel};
use softphone_testkit::updates::Signer;
use std::path::{Path, PathBuf};
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};

const TARGET: &str = "linux-x86_64-deb";

/// A mock app at version 0.1.0 with the updater plugin configured as the real app is.
fn app() -> tauri::App<MockRuntime> {
    let conf: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tauri.conf.json"))
            .unwrap(),
    )
    .unwrap();
    let mut ctx = mock_context(noop_assets());
    ctx.config_mut()
        .plugins
        .0
        .insert("updater".into(), conf["plugins"]["updater"].clone());
    ctx.package_info_mut().version = "0.1.0".parse().unwrap();
    mock_builder()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(ctx)
        .unwrap()
}

/// `Bearer …` for a signed-in account.
async fn bearer(url: &str, email: &str, password: &str) -> String {
    let account = Account::sign_in(url, email, password).await.unwrap();
    format!("Bearer {}", account.client().token().unwrap())
}

/// Signs a `len`-byte artifact for `version` and uploads it as the admin.
async fn release(url: &str, admin: &str, dir: &Path, signer: &Signer, version: &str) -> Vec<u8> {
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    let file = dir.join(format!("Agent Softphone_{version}_amd64.deb"));
    std::fs::write(&file, &body).unwrap();
    let sig = signer.sign(&file, version).unwrap();
    let path = update_routes::RELEASE
        .replace("{channel}", "stable")
        .replace("{target}", TARGET)
        .replace("{version}", version);
    let r = reqwest::Client::new()
        .put(format!("{url}{path}"))
        .query(&[("file_name", "Agent Softphone.deb"), ("notes", "Fixes")])
        .header("authorization", admin)
        .header("update-signature", sig)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    body
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A hostile update server: answers every request with `manifest` (status 200).
async fn hostile(manifest: serde_json::Value) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let body = manifest.to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_updates_install_and_every_forgery_is_refused() {
    let keys = tempfile::tempdir().unwrap();
    let signer = Signer::generate(keys.path()).unwrap();
    let other = keys.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let stranger = Signer::generate(&other).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let conn = softphone_server::db::open(&data).unwrap();
        softphone_server::add_user(
            &conn,
            "Acme",
            "boss@acme.test",
            "Boss",
            Role::Admin,
            "boss-password",
        )
        .unwrap();
        softphone_server::add_user(
            &conn,
            "Acme",
            "al@acme.test",
            "Al",
            Role::Agent,
            "al-password",
        )
        .unwrap();
        softphone_server::add_user(
            &conn,
            "Other",
            "o@other.test",
            "O",
            Role::Agent,
            "o-password",
        )
        .unwrap();
    }
    let mut cfg = softphone_server::Config::new(data.clone());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.update_pubkey = Some(signer.pubkey.clone());
    let server = softphone_server::start(&cfg).await.unwrap();
    let url = server.url();
    let admin = bearer(&url, "boss@acme.test", "boss-password").await;
    let agent = bearer(&url, "al@acme.test", "al-password").await;
    let body = release(&url, &admin, keys.path(), &signer, "0.2.0").await;

    let app = app();
    let handle = app.handle();
    let source = |server: &str, authorization: &str, pubkey: &str| UpdateSource {
        endpoint: endpoint(&server.parse().unwrap(), UpdateChannel::Stable),
        authorization: authorization.into(),
        target: TARGET.into(),
        pubkey: pubkey.into(),
        channel: UpdateChannel::Stable,
    };

    // Offered and verified.
    let ours = source(&url, &agent, &signer.pubkey);
    let update = check(handle, &ours)
        .await
        .unwrap()
        .expect("0.2.0 is offered");
    assert_eq!(update.version, "0.2.0");
    assert_eq!(update.current_version, "0.1.0");
    assert_eq!(update.body.as_deref(), Some("Fixes"));
    assert_eq!(download(&update).await.unwrap(), body);

    // "No update": an account of an organisation with no release gets a 204.
    let outsider = bearer(&url, "o@other.test", "o-password").await;
    assert!(check(handle, &source(&url, &outsider, &signer.pubkey))
        .await
        .unwrap()
        .is_none());

    // A build that trusts another key refuses the download.
    let foreign = check(handle, &source(&url, &agent, &stranger.pubkey))
        .await
        .unwrap()
        .unwrap();
    let e = download(&foreign).await.unwrap_err();
    assert!(matches!(e, UpdateError::BadSignature(_)), "{e}");

    // A manifest with no signature (a hostile server) is refused.
    let no_sig = hostile(serde_json::json!({
        "version": "0.2.0", "notes": "", "pub_date": "2026-12-07T00:00:00Z",
        "url": update.download_url.as_str(), "signature": ""
    }))
    .await;
    let e = match check(handle, &source(&no_sig, &agent, &signer.pubkey)).await {
        Ok(Some(u)) => download(&u).await.unwrap_err(),
        Ok(None) => panic!("an unsigned update was not even noticed"),
        Err(e) => e,
    };
    assert!(matches!(e, UpdateError::BadSignature(_)), "{e}");

    // 0.2.0's real signature announced as 0.3.0: the signed version gives it away.
    let replay = hostile(serde_json::json!({
        "version": "0.3.0", "notes": "", "pub_date": "2026-12-07T00:00:00Z",
        "url": update.download_url.as_str(), "signature": update.signature
    }))
    .await;
    let u = check(handle, &source(&replay, &agent, &signer.pubkey))
        .await
        .unwrap()
        .unwrap();
    let e = download(&u).await.unwrap_err();
    assert!(
        matches!(&e, UpdateError::BadSignature(m) if m.contains("signed for version 0.2.0")),
        "{e}"
    );

    // A downgrade is refused, with the reason.
    let older = hostile(serde_json::json!({
        "version": "0.0.9", "notes": "", "pub_date": "2026-12-07T00:00:00Z",
        "url": update.download_url.as_str(), "signature": update.signature
    }))
    .await;
    let Err(e) = check(handle, &source(&older, &agent, &signer.pubkey)).await else {
        panic!("a downgrade was offered")
    };
    assert_eq!(
        e,
        UpdateError::NotNewer {
            offered: "0.0.9".into(),
            current: "0.1.0".into()
        }
    );

    // The artifact changed in the server's storage: the download no longer verifies.
    let stored: Vec<_> = files(&data.join("objects"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("releases"))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    let mut bytes = std::fs::read(&stored[0]).unwrap();
    assert_eq!(bytes, body);
    bytes[1234] ^= 0x40;
    std::fs::write(&stored[0], &bytes).unwrap();
    let update = check(handle, &ours).await.unwrap().unwrap();
    let e = download(&update).await.unwrap_err();
    assert!(matches!(e, UpdateError::BadSignature(_)), "{e}");

    server.stop().await.unwrap();
}
