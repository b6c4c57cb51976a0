//! The signaling WebSocket: authenticates a socket, keeps it alive, rate-limits its
//! frames, and feeds them to the [`crate::signal::Hub`] (which holds the state and the rules, and is
//! tested without sockets); invites to `echo` start the server's own peer
//! ([`crate::echo`]). This is the only place the Hub meets the network, so the Hub and
//! the echo peer depend on it, never the other way round.

use crate::extract::Query;
use crate::signal::{
    signal_error, wire_bytes, AlreadyConnected, Callee, FRAME_BURST, FRAME_RATE_PER_SEC,
    MAX_CONNS_PER_USER, MAX_SDP_BYTES, QUEUE_FRAMES,
};
use crate::{db, AppState, Error};
use axum::extract::ws::{Message as WsMessage, WebSocket};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use softphone_proto::signal::{ClientMsg, ServerMsg};
use softphone_proto::UserInfo;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Query of the upgrade request.
#[derive(Debug, Deserialize)]
pub struct SignalQuery {
    /// Bearer token for browsers, which cannot set headers on a WebSocket.
    pub access_token: Option<String>,
}

/// Keepalive of signaling sockets: a WebSocket ping every `ping`, and a socket that
/// sent nothing (not even a pong) for `idle` is closed, so an agent whose laptop
/// vanished stops showing as available. Each ping also re-checks the socket's token, so
/// a revoked session or a disabled account is cut within `ping`.
#[derive(Debug, Clone, Copy)]
pub struct Keepalive {
    /// Ping interval (default 15 s).
    pub ping: Duration,
    /// Silence after which the socket is closed (default 45 s).
    pub idle: Duration,
}

/// `GET /api/v1/signal`: authenticates, then upgrades to the signaling WebSocket.
///
/// Errors: 401 as for every route; 429 `signal.too_many_connections` past
/// [`MAX_CONNS_PER_USER`] live sockets for the account.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SignalQuery>,
    crate::extract::WsUpgrade(ws): crate::extract::WsUpgrade,
) -> Result<Response, Error> {
    let token = crate::bearer(&headers)
        .ok()
        .or(q.access_token)
        .ok_or_else(crate::missing_token)?;
    let caller = crate::authenticate(&state, &token).await?;
    let user = caller.user;
    if state.hub.conn_count(user.id) >= MAX_CONNS_PER_USER {
        return Err(Error::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "signal.too_many_connections",
            format!(
                "at most {MAX_CONNS_PER_USER} signaling connections per account; close another device"
            ),
        ));
    }
    let org = user.org_id;
    let members = state
        .with_read(move |c| db::users::in_org(c, org).map_err(Error::internal))
        .await?;
    // Signaling frames are small; tungstenite's 128 KiB default buffers per connection
    // would cost ~0.25 MB per idle agent.
    Ok(ws
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(MAX_SDP_BYTES + 4 * 1024)
        .on_upgrade(move |socket| run(state, socket, user, members, caller.token_sha256)))
}

/// Runs a browser-link guest's connection: it can be called by `owner` and answer,
/// never call. A second connection for the same link gets one `error` frame
/// `link.in_use` and is closed.
pub async fn run_guest(state: AppState, mut socket: WebSocket, user: UserInfo, owner: Uuid) {
    use futures_util::SinkExt;
    let (tx, rx) = mpsc::channel::<ServerMsg>(QUEUE_FRAMES);
    let conn = match state.hub.connect_private(user.clone(), owner, tx) {
        Ok(conn) => conn,
        Err(AlreadyConnected) => {
            let frame = signal_error(
                "link.in_use",
                "this call link is already open in another browser",
            );
            if let Ok(text) = serde_json::to_string(&frame) {
                let _ = socket.send(WsMessage::Text(text.into())).await;
            }
            let _ = socket.close().await;
            return;
        }
    };
    run_conn(state, socket, user, conn, rx, None).await
}

async fn run(
    state: AppState,
    socket: WebSocket,
    user: UserInfo,
    members: Vec<UserInfo>,
    token_sha256: String,
) {
    let (tx, rx) = mpsc::channel::<ServerMsg>(QUEUE_FRAMES);
    let conn = state.hub.connect(user.clone(), members, tx);
    run_conn(state, socket, user, conn, rx, Some(token_sha256)).await
}

