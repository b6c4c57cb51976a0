//! Browser call links over the real WebSocket: a guest learns nothing about the
//! organisation, only the agent who made the link may call it, and a link is live in
//! one browser at a time.

mod common;

use common::{boot, client, data_dir};
use futures_util::{SinkExt, StreamExt};
use softphone_client::SignalConn;
use softphone_proto::signal::*;
use softphone_proto::{CallLink, CreateLink, Lead, LeadUpsert};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

type Guest =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next(c: &mut SignalConn) -> ServerMsg {
    tokio::time::timeout(Duration::from_secs(5), c.recv())
        .await
        .expect("a frame within 5 s")
        .unwrap()
        .expect("connection open")
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

/// Opens the page's signaling WebSocket for `link`, as join.js does.
async fn open_guest(base: &str, link: &CallLink) -> Guest {
    let token = link.url.rsplit('/').next().unwrap();
    let url = format!(
        "{}{}",
        base.replace("http://", "ws://"),
        softphone_proto::link_routes::JOIN_SIGNAL.replace("{token}", token)
    );
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The guest's next frame; `None` when the server closed the socket.
async fn guest_next(g: &mut Guest) -> Option<ServerMsg> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), g.next())
            .await
            .expect("a frame within 5 s");
        match frame {
            Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

async fn guest_send(g: &mut Guest, m: &ClientMsg) {
    g.send(Message::Text(serde_json::to_string(m).unwrap().into()))
        .await
        .unwrap();
}

/// Every frame the guest has queued before its ping's pong.
async fn guest_drain(g: &mut Guest) -> Vec<ServerMsg> {
    guest_send(g, &ClientMsg::Ping).await;
    let mut out = Vec::new();
    loop {
        match guest_next(g).await.expect("connection open") {
            ServerMsg::Pong => return out,
            m => out.push(m),
        }
    }
}

fn new_lead(name: &str) -> LeadUpsert {
    LeadUpsert {
        name: name.into(),
        phone: Some("+34 600 000 111".into()),
        email: None,
        company: None,
        assigned_user_id: None,
    }
}

#[tokio::test]
async fn a_guest_hears_nothing_about_the_organisation_and_colleagues_never_see_it() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let bob = client(&url, "bob@acme.test").await;
    let mut b = bob.signal().await.unwrap();
    next(&mut b).await;
    let link = alice.create_link(&CreateLink::default()).await.unwrap();
    let mut g = open_guest(&url, &link).await;
    match guest_next(&mut g).await {
        Some(ServerMsg::Welcome { presence, .. }) => {
            assert!(
                presence.is_empty(),
                "a guest's welcome lists nobody: {presence:?}"
            )
        }
        other => panic!("welcome expected, got {other:?}"),
    }
    // The organisation lives on: an agent comes online, changes presence, a lead is
    // written. Alice, who made the link, sees her prospect waiting; nobody else does.
    let mut a = alice.signal().await.unwrap();
    match next(&mut a).await {
        ServerMsg::Welcome { presence, .. } => assert!(
            presence.iter().any(|p| p.user_id == link.id),
            "the link's owner sees the guest: {presence:?}"
        ),
        other => panic!("welcome expected, got {other:?}"),
    }
    a.send(&ClientMsg::Presence {
        status: Presence::Busy,
    })
    .await
    .unwrap();
    alice
        .put::<Lead>(Uuid::now_v7(), &new_lead("Secret lead"))
        .await
        .unwrap();
    let seen = drain(&mut b).await;
    assert!(
        seen.iter().any(|m| matches!(m, ServerMsg::Changed { .. })),
        "a colleague hears the write: {seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|m| matches!(m, ServerMsg::Presence(p) if p.user_id == link.id)),
        "colleagues never see a link's guest come online: {seen:?}"
    );
    let heard = guest_drain(&mut g).await;
    assert!(heard.is_empty(), "the guest heard {heard:?}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn only_the_agent_who_made_the_link_can_call_it() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let bob = client(&url, "bob@acme.test").await;
    let link = alice.create_link(&CreateLink::default()).await.unwrap();
    let mut g = open_guest(&url, &link).await;
    assert!(matches!(
        guest_next(&mut g).await,
        Some(ServerMsg::Welcome { .. })
    ));

    let mut b = bob.signal().await.unwrap();
    next(&mut b).await;
    let stolen = Uuid::now_v7();
    b.send(&ClientMsg::Invite {
        call_id: stolen,
        to: link.id.to_string(),
        offer: Some("v=0".into()),
    })
    .await
    .unwrap();
    let frames = drain(&mut b).await;
    assert!(
        frames
            .iter()
            .any(|m| matches!(m, ServerMsg::CallFailed { call_id, reason }
            if *call_id == stolen && reason == "not_found")),
        "a colleague's invite to someone else's link fails as not_found: {frames:?}"
    );
    assert!(guest_drain(&mut g).await.is_empty(), "the guest never rang");

    let mut a = alice.signal().await.unwrap();
    next(&mut a).await;
    let call_id = Uuid::now_v7();
    a.send(&ClientMsg::Invite {
        call_id,
        to: link.id.to_string(),
        offer: Some("v=0".into()),
    })
    .await
    .unwrap();
    assert!(
        matches!(guest_next(&mut g).await, Some(ServerMsg::Incoming { call_id: c, .. }) if c == call_id),
        "the owner's call rings"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_link_is_live_in_one_browser_at_a_time() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let link = alice.create_link(&CreateLink::default()).await.unwrap();
    let mut first = open_guest(&url, &link).await;
    assert!(matches!(
        guest_next(&mut first).await,
        Some(ServerMsg::Welcome { .. })
    ));
    let mut second = open_guest(&url, &link).await;
    match guest_next(&mut second).await {
        Some(ServerMsg::Error { code, .. }) => assert_eq!(code, "link.in_use"),
        other => panic!("link.in_use expected, got {other:?}"),
    }
    assert!(
        guest_next(&mut second).await.is_none(),
        "and the socket closes"
    );
    // The first browser still works; once it leaves, the link opens again.
    assert!(guest_drain(&mut first).await.is_empty());
    first.close(None).await.unwrap();
    drop(first);
    let mut third = None;
    for _ in 0..50 {
        let mut g = open_guest(&url, &link).await;
        if let Some(ServerMsg::Welcome { .. }) = guest_next(&mut g).await {
            third = Some(g);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        third.is_some(),
        "the link opens again after the first browser left"
    );
    server.stop().await.unwrap();
}
