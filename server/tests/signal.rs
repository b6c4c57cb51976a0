//! Signaling over the real WebSocket: presence, a whole call setup relayed between two
//! agents, fast failures, malformed frames, authentication, disconnects and live
//! "changed" events, all against the real server on port 0 through the real client.

mod common;

use common::{boot, client, data_dir};
use softphone_client::{ClientError, SignalConn};
use softphone_proto::signal::*;
use softphone_proto::{Lead, LeadUpsert};
use std::time::Duration;
use uuid::Uuid;

async fn next(c: &mut SignalConn) -> ServerMsg {
    tokio::time::timeout(Duration::from_secs(5), c.recv())
        .await
        .expect("a frame within 5 s")
        .unwrap()
        .expect("connection open")
}

/// Frames until (and including) the first one `f` accepts.
async fn until(c: &mut SignalConn, f: impl Fn(&ServerMsg) -> bool) -> ServerMsg {
    loop {
        let m = next(c).await;
        if f(&m) {
            return m;
        }
    }
}

/// Every frame queued before a ping's pong (the server answers in order).
async fn drain(c: &mut SignalConn) -> Vec<ServerMsg> {
    c.send(&ClientMsg::Ping).await.unwrap();
    let mut out = Vec::new();
    loop {
        match next(c).await {
            ServerMsg::Pong => return out,
            m => out.push(m),
        }
    }
}

