//! Lead-scoped records beyond leads and notes: contacts, conversations, messages, message
//! status events and calls (the data model of DESIGN.md). Every one is written with an
//! idempotent `PUT /api/v1/{kind}/{id}` keyed by a client-generated UUIDv7, read with
//! `GET` on the same path, and (except status events, which fold into their message)
//! travels through the changes feed.
//!
//! Request bodies (`*Upsert`) refuse unknown fields, so an older server never silently
//! drops what a newer app wrote; answers are read leniently.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A record type with an upsert route: ties the stored shape, the body a client sends
/// and the route together, so client and server cannot disagree on any of them.
pub trait Resource: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// Body of the `PUT`.
    type Upsert: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// Route with an `{id}` placeholder, e.g. `/api/v1/contacts/{id}`.
    const ROUTE: &'static str;
    /// Entity name used in the activity log and the changes feed, e.g. `contact`.
    const ENTITY: &'static str;
}

/// A person reachable for a lead (a lead is the sales opportunity; a company lead may
/// have several contacts).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Client-generated UUIDv7.
    pub id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// Full name.
    pub name: String,
    /// Phone number, E.164. Personal data: the server never logs it.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// WhatsApp id (`wa_id`, the number without `+`), when known.
    pub wa_id: Option<String>,
    /// Server version, +1 per accepted change.
    pub version: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// `PUT /api/v1/contacts/{id}` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactUpsert {
    /// The lead (must be visible to the caller).
    pub lead_id: Uuid,
    /// Full name (required, non-empty).
    pub name: String,
    /// Phone number, E.164.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// WhatsApp id.
    pub wa_id: Option<String>,
}

impl Resource for Contact {
    type Upsert = ContactUpsert;
    const ROUTE: &'static str = "/api/v1/contacts/{id}";
    const ENTITY: &'static str = "contact";
}

/// Channel of a conversation or message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    /// WhatsApp Cloud API.
    Whatsapp,
    /// E-mail.
    Email,
    /// SMS.
    Sms,
    /// Web chat.
    Webchat,
    /// Notes the team writes for itself.
    InternalNote,
    /// Voice calls.
    Call,
}

/// Whether a conversation needs attention.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConversationStatus {
    /// Waiting for someone.
    Open,
    /// Done.
    Closed,
}

/// A thread with a lead on one channel.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Client-generated UUIDv7.
    pub id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// The contact on the other side, if known.
    pub contact_id: Option<Uuid>,
    /// Channel.
    pub channel: Channel,
    /// Id at the provider (e.g. the WhatsApp `wa_id` of the thread).
    pub external_id: Option<String>,
    /// Open or closed.
    pub status: ConversationStatus,
    /// Newest message time, Unix seconds; kept by the server as messages arrive.
    pub last_message_at: Option<i64>,
    /// Inbound messages not yet read.
    pub unread_count: i64,
    /// Agent handling the thread.
    pub assigned_user_id: Option<Uuid>,
    /// Server version, +1 per accepted change.
    pub version: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// `PUT /api/v1/conversations/{id}` body. `last_message_at` is the server's to keep.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationUpsert {
    /// The lead (must be visible to the caller).
    pub lead_id: Uuid,
    /// The contact, if known (must belong to the same lead).
    pub contact_id: Option<Uuid>,
    /// Channel.
    pub channel: Channel,
    /// Provider id of the thread.
    pub external_id: Option<String>,
    /// Open or closed.
    pub status: ConversationStatus,
    /// Unread inbound messages (a client sets 0 when the agent has read them).
    pub unread_count: i64,
    /// Assignee.
    pub assigned_user_id: Option<Uuid>,
}

impl Resource for Conversation {
    type Upsert = ConversationUpsert;
    const ROUTE: &'static str = "/api/v1/conversations/{id}";
    const ENTITY: &'static str = "conversation";
}

/// Who a message came from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    /// From the lead.
    Inbound,
    /// To the lead.
    Outbound,
    /// Inside the team (notes).
    Internal,
}

/// Delivery state of a message, in the order it only moves forward
/// (`FAILED` can replace any state).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageStatus {
    /// Inbound message stored.
    Received,
    /// Accepted by the provider.
    Sent,
    /// On the recipient's device.
    Delivered,
    /// Read (or, for voice, played).
    Read,
    /// Not delivered; see the status event's error.
    Failed,
}

/// A message in a conversation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Client-generated UUIDv7.
    pub id: Uuid,
    /// The conversation.
    pub conversation_id: Uuid,
    /// The conversation's lead (denormalised for visibility and search).
    pub lead_id: Uuid,
    /// Direction.
    pub direction: Direction,
    /// Channel (the conversation's).
    pub channel: Channel,
    /// Provider message type: `text`, `audio`, `image`, `video`, `document`, `template`.
    pub kind: String,
    /// Text, or a caption.
    pub body: Option<String>,
    /// Delivery state.
    pub status: MessageStatus,
    /// Media location (our signed URL or the provider's media id).
    pub media_url: Option<String>,
    /// Media MIME type, e.g. `audio/ogg`.
    pub media_mime_type: Option<String>,
    /// Provider id (WhatsApp `wamid.…`), unique per organisation, for dedup.
    pub provider_message_id: Option<String>,
    /// Provider payload as received, for audit.
    pub payload: Option<serde_json::Value>,
    /// Call this message belongs to, if any.
    pub call_id: Option<Uuid>,
    /// Sending agent (outbound and internal messages).
    pub author_id: Option<Uuid>,
    /// Sent, Unix seconds.
    pub sent_at: Option<i64>,
    /// Delivered, Unix seconds.
    pub delivered_at: Option<i64>,
    /// Read, Unix seconds.
    pub read_at: Option<i64>,
    /// Server version, +1 per accepted change.
    pub version: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// `PUT /api/v1/messages/{id}` body. Status moves forward through status events.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageUpsert {
    /// The conversation (must be visible to the caller).
    pub conversation_id: Uuid,
    /// Direction.
    pub direction: Direction,
    /// Provider message type, e.g. `text`.
    pub kind: String,
    /// Text or caption.
    pub body: Option<String>,
    /// Initial delivery state.
    pub status: MessageStatus,
    /// Media location.
    pub media_url: Option<String>,
    /// Media MIME type.
    pub media_mime_type: Option<String>,
    /// Provider id (`wamid.…`); a second message with the same id answers 409.
    pub provider_message_id: Option<String>,
    /// Provider payload.
    pub payload: Option<serde_json::Value>,
    /// Call, if any.
    pub call_id: Option<Uuid>,
    /// Sent, Unix seconds.
    pub sent_at: Option<i64>,
}

