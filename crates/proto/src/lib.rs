//! The wire contract between the Agent Softphone app and `softphone-server`.
//!
//! Key design decision: one crate owns every route path and JSON body, versioned under
//! `/api/v1`, and both sides compile against it, so the client and server cannot drift
//! (Atuin's approach). Breaking changes get a new version prefix, never an edit here.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Route paths, all under [`routes::V1`].
pub mod routes {
    /// Version prefix of the current API.
    pub const V1: &str = "/api/v1";
    /// `GET`: liveness, no auth. Answers [`super::Health`].
    pub const HEALTH: &str = "/api/v1/health";
    /// `GET`: readiness, no auth: [`super::Health`] with `"ready"` when the database
    /// and the object store answer within 2 s, else 503 `not_ready` naming which did not.
    pub const READY: &str = "/api/v1/ready";
    /// `POST` [`super::LoginRequest`] → [`super::LoginResponse`]; 401 `auth.invalid_credentials`.
    pub const LOGIN: &str = "/api/v1/auth/login";
    /// `POST` with a bearer token: revokes it. 204.
    pub const LOGOUT: &str = "/api/v1/auth/logout";
    /// `GET` with a bearer token → [`super::UserInfo`].
    pub const ME: &str = "/api/v1/me";
    /// `GET` with a bearer token → [`super::IceServers`]: the STUN/TURN servers for a
    /// call, with short-lived TURN credentials.
    pub const ICE_SERVERS: &str = "/api/v1/ice-servers";
}

/// Account role.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages the organisation's agents and sees all of its data.
    Admin,
    /// Calls leads; sees what belongs to them.
    Agent,
}

impl Role {
    /// Stable lowercase name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    /// Parses `admin` / `agent`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }
}

/// `GET /api/v1/health` response.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"` (health) or `"ready"` (readiness).
    pub status: String,
    /// Server version.
    pub version: String,
}

/// A STUN or TURN server, the W3C `RTCIceServer` dictionary
/// (<https://www.w3.org/TR/webrtc/#rtciceserver-dictionary>).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:host:port` / `turn:host:port?transport=udp` URLs (RFC 7064, RFC 7065).
    pub urls: Vec<String>,
    /// TURN user name; for server-issued credentials `EXPIRY:USER`, EXPIRY in Unix
    /// seconds (the TURN REST API scheme, draft-uberti-behave-turn-rest-00).
    #[serde(default)]
    pub username: String,
    /// TURN credential: base64 of HMAC-SHA1(shared secret, `username`).
    #[serde(default)]
    pub credential: String,
}

impl IceServer {
    /// Whether one of its URLs names a TURN server (`turn:` or `turns:`, RFC 7065), the
    /// only kind a relay-only call can use.
    pub fn is_turn(&self) -> bool {
        self.urls.iter().any(|u| {
            let u = u.trim_start().to_ascii_lowercase();
            u.starts_with("turn:") || u.starts_with("turns:")
        })
    }
}

/// `GET /api/v1/ice-servers` response.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServers {
    /// STUN servers, then TURN servers with credentials; empty when the server has none
    /// configured (LAN and loopback need none).
    pub ice_servers: Vec<IceServer>,
    /// When the TURN credentials stop working for new allocations, Unix seconds; ask
    /// again for each call.
    pub expires_at: i64,
}

/// `POST /api/v1/auth/login` body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Account e-mail (case-insensitive).
    pub email: String,
    /// Password, checked against an argon2id hash.
    pub password: String,
}

/// `POST /api/v1/auth/login` response.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    /// Opaque bearer token (send as `Authorization: Bearer …`). The server keeps only
    /// its SHA-256; clients keep it in the OS keyring, never on disk or in logs.
    pub token: String,
    /// Expiry, Unix time in seconds.
    pub expires_at: i64,
    /// Who logged in.
    pub user: UserInfo,
}

/// An account as the API shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// User id.
    pub id: Uuid,
    /// Organisation id.
    pub org_id: Uuid,
    /// Organisation name.
    pub org_name: String,
    /// E-mail (lowercase).
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Role.
    pub role: Role,
}

/// Body of every error response: a stable `code` to switch on, and a message for people.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable code, e.g. `auth.invalid_credentials`, `auth.missing_token`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// Sync routes (issue 3).
pub mod sync_routes {
    /// `PUT` [`super::LeadUpsert`] → [`super::Lead`]: idempotent upsert by client UUIDv7;
    /// `GET` → [`super::Lead`].
    pub const LEAD: &str = "/api/v1/leads/{id}";
    /// `PUT` [`super::NoteUpsert`] → [`super::Note`]: idempotent upsert by client UUIDv7;
    /// `GET` → [`super::Note`].
    pub const NOTE: &str = "/api/v1/notes/{id}";
    /// `GET ?since=SEQ&limit=N` → [`super::ChangesPage`].
    pub const CHANGES: &str = "/api/v1/changes";

