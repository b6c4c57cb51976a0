//! Signaling over WebSocket (`GET /api/v1/signal`, upgraded): presence, call setup
//! (invite, ringing, accept, reject, SDP offer/answer, trickle ICE, hangup) and live
//! "changed" events. Every frame is one JSON text message tagged by `type`. The full
//! protocol with examples is in docs/protocol.md.
//!
//! Authentication: `Authorization: Bearer TOKEN` on the upgrade request, or
//! `?access_token=TOKEN` for browsers (RFC 6750 §2.3), which cannot set headers on a
//! WebSocket.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Upgrade route.
pub const ROUTE: &str = "/api/v1/signal";

/// An agent's availability.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Takes calls.
    Available,
    /// On a call or otherwise occupied: calls fail with `busy`.
    Busy,
    /// Finishing notes after a call: calls fail with `busy`.
    WrapUp,
    /// Not connected.
    Offline,
}

/// An ICE candidate (RFC 8839 `candidate:` attribute value, as in `RTCIceCandidateInit`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    /// The candidate line; empty means end of candidates.
    pub candidate: String,
    /// Media stream id (`a=mid`).
    pub sdp_mid: Option<String>,
    /// Index of the m-line.
    pub sdp_mline_index: Option<u16>,
}

/// Which half of an SDP offer/answer exchange (RFC 3264).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SdpKind {
    /// An offer (initial, or a re-offer for hold/resume).
    Offer,
    /// The answer to the last offer.
    Answer,
}

/// Client → server frames.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Sets the sender's presence (broadcast to the organisation).
    Presence {
        /// New state (`offline` is not settable; close the socket instead).
        status: Presence,
    },
    /// Starts a call. `to` is a user id in the caller's organisation. The server answers
    /// `call_failed` at once when the callee is offline, busy or unknown.
    Invite {
        /// Client-generated UUIDv7 for the call (also the call record's id).
        call_id: Uuid,
        /// Callee user id.
        to: String,
        /// The SDP offer, if sent with the invite.
        offer: Option<String>,
    },
    /// The callee's device is alerting.
    Ringing {
        /// The call.
        call_id: Uuid,
    },
    /// The callee answers (with its SDP answer when the invite carried an offer).
    Accept {
        /// The call.
        call_id: Uuid,
        /// SDP answer.
        answer: Option<String>,
    },
    /// The callee declines.
    Reject {
        /// The call.
        call_id: Uuid,
        /// Why, e.g. `declined`, `busy`.
        reason: String,
    },
    /// An SDP offer or answer after the invite (hold, resume, ICE restart).
    Sdp {
        /// The call.
        call_id: Uuid,
        /// Offer or answer.
        kind: SdpKind,
        /// The SDP.
        sdp: String,
    },
    /// A trickled ICE candidate.
    Ice {
        /// The call.
        call_id: Uuid,
        /// The candidate.
        candidate: IceCandidate,
    },
    /// Ends the call (either side, any state).
    Hangup {
        /// The call.
        call_id: Uuid,
        /// Why, e.g. `normal`, `cancelled`.
        reason: String,
    },
    /// Keep-alive; answered with `pong`.
    Ping,
}

impl ClientMsg {
    /// The call this message is about, for rewriting it in place (`None` for
    /// `presence` and `ping`).
    pub fn call_id_mut(&mut self) -> Option<&mut Uuid> {
        match self {
            ClientMsg::Invite { call_id, .. }
            | ClientMsg::Ringing { call_id }
            | ClientMsg::Accept { call_id, .. }
            | ClientMsg::Reject { call_id, .. }
            | ClientMsg::Sdp { call_id, .. }
            | ClientMsg::Ice { call_id, .. }
            | ClientMsg::Hangup { call_id, .. } => Some(call_id),
            ClientMsg::Presence { .. } | ClientMsg::Ping => None,
        }
    }
}

/// One colleague's presence.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceEntry {
    /// User id.
    pub user_id: Uuid,
    /// Name shown to colleagues.
    pub display_name: String,
    /// State.
    pub status: Presence,
}

/// Server → client frames.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First frame after connecting: who you are and who else is there.
    Welcome {
        /// The connected user.
        user_id: Uuid,
        /// Everyone in the organisation, with presence (`offline` when not connected).
        presence: Vec<PresenceEntry>,
    },
    /// A colleague's presence changed.
    Presence(PresenceEntry),
    /// Someone calls you.
    Incoming {
        /// The call.
        call_id: Uuid,
        /// Caller user id.
        from: Uuid,
        /// Caller name.
        from_name: String,
        /// SDP offer, when the invite carried one.
        offer: Option<String>,
    },
    /// The callee is alerting.
    Ringing {
        /// The call.
        call_id: Uuid,
    },
    /// The callee answered.
    Accepted {
        /// The call.
        call_id: Uuid,
        /// SDP answer.
        answer: Option<String>,
    },
    /// The callee declined.
    Rejected {
        /// The call.
        call_id: Uuid,
        /// Why.
        reason: String,
    },
    /// The call could not be placed; nothing was sent to anyone.
    CallFailed {
        /// The call.
        call_id: Uuid,
        /// `offline`, `busy`, `not_found`, `self`, `duplicate_call_id`.
        reason: String,
    },
    /// An SDP from the other party.
    Sdp {
        /// The call.
        call_id: Uuid,
        /// Offer or answer.
        kind: SdpKind,
        /// The SDP.
        sdp: String,
    },
    /// An ICE candidate from the other party.
    Ice {
        /// The call.
        call_id: Uuid,
        /// The candidate.
        candidate: IceCandidate,
    },
    /// The call ended: the other party hung up, answered elsewhere, or disconnected.
    Hangup {
        /// The call.
        call_id: Uuid,
        /// `normal`, `cancelled`, `answered_elsewhere`, `peer_disconnected`, …
        reason: String,
    },
    /// Data you can see changed: pull `GET /api/v1/changes?since=…`.
    Changed {
        /// The newest change sequence number.
        seq: i64,
    },
    /// Answer to `ping`.
    Pong,
    /// Your last frame was refused; the connection stays open.
    Error {
        /// Stable code: `signal.malformed`, `signal.unknown_call`, `signal.not_party`.
        code: String,
        /// Explanation.
        message: String,
    },
}

impl ServerMsg {
    /// The call this message is about, for rewriting it in place (`None` for
    /// `welcome`, `presence`, `changed`, `error`, `pong`).
    pub fn call_id_mut(&mut self) -> Option<&mut Uuid> {
        match self {
            ServerMsg::Incoming { call_id, .. }
            | ServerMsg::Ringing { call_id }
            | ServerMsg::Accepted { call_id, .. }
            | ServerMsg::Rejected { call_id, .. }
            | ServerMsg::CallFailed { call_id, .. }
            | ServerMsg::Sdp { call_id, .. }
            | ServerMsg::Ice { call_id, .. }
            | ServerMsg::Hangup { call_id, .. } => Some(call_id),
            _ => None,
        }
    }
}
