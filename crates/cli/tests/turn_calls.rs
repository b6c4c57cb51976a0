//! TURN credentials from the server against a real TURN server: coturn from Debian on
//! 127.0.0.1 with the REST API's shared secret (`use-auth-secret`), the server handing
//! out short-lived credentials (`GET /api/v1/ice-servers`). The agent's engine, given
//! them, gets a relay allocation from coturn during an echo call that carries speech;
//! given a forged credential for the same user name, coturn refuses the allocation.
//!
//! Relay-only ICE (W3C `iceTransportPolicy: "relay"`) on both sides: the agent's engine
//! (`PeerConfig::relay_only`) calls through coturn and its selected candidate pair is a
//! relay one, and with a forged credential it fails instead of going direct; a prospect
//! page with `relay=1` talks to a relay-only agent and both sides' pairs are relay ones.

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

    let signal = || async {
        let mut sig = alice.signal().await.unwrap();
        assert!(matches!(
            sig.recv().await.unwrap(),
            Some(ServerMsg::Welcome { .. })
        ));
        sig
    };
    let setup = |ice_servers: Vec<softphone_proto::IceServer>, relay_only, heard| {
        let mut setup = loopback_setup(
            AudioIn::Wav(fx.join("alsa.wav")),
            AudioOut::Wav(heard),
            None,
        );
        setup.peer.ice_servers = ice_servers;
        setup.peer.relay_only = relay_only;
        setup
    };
    let call =
        |ice_servers: Vec<softphone_proto::IceServer>, relay_only, heard: std::path::PathBuf| {
            let fx = &fx;
            let (signal, setup) = (&signal, &setup);
            async move {
                let mut a = dial(
                    signal().await,
                    "echo",
                    setup(ice_servers, relay_only, heard.clone()),
                );
                a.connected().await;
                // Talk from the first audio back, not from the answer.
                a.hearing().await;
                tokio::time::sleep(Duration::from_secs(6)).await;
                a.cmd.send(Command::Hangup).await.unwrap();
                let (r, _) = a.report().await;
                assert_eq!(r.end_reason, EndReason::LocalHangup);
                (heard_anywhere(&wav(&heard), &wav(&fx.join("alsa.wav"))), r)
            }
        };

    // A forged credential for the same user name: coturn refuses it, and the call goes
    // direct (host candidates on loopback).
    let mut forged = server.clone();
    forged.credential = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    let (_, r) = call(vec![forged.clone()], false, w.path("forged-heard.wav")).await;
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
    assert_eq!(r.route.unwrap().local_candidate_type, "host");

    // Relay-only with the forged credential: no relay, so no call. It must not fall back
    // to the host candidates the call above used.
    let a = dial(
        signal().await,
        "echo",
        setup(vec![forged], true, w.path("forged-relay-heard.wav")),
    );
    let (r, _) = a.report().await;
    assert_eq!(
        r.end_reason,
        EndReason::NetworkLost,
        "a relay-only call without a relay must fail"
    );
    assert_eq!((r.route, r.setup_ms), (None, None), "it never connected");

    // The issued credential: coturn allocates a relay for the call, which carries speech.
    let (c, r) = call(ice.ice_servers.clone(), false, w.path("heard.wav")).await;
    eprintln!(
        "echo with TURN credentials (set up in {:?} ms), per second of source (sorted): {c:.2?}",
        r.setup_ms
    );
    assert!(
        c.len() >= 3 && c[c.len() / 2] > 0.7,
        "the caller hears itself back: {c:.2?}"
    );
    assert!(
        logged("ALLOCATE processed, success"),
        "no allocation for {user}:\n{}",
        turn.log_text()
    );
    assert!(r.route.is_some(), "{:?}", r.route);

    // Relay-only with the issued credential: the media goes through coturn, and the
    // caller still hears itself.
    let (c, r) = call(ice.ice_servers.clone(), true, w.path("relay-heard.wav")).await;
    eprintln!(
        "echo relay-only (set up in {:?} ms), per second of source (sorted): {c:.2?}",
        r.setup_ms
    );
    assert!(
        c.len() >= 3 && c[c.len() / 2] > 0.7,
        "the caller hears itself back through the relay: {c:.2?}"
    );
    let route = r.route.expect("a connected call has a route");
    assert_eq!(
        (route.local_candidate_type.as_str(), route.protocol.as_str()),
        ("relay", "udp"),
        "{route:?}"
    );
    w.server.stop().await.unwrap();
}

/// A prospect in headless Chromium with `iceTransportPolicy: "relay"` (`?relay=1`), using
/// the TURN credential the server put in the link page, and a relay-only agent: the call
/// connects, the agent hears the browser, both sides' selected candidate pairs are relay
/// ones, and coturn allocated for the link's guest and for the agent.
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
    let (alice, mut sa, alice_id) = w.agent("alice").await;
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
    // The agent is relay-only too, with the TURN credential the server issues it.
    let mut setup = loopback_setup(
        AudioIn::Wav(fx.join("alsa.wav")),
        AudioOut::Wav(heard.clone()),
        None,
    );
    setup.peer.ice_servers = alice.ice_servers().await.unwrap().ice_servers;
    setup.peer.relay_only = true;
    let mut a = dial(sa, link.id, setup);
    a.connected().await;
    a.hearing().await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    a.cmd.send(Command::Hangup).await.unwrap();
    let (r, _) = a.report().await;
    stop_chromium(&mut child);
    assert_eq!(r.end_reason, EndReason::LocalHangup);
    let route = r.route.expect("a connected call has a route");
    assert_eq!(route.local_candidate_type, "relay", "{route:?}");
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
    let log = turn.log_text();
    for user in [format!(":guest-{}>", link.id), format!(":{alice_id}>")] {
        assert!(
            log.lines()
                .any(|l| l.contains(&user) && l.contains("ALLOCATE processed, success")),
            "no allocation for {user}:\n{log}"
        );
    }
    w.server.stop().await.unwrap();
}
