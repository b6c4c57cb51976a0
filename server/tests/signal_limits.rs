//! Signaling under abuse and churn, over the real WebSocket: oversized SDP, candidate
//! floods, frame floods, too many sockets, a second echo call, half-open sockets, and
//! sessions that end (logout, a disabled account) taking their sockets with them.

mod common;

use common::{boot_with, client, data_dir};
use softphone_client::SignalConn;
use softphone_proto::signal::*;
use softphone_server::signal::{MAX_CANDIDATES_PER_SIDE, MAX_CONNS_PER_USER, MAX_SDP_BYTES};
use std::time::Duration;
use uuid::Uuid;

async fn next(c: &mut SignalConn) -> Option<ServerMsg> {
    tokio::time::timeout(Duration::from_secs(5), c.recv())
        .await
        .expect("a frame within 5 s")
        .ok()
        .flatten()
}

/// Frames until (and including) the first one `f` accepts; panics if the socket closes.
async fn until(c: &mut SignalConn, f: impl Fn(&ServerMsg) -> bool) -> ServerMsg {
    loop {
        let m = next(c).await.expect("connection open");
        if f(&m) {
            return m;
        }
    }
}

/// Reads until the server closes the socket; the frames seen before.
async fn until_closed(c: &mut SignalConn) -> Vec<ServerMsg> {
    let mut seen = vec![];
    while let Some(m) = next(c).await {
        seen.push(m);
    }
    seen
}

fn offline(user: Uuid) -> impl Fn(&ServerMsg) -> bool {
    move |m| matches!(m, ServerMsg::Presence(p) if p.user_id == user && p.status == Presence::Offline)
}

