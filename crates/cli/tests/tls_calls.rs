//! Calls through the deployment docs/server.md recommends: nginx terminating TLS (a
//! throwaway CA, trusted only through `SSL_CERT_FILE`) in front of the real server. An
//! echo call signals over `wss://` and carries speech; a prospect opens the call link
//! over `https://` in headless Chromium (trusting the certificate by its key) and talks.
//!
//! Its own test binary: `SSL_CERT_FILE` is read once per process.

mod call_helpers;
mod common;

use call_helpers::*;
use common::*;
use softphone_call::{AudioIn, AudioOut, Command, EndReason};
use softphone_proto::signal::ServerMsg;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echo_call_and_a_prospect_call_over_https_and_wss() {
    let w = world().await;
    let tls_dir = w.path("tls");
    std::fs::create_dir_all(&tls_dir).unwrap();
    let proxy = softphone_testkit::tls::TlsProxy::start(&tls_dir, w.server.addr).unwrap();
    // Before any client exists in this process (the trust store is read once).
    std::env::set_var("SSL_CERT_FILE", &proxy.ca);
    let base = proxy.url();
    let mut alice = softphone_client::Client::new(&base).unwrap();
    alice
        .login("alice@acme.test", "alice-password")
        .await
        .unwrap();
    let fx = fixtures();

    // The echo test: signaling over wss://, media straight to the server's peer.
    let mut sig = alice.signal().await.unwrap();
    assert!(matches!(
        sig.recv().await.unwrap(),
        Some(ServerMsg::Welcome { .. })
    ));
    let heard = w.path("echo-heard.wav");
    let mut a = dial(
        sig,
        "echo",
        loopback_setup(
            AudioIn::Wav(fx.join("alsa.wav")),
            AudioOut::Wav(heard.clone()),
            None,
        ),
    );
    a.connected().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    a.cmd.send(Command::Hangup).await.unwrap();
    let (r, _) = a.report().await;
    assert_eq!(r.end_reason, EndReason::LocalHangup);
    let c = heard_anywhere(&wav(&heard), &wav(&fx.join("alsa.wav")));
    eprintln!("echo over TLS, per second of source (sorted): {c:.2?}");
    assert!(
        c.len() >= 3 && c[c.len() / 2] > 0.7,
        "the caller hears itself back: {c:.2?}"
    );

    // A prospect call: the link page over https://, its signaling over wss://.
    let Some(browser) = chromium() else {
        return;
    };
    let link = alice
        .create_link(&softphone_proto::CreateLink::default())
        .await
        .unwrap();
    assert!(
        link.url.starts_with(&format!("{base}/join/")),
        "{}",
        link.url
    );
    let mut sa = alice.signal().await.unwrap();
    let log_path = w.path("chromium-tls.log");
    let mut child = spawn_page(
        softphone_testkit::chromium_peer(
            &browser,
            &fx.join("remote.wav"),
            &w.path("chromium-tls-profile"),
            &format!("{}?autojoin=1&autoanswer=1&raw=1", link.url),
        )
        .arg(format!(
            "--ignore-certificate-errors-spki-list={}",
            proxy.spki_sha256
        )),
        &log_path,
    );
    wait_for_guest(&mut sa, link.id).await;
    let heard = w.path("prospect-heard.wav");
    let r = talk_to_guest(sa, link.id, heard.clone(), 8).await;
    stop_chromium(&mut child);
    assert_eq!(r.end_reason, EndReason::LocalHangup);
    let c = heard_anywhere(&wav(&heard), &wav(&fx.join("remote.wav")));
    eprintln!("prospect over TLS, per second of source (sorted): {c:.2?}");
    assert!(
        c.len() >= 3 && c[c.len() / 2] > 0.7,
        "the agent hears the browser: {c:.2?}"
    );
    drop(proxy);
    w.server.stop().await.unwrap();
}
