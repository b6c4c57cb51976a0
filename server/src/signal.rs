//! Signaling: presence, call setup relay and live "changed" events (protocol in
//! `softphone_proto::signal` and docs/protocol.md). The sockets are `crate::socket`'s.
//!
//! The [`Hub`] is plain state behind a mutex, fed one event at a time
//! (connect, frame, disconnect) and answering by pushing frames into each connection's
//! bounded queue, so it is tested without sockets. A connection whose queue is full is
//! dropped (the client reconnects and pulls) rather than letting one slow reader grow
//! the server's memory.

use softphone_proto::signal::{ClientMsg, Presence, PresenceEntry, ServerMsg};
use softphone_proto::UserInfo;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Frames queued per connection before it counts as stuck and is dropped.
pub const QUEUE_FRAMES: usize = 1024;
/// Bytes (approximate JSON size) queued per socket before it counts as stuck and is
/// dropped: a reader that stops reading costs the server at most this much.
pub const QUEUE_BYTES: usize = 1024 * 1024;
/// Largest SDP accepted in an invite, an accept or a re-offer, bytes (an audio call's
/// SDP is 1-3 KiB; Chromium's with every codec ~6 KiB).
pub const MAX_SDP_BYTES: usize = 32 * 1024;
/// ICE candidates relayed per call from each side (a host with a few interfaces,
/// STUN and TURN sends 5-20).
pub const MAX_CANDIDATES_PER_SIDE: u32 = 64;
/// Live signaling connections per account (app, CLI, a second device).
pub const MAX_CONNS_PER_USER: usize = 8;
/// Frames per second a connection may send, sustained, and in a burst (ICE trickling
/// at call start). Over it the connection gets `signal.rate_limited` and is closed.
pub const FRAME_RATE_PER_SEC: u32 = 20;
/// See [`FRAME_RATE_PER_SEC`].
pub const FRAME_BURST: u32 = 200;

/// Whose a connection is, which decides what it may see and who may call it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// An account of the organisation: sees the organisation's presence and `changed`
    /// events, and any colleague may call it.
    Member,
    /// A peer that exists for one agent only (a browser-link guest, an echo peer): it
    /// receives nothing about the organisation, its presence is never published, and
    /// only `owner` may invite it. Colleagues get `not_found`, as for an unknown id.
    Private {
        /// The agent who made the link or started the echo test.
        owner: Uuid,
    },
}

struct Conn {
    user: UserInfo,
    audience: Audience,
    tx: mpsc::Sender<ServerMsg>,
    /// SHA-256 of the bearer token the socket was opened with (members only).
    token_sha256: Option<String>,
    /// Bytes queued for the socket's writer, which subtracts what it sent (sockets
    /// only; in-process peers like the echo test read their queue at once).
    queued: Option<Arc<AtomicUsize>>,
}

/// A private peer's id already has a live connection (a call link open in a second
/// browser).
#[derive(Debug, PartialEq, Eq)]
pub struct AlreadyConnected;

struct CallLeg {
    caller: Uuid,
    caller_conn: u64,
    callee: Uuid,
    callee_conn: Option<u64>,
    /// ICE candidates relayed so far from the caller and from the callee.
    candidates: [u32; 2],
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    conns: HashMap<u64, Conn>,
    /// Connections dropped for a full queue, until their socket task ends.
    dropped: HashMap<u64, (UserInfo, Audience)>,
    presence: HashMap<Uuid, Presence>,
    calls: HashMap<Uuid, CallLeg>,
    /// A call with a private peer (a link's guest, the echo peer) is known to that
    /// peer by an alias, never by its call id: the call id becomes the id of the
    /// agent's call record and recording, and a guest who knew it could claim it from
    /// an account in another organisation before the agent's record synced (the
    /// record and the upload would then be refused to the agent). Call id -> alias.
    alias_of: HashMap<Uuid, Uuid>,
    /// Alias -> call id.
    call_of_alias: HashMap<Uuid, Uuid>,
}

/// Connected clients, their presence and the calls being set up or in progress.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
}

/// Result of looking up an invite's callee in the database.
pub enum Callee {
    /// A user of the caller's organisation.
    User(UserInfo),
    /// No such user in the caller's organisation.
    Unknown,
}

