//! The administrator's settings for a managed install: which server the agents sign in
//! to. An installer (or a device-management tool) drops a small JSON file in a
//! system-wide folder the agent cannot edit; the sign-in screen starts from it.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `config.json` in the system folder (see [`AdminConfig::system_path`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// The server's base URL, e.g. `https://softphone.example.com`; `None` = the agent
    /// types it.
    #[serde(default)]
    pub server_url: Option<String>,
    /// The agent cannot change the server URL (only with `server_url` set).
    #[serde(default)]
    pub lock_server_url: bool,
    /// Allow plain `http://` servers on other machines (default off: only `https://`,
    /// and `http://` on this machine). For a trusted LAN without TLS.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub allow_insecure_http: bool,
}

/// What can be wrong with the file.
#[derive(Debug, thiserror::Error)]
pub enum AdminConfigError {
    /// The file exists but cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the expected JSON (unknown keys are refused, to catch typos).
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

impl AdminConfig {
    /// Where an installer puts the file: `SOFTPHONE_ADMIN_CONFIG` when set, else
    /// `/etc/agent-softphone/config.json` (Linux), `/Library/Application
    /// Support/agent-softphone/config.json` (macOS), `%ProgramData%\agent-softphone\config.json`
    /// (Windows).
    pub fn system_path() -> PathBuf {
        if let Some(p) = std::env::var_os("SOFTPHONE_ADMIN_CONFIG").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        if cfg!(target_os = "windows") {
            let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
            PathBuf::from(base)
                .join("agent-softphone")
                .join("config.json")
        } else if cfg!(target_os = "macos") {
            PathBuf::from("/Library/Application Support/agent-softphone/config.json")
        } else {
            PathBuf::from("/etc/agent-softphone/config.json")
        }
    }

    /// Reads `path`; a missing file is the default (nothing preset).
    ///
    /// Errors: [`AdminConfigError`] for an unreadable or malformed file.
    pub fn load(path: &Path) -> Result<AdminConfig, AdminConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(AdminConfigError::Io {
                    path: path.into(),
                    source,
                })
            }
        };
        let mut cfg: AdminConfig =
            serde_json::from_str(&text).map_err(|source| AdminConfigError::Json {
                path: path.into(),
                source,
            })?;
        cfg.lock_server_url &= cfg.server_url.is_some();
        Ok(cfg)
    }

    /// Applies the settings that hold for the whole process (today: whether plain
    /// HTTP to another machine is allowed, see `softphone_client::allow_insecure_http`).
    /// `also_allow_http` is a command-line override that can only loosen it.
    pub fn apply_to_process(&self, also_allow_http: bool) {
        softphone_client::allow_insecure_http(self.allow_insecure_http || also_allow_http);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preset_server_is_read_and_a_typo_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        assert_eq!(AdminConfig::load(&p).unwrap(), AdminConfig::default());
        std::fs::write(
            &p,
            r#"{"server_url": "https://pbx.example.com", "lock_server_url": true}"#,
        )
        .unwrap();
        let c = AdminConfig::load(&p).unwrap();
        assert_eq!(c.server_url.as_deref(), Some("https://pbx.example.com"));
        assert!(c.lock_server_url);
        // A lock without a URL locks nothing.
        std::fs::write(&p, r#"{"lock_server_url": true}"#).unwrap();
        assert!(!AdminConfig::load(&p).unwrap().lock_server_url);
        std::fs::write(&p, r#"{"server": "https://pbx.example.com"}"#).unwrap();
        let e = AdminConfig::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("config.json") && e.contains("unknown field"),
            "{e}"
        );
    }
}
