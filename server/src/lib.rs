//! `softphone-server`: the Agent Softphone backend.
//!
//! Key design decision: the embedded default needs nothing else installed: one SQLite
//! file and a recordings folder in `data_dir`, with S3-compatible storage one setting
//! away (`object_store`). Routes and bodies come from `softphone-proto`, shared with the
//! app; every lead-scoped record goes through one write path (`records`) that owns
//! idempotency, versions, the feed sequence, the activity log and visibility. Signaling
//! is an in-process hub (`signal`) behind `/api/v1/signal`.

pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod echo;
pub mod error;
pub mod extract;
pub mod ice;
mod limits;
pub mod links;
pub mod metrics;
pub mod openapi;
pub mod policy;
pub mod recordings;
pub mod records;
pub mod releases;
pub mod signal;
pub mod socket;
pub mod sync;
pub mod tls;
pub mod trace;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use rusqlite::Connection;
use softphone_proto::{
    routes, Call, Contact, Conversation, Health, LoginRequest, LoginResponse, Message,
    MessageStatusEvent, Resource, Role, UserInfo,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

pub use config::Config;
pub use error::Error;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    /// The one writer connection.
    db: Arc<Mutex<Connection>>,
    /// Read-only connections for reads that need no write (WAL lets them run beside
    /// the writer and each other): authentication, the feed, record reads.
    readers: r2d2::Pool<r2d2_sqlite::SqliteConnectionManager>,
    token_ttl_secs: i64,
    pub(crate) store: Arc<dyn object_store::ObjectStore>,
    pub(crate) staging_dir: PathBuf,
    /// Signing key for playback URLs: random per process, never written anywhere
    /// (URLs are short-lived; several instances will share one from configuration).
    pub(crate) url_key: Arc<[u8; 32]>,
    pub(crate) patching: Arc<Mutex<std::collections::HashSet<Uuid>>>,
    pub(crate) max_upload_bytes: u64,
    /// Per-account quota of unfinished uploads: (count, bytes still expected).
    pub(crate) upload_quota: (u64, u64),
    /// Signaling connections, presence and calls.
    pub(crate) hub: Arc<signal::Hub>,
    pub(crate) limits: Arc<limits::Limits>,
    /// Settings of the server's own WebRTC peers (echo test).
    pub(crate) media: Arc<echo::MediaSettings>,
    /// Slots for Argon2 verification ([`hash_slots`]).
    pub(crate) hashing: Arc<tokio::sync::Semaphore>,
    /// Signaling socket keepalive.
    pub(crate) keepalive: socket::Keepalive,
    /// Recordings being verified and copied to object storage at once (2).
    pub(crate) completions: Arc<tokio::sync::Semaphore>,
    /// Call link lifetimes.
    pub(crate) links: links::LinkSettings,
    /// Prometheus counters and gauges.
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// Opens `GET /metrics` on the API listener (`metrics_token`).
    pub(crate) metrics_token: Option<Arc<str>>,
    /// Release uploads: the key they must be signed with, and their size limit.
    pub(crate) releases: releases::ReleaseSettings,
}

/// 413 `body.too_large` when a note's or message's text is over
/// [`softphone_proto::MAX_TEXT_BYTES`].
pub(crate) fn check_text_size(bytes: usize) -> Result<(), Error> {
    if bytes > softphone_proto::MAX_TEXT_BYTES {
        return Err(Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body.too_large",
            format!(
                "text of {bytes} bytes is over the limit of {} bytes; split it",
                softphone_proto::MAX_TEXT_BYTES
            ),
        ));
    }
    Ok(())
}

/// `path` as an absolute URL on the host the request came to (`Host`, and
/// `X-Forwarded-Proto` from a TLS proxy, else `http`); `path` alone without a Host.
pub(crate) fn absolute_url(headers: &HeaderMap, path: &str) -> String {
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => {
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("http");
            format!("{scheme}://{host}{path}")
        }
        None => path.to_string(),
    }
}