impl Inner {
    fn send(&mut self, conn: u64, mut msg: ServerMsg) {
        let full = match self.conns.get(&conn) {
            Some(c) => {
                if matches!(c.audience, Audience::Private { .. }) {
                    if let Some(id) = msg.call_id_mut() {
                        if let Some(alias) = self.alias_of.get(id) {
                            *id = *alias;
                        }
                    }
                }
                let bytes = wire_bytes(&msg);
                let over = c
                    .queued
                    .as_ref()
                    .is_some_and(|q| q.load(Ordering::Relaxed) + bytes > QUEUE_BYTES);
                if over || c.tx.try_send(msg).is_err() {
                    true
                } else {
                    if let Some(q) = &c.queued {
                        q.fetch_add(bytes, Ordering::Relaxed);
                    }
                    false
                }
            }
            None => false,
        };
        if full {
            tracing::warn!(conn, "signaling queue full or closed; dropping connection");
            if let Some(c) = self.conns.remove(&conn) {
                self.dropped.insert(conn, (c.user, c.audience));
            }
        }
    }

    fn conns_of(&self, user: Uuid) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.user.id == user)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Sends `msg` to every member connection of `org` (never to private peers).
    fn broadcast_org(&mut self, org: Uuid, msg: &ServerMsg, except: Option<u64>) {
        let ids: Vec<u64> = self
            .conns
            .iter()
            .filter(|(id, c)| {
                c.user.org_id == org && c.audience == Audience::Member && Some(**id) != except
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send(id, msg.clone());
        }
    }

    fn presence_of(&self, user: Uuid) -> Presence {
        if self.conns_of(user).is_empty() {
            Presence::Offline
        } else {
            self.presence
                .get(&user)
                .copied()
                .unwrap_or(Presence::Available)
        }
    }

    /// The audience of a user's live connections (`None` when not connected).
    fn audience_of(&self, user: Uuid) -> Option<Audience> {
        self.conns
            .values()
            .find(|c| c.user.id == user)
            .map(|c| c.audience)
    }

    /// Tells who may see `user` its current presence: the organisation's members for a
    /// member; only the owner's member connections for a private peer (the agent who
    /// made a link learns that the prospect opened it; nobody else does).
    fn publish_presence(&mut self, user: &UserInfo, audience: Audience, except: Option<u64>) {
        let msg = ServerMsg::Presence(PresenceEntry {
            user_id: user.id,
            display_name: user.display_name.clone(),
            status: self.presence_of(user.id),
        });
        match audience {
            Audience::Member => self.broadcast_org(user.org_id, &msg, except),
            Audience::Private { owner } => {
                let ids: Vec<u64> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.user.id == owner && c.audience == Audience::Member)
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    self.send(id, msg.clone());
                }
            }
        }
    }

    /// Ends `call_id` on every device of `user` except `keep`.
    fn hang_up_other_devices(&mut self, user: Uuid, keep: u64, call_id: Uuid, reason: &str) {
        for dev in self.conns_of(user) {
            if dev != keep {
                self.send(
                    dev,
                    ServerMsg::Hangup {
                        call_id,
                        reason: reason.into(),
                    },
                );
            }
        }
    }

    /// The other side(s) of `call` as seen from `conn`.
    fn peers(&self, call: &CallLeg, conn: u64) -> Option<Vec<u64>> {
        if conn == call.caller_conn {
            Some(match call.callee_conn {
                Some(c) => vec![c],
                None => self.conns_of(call.callee),
            })
        } else if call.callee_conn == Some(conn)
            || (call.callee_conn.is_none() && self.conns_of(call.callee).contains(&conn))
        {
            Some(vec![call.caller_conn])
        } else {
            None
        }
    }
}

/// A frame's size on the wire, bytes: its variable-length fields plus a fixed ~160
/// for the keys, ids and punctuation. Close enough to bound a queue.
pub(crate) fn wire_bytes(msg: &ServerMsg) -> usize {
    160 + match msg {
        ServerMsg::Welcome { presence, .. } => presence
            .iter()
            .map(|p| 96 + p.display_name.len())
            .sum::<usize>(),
        ServerMsg::Presence(p) => p.display_name.len(),
        ServerMsg::Incoming {
            from_name, offer, ..
        } => from_name.len() + offer.as_ref().map_or(0, String::len),
        ServerMsg::Accepted { answer, .. } => answer.as_ref().map_or(0, String::len),
        ServerMsg::Rejected { reason, .. }
        | ServerMsg::CallFailed { reason, .. }
        | ServerMsg::Hangup { reason, .. } => reason.len(),
        ServerMsg::Sdp { sdp, .. } => sdp.len(),
        ServerMsg::Ice { candidate, .. } => {
            candidate.candidate.len() + candidate.sdp_mid.as_ref().map_or(0, String::len)
        }
        ServerMsg::Error { message, .. } => message.len(),
        _ => 0,
    }
}

