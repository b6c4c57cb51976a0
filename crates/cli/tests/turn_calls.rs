//! TURN credentials from the server against a real TURN server: coturn from Debian on
//! 127.0.0.1 with the REST API's shared secret (`use-auth-secret`), the server handing
//! out short-lived credentials (`GET /api/v1/ice-servers`). The agent's engine, given
//! them, gets a relay allocation from coturn during an echo call that carries speech;
//! given a forged credential for the same user name, coturn refuses the allocation.
//!
//! Media that can only go through the relay is shown with the browser: a prospect page
//! with `iceTransportPolicy: "relay"` talks to the agent, and its selected candidate pair
//! is a relay one. Not on the agent's side: the webrtc crate (0.21.1) still connected
//! over host candidates when asked for relay-only ICE (tried: a relay-only peer whose
//! allocation coturn refused connected in 0.6 s), so the engine has no relay-only mode.

mod call_helpers;
mod common;

use call_helpers::*;
use common::*;
use softphone_call::{AudioIn, AudioOut, Command, EndReason};
use softphone_proto::signal::ServerMsg;
use std::time::Duration;

const SECRET: &str = "turn-shared-secret-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_issued_turn_credentials_allocate_on_coturn_and_forged_ones_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let turn = softphone_testkit::turn::Coturn::start(tmp.path(), SECRET).unwrap();
    let turn_url = turn.url();
    let w = world_with(|cfg| {
        cfg.turn_urls = vec![turn_url.clone()];
        cfg.turn_secret = Some(SECRET.into());
        cfg.turn_ttl_secs = 600;
    })
    .await;
    let (alice, _sig, alice_id) = w.agent("alice").await;
    let ice = alice.ice_servers().await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now + 590..=now + 610).contains(&ice.expires_at), "{ice:?}");
    let [server] = ice.ice_servers.as_slice() else {
        panic!("one TURN server expected: {ice:?}")
    };
    assert_eq!(server.urls, vec![turn.url()]);
    assert_eq!(server.username, format!("{}:{alice_id}", ice.expires_at));
    let user = format!("user <{}>", server.username);
    let logged = |outcome: &str| {
        turn.log_text()
            .lines()
            .any(|l| l.contains(&user) && l.contains(outcome))
    };
    let fx = fixtures();

    let call = |ice_servers: Vec<softphone_proto::IceServer>, heard: std::path::PathBuf| {
        let alice = &alice;
        let fx = &fx;
        async move {
            let mut sig = alice.signal().await.unwrap();
            assert!(matches!(
                sig.recv().await.unwrap(),
                Some(ServerMsg::Welcome { .. })
            ));
            let mut setup = loopback_setup(
                AudioIn::Wav(fx.join("alsa.wav")),
                AudioOut::Wav(heard.clone()),
                None,
            );
            setup.peer.ice_servers = ice_servers;
            let mut a = dial(sig, "echo", setup);
            a.connected().await;
            tokio::time::sleep(Duration::from_secs(6)).await;
            a.cmd.send(Command::Hangup).await.unwrap();
            let (r, _) = a.report().await;
            assert_eq!(r.end_reason, EndReason::LocalHangup);
            heard_anywhere(&wav(&heard), &wav(&fx.join("alsa.wav")))
        }
    };

    // A forged credential for the same user name: coturn refuses it.
    let mut forged = server.clone();
    forged.credential = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    call(vec![forged], w.path("forged-heard.wav")).await;
    assert!(
        logged("processed, error 401"),
        "coturn saw the forged credential and refused it:\n{}",
        turn.log_text()
    );
    assert!(
        !logged("ALLOCATE processed, success"),
        "no allocation with a forged credential:\n{}",
        turn.log_text()
    );

    // The issued credential: coturn allocates a relay for the call, which carries speech.
    let c = call(ice.ice_servers.clone(), w.path("heard.wav")).await;
    eprintln!("echo with TURN credentials, per second of source (sorted): {c:.2?}");
    assert!(
        c.len() >= 3 && c[c.len() / 2] > 0.7,
        "the caller hears itself back: {c:.2?}"
    );
    assert!(
        logged("ALLOCATE processed, success"),
        "no allocation for {user}:\n{}",
        turn.log_text()
    );
    w.server.stop().await.unwrap();
}

/// A prospect in headless Chromium with `iceTransportPolicy: "relay"` (`?relay=1`), using
/// the TURN credential the server put in the link page: the call connects, the agent
/// hears the browser, the browser's selected candidate pair is a relay one, and coturn
/// allocated for the link's guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_prospect_on_relay_only_ice_talks_through_coturn() {
    let Some(browser) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let turn = softphone_testkit::turn::Coturn::start(tmp.path(), SECRET).unwrap();
    let turn_url = turn.url();
    let w = world_with(|cfg| {
        cfg.turn_urls = vec![turn_url.clone()];
        cfg.turn_secret = Some(SECRET.into());
    })
    .await;
    let fx = fixtures();
    let (alice, mut sa, _) = w.agent("alice").await;
    let link = alice
        .create_link(&softphone_proto::CreateLink::default())
        .await
        .unwrap();
    let log_path = w.path("chromium-turn.log");
    let mut child = spawn_page(
        &mut softphone_testkit::chromium_peer(
            &browser,
            &fx.join("remote.wav"),
            &w.path("chromium-turn-profile"),
            &format!("{}?autojoin=1&autoanswer=1&raw=1&relay=1", link.url),
        ),
        &log_path,
    );
    wait_for_guest(&mut sa, link.id).await;
    let heard = w.path("prospect-heard.wav");
    let r = talk_to_guest(sa, link.id, heard.clone(), 8).await;
    stop_chromium(&mut child);
    assert_eq!(r.end_reason, EndReason::LocalHangup);
    let browser_log = std::fs::read_to_string(&log_path).unwrap();
    let stats = last_browser_stats(&browser_log)
        .unwrap_or_else(|| panic!("no stats in the browser's log:\n{browser_log}"));
    assert_eq!(stats["localCandidateType"], "relay", "{stats}");
    let c = heard_anywhere(&wav(&heard), &wav(&fx.join("remote.wav")));
    eprintln!("prospect through TURN, per second of source (sorted): {c:.2?}");
    assert!(
        c.len() >= 3 && c[c.len() / 2] > 0.7,
        "the agent hears the browser through the relay: {c:.2?}"
    );
    let guest = format!(":guest-{}>", link.id);
    let log = turn.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains(&guest) && l.contains("ALLOCATE processed, success")),
        "no allocation for the link's guest:\n{log}"
    );
    w.server.stop().await.unwrap();
}
