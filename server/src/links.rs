//! Browser call links: an agent asks for a link, sends it to a prospect, and while the
//! prospect has the page open the agent dials the link's id like a colleague.
//!
//! The link is a signed token (HMAC-SHA256 with the URL signing key over link id,
//! organisation, agent and expiry), checked first without the database; the link's
//! row (`db::call_links`) then says whether it was revoked or, for a single-use link,
//! already answered. The page joins the signaling hub as a *guest* connection: it can
//! be called by its agent, answer, trickle ICE and hang up, but never place a call,
//! and it sees nothing of the organisation.

use crate::extract::JsonBody;
use crate::signal;
use crate::{db, AppState, Caller, Error};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use softphone_proto::{link_routes, CallLink, CreateLink, Role, UserInfo};
use uuid::Uuid;

const PAGE: &str = include_str!("../assets/join.html");
const SCRIPT: &str = include_str!("../assets/join.js");
/// The page only talks to us: no remote content, no inline script.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Serialize, Deserialize)]
struct Claims {
    /// Link id (the dial target).
    l: Uuid,
    /// Organisation.
    o: Uuid,
    /// Agent who made it.
    a: Uuid,
    /// Expiry, Unix ms.
    e: i64,
}

fn mac(key: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(b"link.");
    m.update(payload.as_bytes());
    m
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

fn sign(key: &[u8], c: &Claims) -> String {
    let payload = b64().encode(serde_json::to_vec(c).expect("claims serialise"));
    let sig = b64().encode(mac(key, &payload).finalize().into_bytes());
    format!("{payload}.{sig}")
}

fn verify(key: &[u8], token: &str, now_ms: i64) -> Option<Claims> {
    let (payload, sig) = token.split_once('.')?;
    let sig = b64().decode(sig).ok()?;
    mac(key, payload).verify_slice(&sig).ok()?;
    let c: Claims = serde_json::from_slice(&b64().decode(payload).ok()?).ok()?;
    (c.e > now_ms).then_some(c)
}

fn now_ms() -> i64 {
    crate::now() * 1000
}

/// `POST /api/v1/links`: a link for the caller's next browser call.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(req): JsonBody<CreateLink>,
) -> Result<Json<CallLink>, Error> {
    let ttl = req.ttl_secs.unwrap_or(state.links.default_ttl_secs);
    let max = state.links.max_ttl_secs;
    if !(60..=max).contains(&ttl) {
        return Err(Error::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid",
            format!("ttl_secs must be 60-{max} (the administrator's maximum)"),
        ));
    }
    let claims = Claims {
        l: Uuid::now_v7(),
        o: caller.user.org_id,
        a: caller.user.id,
        e: now_ms() + ttl * 1000,
    };
    let (id, org, agent, lead, exp, single) = (
        claims.l,
        claims.o,
        claims.a,
        req.lead_id,
        claims.e,
        req.single_use,
    );
    state
        .with_db(move |c| {
            db::call_links::insert(c, id, org, agent, lead, exp, single, crate::now())
                .map_err(Error::internal)
        })
        .await?;
    let url = link_url(&state, &headers, &claims);
    tracing::info!(link = %claims.l, agent = %claims.a, single_use = single, "call link created");
    Ok(Json(CallLink {
        id: claims.l,
        url,
        expires_at_ms: claims.e,
        lead_id: lead,
        single_use: single,
    }))
}

/// The page's URL for `claims` (the token is rebuilt from them: it is a signature, not
/// a stored secret).
fn link_url(state: &AppState, headers: &HeaderMap, claims: &Claims) -> String {
    let token = sign(&state.url_key[..], claims);
    crate::absolute_url(headers, &link_routes::JOIN_PAGE.replace("{token}", &token))
}

/// Most links one listing returns.
const LIST_LIMIT: usize = 100;

/// `GET /api/v1/links`: the caller's links that can still be opened (not expired,
/// revoked or spent), newest first, at most 100.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Json<Vec<CallLink>>, Error> {
    let agent = caller.user.id;
    let rows = state
        .with_read(move |c| {
            db::call_links::live_for_agent(c, agent, now_ms(), LIST_LIMIT).map_err(Error::internal)
        })
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| {
                let claims = Claims {
                    l: r.id,
                    o: r.org_id,
                    a: agent,
                    e: r.expires_at_ms,
                };
                CallLink {
                    id: r.id,
                    url: link_url(&state, &headers, &claims),
                    expires_at_ms: r.expires_at_ms,
                    lead_id: r.lead_id,
                    single_use: r.single_use,
                }
            })
            .collect(),
    ))
}