    /// Fills `{id}` in a route.
    pub fn with_id(route: &str, id: uuid::Uuid) -> String {
        route.replace("{id}", &id.to_string())
    }
}

/// A lead (prospect), as stored by the server.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    /// Client-generated UUIDv7.
    pub id: Uuid,
    /// Full name.
    pub name: String,
    /// Phone number, E.164. Personal data: the server never logs it.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Agent the lead is assigned to; agents see only their own leads.
    pub assigned_user_id: Option<Uuid>,
    /// Server version, +1 per accepted change (last writer wins).
    pub version: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// `PUT /api/v1/leads/{id}` body. Sending the same body again changes nothing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadUpsert {
    /// Full name (required, non-empty).
    pub name: String,
    /// Phone number, E.164.
    pub phone: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Assignee; agents may only assign to themselves.
    pub assigned_user_id: Option<Uuid>,
}

/// A note: its own message (channel INTERNAL_NOTE) on a lead, optionally tied to a call.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Client-generated UUIDv7.
    pub id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// The call it was taken during, if any.
    pub call_id: Option<Uuid>,
    /// Author.
    pub author_id: Uuid,
    /// Text.
    pub body: String,
    /// True once deleted (kept as a tombstone so every device learns of it).
    pub deleted: bool,
    /// Server version, +1 per accepted change.
    pub version: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// `PUT /api/v1/notes/{id}` body. Edits are last-writer-wins; the replaced text is kept
/// in the note's history on the server, never dropped.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteUpsert {
    /// The lead (must be visible to the caller).
    pub lead_id: Uuid,
    /// The call, if any.
    pub call_id: Option<Uuid>,
    /// Text, at most [`MAX_TEXT_BYTES`] bytes of UTF-8 (413 `body.too_large` beyond).
    pub body: String,
    /// Set to delete.
    #[serde(default)]
    pub deleted: bool,
}

/// One entry of the changes feed: the current state of a changed row.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entity", content = "data", rename_all = "snake_case")]
pub enum Change {
    /// A lead changed.
    Lead(Lead),
    /// A note changed.
    Note(Note),
    /// A contact changed.
    Contact(Contact),
    /// A conversation changed.
    Conversation(Conversation),
    /// A message changed (new, or its delivery status moved on).
    Message(Message),
    /// A call record changed.
    Call(Call),
    /// A lead the reader could see was reassigned away from them: drop it and its
    /// history from the local copy (unsynced local edits are kept and parked).
    LeadRevoked(LeadRevoked),
}

/// Body of [`Change::LeadRevoked`].
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadRevoked {
    /// The lead.
    pub lead_id: Uuid,
}

/// `GET /api/v1/changes` response.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangesPage {
    /// Changes after `since`, oldest first; a row changed several times appears once,
    /// at its latest position.
    pub changes: Vec<Change>,
    /// Cursor to pass as `since` next time.
    pub next: i64,
    /// True when more changes are waiting (ask again with `next`).
    pub more: bool,
}

/// Recording upload and playback routes (tus 1.0 core protocol for uploads).
pub mod recording_routes {
    /// `POST`: create an upload. Headers `Tus-Resumable: 1.0.0`, `Upload-Length`,
    /// `Upload-Metadata` (tus: comma-separated `key base64(value)`; keys `call_id`,
    /// `sha256` (hex), `duration_ms`, `channels`). 201 with `Location`. Creating again for
    /// the same call returns the same upload, so a lost response never duplicates. The
    /// call record must be on the server first, the caller's own (or the caller an
    /// admin of its organisation): otherwise 409 `upload.no_call`. Uploads and
    /// recordings are keyed by (organisation, call id).
    pub const UPLOADS: &str = "/api/v1/uploads";
    /// `HEAD` → `Upload-Offset`/`Upload-Length`; `PATCH` with `Upload-Offset` and
    /// `Content-Type: application/offset+octet-stream` appends. The last byte triggers the
    /// sha256 check: 204 on success, 460 `upload.checksum_mismatch` otherwise.
    pub const UPLOAD: &str = "/api/v1/uploads/{id}";
    /// `GET` → [`super::RecordingInfo`]; `DELETE` removes the object and the row.
    pub const RECORDING: &str = "/api/v1/recordings/{call_id}";
    /// `POST ?ttl_secs=N` (0-3600, default 300) → [`super::SignedUrl`].
    pub const RECORDING_URL: &str = "/api/v1/recordings/{call_id}/url";
    /// `GET ?exp=&sig=`: the audio, with HTTP Range support; no bearer token needed.
    /// Recordings are keyed by (organisation, call id), so the path names both; the
    /// signature covers both.
    pub const MEDIA: &str = "/media/recordings/{org_id}/{call_id}";
}