#[tokio::test]
async fn oversized_sdp_and_candidate_floods_are_refused() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |_| {}).await;
    let url = server.url();
    let (alice, bob) = (
        client(&url, "alice@acme.test").await,
        client(&url, "bob@acme.test").await,
    );
    let bob_id = bob.me().await.unwrap().id;
    let mut a = alice.signal().await.unwrap();
    let mut b = bob.signal().await.unwrap();
    next(&mut a).await;
    next(&mut b).await;
    let big = Uuid::now_v7();
    a.send(&ClientMsg::Invite {
        call_id: big,
        to: bob_id.to_string(),
        offer: Some("a".repeat(MAX_SDP_BYTES + 1)),
    })
    .await
    .unwrap();
    let m = until(&mut a, |m| matches!(m, ServerMsg::CallFailed { .. })).await;
    assert_eq!(
        m,
        ServerMsg::CallFailed {
            call_id: big,
            reason: "sdp_too_large".into()
        }
    );

    let call_id = Uuid::now_v7();
    a.send(&ClientMsg::Invite {
        call_id,
        to: bob_id.to_string(),
        offer: Some("v=0".into()),
    })
    .await
    .unwrap();
    until(&mut b, |m| matches!(m, ServerMsg::Incoming { .. })).await;
    for i in 0..=MAX_CANDIDATES_PER_SIDE {
        a.send(&ClientMsg::Ice {
            call_id,
            candidate: IceCandidate {
                candidate: format!("candidate:{i} 1 udp 1 127.0.0.1 {} typ host", 10_000 + i),
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
            },
        })
        .await
        .unwrap();
    }
    let m = until(&mut a, |m| matches!(m, ServerMsg::Error { .. })).await;
    assert!(
        matches!(&m, ServerMsg::Error { code, .. } if code == "signal.too_many_candidates"),
        "{m:?}"
    );
    b.send(&ClientMsg::Ping).await.unwrap();
    let mut relayed = 0;
    loop {
        match next(&mut b).await.expect("open") {
            ServerMsg::Ice { .. } => relayed += 1,
            ServerMsg::Pong => break,
            _ => {}
        }
    }
    assert_eq!(
        relayed, MAX_CANDIDATES_PER_SIDE,
        "the callee got the first 64 only"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_frame_flood_closes_the_connection_and_too_many_sockets_are_refused() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |_| {}).await;
    let alice = client(&server.url(), "alice@acme.test").await;
    let mut flood = alice.signal().await.unwrap();
    next(&mut flood).await;
    for _ in 0..400 {
        if flood.send(&ClientMsg::Ping).await.is_err() {
            break;
        }
    }
    let seen = until_closed(&mut flood).await;
    assert!(
        seen.iter()
            .any(|m| matches!(m, ServerMsg::Error { code, .. } if code == "signal.rate_limited")),
        "told why before the close"
    );
    assert!(
        seen.iter().filter(|m| **m == ServerMsg::Pong).count() < 400,
        "not every ping was answered"
    );

    let mut open = vec![];
    for _ in 0..MAX_CONNS_PER_USER {
        let mut c = alice.signal().await.unwrap();
        next(&mut c).await;
        open.push(c);
    }
    let e = alice.signal().await.unwrap_err();
    assert_eq!(e.status(), Some(429), "{e}");
    drop(open);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_user_has_one_echo_call_at_a_time() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| c.media_udp_addrs = vec!["127.0.0.1:0".into()]).await;
    let alice = client(&server.url(), "alice@acme.test").await;
    let mut a = alice.signal().await.unwrap();
    next(&mut a).await;
    let (tx, _rx) = tokio::sync::mpsc::channel(64);
    let peer = softphone_call::peer::Peer::new(
        &softphone_call::PeerConfig {
            udp_addrs: vec!["127.0.0.1:0".into()],
            ..Default::default()
        },
        tx,
    )
    .await
    .unwrap();
    let offer = peer.create_offer().await.unwrap();
    let first = Uuid::now_v7();
    a.send(&ClientMsg::Invite {
        call_id: first,
        to: "echo".into(),
        offer: Some(offer.clone()),
    })
    .await
    .unwrap();
    until(
        &mut a,
        |m| matches!(m, ServerMsg::Accepted { call_id, .. } if *call_id == first),
    )
    .await;
    let second = Uuid::now_v7();
    a.send(&ClientMsg::Invite {
        call_id: second,
        to: "echo".into(),
        offer: Some(offer),
    })
    .await
    .unwrap();
    let m = until(&mut a, |m| matches!(m, ServerMsg::CallFailed { .. })).await;
    assert_eq!(
        m,
        ServerMsg::CallFailed {
            call_id: second,
            reason: "echo_in_progress".into()
        }
    );
    peer.close().await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_half_open_socket_is_closed_and_its_agent_goes_offline() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| {
        c.signal_ping_ms = 200;
        c.signal_idle_ms = 800;
    })
    .await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let bob = client(&url, "bob@acme.test").await;
    let alice_id = alice.me().await.unwrap().id;
    let mut b = bob.signal().await.unwrap();
    next(&mut b).await;
    // Alice's laptop vanished: her socket is open but nothing reads it, so no pong ever
    // comes back.
    let silent = alice.signal().await.unwrap();
    until(&mut b, |m| matches!(m, ServerMsg::Presence(p) if p.user_id == alice_id && p.status == Presence::Available)).await;
    let t0 = std::time::Instant::now();
    until(&mut b, offline(alice_id)).await;
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(600),
        "not before the idle time: {took:?}"
    );
    // Bob reads (and so answers pings) all along: still connected.
    b.send(&ClientMsg::Ping).await.unwrap();
    until(&mut b, |m| *m == ServerMsg::Pong).await;
    drop(silent);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn logging_out_or_disabling_the_account_closes_its_sockets() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| {
        c.signal_ping_ms = 200;
        c.signal_idle_ms = 5_000;
    })
    .await;
    let url = server.url();
    let mut alice = client(&url, "alice@acme.test").await;
    let alice_other_session = client(&url, "alice@acme.test").await;
    let bob = client(&url, "bob@acme.test").await;
    let mut a = alice.signal().await.unwrap();
    let mut a2 = alice_other_session.signal().await.unwrap();
    let mut b = bob.signal().await.unwrap();
    next(&mut a).await;
    next(&mut a2).await;
    next(&mut b).await;
    alice.logout().await.unwrap();
    let t0 = std::time::Instant::now();
    until_closed(&mut a).await;
    assert!(
        t0.elapsed() < Duration::from_millis(150),
        "at once, not at the next ping"
    );
    // Her other session is another token: it stays.
    a2.send(&ClientMsg::Ping).await.unwrap();
    until(&mut a2, |m| *m == ServerMsg::Pong).await;

    // The admin disables her account (what `softphone-server user disable` does).
    let conn = softphone_server::db::open(&data).unwrap();
    let alice_id = softphone_server::set_user_disabled(&conn, "alice@acme.test", true).unwrap();
    until_closed(&mut a2).await;
    until(&mut b, offline(alice_id)).await;
    let e = softphone_client::Client::new(&url)
        .unwrap()
        .login("alice@acme.test", "alice-password")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    server.stop().await.unwrap();
}
