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
    /// `POST` [`super::LoginRequest`] → [`super::LoginResponse`]; 401 `auth.invalid_credentials`.
    pub const LOGIN: &str = "/api/v1/auth/login";
    /// `POST` with a bearer token: revokes it. 204.
    pub const LOGOUT: &str = "/api/v1/auth/logout";
    /// `GET` with a bearer token → [`super::UserInfo`].
    pub const ME: &str = "/api/v1/me";
}

/// Account role.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"`.
    pub status: String,
    /// Server version.
    pub version: String,
}

/// `POST /api/v1/auth/login` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Account e-mail (case-insensitive).
    pub email: String,
    /// Password, checked against an argon2id hash.
    pub password: String,
}

/// `POST /api/v1/auth/login` response.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable code, e.g. `auth.invalid_credentials`, `auth.missing_token`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}