/// A stored recording.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingInfo {
    /// The call it records.
    pub call_id: Uuid,
    /// Who recorded it.
    pub user_id: Uuid,
    /// Object key, `recordings/{user}/{yyyy}/{mm}/{call}.opus`.
    pub object_key: String,
    /// Size, bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex (verified at upload completion).
    pub sha256: String,
    /// Duration, ms (as reported by the client).
    pub duration_ms: u64,
    /// Channel count (2 for dual-track).
    pub channels: u8,
    /// Container/codec, `ogg/opus`.
    pub format: String,
    /// Upload completion, Unix seconds.
    pub created_at: i64,
}

/// A short-lived playback URL.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedUrl {
    /// Path and query to GET on the server (HMAC-SHA256 signed).
    pub url: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
}

mod domain;
pub mod signal;
pub use domain::*;

/// Largest note or message body the server stores, bytes of UTF-8 (64 KiB: some
/// twenty pages of text). Longer ones answer 413 `body.too_large`; the app checks
/// before queueing, so an over-long note is never stuck in the outbox.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Browser call links: a prospect joins the agent's call from a web page.
pub mod link_routes {
    /// `POST` [`crate::CreateLink`] → [`crate::CallLink`] (agent); `GET` → the caller's
    /// links that can still be opened, newest first (at most 100).
    pub const LINKS: &str = "/api/v1/links";
    /// `DELETE`: revokes a link (the agent who made it, or an admin of its
    /// organisation); an open page is disconnected at once.
    pub const LINK: &str = "/api/v1/links/{id}";
    /// The prospect's page, `GET` (HTML).
    pub const JOIN_PAGE: &str = "/join/{token}";
    /// The page's script.
    pub const JOIN_SCRIPT: &str = "/static/join.js";
    /// The page's signaling WebSocket (the link token is the credential).
    pub const JOIN_SIGNAL: &str = "/api/v1/join/{token}/signal";
}

/// Body of `POST /api/v1/links`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLink {
    /// The lead the link is for (shown to nobody; kept for the call record).
    #[serde(default)]
    pub lead_id: Option<uuid::Uuid>,
    /// Lifetime, seconds: at least 60 and at most the server's `link_max_ttl_secs`
    /// (default 7 days); absent means `link_default_ttl_secs` (default 2 h).
    #[serde(default)]
    pub ttl_secs: Option<i64>,
    /// Good for one answered call: once the prospect answered, the page cannot join
    /// again (default false).
    #[serde(default)]
    pub single_use: bool,
}

/// A browser call link. While the prospect has the page open, the agent dials `id`
/// like a colleague's user id.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLink {
    /// The link's id: the dial target.
    pub id: uuid::Uuid,
    /// The page to send to the prospect (absolute when the request had a Host header).
    pub url: String,
    /// Expiry, Unix ms.
    pub expires_at_ms: i64,
    /// The lead it is for.
    #[serde(default)]
    pub lead_id: Option<uuid::Uuid>,
    /// Good for one answered call.
    #[serde(default)]
    pub single_use: bool,
}

/// App updates: an admin uploads signed releases per channel and target; the app's
/// updater (tauri-plugin-updater) asks for the newest one above its own version.
pub mod update_routes {
    /// `PUT` (admin): the body is the updater artifact (the `.deb`, `.rpm`,
    /// `.app.tar.gz`, `.msi` or `-setup.exe` the Tauri bundler made), header
    /// `Update-Signature` its `.sig` file's content (base64 of a minisign signature whose
    /// trusted comment names the version, as `tauri signer sign` writes it), query
    /// `file_name` (required) and `notes`. `{channel}`: `stable` or `beta`;
    /// `{target}`: `{os}-{arch}-{bundle}` as the updater names it, e.g.
    /// `linux-x86_64-deb`; `{version}`: semver. 201 [`crate::ReleaseInfo`]. Refused
    /// with 422 `release.bad_signature` unless the signature verifies with the
    /// server's `update_pubkey` and signs exactly `{version}`; 409 `release.exists`
    /// for a version already uploaded to that channel and target.
    pub const RELEASE: &str = "/api/v1/releases/{channel}/{target}/{version}";
    /// `GET` (admin): the organisation's releases, newest upload first, as
    /// [`crate::ReleaseInfo`]s.
    pub const RELEASES: &str = "/api/v1/releases";
    /// `DELETE` (admin): withdraws a release; it is offered no more (an update never
    /// goes down a version: roll back by uploading a fixed, higher one).
    pub const RELEASE_BY_ID: &str = "/api/v1/releases/{id}";
    /// `GET ?channel=stable|beta` (any signed-in account): 204 when nothing newer
    /// than `{current_version}` is released for `{target}` on the channel (`beta`
    /// also sees `stable` releases), else 200 [`crate::UpdateManifest`].
    pub const CHECK: &str = "/api/v1/updates/{target}/{current_version}";
    /// `GET` (any signed-in account of the release's organisation): the artifact.
    pub const ARTIFACT: &str = "/api/v1/update-artifacts/{id}";
}