/// Unix time now, seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl AppState {
    /// Runs `f` with a read-only connection from the reader pool, on the blocking pool.
    /// For reads only (a write fails: the connection is opened read-only); it sees
    /// every transaction committed before it started.
    pub(crate) async fn with_read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get().map_err(Error::internal)?;
            f(&conn)
        })
        .await
        .map_err(Error::internal)?
    }

    /// Runs `f` with the database on the blocking pool.
    pub(crate) async fn with_db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let conn = db.lock().unwrap_or_else(|poisoned| {
                // A request panicked while holding the connection. That request got its
                // 500; the connection itself is fine once any transaction it left open
                // is rolled back, so every later request must not fail with it.
                tracing::error!("a request panicked holding the database; recovering");
                let conn = poisoned.into_inner();
                if !conn.is_autocommit() {
                    if let Err(e) = conn.execute_batch("ROLLBACK") {
                        tracing::error!(error = %e, "rollback after a panic failed");
                    }
                }
                db.clear_poison();
                conn
            });
            f(&conn)
        })
        .await
        .map_err(Error::internal)?
    }
}

/// The authenticated caller, from `Authorization: Bearer <token>`.
pub struct Caller {
    /// The account.
    pub user: UserInfo,
    /// SHA-256 of the presented token (for logout).
    pub token_sha256: String,
}

pub(crate) fn missing_token() -> Error {
    Error::new(
        StatusCode::UNAUTHORIZED,
        "auth.missing_token",
        "log in first: send Authorization: Bearer TOKEN",
    )
}

/// The token of an `Authorization: Bearer …` header.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Result<String, Error> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(missing_token)?;
    Ok(header
        .strip_prefix("Bearer ")
        .ok_or_else(missing_token)?
        .trim()
        .to_string())
}

/// Resolves a bearer token to its (enabled) account; 401 `auth.invalid_token` otherwise.
pub(crate) async fn authenticate(state: &AppState, token: &str) -> Result<Caller, Error> {
    let sha = auth::token_sha256(token);
    let sha2 = sha.clone();
    let user = state
        .with_read(move |c| {
            let Some(uid) = db::tokens::user_for(c, &sha2, now()).map_err(Error::internal)? else {
                return Ok(None);
            };
            db::users::by_id(c, uid).map_err(Error::internal)
        })
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| {
            Error::new(
                StatusCode::UNAUTHORIZED,
                "auth.invalid_token",
                "token unknown, expired or revoked",
            )
        })?;
    Ok(Caller {
        user: user.info,
        token_sha256: sha,
    })
}