#[tokio::test]
async fn two_agents_set_up_and_end_a_call() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let bob = client(&url, "bob@acme.test").await;
    let (alice_id, bob_id) = (alice.me().await.unwrap().id, bob.me().await.unwrap().id);

    let mut a = alice.signal().await.unwrap();
    let ServerMsg::Welcome { user_id, presence } = next(&mut a).await else {
        panic!("welcome first")
    };
    assert_eq!(user_id, alice_id);
    assert_eq!(presence.len(), 3, "everyone in Acme, nobody from Other");
    assert!(presence
        .iter()
        .any(|p| p.user_id == bob_id && p.status == Presence::Offline));

    let mut b = bob.signal().await.unwrap();
    next(&mut b).await;
    let online = until(&mut a, |m| matches!(m, ServerMsg::Presence(_))).await;
    assert_eq!(
        online,
        ServerMsg::Presence(PresenceEntry {
            user_id: bob_id,
            display_name: "Bob".into(),
            status: Presence::Available
        })
    );

    let call_id = Uuid::now_v7();
    a.send(&ClientMsg::Invite {
        call_id,
        to: bob_id.to_string(),
        offer: Some("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n".into()),
    })
    .await
    .unwrap();
    let ServerMsg::Incoming {
        call_id: got,
        from,
        from_name,
        offer,
    } = until(&mut b, |m| matches!(m, ServerMsg::Incoming { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(
        (got, from, from_name.as_str()),
        (call_id, alice_id, "Alice")
    );
    assert!(offer.unwrap().starts_with("v=0"));

    b.send(&ClientMsg::Ringing { call_id }).await.unwrap();
    assert_eq!(next(&mut a).await, ServerMsg::Ringing { call_id });

    // Trickle ICE both ways, before and after the answer.
    let cand = |n: u16| IceCandidate {
        candidate: format!(
            "candidate:{n} 1 udp 2130706431 127.0.0.1 {} typ host",
            40000 + n
        ),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    };
    a.send(&ClientMsg::Ice {
        call_id,
        candidate: cand(1),
    })
    .await
    .unwrap();
    assert_eq!(
        next(&mut b).await,
        ServerMsg::Ice {
            call_id,
            candidate: cand(1)
        }
    );
    b.send(&ClientMsg::Accept {
        call_id,
        answer: Some("v=0 answer".into()),
    })
    .await
    .unwrap();
    assert_eq!(
        next(&mut a).await,
        ServerMsg::Accepted {
            call_id,
            answer: Some("v=0 answer".into())
        }
    );
    b.send(&ClientMsg::Ice {
        call_id,
        candidate: cand(2),
    })
    .await
    .unwrap();
    assert_eq!(
        next(&mut a).await,
        ServerMsg::Ice {
            call_id,
            candidate: cand(2)
        }
    );

    // Hold as a re-offer.
    a.send(&ClientMsg::Sdp {
        call_id,
        kind: SdpKind::Offer,
        sdp: "a=sendonly".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        next(&mut b).await,
        ServerMsg::Sdp {
            call_id,
            kind: SdpKind::Offer,
            sdp: "a=sendonly".into()
        }
    );

    // Presence change during the call reaches colleagues.
    b.send(&ClientMsg::Presence {
        status: Presence::Busy,
    })
    .await
    .unwrap();
    let busy = until(&mut a, |m| matches!(m, ServerMsg::Presence(_))).await;
    assert!(matches!(busy, ServerMsg::Presence(p) if p.status == Presence::Busy));

    a.send(&ClientMsg::Hangup {
        call_id,
        reason: "normal".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        until(&mut b, |m| matches!(m, ServerMsg::Hangup { .. })).await,
        ServerMsg::Hangup {
            call_id,
            reason: "normal".into()
        }
    );
    // The call is gone: relaying on it is an error for the sender only.
    b.send(&ClientMsg::Ringing { call_id }).await.unwrap();
    assert!(matches!(
        next(&mut b).await,
        ServerMsg::Error { code, .. } if code == "signal.unknown_call"
    ));
    assert!(drain(&mut a).await.is_empty());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn invites_that_cannot_ring_fail_fast_with_a_reason() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let bob = client(&url, "bob@acme.test").await;
    let boss = client(&url, "boss@acme.test").await;
    let eve = client(&url, "eve@other.test").await;
    let mut a = alice.signal().await.unwrap();
    next(&mut a).await;
    let mut b = bob.signal().await.unwrap();
    next(&mut b).await;
    let mut e = eve.signal().await.unwrap();
    next(&mut e).await;
    let ids = [
        alice.me().await.unwrap().id,
        boss.me().await.unwrap().id,
        eve.me().await.unwrap().id,
        bob.me().await.unwrap().id,
    ];
    b.send(&ClientMsg::Presence {
        status: Presence::WrapUp,
    })
    .await
    .unwrap();
    drain(&mut b).await;
    drain(&mut a).await;
    for (to, reason) in [
        (ids[1].to_string(), "offline"),   // boss is not connected
        (ids[2].to_string(), "not_found"), // eve is in another organisation
        (ids[0].to_string(), "self"),
        (ids[3].to_string(), "busy"), // bob is in wrap-up
        ("echo-not-yet".to_string(), "not_found"),
    ] {
        let call_id = Uuid::now_v7();
        a.send(&ClientMsg::Invite {
            call_id,
            to,
            offer: None,
        })
        .await
        .unwrap();
        assert_eq!(
            next(&mut a).await,
            ServerMsg::CallFailed {
                call_id,
                reason: reason.into()
            },
            "{reason}"
        );
    }
    // Nobody was disturbed.
    assert!(drain(&mut b).await.is_empty());
    assert!(drain(&mut e).await.is_empty());
    server.stop().await.unwrap();
}

#[tokio::test]
async fn malformed_frames_and_strangers_are_refused_and_the_line_stays_up() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let bob = client(&url, "bob@acme.test").await;
    let mut a = alice.signal().await.unwrap();
    next(&mut a).await;
    for bad in [
        "{not json",
        r#"{"type":"invite"}"#,
        r#"{"type":"teleport"}"#,
        "[]",
    ] {
        a.send_raw(bad).await.unwrap();
        assert!(
            matches!(next(&mut a).await, ServerMsg::Error { code, .. } if code == "signal.malformed"),
            "{bad}"
        );
    }
    a.send(&ClientMsg::Presence {
        status: Presence::Offline,
    })
    .await
    .unwrap();
    assert!(matches!(next(&mut a).await, ServerMsg::Error { .. }));
    a.send(&ClientMsg::Ping).await.unwrap();
    assert_eq!(next(&mut a).await, ServerMsg::Pong);

    // A third party cannot touch a call between others.
    let mut b = bob.signal().await.unwrap();
    next(&mut b).await;
    let boss = client(&url, "boss@acme.test").await;
    let mut x = boss.signal().await.unwrap();
    next(&mut x).await;
    let call_id = Uuid::now_v7();
    a.send(&ClientMsg::Invite {
        call_id,
        to: bob.me().await.unwrap().id.to_string(),
        offer: None,
    })
    .await
    .unwrap();
    until(&mut b, |m| matches!(m, ServerMsg::Incoming { .. })).await;
    x.send(&ClientMsg::Hangup {
        call_id,
        reason: "mischief".into(),
    })
    .await
    .unwrap();
    assert!(matches!(
        until(&mut x, |m| matches!(m, ServerMsg::Error { .. })).await,
        ServerMsg::Error { code, .. } if code == "signal.not_party"
    ));
    // The caller may not answer its own call.
    a.send(&ClientMsg::Accept {
        call_id,
        answer: None,
    })
    .await
    .unwrap();
    assert!(matches!(
        until(&mut a, |m| matches!(m, ServerMsg::Error { .. })).await,
        ServerMsg::Error { code, .. } if code == "signal.not_party"
    ));

    // The caller's connection drops while ringing: the callee hears about it.
    a.close().await.unwrap();
    assert_eq!(
        until(&mut b, |m| matches!(m, ServerMsg::Hangup { .. })).await,
        ServerMsg::Hangup {
            call_id,
            reason: "peer_disconnected".into()
        }
    );
    let gone = until(&mut b, |m| matches!(m, ServerMsg::Presence(_))).await;
    assert!(matches!(gone, ServerMsg::Presence(p) if p.status == Presence::Offline));

    // An oversized frame (over 256 KiB) closes that connection cleanly; the server lives on.
    let mut big = bob.signal().await.unwrap();
    next(&mut big).await;
    big.send_raw(&format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(300 * 1024)
    ))
    .await
    .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match big.recv().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("closed within 5 s");
    assert!(matches!(end, Ok(None) | Err(_)), "{end:?}");
    let mut again = bob.signal().await.unwrap();
    assert!(matches!(next(&mut again).await, ServerMsg::Welcome { .. }));

    // No token, a bad token, a revoked token: refused before upgrading.
    let ws = url.replace("http", "ws") + ROUTE;
    let err = tokio_tungstenite::connect_async(ws.as_str())
        .await
        .unwrap_err();
    assert!(matches!(err, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 401));
    let bad = softphone_client::Client::new(&url)
        .unwrap()
        .with_token("nope");
    match bad.signal().await.unwrap_err() {
        ClientError::Api { status, .. } => assert_eq!(status, 401),
        other => panic!("{other:?}"),
    }
    // Browsers put the token in the query.
    let q = format!("{ws}?access_token={}", bob.token().unwrap());
    let (mut raw, _) = tokio_tungstenite::connect_async(q.as_str()).await.unwrap();
    use futures_util::StreamExt;
    let first = raw.next().await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("\"welcome\""));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn writes_push_changed_events_to_the_organisation_only() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let boss = client(&url, "boss@acme.test").await;
    let eve = client(&url, "eve@other.test").await;
    let mut x = boss.signal().await.unwrap();
    next(&mut x).await;
    let mut e = eve.signal().await.unwrap();
    next(&mut e).await;
    drain(&mut x).await;
    let lead = alice
        .put::<Lead>(
            Uuid::now_v7(),
            &LeadUpsert {
                name: "Pushed".into(),
                phone: None,
                email: None,
                company: None,
                assigned_user_id: None,
            },
        )
        .await
        .unwrap();
    let ServerMsg::Changed { seq } = next(&mut x).await else {
        panic!("changed expected")
    };
    let page = boss.changes(seq - 1, 10).await.unwrap();
    assert!(matches!(&page.changes[..], [softphone_proto::Change::Lead(l)] if l.id == lead.id));
    assert!(
        drain(&mut e).await.is_empty(),
        "another organisation hears nothing"
    );
    server.stop().await.unwrap();
}
