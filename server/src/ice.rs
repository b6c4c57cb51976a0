//! ICE servers for calls: STUN URLs as configured, TURN URLs with short-lived
//! credentials in the TURN REST API scheme (draft-uberti-behave-turn-rest-00, as coturn's
//! `use-auth-secret` implements it): user name `EXPIRY:ID`, credential
//! base64(HMAC-SHA1(secret, user name)). The secret is shared with the TURN server and
//! never leaves this process; a leaked credential works only until EXPIRY.

use crate::{AppState, Caller};
use axum::extract::State;
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use softphone_proto::{IceServer, IceServers};

/// STUN/TURN settings (`ice_urls`, `turn_urls`, `turn_secret`, `turn_ttl_secs`).
#[derive(Clone, Default)]
pub struct IceSettings {
    /// STUN (or TURN with static credentials) URLs, handed out as they are.
    pub urls: Vec<String>,
    /// TURN URLs handed out with credentials (only when `secret` is set).
    pub turn_urls: Vec<String>,
    /// The secret shared with the TURN server (coturn `static-auth-secret`).
    pub secret: Option<String>,
    /// Credential lifetime, seconds.
    pub ttl_secs: i64,
}

impl std::fmt::Debug for IceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceSettings")
            .field("urls", &self.urls)
            .field("turn_urls", &self.turn_urls)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

/// The REST API credential for `username` under `secret`.
pub fn turn_credential(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl IceSettings {
    /// The servers for `id` (a user id, `guest-LINK` or `echo`) at Unix time `now`.
    pub fn servers_for(&self, id: &str, now: i64) -> IceServers {
        let mut out = Vec::new();
        if !self.urls.is_empty() {
            out.push(IceServer {
                urls: self.urls.clone(),
                ..Default::default()
            });
        }
        let expires_at = now + self.ttl_secs;
        if let (Some(secret), false) = (&self.secret, self.turn_urls.is_empty()) {
            let username = format!("{expires_at}:{id}");
            out.push(IceServer {
                urls: self.turn_urls.clone(),
                credential: turn_credential(secret, &username),
                username,
            });
        }
        IceServers {
            ice_servers: out,
            expires_at,
        }
    }
}

/// `GET /api/v1/ice-servers`: the servers for the caller's next call.
pub async fn get(State(state): State<AppState>, caller: Caller) -> Json<IceServers> {
    Json(
        state
            .media
            .ice
            .servers_for(&caller.user.id.to_string(), crate::now()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected value is what openssl computes for the same secret and user name:
    /// `echo -n 1700000000:alice | openssl dgst -sha1 -hmac north -binary | base64`.
    #[test]
    fn credentials_follow_the_rest_api_scheme() {
        assert_eq!(
            turn_credential("north", "1700000000:alice"),
            "Cd/49soE35ICqcJF/bCTn8Z4OyE="
        );
        let s = IceSettings {
            urls: vec!["stun:stun.example.com:3478".into()],
            turn_urls: vec!["turn:turn.example.com:3478?transport=udp".into()],
            secret: Some("north".into()),
            ttl_secs: 600,
        };
        let got = s.servers_for("alice", 1_699_999_400);
        assert_eq!(got.expires_at, 1_700_000_000);
        assert_eq!(got.ice_servers.len(), 2);
        assert_eq!(got.ice_servers[0].username, "");
        assert_eq!(got.ice_servers[1].username, "1700000000:alice");
        assert_eq!(
            got.ice_servers[1].credential,
            "Cd/49soE35ICqcJF/bCTn8Z4OyE="
        );
        // Without a secret, TURN URLs are not handed out (they would not work).
        let none = IceSettings { secret: None, ..s };
        assert_eq!(none.servers_for("alice", 0).ice_servers.len(), 1);
    }
}