impl Resource for Message {
    type Upsert = MessageUpsert;
    const ROUTE: &'static str = "/api/v1/messages/{id}";
    const ENTITY: &'static str = "message";
}

/// One delivery report for a message (WhatsApp `statuses[]`). Append-only: the same id
/// with a different body answers 409. Reports arrive out of order and twice; the
/// message's status only moves forward.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStatusEvent {
    /// Client-generated UUIDv7.
    pub id: Uuid,
    /// The message.
    pub message_id: Uuid,
    /// Reported state.
    pub status: MessageStatus,
    /// When the provider saw it, Unix seconds.
    pub at: i64,
    /// Provider error (code and title) for `FAILED`.
    pub error: Option<String>,
    /// Always 1 (events never change).
    pub version: i64,
    /// Stored, Unix seconds.
    pub updated_at: i64,
}

/// `PUT /api/v1/message-status-events/{id}` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageStatusEventUpsert {
    /// The message (must be visible to the caller).
    pub message_id: Uuid,
    /// Reported state.
    pub status: MessageStatus,
    /// Provider time, Unix seconds.
    pub at: i64,
    /// Provider error for `FAILED`.
    pub error: Option<String>,
}

impl Resource for MessageStatusEvent {
    type Upsert = MessageStatusEventUpsert;
    const ROUTE: &'static str = "/api/v1/message-status-events/{id}";
    const ENTITY: &'static str = "message_status_event";
}

/// Whether the agent placed or took the call.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallDirection {
    /// Placed by the agent.
    Outbound,
    /// Taken by the agent.
    Inbound,
}

/// Quality summary of a call (W3C webrtc-stats names; MOS from the simplified E-model in
/// DESIGN.md; levels per seed 001).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallQuality {
    /// Mean MOS estimate, 1-4.5.
    pub mos: f64,
    /// Mean interarrival jitter, ms.
    pub jitter_ms: f64,
    /// Packets lost over the call, %.
    pub packet_loss_pct: f64,
    /// Mean round-trip time, ms.
    pub rtt_ms: f64,
    /// `excellent`, `good`, `fair` or `poor`.
    pub level: String,
}

/// A call record.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Client-generated UUIDv7 (also the recording's key).
    pub id: Uuid,
    /// The lead, when the call was with one.
    pub lead_id: Uuid,
    /// Placed or taken.
    pub direction: CallDirection,
    /// The agent.
    pub agent_id: Uuid,
    /// The other party: a phone number (E.164), a user id, `echo`, or a browser link id.
    pub remote: String,
    /// Dial or ring start, Unix ms.
    pub started_at_ms: i64,
    /// Answer, Unix ms.
    pub answered_at_ms: Option<i64>,
    /// End, Unix ms.
    pub ended_at_ms: Option<i64>,
    /// Talk time, ms (answer to end).
    pub duration_ms: Option<i64>,
    /// `local_hangup`, `remote_hangup`, `rejected`, `no_answer`, `busy`, `failed`,
    /// `network_lost`, …
    pub end_reason: Option<String>,
    /// The agent's outcome tag (e.g. `interested`, `callback`, `not_interested`).
    pub disposition: Option<String>,
    /// Quality summary.
    pub quality: Option<CallQuality>,
    /// True once the recording is uploaded (`GET /api/v1/recordings/{id}`).
    pub has_recording: bool,
    /// Server version, +1 per accepted change.
    pub version: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// `PUT /api/v1/calls/{id}` body. `agent_id` is the caller; `has_recording` is the
/// server's to keep.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallUpsert {
    /// The lead (must be visible to the caller).
    pub lead_id: Uuid,
    /// Placed or taken.
    pub direction: CallDirection,
    /// The other party.
    pub remote: String,
    /// Unix ms.
    pub started_at_ms: i64,
    /// Unix ms.
    pub answered_at_ms: Option<i64>,
    /// Unix ms.
    pub ended_at_ms: Option<i64>,
    /// ms.
    pub duration_ms: Option<i64>,
    /// End reason.
    pub end_reason: Option<String>,
    /// Disposition.
    pub disposition: Option<String>,
    /// Quality summary.
    pub quality: Option<CallQuality>,
}

impl Resource for Call {
    type Upsert = CallUpsert;
    const ROUTE: &'static str = "/api/v1/calls/{id}";
    const ENTITY: &'static str = "call";
}

impl Resource for crate::Lead {
    type Upsert = crate::LeadUpsert;
    const ROUTE: &'static str = crate::sync_routes::LEAD;
    const ENTITY: &'static str = "lead";
}

impl Resource for crate::Note {
    type Upsert = crate::NoteUpsert;
    const ROUTE: &'static str = crate::sync_routes::NOTE;
    const ENTITY: &'static str = "note";
}