/// `DELETE /api/v1/links/{id}`: the agent who made the link, or an admin of its
/// organisation, revokes it; a page that has it open is disconnected at once.
/// Anyone else gets 404, as for an unknown link.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    crate::extract::Path(id): crate::extract::Path<Uuid>,
) -> Result<StatusCode, Error> {
    let user = caller.user;
    state
        .with_db(move |c| {
            db::call_links::get(c, id)
                .map_err(Error::internal)?
                .filter(|r| {
                    r.org_id == user.org_id && (r.agent_id == user.id || user.role == Role::Admin)
                })
                .ok_or_else(crate::error::not_found)?;
            db::call_links::revoke(c, id, crate::now()).map_err(Error::internal)
        })
        .await?;
    state.hub.kick_private(id);
    tracing::info!(link = %id, "call link revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// The signed claims of `token` when they verify and the link's row allows opening it
/// now; otherwise why not (`invalid`, `expired`, `revoked`, `used`).
async fn admit(state: &AppState, token: &str) -> Result<Claims, &'static str> {
    let c = verify(&state.url_key[..], token, now_ms()).ok_or("invalid")?;
    let id = c.l;
    let row = state
        .with_db(move |db| db::call_links::get(db, id).map_err(Error::internal))
        .await
        .map_err(|_| "invalid")?
        .ok_or("invalid")?;
    match row.refusal(now_ms()) {
        Some(why) => Err(why),
        None => Ok(c),
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// `GET /join/{token}`: the prospect's page.
pub async fn page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let claims = match admit(&state, &token).await {
        Ok(c) => c,
        Err(why) => {
            let text = match why {
            "used" => {
                "This link was for one call, which has taken place. Ask your agent for a new one."
            }
            "revoked" => "Your agent has withdrawn this link. Ask your agent for a new one.",
            _ => "This link has expired or is not valid. Ask your agent for a new one.",
        };
            return html(
            StatusCode::NOT_FOUND,
            PAGE.replace(
                "Press Join so your agent can call you. Your browser will ask to use the microphone.",
                text,
            )
            .replace("<button id=\"join\" type=\"button\">Join</button>", ""),
        );
        }
    };
    let ice = state
        .media
        .ice
        .servers_for(&format!("guest-{}", claims.l), crate::now());
    html(StatusCode::OK, page_with_ice(&ice.ice_servers))
}

/// The page with the ICE servers (W3C `RTCIceServer` objects, TURN credentials included)
/// in `<main data-ice>` (JSON, HTML-escaped), which join.js hands to
/// `RTCPeerConnection` as its `iceServers`.
fn page_with_ice(servers: &[softphone_proto::IceServer]) -> String {
    let json = serde_json::to_string(servers).unwrap_or_else(|_| "[]".into());
    let escaped = json
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    PAGE.replace(
        "<main data-ice=\"[]\">",
        &format!("<main data-ice=\"{escaped}\">"),
    )
}

/// `GET /static/join.js`.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// `GET /api/v1/join/{token}/signal`: the page's signaling WebSocket.
///
/// Errors: 401 `link.invalid` for a link that is expired, altered, revoked or (single
/// use) already answered.
pub async fn upgrade(
    State(state): State<AppState>,
    Path(token): Path<String>,
    crate::extract::WsUpgrade(ws): crate::extract::WsUpgrade,
) -> Result<Response, Error> {
    let c = admit(&state, &token).await.map_err(|why| {
        Error::new(
            StatusCode::UNAUTHORIZED,
            "link.invalid",
            format!("this call link cannot be used ({why})"),
        )
    })?;
    let guest = UserInfo {
        id: c.l,
        org_id: c.o,
        org_name: String::new(),
        email: format!("guest-{}@link.invalid", c.l),
        display_name: "Browser guest".into(),
        role: Role::Agent,
    };
    Ok(ws
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(signal::MAX_SDP_BYTES + 4 * 1024)
        .on_upgrade(move |socket| crate::socket::run_guest(state, socket, guest, c.a)))
}

/// Link settings from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct LinkSettings {
    /// Lifetime when none is asked for, seconds.
    pub default_ttl_secs: i64,
    /// Longest lifetime allowed, seconds.
    pub max_ttl_secs: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_the_ice_urls_escaped() {
        assert!(
            PAGE.contains("<main data-ice=\"[]\">"),
            "the template has the slot"
        );
        let page = page_with_ice(&[softphone_proto::IceServer {
            urls: vec![
                "stun:stun.example.com:3478".into(),
                "turn:x\"><script>".into(),
            ],
            username: "1:guest".into(),
            credential: "c".into(),
        }]);
        assert!(page.contains(
            "data-ice=\"[{&quot;urls&quot;:[&quot;stun:stun.example.com:3478&quot;,&quot;turn:x\\&quot;&gt;&lt;script&gt;&quot;],&quot;username&quot;:&quot;1:guest&quot;,&quot;credential&quot;:&quot;c&quot;}]\""
        ), "{page}");
        assert!(!page.contains("<script>\""));
    }

    #[test]
    fn tokens_verify_only_unaltered_and_unexpired() {
        let key = [7u8; 32];
        let c = Claims {
            l: Uuid::now_v7(),
            o: Uuid::now_v7(),
            a: Uuid::now_v7(),
            e: 2_000,
        };
        let t = sign(&key, &c);
        assert_eq!(verify(&key, &t, 1_000).unwrap().l, c.l);
        assert!(verify(&key, &t, 2_000).is_none(), "expired");
        assert!(verify(&[8u8; 32], &t, 1_000).is_none(), "other key");
        let (p, s) = t.split_once('.').unwrap();
        let forged = b64().encode(serde_json::to_vec(&Claims { e: 9_999_999, ..c }).unwrap());
        assert!(
            verify(&key, &format!("{forged}.{s}"), 1_000).is_none(),
            "forged claims"
        );
        assert!(verify(&key, p, 1_000).is_none(), "no signature");
        assert!(verify(&key, "garbage", 1_000).is_none());
    }
}