/// True while the session whose token hashes to `token_sha256` is valid and its
/// account enabled (a database error counts as valid: a hiccup must not cut calls).
pub(crate) async fn token_valid(state: &AppState, token_sha256: &str) -> bool {
    let sha = token_sha256.to_string();
    state
        .with_read(move |c| {
            let Some(uid) = db::tokens::user_for(c, &sha, now()).map_err(Error::internal)? else {
                return Ok(false);
            };
            Ok(db::users::by_id(c, uid)
                .map_err(Error::internal)?
                .is_some_and(|u| !u.disabled))
        })
        .await
        .unwrap_or(true)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = bearer(&parts.headers)?;
        authenticate(state, &token).await
    }
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// How long readiness waits for each dependency.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /api/v1/ready`: 200 when a read-only database connection answers a query and
/// the object store answers a listing within [`READY_WAIT`] each; 503 `not_ready`
/// naming the one that did not (for load balancers and orchestrators).
async fn ready(State(state): State<AppState>) -> Result<Json<Health>, Error> {
    let not_ready = |what: &str, e: String| {
        tracing::warn!(what, error = %e, "not ready");
        Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("{what} unavailable: {e}"),
        )
    };
    let db = tokio::time::timeout(
        READY_WAIT,
        state.with_read(|c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map_err(Error::internal)
        }),
    )
    .await;
    match db {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(not_ready("database", e.message)),
        Err(_) => return Err(not_ready("database", "no answer within 2 s".into())),
    }
    let store = tokio::time::timeout(READY_WAIT, state.store.list_with_delimiter(None)).await;
    match store {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(not_ready("object store", e.to_string())),
        Err(_) => return Err(not_ready("object store", "no answer within 2 s".into())),
    }
    Ok(Json(Health {
        status: "ready".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

async fn login(
    State(state): State<AppState>,
    extract::JsonBody(req): extract::JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, Error> {
    let invalid = || {
        Error::new(
            StatusCode::UNAUTHORIZED,
            "auth.invalid_credentials",
            "wrong e-mail or password",
        )
    };
    let account = req.email.trim().to_lowercase();
    if let Err(secs) = state.limits.account_allows(&account) {
        tracing::warn!("login refused: too many failures for one account");
        state
            .metrics
            .login_failed(metrics::LoginFailure::AccountLimited);
        return Err(Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many failed logins for this account; retry in {secs} s"),
        ));
    }
    // The lookup holds the database only for the lookup: Argon2 (~20 ms of a core
    // each) runs below, on the blocking pool, with no lock held.
    let email = req.email.clone();
    let user = state
        .with_read(move |c| db::users::by_email(c, &email).map_err(Error::internal))
        .await?;
    // Verify against a dummy hash when the user is unknown, so timing does not reveal
    // which e-mails exist.
    let hash = user
        .as_ref()
        .map_or(auth::DUMMY_HASH.to_string(), |u| u.password_hash.clone());
    let ok = {
        let _permit = tokio::time::timeout(HASH_QUEUE_WAIT, state.hashing.acquire())
            .await
            .map_err(|_| {
                state.metrics.login_failed(metrics::LoginFailure::Busy);
                Error::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "auth.busy",
                    "too many logins at once; retry in a few seconds",
                )
            })?
            .map_err(Error::internal)?;
        let password = req.password;
        tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
            .await
            .map_err(Error::internal)?
    };
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        _ => {
            state.limits.account_failed(&account);
            state
                .metrics
                .login_failed(metrics::LoginFailure::Credentials);
            return Err(invalid());
        }
    };
    state.limits.account_succeeded(&account);
    let ttl = state.token_ttl_secs;
    let token = auth::new_token();
    let sha = auth::token_sha256(&token);
    let uid = user.info.id;
    let expires_at = state
        .with_db(move |c| {
            let now = now();
            let expires_at = now + ttl;
            db::tokens::insert(c, &sha, uid, now, expires_at).map_err(Error::internal)?;
            let _ = db::tokens::purge_expired(c, now);
            Ok(expires_at)
        })
        .await?;
    let resp = LoginResponse {
        token,
        expires_at,
        user: user.info,
    };
    tracing::info!(user = %resp.user.id, "login");
    Ok(Json(resp))
}

/// Read-only connections in the pool: a few more than the cores, since reads also
/// wait on disk.
const READERS: u32 = 4;

/// How long a login waits for a free hashing slot before answering 503 `auth.busy`.
const HASH_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Password hashes verified at once: half the cores (at least one), so a flood of
/// logins leaves the rest of the machine to the API and the calls.
fn hash_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, Error> {
    let sha = caller.token_sha256;
    let sha2 = sha.clone();
    state
        .with_db(move |c| db::tokens::delete(c, &sha2).map_err(Error::internal))
        .await?;
    // The session's signaling sockets go with it.
    state.hub.kick_token(&sha);
    Ok(StatusCode::NO_CONTENT)
}

async fn me(caller: Caller) -> Json<UserInfo> {
    Json(caller.user)
}

/// Builds the HTTP router over an open database; recordings live in
/// `DATA_DIR/objects` (local object store) and uploads stage in `DATA_DIR/uploads`.
pub fn router(conn: Connection, cfg: &Config) -> anyhow::Result<Router> {
    Ok(router_with_state(conn, cfg)?.0)
}

fn router_with_state(conn: Connection, cfg: &Config) -> anyhow::Result<(Router, AppState)> {
    cfg.validate()?;
    let staging_dir = cfg.data_dir.join("uploads");
    std::fs::create_dir_all(&staging_dir)?;
    let url_key = match cfg.signing_key()? {
        Some(k) => k,
        None => {
            let mut k = [0u8; 32];
            rand::fill(&mut k);
            k
        }
    };
    let manager = r2d2_sqlite::SqliteConnectionManager::file(db::path(&cfg.data_dir))
        .with_flags(
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .with_init(|c| c.pragma_update(None, "busy_timeout", 5000));
    let readers = r2d2::Pool::builder()
        .max_size(READERS)
        .min_idle(Some(1))
        .connection_timeout(std::time::Duration::from_secs(10))
        .build(manager)?;
    let state = AppState {
        readers,
        db: Arc::new(Mutex::new(conn)),
        token_ttl_secs: cfg.token_ttl_secs,
        store: cfg.object_store()?,
        staging_dir,
        url_key: Arc::new(url_key),
        patching: Arc::default(),
        max_upload_bytes: cfg.max_upload_bytes,
        upload_quota: (cfg.upload_max_in_flight, cfg.upload_max_bytes_in_flight),
        media: Arc::new(echo::MediaSettings {
            udp_addrs: cfg.media_udp_addrs.clone(),
            ice: ice::IceSettings {
                urls: cfg.ice_urls.clone(),
                turn_urls: cfg.turn_urls.clone(),
                secret: cfg.turn_secret.clone(),
                ttl_secs: cfg.turn_ttl_secs,
            },
            echo_delay: std::time::Duration::from_millis(cfg.echo_delay_ms),
        }),
        hub: Arc::default(),
        limits: Arc::new(limits::Limits::new(cfg)),
        hashing: Arc::new(tokio::sync::Semaphore::new(hash_slots())),
        completions: Arc::new(tokio::sync::Semaphore::new(2)),
        links: links::LinkSettings {
            default_ttl_secs: cfg.link_default_ttl_secs,
            max_ttl_secs: cfg.link_max_ttl_secs,
        },
        keepalive: socket::Keepalive {
            ping: std::time::Duration::from_millis(cfg.signal_ping_ms),
            idle: std::time::Duration::from_millis(cfg.signal_idle_ms),
        },
        metrics: Arc::default(),
        metrics_token: cfg.metrics_token.as_deref().map(Arc::from),
        releases: releases::ReleaseSettings {
            pubkey: cfg.update_pubkey.clone().map(Arc::from),
            max_bytes: cfg.release_max_bytes,
        },
    };
    use softphone_proto::recording_routes as rec;
    use softphone_proto::update_routes;
    let app = Router::new()
        .route(routes::HEALTH, get(health))
        .route(routes::READY, get(ready))
        .route(routes::LOGIN, post(login))
        .route(routes::LOGOUT, post(logout))
        .route(routes::ME, get(me))
        .route(routes::ICE_SERVERS, get(ice::get))
        .route(
            softphone_proto::sync_routes::LEAD,
            axum::routing::put(sync::put_lead).get(sync::get_lead),
        )
        .route(
            softphone_proto::sync_routes::NOTE,
            axum::routing::put(sync::put_note).get(sync::get_note),
        )
        .route(
            Contact::ROUTE,
            put(records::put::<Contact>).get(records::get_one::<Contact>),
        )
        .route(
            Conversation::ROUTE,
            put(records::put::<Conversation>).get(records::get_one::<Conversation>),
        )
        .route(
            Message::ROUTE,
            put(records::put::<Message>).get(records::get_one::<Message>),
        )
        .route(
            MessageStatusEvent::ROUTE,
            put(records::put::<MessageStatusEvent>).get(records::get_one::<MessageStatusEvent>),
        )
        .route(
            Call::ROUTE,
            put(records::put::<Call>).get(records::get_one::<Call>),
        )
        .route(softphone_proto::signal::ROUTE, get(socket::upgrade))
        .route(
            softphone_proto::link_routes::LINKS,
            post(links::create).get(links::list),
        )
        .route(
            softphone_proto::policy_routes::ORG_POLICY,
            get(policy::get).put(policy::put),
        )
        .route(update_routes::RELEASE, put(releases::upload))
        .route(update_routes::RELEASES, get(releases::list))
        .route(update_routes::RELEASE_BY_ID, delete(releases::withdraw))
        .route(update_routes::CHECK, get(releases::check))
        .route(update_routes::ARTIFACT, get(releases::artifact))
        .route(
            softphone_proto::link_routes::LINK,
            axum::routing::delete(links::revoke),
        )
        .route(softphone_proto::link_routes::JOIN_PAGE, get(links::page))
        .route(
            softphone_proto::link_routes::JOIN_SCRIPT,
            get(links::script),
        )
        .route(
            softphone_proto::link_routes::JOIN_SIGNAL,
            get(links::upgrade),
        )
        .route(openapi::OPENAPI_ROUTE, get(openapi::serve))
        .route(
            softphone_proto::sync_routes::CHANGES,
            get(sync::get_changes),
        )
        .route(rec::UPLOADS, post(recordings::create_upload))
        .route(
            rec::UPLOAD,
            axum::routing::head(recordings::head_upload).patch(recordings::patch_upload),
        )
        .route(
            rec::RECORDING,
            get(recordings::get_recording).delete(recordings::delete_recording),
        )
        .route(rec::RECORDING_URL, post(recordings::sign_url))
        .route(rec::MEDIA, get(recordings::media))
        .route(metrics::ROUTE, get(metrics::scrape))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::middleware,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ));
    let app = trace::apply(app).with_state(state.clone());
    Ok((app, state))
}