pub(crate) fn signal_error(code: &str, message: impl Into<String>) -> ServerMsg {
    ServerMsg::Error {
        code: code.into(),
        message: message.into(),
    }
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a connection; queues `welcome` with the organisation's presence
    /// (`members`: every account of the organisation) and announces the user.
    pub fn connect(
        &self,
        user: UserInfo,
        members: Vec<UserInfo>,
        tx: mpsc::Sender<ServerMsg>,
    ) -> u64 {
        let mut g = self.lock();
        g.next_id += 1;
        let id = g.next_id;
        let first = g.conns_of(user.id).is_empty();
        if first {
            g.presence.insert(user.id, Presence::Available);
        }
        g.conns.insert(
            id,
            Conn {
                user: user.clone(),
                audience: Audience::Member,
                tx,
                token_sha256: None,
                queued: None,
            },
        );
        let mut presence: Vec<PresenceEntry> = members
            .iter()
            .map(|m| PresenceEntry {
                user_id: m.id,
                display_name: m.display_name.clone(),
                status: g.presence_of(m.id),
            })
            .collect();
        // The user's own private peers (a link's guest already waiting) are theirs to see.
        presence.extend(
            g.conns
                .values()
                .filter(|c| c.audience == Audience::Private { owner: user.id })
                .map(|c| PresenceEntry {
                    user_id: c.user.id,
                    display_name: c.user.display_name.clone(),
                    status: Presence::Available,
                }),
        );
        g.send(
            id,
            ServerMsg::Welcome {
                user_id: user.id,
                presence,
            },
        );
        if first {
            // The new connection learnt its own state from `welcome`.
            g.publish_presence(&user, Audience::Member, Some(id));
        }
        id
    }

    /// Registers a private peer (see [`Audience::Private`]) owned by `owner`; queues a
    /// `welcome` with no presence and announces the peer to its owner only. At most one live connection per
    /// peer id: a second one is refused with [`AlreadyConnected`].
    pub fn connect_private(
        &self,
        user: UserInfo,
        owner: Uuid,
        tx: mpsc::Sender<ServerMsg>,
    ) -> Result<u64, AlreadyConnected> {
        let mut g = self.lock();
        if !g.conns_of(user.id).is_empty() || g.dropped.values().any(|(u, _)| u.id == user.id) {
            return Err(AlreadyConnected);
        }
        g.next_id += 1;
        let id = g.next_id;
        g.presence.insert(user.id, Presence::Available);
        g.conns.insert(
            id,
            Conn {
                user: user.clone(),
                audience: Audience::Private { owner },
                tx,
                token_sha256: None,
                queued: None,
            },
        );
        g.send(
            id,
            ServerMsg::Welcome {
                user_id: user.id,
                presence: vec![],
            },
        );
        g.publish_presence(&user, Audience::Private { owner }, None);
        Ok(id)
    }

    /// The user behind a live connection with this user id (guests and the echo peer
    /// included), if any.
    pub fn connected_user(&self, id: Uuid) -> Option<UserInfo> {
        let g = self.lock();
        g.conns
            .values()
            .find(|c| c.user.id == id)
            .map(|c| c.user.clone())
    }

    /// Forgets a connection: its calls end for the other side with
    /// `peer_disconnected`, and the user goes offline when it was their last one.
    pub fn disconnect(&self, conn: u64) {
        let mut g = self.lock();
        let Some((user, audience)) = g
            .conns
            .remove(&conn)
            .map(|c| (c.user, c.audience))
            .or_else(|| g.dropped.remove(&conn))
        else {
            return;
        };
        let ended: Vec<Uuid> = g
            .calls
            .iter()
            .filter(|(_, call)| {
                call.caller_conn == conn
                    || call.callee_conn == Some(conn)
                    || (call.callee_conn.is_none()
                        && call.callee == user.id
                        && g.conns_of(user.id).is_empty())
            })
            .map(|(id, _)| *id)
            .collect();
        for call_id in ended {
            if let Some(call) = g.calls.remove(&call_id) {
                let others = if call.caller_conn == conn {
                    match call.callee_conn {
                        Some(x) => vec![x],
                        None => g.conns_of(call.callee),
                    }
                } else {
                    vec![call.caller_conn]
                };
                for o in others {
                    g.send(
                        o,
                        ServerMsg::Hangup {
                            call_id,
                            reason: "peer_disconnected".into(),
                        },
                    );
                }
            }
        }
        g.forget_ended_aliases();
        if g.conns_of(user.id).is_empty() {
            g.presence.remove(&user.id);
            g.publish_presence(&user, audience, None);
        }
    }

    /// Marks `conn` as a socket opened with the token whose SHA-256 is `token_sha256`
    /// (for [`Hub::kick_token`]), whose writer subtracts what it sent from `queued`.
    pub fn attach(&self, conn: u64, token_sha256: Option<String>, queued: Arc<AtomicUsize>) {
        if let Some(c) = self.lock().conns.get_mut(&conn) {
            c.token_sha256 = token_sha256;
            c.queued = Some(queued);
        }
    }

    /// (open connections, calls ringing or in progress), for the metrics.
    pub fn counts(&self) -> (usize, usize) {
        let g = self.lock();
        (g.conns.len(), g.calls.len())
    }

    /// Live connections of `user`.
    pub fn conn_count(&self, user: Uuid) -> usize {
        self.lock().conns_of(user).len()
    }

    /// Private peers owned by `owner` whose account e-mail is `email` (e.g. echo peers).
    pub fn private_peers(&self, owner: Uuid, email: &str) -> usize {
        self.lock()
            .conns
            .values()
            .filter(|c| c.audience == Audience::Private { owner } && c.user.email == email)
            .count()
    }

    /// Closes every connection opened with this token (logout, revocation); returns how
    /// many. Their calls end for the other side as on a disconnect.
    pub fn kick_token(&self, token_sha256: &str) -> usize {
        self.kick(|c| c.token_sha256.as_deref() == Some(token_sha256))
    }

    /// Closes the connection of private peer `id` (a revoked link's page); returns how
    /// many were closed.
    pub fn kick_private(&self, id: Uuid) -> usize {
        self.kick(|c| c.user.id == id && matches!(c.audience, Audience::Private { .. }))
    }

    /// Closes every connection of `user` (account disabled); returns how many.
    pub fn kick_user(&self, user: Uuid) -> usize {
        self.kick(|c| c.user.id == user && c.audience == Audience::Member)
    }

    fn kick(&self, which: impl Fn(&Conn) -> bool) -> usize {
        let ids: Vec<u64> = {
            let g = self.lock();
            g.conns
                .iter()
                .filter(|(_, c)| which(c))
                .map(|(id, _)| *id)
                .collect()
        };
        // Forgetting the connection drops its queue's sender: the socket's writer
        // ends, closes the socket, and the reader follows.
        for id in &ids {
            self.disconnect(*id);
        }
        ids.len()
    }

    /// Queues one frame for `conn`.
    pub fn reply(&self, conn: u64, msg: ServerMsg) {
        self.lock().send(conn, msg);
    }

    /// Tells every connection of `org` that its data changed up to `seq`.
    pub fn changed(&self, org: Uuid, seq: i64) {
        self.lock()
            .broadcast_org(org, &ServerMsg::Changed { seq }, None);
    }

    /// Current presence of a user.
    pub fn presence(&self, user: Uuid) -> Presence {
        self.lock().presence_of(user)
    }

    /// Handles one frame from `conn`. An invite needs its callee looked up first
    /// (`callee`); other frames pass `None`.
    pub fn handle(&self, conn: u64, mut msg: ClientMsg, callee: Option<Callee>) {
        let mut g = self.lock();
        let Some((me, audience)) = g.conns.get(&conn).map(|c| (c.user.clone(), c.audience)) else {
            return;
        };
        // A private peer names calls by their alias only; anything else is no call of
        // theirs.
        if matches!(audience, Audience::Private { .. }) {
            let invite = matches!(msg, ClientMsg::Invite { .. });
            if let Some(id) = msg.call_id_mut() {
                match g.call_of_alias.get(id) {
                    Some(real) => *id = *real,
                    // Refused below: a private peer places no calls.
                    None if invite => {}
                    None => {
                        let unknown = *id;
                        return g.send(
                            conn,
                            signal_error("signal.unknown_call", format!("no call {unknown}")),
                        );
                    }
                }
            }
        }
        g.handle_msg(conn, me, msg, callee);
        g.forget_ended_aliases();
    }
}

