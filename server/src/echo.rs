//! The echo test: calls to `echo` are answered by the server's own WebRTC peer, which
//! plays the caller's audio back after about half a second, so an agent checks
//! microphone and speaker without bothering anyone (as Skype's echo service did).
//!
//! The peer joins the signaling hub as an ordinary connection of a throw-away user in
//! the caller's organisation, so the call goes through exactly the same invite, accept,
//! trickle ICE and hang-up paths as a call between two agents. RTP is reflected as is
//! (Opus and telephone-event alike, with our SSRC): no decoding, a few µs per packet.

use crate::signal::{Callee, Hub};
use softphone_call::peer::{Peer, PeerConfig, PeerEvent, RtpPacket};
use softphone_proto::signal::{ClientMsg, ServerMsg};
use softphone_proto::{Role, UserInfo};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

/// The dial target that reaches the echo test.
pub const ECHO_TARGET: &str = "echo";
/// The echo peer's account e-mail (it has no account; one per caller at a time).
pub const ECHO_EMAIL: &str = "echo@softphone.invalid";
/// An echo call ends by itself after this long.
pub const MAX_ECHO_CALL: Duration = Duration::from_secs(600);

/// Settings of the server's own WebRTC peers.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// Local UDP addresses to gather host candidates on.
    pub udp_addrs: Vec<String>,
    /// STUN/TURN servers and TURN credentials.
    pub ice: crate::ice::IceSettings,
    /// Delay before the caller hears themselves.
    pub echo_delay: Duration,
}

impl MediaSettings {
    fn peer_config(&self) -> PeerConfig {
        PeerConfig {
            ice_servers: self.ice.servers_for("echo", crate::now()).ice_servers,
            udp_addrs: self.udp_addrs.clone(),
            relay_only: false,
        }
    }
}

/// Registers an echo peer for `caller` and returns it as the invite's callee.
pub fn start(hub: Arc<Hub>, media: Arc<MediaSettings>, caller: &UserInfo) -> Callee {
    let user = UserInfo {
        id: Uuid::new_v4(),
        org_id: caller.org_id,
        org_name: caller.org_name.clone(),
        email: ECHO_EMAIL.into(),
        display_name: "Echo test".into(),
        role: Role::Agent,
    };
    let (tx, rx) = mpsc::channel(256);
    // A fresh random id is never connected yet, so this cannot be refused.
    let Ok(conn) = hub.connect_private(user.clone(), caller.id, tx) else {
        return Callee::Unknown;
    };
    tokio::spawn(run(hub, media, conn, rx));
    Callee::User(user)
}

async fn run(
    hub: Arc<Hub>,
    media: Arc<MediaSettings>,
    conn: u64,
    mut rx: mpsc::Receiver<ServerMsg>,
) {
    let (ptx, mut prx) = mpsc::channel::<PeerEvent>(512);
    let mut peer: Option<Peer> = None;
    let mut call_id: Option<Uuid> = None;
    let mut queue: VecDeque<(Instant, RtpPacket)> = VecDeque::new();
    let give_up = Instant::now() + Duration::from_secs(30);
    let end = Instant::now() + MAX_ECHO_CALL;
    loop {
        let next_due = queue
            .front()
            .map(|(t, _)| *t)
            .unwrap_or(end)
            .min(if call_id.is_none() { give_up } else { end });
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(ServerMsg::Incoming { call_id: id, offer, .. }) if call_id.is_none() => {
                    call_id = Some(id);
                    hub.handle(conn, ClientMsg::Ringing { call_id: id }, None);
                    let answered = match offer {
                        Some(offer) => match Peer::new(&media.peer_config(), ptx.clone()).await {
                            Ok(p) => match p.create_answer(&offer).await {
                                Ok(sdp) => {
                                    peer = Some(p);
                                    Ok(sdp)
                                }
                                Err(e) => {
                                    p.close().await;
                                    Err(e.to_string())
                                }
                            },
                            Err(e) => Err(e.to_string()),
                        },
                        None => Err("invite without an SDP offer".into()),
                    };
                    match answered {
                        Ok(sdp) => hub.handle(conn, ClientMsg::Accept { call_id: id, answer: Some(sdp) }, None),
                        Err(e) => {
                            tracing::info!(%id, "echo call refused: {e}");
                            hub.handle(conn, ClientMsg::Hangup { call_id: id, reason: "failed".into() }, None);
                            break;
                        }
                    }
                }
                Some(ServerMsg::Ice { candidate, .. }) => {
                    if let Some(p) = &peer {
                        if let Err(e) = p.add_ice(&candidate).await {
                            tracing::debug!("echo: {e}");
                        }
                    }
                }
                Some(ServerMsg::Hangup { .. }) | None => break,
                Some(_) => {}
            },
            ev = prx.recv() => match ev {
                Some(PeerEvent::LocalIce(candidate)) => {
                    if let Some(id) = call_id {
                        hub.handle(conn, ClientMsg::Ice { call_id: id, candidate }, None);
                    }
                }
                Some(PeerEvent::Rtp(p, at)) => queue.push_back((Instant::from_std(at) + media.echo_delay, p)),
                Some(PeerEvent::Failed(why)) => {
                    if let Some(id) = call_id {
                        tracing::info!(%id, "echo call lost: {why}");
                        hub.handle(conn, ClientMsg::Hangup { call_id: id, reason: "network_lost".into() }, None);
                    }
                    break;
                }
                _ => {}
            },
            _ = tokio::time::sleep_until(next_due) => {
                let now = Instant::now();
                if now >= end || (call_id.is_none() && now >= give_up) {
                    if let Some(id) = call_id {
                        hub.handle(conn, ClientMsg::Hangup { call_id: id, reason: "normal".into() }, None);
                    }
                    break;
                }
                while queue.front().is_some_and(|(t, _)| *t <= now) {
                    let (_, mut p) = queue.pop_front().expect("checked");
                    if let Some(peer) = &peer {
                        p.header.ssrc = peer.ssrc;
                        let _ = peer.send_rtp(p).await;
                    }
                }
            }
        }
    }
    if let Some(p) = peer {
        p.close().await;
    }
    hub.disconnect(conn);
}