/// A running server.
pub struct Running {
    /// The bound address (the real port when `listen` had port 0).
    pub addr: SocketAddr,
    /// The bound `metrics_listen` address, when set.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The data folder's shared lock ([`db::backup::lock`]), held while serving.
    _lock: std::fs::File,
    /// The served TLS configuration and the files it came from, when the server
    /// terminates TLS itself (`tls_cert`/`tls_key`).
    tls: Option<(axum_server::tls_rustls::RustlsConfig, PathBuf, PathBuf)>,
}

impl Running {
    /// Base URL, e.g. `http://127.0.0.1:43117`, or `https://…` when the server
    /// terminates TLS itself.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Re-reads `tls_cert` and `tls_key` and serves them to new connections (open ones
    /// keep theirs): a renewed certificate without a restart. The server's SIGHUP
    /// handler calls it. Nothing to do without TLS.
    ///
    /// Errors: the files cannot be read or do not fit ([`tls::server_config`]); the
    /// certificate served before stays.
    pub fn reload_tls(&self) -> anyhow::Result<()> {
        if let Some((served, cert, key)) = &self.tls {
            served.reload_from_config(tls::server_config(cert, key)?);
            tracing::info!(cert = %cert.display(), "TLS certificate reloaded");
        }
        Ok(())
    }

