//! `softphone-client`: the app's side of the wire contract in `softphone-proto`.
//!
//! Key design decision: one typed method per route, generic over
//! [`softphone_proto::Resource`] for the record upserts, returning [`ClientError`] that
//! says whether a retry can help ([`ClientError::is_retryable`]). Retry policy, the
//! outbox and backoff belong to the sync worker, not here: this crate makes exactly
//! one attempt per call, so tests see the server's real answers.
//!
//! The bearer token lives only in memory here; callers keep it in the OS keyring.

mod signal;
pub mod tls;
mod upload;

pub use signal::SignalConn;
pub use upload::UploadMeta;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use softphone_proto::{
    recording_routes, routes, sync_routes, ApiError, ChangesPage, Health, LoginRequest,
    LoginResponse, RecordingInfo, Resource, SignedUrl, UserInfo,
};
use uuid::Uuid;

/// What can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached or the connection broke (retry later).
    #[error("server unreachable: {0}")]
    Network(#[source] reqwest::Error),
    /// The server refused the request; `code` is its stable error code.
    #[error("server answered {status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable code, e.g. `auth.invalid_token`, `not_found`, `upload.checksum_mismatch`.
        code: String,
        /// Explanation from the server.
        message: String,
    },
    /// The server answered something that does not follow the contract.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// A call that needs a token was made before logging in.
    #[error("not logged in")]
    NotLoggedIn,
    /// A local file could not be read.
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
    /// The signaling WebSocket failed.
    #[error("signaling: {0}")]
    Signal(String),
    /// A plain `http://` server that is not on this machine: passwords, tokens and
    /// recordings would cross the network in clear. Use `https://`, or have the
    /// administrator allow plain HTTP ([`allow_insecure_http`]).
    #[error(
        "refusing plain http:// to {0}: use https://, or ask your administrator to allow plain HTTP"
    )]
    InsecureHttp(String),
}

static INSECURE_HTTP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Lets [`Client::new`] accept plain `http://` servers that are not on this machine, for
/// the rest of the process. Off by default; set from the admin policy
/// (`allow_insecure_http`) or the CLI's `--allow-insecure-http`, never from the UI.
pub fn allow_insecure_http(allow: bool) {
    INSECURE_HTTP.store(allow, std::sync::atomic::Ordering::Relaxed);
}

impl ClientError {
    /// Stable code for the UI: the server's code for API errors, else
    /// `network`, `protocol`, `not_logged_in`, `io`, `signal`.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Network(_) => "network",
            ClientError::Api { code, .. } => code,
            ClientError::Protocol(_) => "protocol",
            ClientError::NotLoggedIn => "not_logged_in",
            ClientError::Io(_) => "io",
            ClientError::Signal(_) => "signal",
            ClientError::InsecureHttp(_) => "insecure_http",
        }
    }

    /// HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the same request may succeed later unchanged: network failures,
    /// 408, 429 and 5xx. 4xx answers mean the request itself must change.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Network(_) | ClientError::Signal(_) => true,
            ClientError::Api { status, .. } => {
                *status == 408 || *status == 429 || (500..600).contains(status)
            }
            // A proxy answering HTML instead of JSON is usually transient.
            ClientError::Protocol(_) => true,
            ClientError::NotLoggedIn | ClientError::Io(_) | ClientError::InsecureHttp(_) => false,
        }
    }
}