/// The release channel an install follows.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateChannel {
    /// Releases for everyone (the default).
    #[default]
    Stable,
    /// Early releases for a pilot group; it also receives every stable release.
    Beta,
}

impl UpdateChannel {
    /// `stable` or `beta`.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateChannel::Stable => "stable",
            UpdateChannel::Beta => "beta",
        }
    }

    /// Parses `stable` or `beta`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "stable" => Some(UpdateChannel::Stable),
            "beta" => Some(UpdateChannel::Beta),
            _ => None,
        }
    }
}

/// An uploaded release.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseInfo {
    /// The release's id (its artifact is [`update_routes::ARTIFACT`]).
    pub id: uuid::Uuid,
    /// Its channel.
    pub channel: UpdateChannel,
    /// `{os}-{arch}-{bundle}`, e.g. `linux-x86_64-deb`.
    pub target: String,
    /// Semver, e.g. `0.2.0`.
    pub version: String,
    /// Release notes shown to the agent.
    pub notes: String,
    /// The artifact's file name, e.g. `Agent Softphone_0.2.0_amd64.deb`.
    pub file_name: String,
    /// Size, bytes.
    pub bytes: u64,
    /// SHA-256 of the artifact, lowercase hex.
    pub sha256: String,
    /// Upload time, Unix seconds.
    pub created_at: i64,
    /// When it was withdrawn, Unix seconds; a withdrawn release is offered no more.
    pub withdrawn_at: Option<i64>,
}

/// An offered update, in the shape tauri-plugin-updater reads from a dynamic update
/// server (<https://v2.tauri.app/plugin/updater/#dynamic-update-server>).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateManifest {
    /// The offered version, semver.
    pub version: String,
    /// Release notes.
    pub notes: String,
    /// Upload time, RFC 3339.
    pub pub_date: String,
    /// Absolute URL of the artifact (needs the same bearer token as the check).
    pub url: String,
    /// The `.sig` file's content: base64 of the minisign signature of the artifact.
    pub signature: String,
}

/// Call recording under an administrator's policy.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingPolicy {
    /// Calls are never recorded; the agent cannot turn recording on.
    Off,
    /// Calls are recorded unless the agent turns it off.
    On,
    /// Every call is recorded; the agent cannot turn it off.
    Forced,
}

/// What happens to a call's recording on the agent's machine once the server has it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalRecordings {
    /// Kept on this machine; the agent cannot have them deleted.
    Keep,
    /// Deleted once the server confirmed the upload (its SHA-256 matched), so
    /// recordings do not pile up on shared or lost machines.
    DeleteAfterUpload,
    /// Kept this many days after the call (1-3650), then deleted once the server has
    /// it; JSON `{"keep_days": 30}`.
    KeepDays(u32),
}

/// Org policy routes.
pub mod policy_routes {
    /// `GET` (any account): the organisation's [`crate::OrgPolicy`]; `PUT` (admin):
    /// replaces it (422 `request.invalid` for a value out of range).
    pub const ORG_POLICY: &str = "/api/v1/org/policy";
}

/// The policy an organisation's admin sets on the server for every agent's app: applied
/// at sign-in and at each sync; on a machine whose policy file (the desktop's
/// `config.json`) sets a key too, the file wins. Every key absent: the agent chooses.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgPolicy {
    /// Call recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingPolicy>,
    /// Recording bitrate per track, kbit/s, 6-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_bitrate_kbps: Option<u32>,
    /// Local recordings once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_recordings: Option<LocalRecordings>,
    /// `false`: the app never checks for updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<bool>,
    /// The release channel of updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_channel: Option<UpdateChannel>,
}

impl OrgPolicy {
    /// Checks the values' ranges.
    ///
    /// Errors: a message naming the value.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(k) = self.recording_bitrate_kbps {
            if !(6..=256).contains(&k) {
                return Err(format!("recording_bitrate_kbps {k} is outside 6-256"));
            }
        }
        if let Some(LocalRecordings::KeepDays(d)) = self.local_recordings {
            if !(1..=3650).contains(&d) {
                return Err(format!("local_recordings keep_days {d} is outside 1-3650"));
            }
        }
        Ok(())
    }
}