    /// Stops accepting, finishes in-flight requests, and waits.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Takes the data folder's shared lock (a `restore` cannot run under it), opens the database, binds `cfg.listen` (and
/// `cfg.metrics_listen`) and serves in the background.
///
/// Errors: a restore holds the data folder; the database cannot be
/// opened or migrated; an address cannot be bound.
pub async fn start(cfg: &Config) -> anyhow::Result<Running> {
    let lock = db::backup::lock(&cfg.data_dir, db::backup::LockMode::Shared)?;
    let conn = db::open(&cfg.data_dir)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    let addr = listener.local_addr()?;
    let (app, state) = router_with_state(conn, cfg)?;
    let metrics_server = match cfg.metrics_listen {
        Some(a) => {
            let l = tokio::net::TcpListener::bind(a).await?;
            let bound = l.local_addr()?;
            let router = metrics::private_router(state.clone());
            tracing::info!(addr = %bound, "metrics listening");
            Some((
                bound,
                tokio::spawn(async move { axum::serve(l, router).await }),
            ))
        }
        None => None,
    };
    let metrics_addr = metrics_server.as_ref().map(|m| m.0);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (expiry, every) = (
        cfg.upload_expiry_secs,
        std::time::Duration::from_secs(cfg.upload_sweep_secs),
    );
    let sweeper = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = recordings::expire_uploads(&state, expiry).await {
                tracing::warn!(error = ?e, "upload expiry sweep failed");
            }
            state.limits.forget_idle();
        }
    });
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => Some((
            axum_server::tls_rustls::RustlsConfig::from_config(tls::server_config(cert, key)?),
            cert.clone(),
            key.clone(),
        )),
        _ => None,
    };
    let served = tls.as_ref().map(|t| t.0.clone());
    let task = tokio::spawn(async move {
        let r = match served {
            None => {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
            }
            Some(served) => serve_tls(listener, app, served, rx).await,
        };
        sweeper.abort();
        if let Some((_, m)) = metrics_server {
            m.abort();
        }
        r
    });
    tracing::info!(%addr, tls = tls.is_some(), "listening");
    Ok(Running {
        addr,
        metrics_addr,
        shutdown: tx,
        task,
        _lock: lock,
        tls,
    })
}