/// Result alias.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// A connection to one server, optionally logged in.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Client {
    /// A client for `base_url` (e.g. `https://softphone.example.com`, or
    /// `http://127.0.0.1:8787` on this machine). Requests time out after 30 s;
    /// connecting after 5 s. TLS as in [`tls`].
    ///
    /// Errors: `protocol` for a URL that does not parse or is not http(s);
    /// [`ClientError::InsecureHttp`] for `http://` to another machine unless
    /// [`allow_insecure_http`] was set.
    pub fn new(base_url: &str) -> Result<Self> {
        let base = url::Url::parse(base_url)
            .map_err(|e| ClientError::Protocol(format!("bad server URL `{base_url}`: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::Protocol(format!(
                "server URL must be http or https, not `{}`",
                base.scheme()
            )));
        }
        if base.scheme() == "http"
            && !tls::is_loopback(&base)
            && !INSECURE_HTTP.load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(ClientError::InsecureHttp(
                base.host_str().unwrap_or_default().to_string(),
            ));
        }
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured((*tls::config()).clone())
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(ClientError::Network)?;
        Ok(Self {
            http,
            base,
            token: None,
        })
    }

    /// The same client using `token` (from the keyring).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The bearer token, if logged in. Keep it in the keyring, never on disk or in logs.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Base URL.
    pub fn base_url(&self) -> &url::Url {
        &self.base
    }

    fn url(&self, path: &str) -> Result<url::Url> {
        self.base
            .join(path)
            .map_err(|e| ClientError::Protocol(format!("bad path {path}: {e}")))
    }

    fn request(&self, method: Method, path: &str) -> Result<reqwest::RequestBuilder> {
        let mut rb = self.http.request(method, self.url(path)?);
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        Ok(rb)
    }

    fn authed(&self, method: Method, path: &str) -> Result<reqwest::RequestBuilder> {
        if self.token.is_none() {
            return Err(ClientError::NotLoggedIn);
        }
        self.request(method, path)
    }

    async fn send(rb: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = rb.send().await.map_err(ClientError::Network)?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(api_error(resp).await)
    }

    async fn json<T: DeserializeOwned>(rb: reqwest::RequestBuilder) -> Result<T> {
        let resp = Self::send(rb).await?;
        let bytes = resp.bytes().await.map_err(ClientError::Network)?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `GET /api/v1/health`.
    pub async fn health(&self) -> Result<Health> {
        Self::json(self.request(Method::GET, routes::HEALTH)?).await
    }

    /// Logs in and keeps the token for later calls.
    ///
    /// Errors: 401 `auth.invalid_credentials`, 429 `rate_limited`.
    pub async fn login(&mut self, email: &str, password: &str) -> Result<LoginResponse> {
        let body = LoginRequest {
            email: email.into(),
            password: password.into(),
        };
        let resp: LoginResponse =
            Self::json(self.http.post(self.url(routes::LOGIN)?).json(&body)).await?;
        self.token = Some(resp.token.clone());
        Ok(resp)
    }

    /// Revokes the token on the server and forgets it.
    pub async fn logout(&mut self) -> Result<()> {
        Self::send(self.authed(Method::POST, routes::LOGOUT)?).await?;
        self.token = None;
        Ok(())
    }

    /// `GET /api/v1/me`.
    pub async fn me(&self) -> Result<UserInfo> {
        Self::json(self.authed(Method::GET, routes::ME)?).await
    }

    /// `GET /api/v1/ice-servers`: STUN/TURN servers for the next call, TURN credentials
    /// included (valid until `expires_at`, Unix s).
    pub async fn ice_servers(&self) -> Result<softphone_proto::IceServers> {
        Self::json(self.authed(Method::GET, routes::ICE_SERVERS)?).await
    }

    /// `GET /api/v1/org/policy`: the organisation's policy for the app.
    pub async fn org_policy(&self) -> Result<softphone_proto::OrgPolicy> {
        Self::json(self.authed(Method::GET, softphone_proto::policy_routes::ORG_POLICY)?).await
    }

    /// `PUT /api/v1/org/policy` (admin): replaces the organisation's policy; answers the
    /// stored one.
    pub async fn set_org_policy(
        &self,
        policy: &softphone_proto::OrgPolicy,
    ) -> Result<softphone_proto::OrgPolicy> {
        Self::json(
            self.authed(Method::PUT, softphone_proto::policy_routes::ORG_POLICY)?
                .json(policy),
        )
        .await
    }

    /// Idempotent upsert of any record by its client-generated id; answers the stored
    /// record (unchanged when this was a retry).
    pub async fn put<T: Resource>(&self, id: Uuid, body: &T::Upsert) -> Result<T> {
        Self::json(
            self.authed(Method::PUT, &sync_routes::with_id(T::ROUTE, id))?
                .json(body),
        )
        .await
    }

    /// Reads one record; 404 `not_found` when it does not exist or is not visible.
    pub async fn get<T: Resource>(&self, id: Uuid) -> Result<T> {
        Self::json(self.authed(Method::GET, &sync_routes::with_id(T::ROUTE, id))?).await
    }

    /// One page of the changes feed after cursor `since` (`limit` 1-1000).
    pub async fn changes(&self, since: i64, limit: usize) -> Result<ChangesPage> {
        Self::json(
            self.authed(Method::GET, sync_routes::CHANGES)?
                .query(&[("since", since.to_string()), ("limit", limit.to_string())]),
        )
        .await
    }

    /// `GET /api/v1/recordings/{call_id}`.
    pub async fn recording(&self, call_id: Uuid) -> Result<RecordingInfo> {
        Self::json(self.authed(
            Method::GET,
            &call_path(recording_routes::RECORDING, call_id),
        )?)
        .await
    }

    /// A signed playback URL valid for `ttl_secs` (0-3600), absolute.
    pub async fn recording_url(&self, call_id: Uuid, ttl_secs: u32) -> Result<(url::Url, i64)> {
        let s: SignedUrl = Self::json(
            self.authed(
                Method::POST,
                &call_path(recording_routes::RECORDING_URL, call_id),
            )?
            .query(&[("ttl_secs", ttl_secs)]),
        )
        .await?;
        Ok((self.url(&s.url)?, s.expires_at))
    }

    /// A browser call link (`POST /api/v1/links`): send `url` to the prospect, then
    /// dial `id` while they have the page open.
    pub async fn create_link(
        &self,
        req: &softphone_proto::CreateLink,
    ) -> Result<softphone_proto::CallLink> {
        Self::json(
            self.authed(Method::POST, softphone_proto::link_routes::LINKS)?
                .json(req),
        )
        .await
    }

    /// The caller's call links that can still be opened (`GET /api/v1/links`), newest
    /// first.
    pub async fn links(&self) -> Result<Vec<softphone_proto::CallLink>> {
        Self::json(self.authed(Method::GET, softphone_proto::link_routes::LINKS)?).await
    }

    /// Revokes a call link (`DELETE /api/v1/links/{id}`): its page is disconnected and
    /// cannot join again.
    pub async fn revoke_link(&self, id: Uuid) -> Result<()> {
        Self::send(self.authed(
            Method::DELETE,
            &softphone_proto::link_routes::LINK.replace("{id}", &id.to_string()),
        )?)
        .await?;
        Ok(())
    }

    /// Deletes the recording object and its record.
    pub async fn delete_recording(&self, call_id: Uuid) -> Result<()> {
        Self::send(self.authed(
            Method::DELETE,
            &call_path(recording_routes::RECORDING, call_id),
        )?)
        .await?;
        Ok(())
    }

    /// Downloads a signed URL (no token sent), optionally one byte range.
    pub async fn download(&self, url: &url::Url, range: Option<(u64, u64)>) -> Result<Vec<u8>> {
        let mut rb = self.http.get(url.clone());
        if let Some((a, b)) = range {
            rb = rb.header(reqwest::header::RANGE, format!("bytes={a}-{b}"));
        }
        let resp = Self::send(rb).await?;
        Ok(resp.bytes().await.map_err(ClientError::Network)?.to_vec())
    }

    /// Opens the signaling WebSocket (see `softphone_proto::signal`).
    pub async fn signal(&self) -> Result<SignalConn> {
        let token = self.token.as_deref().ok_or(ClientError::NotLoggedIn)?;
        let mut url = self.url(softphone_proto::signal::ROUTE)?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|_| ClientError::Protocol("cannot build the signaling URL".into()))?;
        SignalConn::connect(url, token).await
    }
}

fn call_path(route: &str, call_id: Uuid) -> String {
    route.replace("{call_id}", &call_id.to_string())
}

async fn api_error(resp: reqwest::Response) -> ClientError {
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ApiError>(&bytes) {
        Ok(e) => ClientError::Api {
            status: status.as_u16(),
            code: e.code,
            message: e.message,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: fallback_code(status).into(),
            message: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
        },
    }
}

fn fallback_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "auth.invalid_token",
        404 => "not_found",
        429 => "rate_limited",
        500..=599 => "server_error",
        _ => "http_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_for_this_machine_only_unless_the_admin_allows_it() {
        for ok in [
            "http://127.0.0.1:8787",
            "http://localhost:8787",
            "http://[::1]:8787",
            "https://softphone.example.com",
        ] {
            Client::new(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let e = Client::new("http://softphone.example.com").unwrap_err();
        assert_eq!(e.code(), "insecure_http");
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("softphone.example.com"), "{e}");
        assert!(Client::new("http://10.0.0.5:8787").is_err());
        allow_insecure_http(true);
        let allowed = Client::new("http://softphone.example.com");
        allow_insecure_http(false);
        allowed.unwrap();
    }
}
