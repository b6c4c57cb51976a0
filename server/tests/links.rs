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
    try_open_guest(base, link).await.unwrap()
}

/// The upgrade's HTTP status when it was refused.
async fn try_open_guest(base: &str, link: &CallLink) -> Result<Guest, u16> {
    let token = link.url.rsplit('/').next().unwrap();
    let url = format!(
        "{}{}",
        base.replace("http://", "ws://"),
        softphone_proto::link_routes::JOIN_SIGNAL.replace("{token}", token)
    );
    match tokio_tungstenite::connect_async(url).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

async fn page_status(link: &CallLink) -> (u16, String) {
    let r = reqwest::get(&link.url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
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
        matches!(guest_next(&mut g).await, Some(ServerMsg::Incoming { call_id: c, .. }) if c != call_id),
        "the owner's call rings, under an alias of its call id"
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

#[tokio::test]
async fn a_revoked_link_drops_its_page_and_cannot_be_opened_again() {
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
    // A colleague cannot revoke it (nor learn that it exists).
    let e = bob.revoke_link(link.id).await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert!(guest_drain(&mut g).await.is_empty(), "still open");
    alice.revoke_link(link.id).await.unwrap();
    assert!(
        guest_next(&mut g).await.is_none(),
        "the open page is dropped at once"
    );
    let (status, body) = page_status(&link).await;
    assert_eq!(status, 404);
    assert!(body.contains("withdrawn"), "{body}");
    assert_eq!(try_open_guest(&url, &link).await.err(), Some(401));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_single_use_link_is_spent_once_its_call_was_answered() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let link = alice
        .create_link(&CreateLink {
            single_use: true,
            ..CreateLink::default()
        })
        .await
        .unwrap();
    let mut g = open_guest(&url, &link).await;
    assert!(matches!(
        guest_next(&mut g).await,
        Some(ServerMsg::Welcome { .. })
    ));
    // A reload before the call is fine.
    g.close(None).await.unwrap();
    drop(g);
    let mut g = None;
    for _ in 0..50 {
        let mut c = open_guest(&url, &link).await;
        if let Some(ServerMsg::Welcome { .. }) = guest_next(&mut c).await {
            g = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut g = g.expect("the page joins again before its call");
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
    // The guest knows the call by an alias, never by the agent's call id.
    let alias = match guest_next(&mut g).await {
        Some(ServerMsg::Incoming { call_id: alias, .. }) if alias != call_id => alias,
        other => panic!("{other:?}"),
    };
    guest_send(
        &mut g,
        &ClientMsg::Accept {
            call_id: alias,
            answer: Some("v=0".into()),
        },
    )
    .await;
    loop {
        if let ServerMsg::Accepted { .. } = next(&mut a).await {
            break;
        }
    }
    guest_drain(&mut g).await;
    g.close(None).await.unwrap();
    drop(g);
    let mut refused = None;
    for _ in 0..50 {
        match try_open_guest(&url, &link).await {
            Err(s) => {
                refused = Some(s);
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert_eq!(refused, Some(401), "spent after its answered call");
    let (status, body) = page_status(&link).await;
    assert_eq!(status, 404);
    assert!(body.contains("for one call"), "{body}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn links_last_two_hours_unless_asked_and_never_beyond_the_admins_maximum() {
    let (_dir, data) = data_dir();
    let server = common::boot_with(&data, |c| c.link_max_ttl_secs = 86_400).await;
    let alice = client(&server.url(), "alice@acme.test").await;
    let now_ms = softphone_server::now() * 1000;
    let link = alice.create_link(&CreateLink::default()).await.unwrap();
    let ttl_s = (link.expires_at_ms - now_ms) / 1000;
    assert!(
        (7_100..=7_300).contains(&ttl_s),
        "default lifetime {ttl_s} s"
    );
    let e = alice
        .create_link(&CreateLink {
            ttl_secs: Some(2 * 86_400),
            ..CreateLink::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(422), "request.invalid"),
        "{e}"
    );
    alice
        .create_link(&CreateLink {
            ttl_secs: Some(86_400),
            ..CreateLink::default()
        })
        .await
        .expect("up to the maximum");
    server.stop().await.unwrap();
}