/// Serves `app` over TLS with `served` on `listener` until `stop` fires, then finishes
/// in-flight requests. Links and update URLs the server builds say `https`, the scheme
/// a TLS proxy would have forwarded.
async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    served: axum_server::tls_rustls::RustlsConfig,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let app = app.layer(axum::middleware::map_request(
        |mut req: axum::extract::Request| async move {
            req.headers_mut().insert(
                "x-forwarded-proto",
                axum::http::HeaderValue::from_static("https"),
            );
            req
        },
    ));
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        let _ = stop.await;
        stopper.graceful_shutdown(None);
    });
    axum_server::from_tcp_rustls(listener.into_std()?, served)?
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

/// Creates an account (used by `softphone-server user add` and tests).
pub fn add_user(
    conn: &Connection,
    org: &str,
    email: &str,
    display_name: &str,
    role: Role,
    password: &str,
) -> anyhow::Result<Uuid> {
    anyhow::ensure!(email.contains('@'), "`{email}` is not an e-mail address");
    anyhow::ensure!(
        password.chars().count() >= 8,
        "passwords need at least 8 characters"
    );
    let now = now();
    let org_id = db::orgs::get_or_create(conn, org, now)?;
    let hash = auth::hash_password(password)?;
    Ok(db::users::insert(
        conn,
        org_id,
        email,
        display_name,
        role,
        &hash,
        now,
    )?)
}

/// Disables (or re-enables) the account `email` and, when disabling, revokes all its
/// sessions (used by `softphone-server user disable`). A running server closes the
/// account's signaling sockets at its next keepalive ping (`signal_ping_ms`).
///
/// Errors: no account with that e-mail; database errors.
pub fn set_user_disabled(conn: &Connection, email: &str, disabled: bool) -> anyhow::Result<Uuid> {
    let tx = conn.unchecked_transaction()?;
    let id = db::users::set_disabled(&tx, email, disabled)?
        .ok_or_else(|| anyhow::anyhow!("no account with e-mail `{email}`"))?;
    if disabled {
        db::tokens::delete_for_user(&tx, id)?;
    }
    tx.commit()?;
    Ok(id)
}