/// One socket: a writer task drains the hub's queue; this loop reads frames (rate
/// limited), pings, and ends on close, silence, an invalid token or the writer ending
/// (the hub dropped the connection). `token_sha256` is `None` for guests.
async fn run_conn(
    state: AppState,
    socket: WebSocket,
    user: UserInfo,
    conn: u64,
    mut rx: mpsc::Receiver<ServerMsg>,
    token_sha256: Option<String>,
) {
    use futures_util::{SinkExt, StreamExt};
    let guest = token_sha256.is_none();
    let queued = Arc::new(AtomicUsize::new(0));
    state
        .hub
        .attach(conn, token_sha256.clone(), Arc::clone(&queued));
    let (mut sink, mut stream) = socket.split();
    let (ping_tx, mut ping_rx) = mpsc::channel::<()>(1);
    let mut writer = tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => break,
                },
                Some(()) = ping_rx.recv() => {
                    if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                        break;
                    }
                    continue;
                }
            };
            queued.fetch_sub(
                wire_bytes(&msg).min(queued.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
            let Ok(text) = serde_json::to_string(&msg) else {
                continue;
            };
            if sink.send(WsMessage::Text(text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let keep = state.keepalive;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + keep.ping, keep.ping);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let frames = governor::RateLimiter::direct(
        governor::Quota::per_second(
            std::num::NonZeroU32::new(FRAME_RATE_PER_SEC).unwrap_or(std::num::NonZeroU32::MIN),
        )
        .allow_burst(std::num::NonZeroU32::new(FRAME_BURST).unwrap_or(std::num::NonZeroU32::MIN)),
    );
    loop {
        let frame = tokio::select! {
            f = stream.next() => f,
            _ = ping.tick() => {
                if last_heard.elapsed() >= keep.idle {
                    tracing::info!(conn, user = %user.id, "signaling socket silent; closing");
                    break;
                }
                if let Some(sha) = &token_sha256 {
                    if !crate::token_valid(&state, sha).await {
                        tracing::info!(conn, user = %user.id, "session ended; closing its signaling socket");
                        break;
                    }
                }
                let _ = ping_tx.try_send(());
                continue;
            }
            _ = &mut writer => break,
        };
        let Some(Ok(frame)) = frame else { break };
        last_heard = Instant::now();
        let text = match frame {
            WsMessage::Text(t) => t,
            WsMessage::Close(_) => break,
            _ => continue,
        };
        if frames.check().is_err() {
            tracing::warn!(conn, user = %user.id, "signaling frame flood; closing");
            state.hub.reply(
                conn,
                signal_error(
                    "signal.rate_limited",
                    format!("more than {FRAME_RATE_PER_SEC} frames per second; closing"),
                ),
            );
            // Let the writer flush the error before the socket goes.
            tokio::time::sleep(Duration::from_millis(50)).await;
            break;
        }
        let msg = match serde_json::from_str::<ClientMsg>(&text) {
            Ok(m) => m,
            Err(e) => {
                state.hub.reply(
                    conn,
                    signal_error("signal.malformed", format!("bad frame: {e}")),
                );
                continue;
            }
        };
        if guest && matches!(msg, ClientMsg::Invite { .. } | ClientMsg::Presence { .. }) {
            state.hub.reply(
                conn,
                signal_error(
                    "signal.forbidden",
                    "a browser guest can answer calls, not place them",
                ),
            );
            continue;
        }
        let callee = match &msg {
            ClientMsg::Invite { to, call_id, .. } if to == crate::echo::ECHO_TARGET => {
                if state.hub.private_peers(user.id, crate::echo::ECHO_EMAIL) > 0 {
                    state.hub.reply(
                        conn,
                        ServerMsg::CallFailed {
                            call_id: *call_id,
                            reason: "echo_in_progress".into(),
                        },
                    );
                    continue;
                }
                Some(crate::echo::start(
                    state.hub.clone(),
                    state.media.clone(),
                    &user,
                ))
            }
            ClientMsg::Invite { to, .. } => Some(lookup_callee(&state, to).await),
            _ => None,
        };
        let answered = guest && matches!(msg, ClientMsg::Accept { .. });
        state.hub.handle(conn, msg, callee);
        if answered {
            // A single-use link is spent once its prospect answered.
            let link = user.id;
            let _ = state
                .with_db(move |c| {
                    db::call_links::mark_used(c, link, crate::now()).map_err(Error::internal)
                })
                .await;
        }
    }
    state.hub.disconnect(conn);
    writer.abort();
    let _ = writer.await;
}

async fn lookup_callee(state: &AppState, to: &str) -> Callee {
    let Ok(id) = Uuid::parse_str(to) else {
        return Callee::Unknown;
    };
    // A browser-link guest (or the echo peer) is not in the database.
    if let Some(u) = state.hub.connected_user(id) {
        return Callee::User(u);
    }
    match state
        .with_read(move |c| db::users::by_id(c, id).map_err(Error::internal))
        .await
    {
        Ok(Some(u)) if !u.disabled => Callee::User(u.info),
        _ => Callee::Unknown,
    }
}