impl Inner {
    /// Drops the aliases of calls that ended (after their last message was sent, so
    /// that message still went out under the alias).
    fn forget_ended_aliases(&mut self) {
        // The two maps always hold the same calls; more than there are calls means
        // some ended.
        if self.alias_of.len() > self.calls.len() {
            let calls = &self.calls;
            self.alias_of.retain(|call, _| calls.contains_key(call));
            self.call_of_alias
                .retain(|_, call| calls.contains_key(call));
        }
    }

    fn handle_msg(&mut self, conn: u64, me: UserInfo, msg: ClientMsg, callee: Option<Callee>) {
        let g = self;
        match msg {
            ClientMsg::Ping => g.send(conn, ServerMsg::Pong),
            ClientMsg::Presence { status } => {
                if status == Presence::Offline {
                    g.send(
                        conn,
                        signal_error(
                            "signal.malformed",
                            "offline is not settable; close the connection",
                        ),
                    );
                    return;
                }
                g.presence.insert(me.id, status);
                g.publish_presence(&me, Audience::Member, None);
            }
            // `to` was resolved into `callee` by the caller of `handle`.
            ClientMsg::Invite { call_id, offer, .. } => {
                let fail = |g: &mut Inner, reason: &str| {
                    g.send(
                        conn,
                        ServerMsg::CallFailed {
                            call_id,
                            reason: reason.into(),
                        },
                    )
                };
                if offer.as_ref().is_some_and(|o| o.len() > MAX_SDP_BYTES) {
                    return fail(g, "sdp_too_large");
                }
                if g.calls.contains_key(&call_id) {
                    return fail(g, "duplicate_call_id");
                }
                let callee = match callee {
                    Some(Callee::User(u)) if u.org_id == me.org_id => u,
                    _ => return fail(g, "not_found"),
                };
                if callee.id == me.id {
                    return fail(g, "self");
                }
                // A link's guest or an echo peer answers its owner only; to anyone else
                // it does not exist.
                if let Some(Audience::Private { owner }) = g.audience_of(callee.id) {
                    if owner != me.id {
                        return fail(g, "not_found");
                    }
                }
                match g.presence_of(callee.id) {
                    Presence::Offline => return fail(g, "offline"),
                    Presence::Busy | Presence::WrapUp => return fail(g, "busy"),
                    Presence::Available => {}
                }
                g.calls.insert(
                    call_id,
                    CallLeg {
                        caller: me.id,
                        caller_conn: conn,
                        callee: callee.id,
                        callee_conn: None,
                        candidates: [0, 0],
                    },
                );
                if matches!(g.audience_of(callee.id), Some(Audience::Private { .. })) {
                    let alias = Uuid::new_v4();
                    g.alias_of.insert(call_id, alias);
                    g.call_of_alias.insert(alias, call_id);
                }
                tracing::info!(%call_id, caller = %me.id, callee = %callee.id, "invite");
                for c in g.conns_of(callee.id) {
                    g.send(
                        c,
                        ServerMsg::Incoming {
                            call_id,
                            from: me.id,
                            from_name: me.display_name.clone(),
                            offer: offer.clone(),
                        },
                    );
                }
            }
            other => {
                let call_id = match &other {
                    ClientMsg::Ringing { call_id }
                    | ClientMsg::Accept { call_id, .. }
                    | ClientMsg::Reject { call_id, .. }
                    | ClientMsg::Sdp { call_id, .. }
                    | ClientMsg::Ice { call_id, .. }
                    | ClientMsg::Hangup { call_id, .. } => *call_id,
                    _ => return,
                };
                let Some(call) = g.calls.get(&call_id) else {
                    return g.send(
                        conn,
                        signal_error("signal.unknown_call", format!("no call {call_id}")),
                    );
                };
                let Some(peers) = g.peers(call, conn) else {
                    return g.send(
                        conn,
                        signal_error("signal.not_party", "you are not part of this call"),
                    );
                };
                let from_caller = conn == call.caller_conn;
                let (caller, callee) = (call.caller, call.callee);
                let sdp_len = match &other {
                    ClientMsg::Accept { answer, .. } => answer.as_ref().map_or(0, String::len),
                    ClientMsg::Sdp { sdp, .. } => sdp.len(),
                    _ => 0,
                };
                if sdp_len > MAX_SDP_BYTES {
                    return g.send(
                        conn,
                        signal_error(
                            "signal.too_large",
                            format!("SDP of {sdp_len} bytes; at most {MAX_SDP_BYTES}"),
                        ),
                    );
                }
                if matches!(other, ClientMsg::Ice { .. }) {
                    let side = usize::from(!from_caller);
                    let Some(leg) = g.calls.get_mut(&call_id) else {
                        return;
                    };
                    leg.candidates[side] += 1;
                    if leg.candidates[side] > MAX_CANDIDATES_PER_SIDE {
                        return g.send(
                            conn,
                            signal_error(
                                "signal.too_many_candidates",
                                format!(
                                    "at most {MAX_CANDIDATES_PER_SIDE} ICE candidates per call"
                                ),
                            ),
                        );
                    }
                }
                let callee_only = |g: &mut Inner| {
                    if from_caller {
                        g.send(
                            conn,
                            signal_error("signal.not_party", "only the callee may do this"),
                        );
                        false
                    } else {
                        true
                    }
                };
                match other {
                    ClientMsg::Ringing { .. } if callee_only(g) => {
                        g.send(peers[0], ServerMsg::Ringing { call_id });
                    }
                    ClientMsg::Accept { answer, .. } => {
                        if !callee_only(g) {
                            return;
                        }
                        if g.calls
                            .get(&call_id)
                            .is_some_and(|c| c.callee_conn.is_some())
                        {
                            return g.send(
                                conn,
                                signal_error("signal.not_party", "the call is already answered"),
                            );
                        }
                        if let Some(c) = g.calls.get_mut(&call_id) {
                            c.callee_conn = Some(conn);
                        }
                        g.send(peers[0], ServerMsg::Accepted { call_id, answer });
                        g.hang_up_other_devices(callee, conn, call_id, "answered_elsewhere");
                        tracing::info!(%call_id, %caller, %callee, "accepted");
                    }
                    ClientMsg::Reject { reason, .. } => {
                        if !callee_only(g) {
                            return;
                        }
                        g.calls.remove(&call_id);
                        g.send(peers[0], ServerMsg::Rejected { call_id, reason });
                        g.hang_up_other_devices(callee, conn, call_id, "rejected_elsewhere");
                    }
                    ClientMsg::Sdp { kind, sdp, .. } => {
                        for p in peers {
                            g.send(
                                p,
                                ServerMsg::Sdp {
                                    call_id,
                                    kind,
                                    sdp: sdp.clone(),
                                },
                            );
                        }
                    }
                    ClientMsg::Ice { candidate, .. } => {
                        for p in peers {
                            g.send(
                                p,
                                ServerMsg::Ice {
                                    call_id,
                                    candidate: candidate.clone(),
                                },
                            );
                        }
                    }
                    ClientMsg::Hangup { reason, .. } => {
                        g.calls.remove(&call_id);
                        for p in peers {
                            g.send(
                                p,
                                ServerMsg::Hangup {
                                    call_id,
                                    reason: reason.clone(),
                                },
                            );
                        }
                        tracing::info!(%call_id, %reason, "hangup");
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use softphone_proto::Role;

    fn user(org: Uuid, name: &str) -> UserInfo {
        UserInfo {
            id: Uuid::now_v7(),
            org_id: org,
            org_name: "Acme".into(),
            email: format!("{name}@acme.test"),
            display_name: name.into(),
            role: Role::Agent,
        }
    }

    fn drain(rx: &mut mpsc::Receiver<ServerMsg>) -> Vec<ServerMsg> {
        let mut out = Vec::new();
        while let Ok(m) = rx.try_recv() {
            out.push(m);
        }
        out
    }

    #[test]
    fn invite_to_second_device_answered_on_one_hangs_up_the_other() {
        let hub = Hub::default();
        let org = Uuid::now_v7();
        let (a, b) = (user(org, "alice"), user(org, "bob"));
        let members = vec![a.clone(), b.clone()];
        let (ta, mut ra) = mpsc::channel(64);
        let (tb1, mut rb1) = mpsc::channel(64);
        let (tb2, mut rb2) = mpsc::channel(64);
        let ca = hub.connect(a.clone(), members.clone(), ta);
        let cb1 = hub.connect(b.clone(), members.clone(), tb1);
        let _cb2 = hub.connect(b.clone(), members.clone(), tb2);
        drain(&mut ra);
        drain(&mut rb1);
        drain(&mut rb2);
        let call_id = Uuid::now_v7();
        hub.handle(
            ca,
            ClientMsg::Invite {
                call_id,
                to: b.id.to_string(),
                offer: Some("v=0".into()),
            },
            Some(Callee::User(b.clone())),
        );
        assert!(matches!(drain(&mut rb1)[..], [ServerMsg::Incoming { .. }]));
        assert!(matches!(drain(&mut rb2)[..], [ServerMsg::Incoming { .. }]));
        hub.handle(
            cb1,
            ClientMsg::Accept {
                call_id,
                answer: Some("v=0 answer".into()),
            },
            None,
        );
        assert_eq!(
            drain(&mut ra),
            vec![ServerMsg::Accepted {
                call_id,
                answer: Some("v=0 answer".into())
            }]
        );
        assert_eq!(
            drain(&mut rb2),
            vec![ServerMsg::Hangup {
                call_id,
                reason: "answered_elsewhere".into()
            }]
        );
        hub.disconnect(cb1);
        assert_eq!(
            drain(&mut ra),
            vec![ServerMsg::Hangup {
                call_id,
                reason: "peer_disconnected".into()
            }]
        );
    }

    /// A link's guest (and the echo peer) never learns the agent's call id, which is
    /// the id of the agent's call record and recording: it gets an alias, answers
    /// under it, and the real id from the guest's side is no call at all.
    #[test]
    fn a_guest_knows_the_call_by_an_alias_only() {
        let hub = Hub::default();
        let org = Uuid::now_v7();
        let (a, guest) = (user(org, "alice"), user(org, "guest"));
        let (ta, mut ra) = mpsc::channel(64);
        let (tg, mut rg) = mpsc::channel(64);
        let ca = hub.connect(a.clone(), vec![a.clone()], ta);
        let cg = hub.connect_private(guest.clone(), a.id, tg).unwrap();
        drain(&mut ra);
        let mut to_guest = drain(&mut rg);
        let call_id = Uuid::now_v7();
        hub.handle(
            ca,
            ClientMsg::Invite {
                call_id,
                to: guest.id.to_string(),
                offer: Some("v=0".into()),
            },
            Some(Callee::User(guest.clone())),
        );
        let got = drain(&mut rg);
        let alias = match got.as_slice() {
            [ServerMsg::Incoming { call_id, .. }] => *call_id,
            other => panic!("{other:?}"),
        };
        assert_ne!(alias, call_id);
        to_guest.extend(got);

        // The real id from the guest is refused and the agent hears nothing.
        hub.handle(cg, ClientMsg::Ringing { call_id }, None);
        let got = drain(&mut rg);
        assert!(
            matches!(&got[..], [ServerMsg::Error { code, .. }] if code == "signal.unknown_call"),
            "{got:?}"
        );
        assert!(drain(&mut ra).is_empty());

        // Under the alias everything flows, and the agent sees the real id.
        hub.handle(cg, ClientMsg::Ringing { call_id: alias }, None);
        hub.handle(
            cg,
            ClientMsg::Accept {
                call_id: alias,
                answer: Some("v=0".into()),
            },
            None,
        );
        let ice = softphone_proto::signal::IceCandidate {
            candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
            sdp_mid: None,
            sdp_mline_index: None,
        };
        hub.handle(
            cg,
            ClientMsg::Ice {
                call_id: alias,
                candidate: ice.clone(),
            },
            None,
        );
        let at_agent = drain(&mut ra);
        assert_eq!(at_agent.len(), 3, "{at_agent:?}");
        for mut m in at_agent {
            assert_eq!(m.call_id_mut().copied(), Some(call_id), "{m:?}");
        }
        hub.handle(
            ca,
            ClientMsg::Ice {
                call_id,
                candidate: ice,
            },
            None,
        );
        hub.handle(
            ca,
            ClientMsg::Hangup {
                call_id,
                reason: "normal".into(),
            },
            None,
        );
        let got = drain(&mut rg);
        assert_eq!(got.len(), 2, "{got:?}");
        for m in &got {
            assert_eq!(m.clone().call_id_mut().copied(), Some(alias), "{m:?}");
        }
        to_guest.extend(got);
        let wire = serde_json::to_string(&to_guest).unwrap();
        assert!(!wire.contains(&call_id.to_string()), "{wire}");

        // The call is over: its alias is no call any more.
        hub.handle(cg, ClientMsg::Ringing { call_id: alias }, None);
        assert!(matches!(
            &drain(&mut rg)[..],
            [ServerMsg::Error { code, .. }] if code == "signal.unknown_call"
        ));
        let g = hub.lock();
        assert!(g.alias_of.is_empty() && g.call_of_alias.is_empty());
    }

    #[test]
    fn stuck_connection_is_dropped_not_buffered() {
        let hub = Hub::default();
        let org = Uuid::now_v7();
        let a = user(org, "alice");
        let (ta, _ra) = mpsc::channel(4);
        let ca = hub.connect(a.clone(), vec![a.clone()], ta);
        for seq in 0..10 {
            hub.changed(org, seq);
        }
        assert_eq!(hub.presence(a.id), Presence::Offline);
        hub.handle(ca, ClientMsg::Ping, None);
    }

    #[test]
    fn a_reader_that_stops_reading_costs_at_most_queue_bytes() {
        let hub = Hub::default();
        let org = Uuid::now_v7();
        let (a, b) = (user(org, "alice"), user(org, "bob"));
        let members = vec![a.clone(), b.clone()];
        let (ta, _ra) = mpsc::channel(QUEUE_FRAMES);
        let (tb, _rb) = mpsc::channel(QUEUE_FRAMES);
        let ca = hub.connect(a.clone(), members.clone(), ta);
        let cb = hub.connect(b.clone(), members, tb);
        let queued = Arc::new(AtomicUsize::new(0));
        hub.attach(cb, None, Arc::clone(&queued));
        let call_id = Uuid::now_v7();
        hub.handle(
            ca,
            ClientMsg::Invite {
                call_id,
                to: b.id.to_string(),
                offer: Some("v=0".into()),
            },
            Some(Callee::User(b.clone())),
        );
        // Bob never reads; Alice re-offers the largest SDP allowed, again and again.
        let sdp = "a".repeat(MAX_SDP_BYTES);
        let mut sent = 0;
        while hub.presence(b.id) != Presence::Offline && sent < QUEUE_FRAMES {
            hub.handle(
                ca,
                ClientMsg::Sdp {
                    call_id,
                    kind: softphone_proto::signal::SdpKind::Offer,
                    sdp: sdp.clone(),
                },
                None,
            );
            sent += 1;
        }
        assert_eq!(
            hub.presence(b.id),
            Presence::Offline,
            "dropped, not buffered"
        );
        assert!(queued.load(Ordering::Relaxed) <= QUEUE_BYTES);
        assert!(sent <= QUEUE_BYTES / MAX_SDP_BYTES + 1, "{sent} frames");
    }

    proptest::proptest! {
        // The frame parser and the hub on any input: a string that is not a frame is
        // refused, and any sequence of frames from two agents and a guest leaves the
        // hub consistent (no panic, queues within their byte bound).
        #[test]
        fn any_text_is_a_frame_or_refused(t in proptest::prelude::any::<String>()) {
            let _ = serde_json::from_str::<ClientMsg>(&t);
        }

        #[test]
        fn any_sequence_of_frames_keeps_the_hub_sound(
            ops in proptest::collection::vec((0usize..3, 0u8..8, 0usize..3, 0usize..40_000), 0..60)
        ) {
            let hub = Hub::default();
            let org = Uuid::now_v7();
            let (a, b) = (user(org, "alice"), user(org, "bob"));
            let guest = user(org, "guest");
            let members = vec![a.clone(), b.clone()];
            let (ta, _ra) = mpsc::channel(QUEUE_FRAMES);
            let (tb, _rb) = mpsc::channel(QUEUE_FRAMES);
            let (tg, _rg) = mpsc::channel(QUEUE_FRAMES);
            let ca = hub.connect(a.clone(), members.clone(), ta);
            let cb = hub.connect(b.clone(), members, tb);
            let cg = hub.connect_private(guest.clone(), a.id, tg).unwrap();
            let queued = Arc::new(AtomicUsize::new(0));
            hub.attach(cb, None, Arc::clone(&queued));
            let conns = [ca, cb, cg];
            let users = [a.clone(), b.clone(), guest.clone()];
            let calls = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
            for (from, kind, target, len) in ops {
                let call_id = calls[target];
                let sdp = "a".repeat(len);
                let msg = match kind {
                    0 => ClientMsg::Invite { call_id, to: users[target].id.to_string(), offer: Some(sdp) },
                    1 => ClientMsg::Ringing { call_id },
                    2 => ClientMsg::Accept { call_id, answer: Some(sdp) },
                    3 => ClientMsg::Reject { call_id, reason: "busy".into() },
                    4 => ClientMsg::Sdp { call_id, kind: softphone_proto::signal::SdpKind::Offer, sdp },
                    5 => ClientMsg::Ice { call_id, candidate: softphone_proto::signal::IceCandidate { candidate: sdp, sdp_mid: None, sdp_mline_index: None } },
                    6 => ClientMsg::Hangup { call_id, reason: "normal".into() },
                    _ => ClientMsg::Ping,
                };
                let callee = matches!(msg, ClientMsg::Invite { .. }).then(|| Callee::User(users[target].clone()));
                hub.handle(conns[from], msg, callee);
                proptest::prop_assert!(queued.load(Ordering::Relaxed) <= QUEUE_BYTES);
            }
            hub.disconnect(ca);
            hub.disconnect(cg);
        }
    }
}
