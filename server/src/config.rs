//! Server settings: defaults, then a TOML file, then `SOFTPHONE_*` environment variables,
//! then command-line flags (figment merges the first three).

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every setting, with the defaults of the embedded single-machine deployment.
///
/// File keys and environment variables share names: `listen` in the file is
/// `SOFTPHONE_LISTEN` in the environment.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Folder for the database, staged uploads and (by default) recordings.
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port. Default `127.0.0.1:8787`.
    pub listen: SocketAddr,
    /// Session lifetime, seconds (default 12 h: one working day).
    pub token_ttl_secs: i64,
    /// Largest recording accepted, bytes (default 512 MiB).
    pub max_upload_bytes: u64,
    /// Unfinished uploads one account may have at once (default 8); one more answers
    /// 429 `upload.quota`.
    pub upload_max_in_flight: u64,
    /// Bytes one account's unfinished uploads may still expect, all together (default
    /// 2 GiB: four of the largest recordings).
    pub upload_max_bytes_in_flight: u64,
    /// An unfinished upload with no byte received for this long is deleted, seconds
    /// (default 48 h, so a laptop offline over a weekend night still resumes).
    pub upload_expiry_secs: i64,
    /// How often abandoned uploads are looked for, seconds (default 600).
    pub upload_sweep_secs: u64,
    /// Where recordings go: unset for `DATA_DIR/objects`, or `s3://bucket/prefix` for S3 or
    /// an S3-compatible store (R2, MinIO), configured by the usual `AWS_*` variables
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`,
    /// `AWS_ALLOW_HTTP`).
    pub storage_url: Option<String>,
    /// Key for signed playback URLs, 64 hex chars; set the same on every instance behind
    /// a load balancer. Unset: random per process (links die with a restart).
    pub url_signing_key: Option<String>,
    /// Requests per second per client address, sustained (default 100).
    pub api_rate_per_sec: u32,
    /// Requests per client address in a burst (default 400).
    pub api_burst: u32,
    /// Login attempts per minute per client address, sustained (default 10).
    pub login_rate_per_min: u32,
    /// Login attempts per client address in a burst (default 10).
    pub login_burst: u32,
    /// Failed logins one account may have in `login_account_window_secs` before its
    /// logins answer 429 until the window ends, from any address (default 10).
    pub login_account_failures: u32,
    /// Window of `login_account_failures`, seconds (default 900).
    pub login_account_window_secs: u64,
    /// Proxies (addresses or CIDR blocks, e.g. `["127.0.0.1", "10.0.0.0/8"]`) whose
    /// `X-Forwarded-For` / `Forwarded` headers name the client for the rate limits.
    /// Default none: the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// Local UDP addresses the server's own WebRTC peers (the echo test) gather host
    /// candidates on. Default `["0.0.0.0:0"]` (every interface, any port).
    pub media_udp_addrs: Vec<String>,
    /// STUN URLs (or TURN URLs with static credentials in them) for every call: the
    /// app, the CLI, the server's echo peer and the prospect page, e.g.
    /// `["stun:stun.example.com:3478"]`. Default none (LAN and loopback need none).
    pub ice_urls: Vec<String>,
    /// TURN URLs handed out with short-lived credentials, e.g.
    /// `["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"]`;
    /// used only with `turn_secret`. Default none.
    pub turn_urls: Vec<String>,
    /// Secret shared with the TURN server (coturn `use-auth-secret` +
    /// `static-auth-secret`), at least 16 characters. Default none.
    pub turn_secret: Option<String>,
    /// Lifetime of a TURN credential, seconds (default 14 400: a long call's worth;
    /// the app asks for new ones before each call).
    pub turn_ttl_secs: i64,
    /// How long the echo test waits before playing the caller back, ms (default 500).
    pub echo_delay_ms: u64,
    /// Signaling keepalive: a WebSocket ping this often, ms; each also re-checks the
    /// socket's session (default 15 000).
    pub signal_ping_ms: u64,
    /// A signaling socket silent this long is closed, ms (default 45 000).
    pub signal_idle_ms: u64,
    /// Lifetime of a call link when the agent asks for none, seconds (default 7200).
    pub link_default_ttl_secs: i64,
    /// Longest lifetime an agent may ask for, seconds (default 604 800: 7 days).
    pub link_max_ttl_secs: i64,
    /// Log line format on stderr: `text` (default) or `json` (one object per line, with
    /// the request's `request_id`, `method` and `route` in `span`).
    pub log_format: LogFormat,
    /// A second listener serving only `GET /metrics`, without a token, e.g.
    /// `127.0.0.1:9187`; keep it off the internet. Default none.
    pub metrics_listen: Option<SocketAddr>,
    /// Bearer token that opens `GET /metrics` on the API listener. Default none: the
    /// route answers 404 there.
    pub metrics_token: Option<String>,
    /// The minisign public key app updates are signed with, as `tauri signer generate`
    /// prints it (base64); the same key the app's build trusts. Uploads of releases
    /// are refused until it is set, and refused when their signature does not verify
    /// with it. Default none.
    pub update_pubkey: Option<String>,
    /// Largest release artifact an admin may upload, bytes (default 256 MiB).
    pub release_max_bytes: u64,
    /// PEM certificate chain (leaf first) for serving HTTPS and WSS on `listen` itself,
    /// for installs without a TLS proxy; set with `tls_key`. Re-read on SIGHUP
    /// (`systemctl reload`), so a renewed certificate needs no restart. Default none:
    /// plain HTTP, for a proxy in front (docs/server.md).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

/// Format of the server's log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (tracing-subscriber's default format).
    #[default]
    Text,
    /// One JSON object per line (for Loki, Elasticsearch, journald exporters).
    Json,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("upload_expiry_secs", &self.upload_expiry_secs)
            .field("storage_url", &self.storage_url)
            .field(
                "url_signing_key",
                &self.url_signing_key.as_ref().map(|_| "[redacted]"),
            )
            .field("api_rate_per_sec", &self.api_rate_per_sec)
            .field("login_rate_per_min", &self.login_rate_per_min)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("media_udp_addrs", &self.media_udp_addrs)
            .field("ice_urls", &self.ice_urls)
            .field("turn_urls", &self.turn_urls)
            .field(
                "turn_secret",
                &self.turn_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("log_format", &self.log_format)
            .field("update_pubkey", &self.update_pubkey)
            .field("release_max_bytes", &self.release_max_bytes)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("metrics_listen", &self.metrics_listen)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new(PathBuf::from("./softphone-data"))
    }
}

/// Keys accepted from the environment (with the `SOFTPHONE_` prefix).
const ENV_KEYS: [&str; 34] = [
    "data_dir",
    "listen",
    "token_ttl_secs",
    "max_upload_bytes",
    "upload_expiry_secs",
    "upload_max_in_flight",
    "upload_max_bytes_in_flight",
    "upload_sweep_secs",
    "storage_url",
    "url_signing_key",
    "api_rate_per_sec",
    "api_burst",
    "login_rate_per_min",
    "login_burst",
    "login_account_failures",
    "login_account_window_secs",
    "trusted_proxies",
    "media_udp_addrs",
    "ice_urls",
    "turn_urls",
    "turn_secret",
    "turn_ttl_secs",
    "echo_delay_ms",
    "signal_ping_ms",
    "signal_idle_ms",
    "link_default_ttl_secs",
    "link_max_ttl_secs",
    "log_format",
    "metrics_listen",
    "metrics_token",
    "update_pubkey",
    "release_max_bytes",
    "tls_cert",
    "tls_key",
];

impl Config {
    /// Defaults, with `data_dir`.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            token_ttl_secs: 12 * 3600,
            max_upload_bytes: 512 * 1024 * 1024,
            upload_expiry_secs: 48 * 3600,
            upload_max_in_flight: 8,
            upload_max_bytes_in_flight: 2 * 1024 * 1024 * 1024,
            upload_sweep_secs: 600,
            storage_url: None,
            url_signing_key: None,
            api_rate_per_sec: 100,
            api_burst: 400,
            login_rate_per_min: 10,
            login_burst: 10,
            login_account_failures: 10,
            login_account_window_secs: 900,
            trusted_proxies: vec![],
            media_udp_addrs: vec!["0.0.0.0:0".into()],
            ice_urls: vec![],
            turn_urls: vec![],
            turn_secret: None,
            turn_ttl_secs: 4 * 3600,
            echo_delay_ms: 500,
            signal_ping_ms: 15_000,
            signal_idle_ms: 45_000,
            link_default_ttl_secs: 7200,
            link_max_ttl_secs: 7 * 86_400,
            log_format: LogFormat::Text,
            metrics_listen: None,
            metrics_token: None,
            update_pubkey: None,
            release_max_bytes: 256 * 1024 * 1024,
            tls_cert: None,
            tls_key: None,
        }
    }

    /// Defaults, then `file` (TOML; an error if given and missing), then `SOFTPHONE_*`.
    ///
    /// Errors name the offending key: an unknown key, a wrong type, a bad address.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            anyhow::ensure!(f.is_file(), "config file {} not found", f.display());
            fig = fig.merge(Toml::file_exact(f));
        }
        fig = fig.merge(Env::prefixed("SOFTPHONE_").only(&ENV_KEYS));
        let cfg: Config = fig.extract()?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.token_ttl_secs >= 0,
            "token_ttl_secs cannot be negative"
        );
        anyhow::ensure!(
            self.max_upload_bytes > 0 && self.release_max_bytes > 0,
            "max_upload_bytes and release_max_bytes must be positive"
        );
        anyhow::ensure!(
            self.tls_cert.is_some() == self.tls_key.is_some(),
            "tls_cert and tls_key go together: set both to serve HTTPS, or neither"
        );
        if let Some(k) = &self.update_pubkey {
            crate::releases::parse_pubkey(k).map_err(|e| anyhow::anyhow!("update_pubkey: {e}"))?;
        }
        anyhow::ensure!(
            self.upload_expiry_secs > 0 && self.upload_sweep_secs > 0,
            "upload_expiry_secs and upload_sweep_secs must be positive"
        );
        anyhow::ensure!(
            self.api_rate_per_sec > 0
                && self.api_burst > 0
                && self.login_rate_per_min > 0
                && self.login_burst > 0,
            "rate limits must be positive"
        );
        anyhow::ensure!(
            self.login_account_failures > 0 && self.login_account_window_secs > 0,
            "login_account_failures and login_account_window_secs must be positive"
        );
        anyhow::ensure!(
            self.signal_ping_ms >= 100 && self.signal_idle_ms > self.signal_ping_ms,
            "signal_ping_ms must be at least 100 and signal_idle_ms longer than it"
        );
        anyhow::ensure!(
            (60..=self.link_max_ttl_secs).contains(&self.link_default_ttl_secs),
            "link_default_ttl_secs must be between 60 and link_max_ttl_secs"
        );
        anyhow::ensure!(
            self.turn_secret.as_ref().is_none_or(|t| t.len() >= 16),
            "turn_secret must be at least 16 characters"
        );
        anyhow::ensure!(
            (60..=7 * 86_400).contains(&self.turn_ttl_secs),
            "turn_ttl_secs must be between 60 and 604800"
        );
        anyhow::ensure!(
            self.metrics_token.as_ref().is_none_or(|t| t.len() >= 16),
            "metrics_token must be at least 16 characters"
        );
        self.trusted_proxy_nets()?;
        self.signing_key()?;
        Ok(())
    }

    /// `trusted_proxies` parsed; a bare address is its own /32 or /128.
    pub(crate) fn trusted_proxy_nets(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "trusted_proxies: `{s}` is not an address or CIDR block (e.g. 10.0.0.0/8)"
                        )
                    })
            })
            .collect()
    }

    /// The configured signing key, decoded.
    pub(crate) fn signing_key(&self) -> anyhow::Result<Option<[u8; 32]>> {
        let Some(hex_key) = &self.url_signing_key else {
            return Ok(None);
        };
        let bytes = hex::decode(hex_key.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| anyhow::anyhow!("url_signing_key must be 64 hex characters"))?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        Ok(Some(key))
    }

    /// The object store for recordings.
    pub(crate) fn object_store(
        &self,
    ) -> anyhow::Result<std::sync::Arc<dyn object_store::ObjectStore>> {
        match self.storage_url.as_deref() {
            None => {
                let dir = self.data_dir.join("objects");
                std::fs::create_dir_all(&dir)?;
                Ok(std::sync::Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(dir)?,
                ))
            }
            Some(url) if url.starts_with("s3://") => {
                let parsed = url::Url::parse(url)?;
                let store = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()?;
                let prefix = parsed.path().trim_matches('/');
                if prefix.is_empty() {
                    Ok(std::sync::Arc::new(store))
                } else {
                    Ok(std::sync::Arc::new(object_store::prefix::PrefixStore::new(
                        store,
                        prefix.to_string(),
                    )))
                }
            }
            Some(other) => anyhow::bail!(
                "storage_url `{other}` is not supported: leave it unset for the data folder or use s3://bucket/prefix"
            ),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "server.toml",
                "listen = \"0.0.0.0:9000\"\ntoken_ttl_secs = 60\n",
            )?;
            jail.set_env("SOFTPHONE_TOKEN_TTL_SECS", "120");
            jail.set_env("SOFTPHONE_LOG", "debug");
            let cfg = Config::load(Some(Path::new("server.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(
                cfg.listen,
                "0.0.0.0:9000".parse::<std::net::SocketAddr>().unwrap()
            );
            assert_eq!(cfg.token_ttl_secs, 120);
            assert_eq!(cfg.max_upload_bytes, 512 * 1024 * 1024);
            Ok(())
        });
    }

    #[test]
    fn typos_and_bad_values_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("a.toml", "lisen = \"0.0.0.0:9000\"\n")?;
            let e = Config::load(Some(Path::new("a.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("lisen"), "{e}");
            jail.create_file("b.toml", "url_signing_key = \"abc\"\n")?;
            let e = Config::load(Some(Path::new("b.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("url_signing_key"), "{e}");
            let e = Config::load(Some(Path::new("missing.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("not found"), "{e}");
            jail.create_file("c.toml", "tls_cert = \"/etc/ssl/server.pem\"\n")?;
            let e = Config::load(Some(Path::new("c.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("tls_cert and tls_key go together"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn debug_hides_the_signing_key() {
        let c = Config {
            url_signing_key: Some("ab".repeat(32)),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("abab"));
    }
}
