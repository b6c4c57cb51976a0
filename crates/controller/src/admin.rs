//! The administrator's settings for a managed install: which server the agents sign in
//! to, whether calls are recorded and at what quality, and how much the app logs. An
//! installer (or a device-management tool) drops a small JSON file in a system-wide
//! folder the agent cannot edit; the app and the CLI enforce it, and the app shows each
//! value it sets as set by the administrator.

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
    /// Call recording; `None`: the agent chooses (on by default).
    #[serde(default)]
    pub recording: Option<RecordingPolicy>,
    /// Recording bitrate per track, kbit/s (6-256), fixed for the agent; `None`: the
    /// agent chooses (32 by default).
    #[serde(default)]
    pub recording_bitrate_kbps: Option<u32>,
    /// STUN/TURN servers every call uses instead of those the server hands out (an
    /// organisation's own relay). A TURN password here is readable by everyone on the
    /// machine; the server's short-lived credentials (`turn_secret`) are the safer way.
    /// Empty: the server's.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub ice_servers: Vec<softphone_proto::IceServer>,
    /// How calls may connect (W3C `iceTransportPolicy`): `relay` sends every call's
    /// media through a TURN server, so prospects and colleagues never learn the agent's
    /// addresses, and a call with no TURN server fails (`call.no_relay`) instead of
    /// going direct; `all` lets ICE choose and stops the agent from asking for relay.
    /// `None`: the agent chooses (`softphone call --relay-only`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub ice_transport_policy: Option<IceTransportPolicy>,
    /// What happens to a call's recording on this machine once the server has it;
    /// `None`: kept, unless the agent asks to delete (`softphone sync --prune`).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub local_recordings: Option<LocalRecordings>,
    /// The log file's filter (`EnvFilter` syntax, e.g. `debug`); it replaces the default
    /// and `SOFTPHONE_LOG`. `None`: those apply.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub log_level: Option<String>,
    /// `false` turns the app's own update checks off (when a device-management tool or
    /// a signed apt/yum repository installs updates). `None`: on.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub updates: Option<bool>,
    /// The release channel updates come from; `None`: `stable`.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub update_channel: Option<softphone_proto::UpdateChannel>,
}

pub use softphone_proto::{LocalRecordings, RecordingPolicy};

/// The W3C `RTCIceTransportPolicy` values an administrator may fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IceTransportPolicy {
    /// Any candidate pair ICE finds (host, server-reflexive, relay).
    All,
    /// Relay candidates only: media always goes through TURN.
    Relay,
}

/// A choice the administrator's policy does not allow; `code()` gives a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Recording asked for while the policy turns it off.
    #[error("your administrator turned call recording off")]
    RecordingOff,
    /// No recording asked for while the policy forces it.
    #[error("your administrator requires every call to be recorded")]
    RecordingForced,
    /// Another recording bitrate asked for than the policy's.
    #[error("your administrator set the recording quality to {0} kbit/s")]
    BitrateFixed(u32),
    /// Deleting uploaded recordings asked for while the policy keeps them.
    #[error("your administrator keeps call recordings on this machine")]
    RecordingsKept,
    /// Other ICE servers asked for than the policy's.
    #[error("your administrator set the STUN/TURN servers")]
    IceServersFixed,
    /// Relay-only asked for while the policy sets `ice_transport_policy: all`.
    #[error("your administrator set how calls connect (ice_transport_policy: all)")]
    IceTransportFixed,
    /// Deleting uploaded recordings asked for while the policy keeps them N days.
    #[error("your administrator keeps call recordings on this machine for {0} days")]
    RecordingsKeptDays(u32),
}

impl PolicyError {
    /// `policy.recording_off`, `policy.recording_forced`, `policy.bitrate_fixed`,
    /// `policy.recordings_kept`, `policy.ice_servers_fixed`.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::RecordingOff => "policy.recording_off",
            PolicyError::RecordingForced => "policy.recording_forced",
            PolicyError::BitrateFixed(_) => "policy.bitrate_fixed",
            PolicyError::RecordingsKept => "policy.recordings_kept",
            PolicyError::IceServersFixed => "policy.ice_servers_fixed",
            PolicyError::IceTransportFixed => "policy.ice_transport_fixed",
            PolicyError::RecordingsKeptDays(_) => "policy.recordings_kept",
        }
    }
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
    /// A value is out of range.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Which value and why.
        message: String,
    },
}

/// The registry key (under `HKEY_LOCAL_MACHINE`) an MSI's public properties or a Group
/// Policy write the policy to on Windows (`packaging/windows/policy.wxs`).
pub const WINDOWS_POLICY_KEY: &str = r"SOFTWARE\Policies\Agent Softphone";

/// The managed preferences a configuration profile installs on macOS
/// (`packaging/macos/agent-softphone.mobileconfig`).
pub const MACOS_MANAGED_PREFERENCES: &str =
    "/Library/Managed Preferences/com.agentsoftphone.desktop.plist";

/// [`AdminConfig::managed`] on Windows: the values under [`WINDOWS_POLICY_KEY`].
#[cfg(windows)]
fn windows_managed() -> Result<Option<AdminConfig>, AdminConfigError> {
    let Ok(key) = windows_registry::LOCAL_MACHINE.open(WINDOWS_POLICY_KEY) else {
        return Ok(None);
    };
    let Ok(values) = key.values() else {
        return Ok(None);
    };
    let pairs: Vec<(String, String)> = values
        .filter_map(|(name, v)| {
            let text = match v.ty() {
                windows_registry::Type::U32 => u32::try_from(v).ok()?.to_string(),
                _ => String::try_from(v).ok()?,
            };
            Some((name, text))
        })
        .collect();
    AdminConfig::from_policy_values(&pairs).map(Some)
}

/// [`AdminConfig::managed`] on macOS: [`MACOS_MANAGED_PREFERENCES`].
#[cfg(target_os = "macos")]
fn macos_managed() -> Result<Option<AdminConfig>, AdminConfigError> {
    match std::fs::read(MACOS_MANAGED_PREFERENCES) {
        Ok(bytes) => AdminConfig::from_managed_preferences(&bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AdminConfigError::Io {
            path: MACOS_MANAGED_PREFERENCES.into(),
            source,
        }),
    }
}

/// The organisation's policy as last fetched from the server, in the agent's profile
/// folder (written at sign-in and by sync; read offline).
pub const ORG_POLICY_FILE: &str = "org-policy.json";

/// Keeps `org` in `profile` for [`AdminConfig::load_effective`] (written to a temporary
/// file, then renamed, so a crash never leaves half a file).
///
/// Errors: the folder cannot be written.
pub fn save_org_policy(profile: &Path, org: &softphone_proto::OrgPolicy) -> std::io::Result<()> {
    std::fs::create_dir_all(profile)?;
    let tmp = profile.join(format!("{ORG_POLICY_FILE}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(org)?)?;
    std::fs::rename(tmp, profile.join(ORG_POLICY_FILE))
}

/// The organisation's policy cached in `profile`; `None` when there is none. A file
/// that does not parse or has a value out of range is ignored (logged): the next sync
/// writes it again.
pub fn read_org_policy(profile: &Path) -> Option<softphone_proto::OrgPolicy> {
    let path = profile.join(ORG_POLICY_FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_json::from_str::<softphone_proto::OrgPolicy>(&text)
        .map_err(|e| e.to_string())
        .and_then(|p| p.validate().map(|()| p))
    {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring the cached org policy");
            None
        }
    }
}

impl AdminConfig {
    /// The machine's policy (the file at `path`, under the OS's managed policy,
    /// [`Self::managed`]), with the organisation's policy cached in `profile` (when given
    /// and present) filling each key the machine leaves unset: the machine wins key by
    /// key.
    ///
    /// Errors: as [`AdminConfig::load`].
    pub fn load_effective(
        path: &Path,
        profile: Option<&Path>,
    ) -> Result<AdminConfig, AdminConfigError> {
        let mut local = Self::load(path)?;
        if let Some(managed) = Self::managed()? {
            local = local.under(managed);
        }
        Ok(match profile.and_then(read_org_policy) {
            Some(org) => local.with_org(&org),
            None => local,
        })
    }

    /// `self` with `org`'s values where `self` sets none.
    pub fn with_org(mut self, org: &softphone_proto::OrgPolicy) -> AdminConfig {
        self.recording = self.recording.or(org.recording);
        self.recording_bitrate_kbps = self.recording_bitrate_kbps.or(org.recording_bitrate_kbps);
        self.local_recordings = self.local_recordings.or(org.local_recordings);
        self.updates = self.updates.or(org.updates);
        self.update_channel = self.update_channel.or(org.update_channel);
        self
    }

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
        let cfg: AdminConfig =
            serde_json::from_str(&text).map_err(|source| AdminConfigError::Json {
                path: path.into(),
                source,
            })?;
        cfg.checked(path)
    }

    /// `self` with its values checked (`source` names where they came from in errors),
    /// and `lock_server_url` only where a server is set.
    fn checked(mut self, source: &Path) -> Result<AdminConfig, AdminConfigError> {
        self.lock_server_url &= self.server_url.is_some();
        let invalid = |message: String| AdminConfigError::Invalid {
            path: source.into(),
            message,
        };
        if let Some(k) = self.recording_bitrate_kbps {
            if !(6..=256).contains(&k) {
                return Err(invalid(format!(
                    "recording_bitrate_kbps {k} is outside 6-256"
                )));
            }
        }
        if let Some(LocalRecordings::KeepDays(d)) = self.local_recordings {
            if !(1..=3650).contains(&d) {
                return Err(invalid(format!(
                    "local_recordings keep_days {d} is outside 1-3650"
                )));
            }
        }
        if self.ice_transport_policy == Some(IceTransportPolicy::Relay)
            && !self.ice_servers.is_empty()
            && !self
                .ice_servers
                .iter()
                .any(softphone_proto::IceServer::is_turn)
        {
            return Err(invalid(
                "ice_transport_policy relay needs a turn: or turns: server in ice_servers".into(),
            ));
        }
        if let Some(f) = &self.log_level {
            if tracing_subscriber::EnvFilter::try_new(f).is_err() {
                return Err(invalid(format!("log_level {f:?} is not a log filter")));
            }
        }
        Ok(self)
    }

    /// The policy an MSI's public properties wrote to the registry
    /// ([`WINDOWS_POLICY_KEY`], `packaging/windows/policy.wxs`), given its values as
    /// (name, text) pairs: the names are this file's keys; `lock_server_url`,
    /// `allow_insecure_http` and `updates` take `1`/`0` (or `true`/`false`),
    /// `local_recordings` takes `keep`, `delete_after_upload` or a number of days,
    /// `ice_servers` takes the JSON array; empty values are skipped.
    ///
    /// Errors: an unknown name, a value of the wrong kind or out of range.
    pub fn from_policy_values(
        values: &[(String, String)],
    ) -> Result<AdminConfig, AdminConfigError> {
        let source = Path::new(WINDOWS_POLICY_KEY);
        let invalid = |message: String| AdminConfigError::Invalid {
            path: source.into(),
            message,
        };
        let mut map = serde_json::Map::new();
        for (name, text) in values {
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let value = match name.as_str() {
                "lock_server_url" | "allow_insecure_http" | "updates" => {
                    match text.to_ascii_lowercase().as_str() {
                        "1" | "true" | "yes" => serde_json::Value::Bool(true),
                        "0" | "false" | "no" => serde_json::Value::Bool(false),
                        _ => return Err(invalid(format!("{name} must be 1 or 0, not {text:?}"))),
                    }
                }
                "recording_bitrate_kbps" => serde_json::Value::from(
                    text.parse::<u32>()
                        .map_err(|_| invalid(format!("{name} must be a number, not {text:?}")))?,
                ),
                "local_recordings" => match text.parse::<u32>() {
                    Ok(days) => serde_json::json!({ "keep_days": days }),
                    Err(_) => serde_json::Value::from(text),
                },
                "ice_servers" => serde_json::from_str(text)
                    .map_err(|e| invalid(format!("ice_servers is not a JSON array: {e}")))?,
                _ => serde_json::Value::from(text),
            };
            map.insert(name.clone(), value);
        }
        let cfg: AdminConfig = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| invalid(e.to_string()))?;
        cfg.checked(source)
    }

    /// The policy a configuration profile installed as managed preferences (macOS;
    /// [`MACOS_MANAGED_PREFERENCES`], from a payload like
    /// `packaging/macos/agent-softphone.mobileconfig`): a property list with this
    /// file's keys; the profile's own `Payload…` keys are ignored.
    ///
    /// Errors: not a property list, an unknown key, a value out of range.
    pub fn from_managed_preferences(plist_bytes: &[u8]) -> Result<AdminConfig, AdminConfigError> {
        let source = Path::new(MACOS_MANAGED_PREFERENCES);
        let invalid = |message: String| AdminConfigError::Invalid {
            path: source.into(),
            message,
        };
        let dict: plist::Dictionary =
            plist::from_bytes(plist_bytes).map_err(|e| invalid(e.to_string()))?;
        let mut json = serde_json::to_value(&dict).map_err(|e| invalid(e.to_string()))?;
        if let Some(m) = json.as_object_mut() {
            m.retain(|k, _| !k.starts_with("Payload"));
        }
        let cfg: AdminConfig = serde_json::from_value(json).map_err(|e| invalid(e.to_string()))?;
        cfg.checked(source)
    }

    /// The operating system's managed policy, when there is one: the registry values an
    /// MSI or a Group Policy set on Windows, the configuration profile's managed
    /// preferences on macOS; none on Linux (the file is the only source there).
    ///
    /// Errors: as [`Self::from_policy_values`] and [`Self::from_managed_preferences`].
    pub fn managed() -> Result<Option<AdminConfig>, AdminConfigError> {
        #[cfg(windows)]
        return windows_managed();
        #[cfg(target_os = "macos")]
        return macos_managed();
        #[cfg(not(any(windows, target_os = "macos")))]
        Ok(None)
    }

    /// `self` (the file) under `managed` (the OS's managed policy): each key `managed`
    /// sets wins; `lock_server_url` and `allow_insecure_http` hold when either sets them.
    pub fn under(self, managed: AdminConfig) -> AdminConfig {
        let server_url = managed.server_url.or(self.server_url);
        AdminConfig {
            lock_server_url: (managed.lock_server_url || self.lock_server_url)
                && server_url.is_some(),
            server_url,
            allow_insecure_http: managed.allow_insecure_http || self.allow_insecure_http,
            recording: managed.recording.or(self.recording),
            recording_bitrate_kbps: managed
                .recording_bitrate_kbps
                .or(self.recording_bitrate_kbps),
            ice_servers: if managed.ice_servers.is_empty() {
                self.ice_servers
            } else {
                managed.ice_servers
            },
            ice_transport_policy: managed.ice_transport_policy.or(self.ice_transport_policy),
            local_recordings: managed.local_recordings.or(self.local_recordings),
            log_level: managed.log_level.or(self.log_level),
            updates: managed.updates.or(self.updates),
            update_channel: managed.update_channel.or(self.update_channel),
        }
    }

    /// The log file's filter: `log_level` when the policy sets it, else
    /// `SOFTPHONE_LOG`, else [`crate::logs::DEFAULT_FILTER`].
    pub fn log_filter(&self) -> String {
        self.log_level
            .clone()
            .or_else(|| std::env::var("SOFTPHONE_LOG").ok())
            .unwrap_or_else(|| crate::logs::DEFAULT_FILTER.into())
    }

    /// Whether a call is recorded, given what the agent asked for (`requested`).
    ///
    /// Errors: [`PolicyError::RecordingOff`] when asking to record under `off`,
    /// [`PolicyError::RecordingForced`] when asking not to under `forced`.
    pub fn record_call(&self, requested: bool) -> Result<bool, PolicyError> {
        match (self.recording, requested) {
            (Some(RecordingPolicy::Off), true) => Err(PolicyError::RecordingOff),
            (Some(RecordingPolicy::Forced), false) => Err(PolicyError::RecordingForced),
            _ => Ok(requested),
        }
    }

    /// The ICE servers a call uses, given those the caller asked for (`requested`,
    /// e.g. the CLI's `--ice-server`): the policy's when it sets some (`Some`), else
    /// `None` (the requested ones, or the server's when none were requested).
    ///
    /// Errors: [`PolicyError::IceServersFixed`] when asking for others than the
    /// policy's.
    pub fn ice_servers_for(
        &self,
        requested: &[softphone_proto::IceServer],
    ) -> Result<Option<Vec<softphone_proto::IceServer>>, PolicyError> {
        match (self.ice_servers.is_empty(), requested.is_empty()) {
            (true, _) => Ok(None),
            (false, true) => Ok(Some(self.ice_servers.clone())),
            (false, false) if requested == self.ice_servers.as_slice() => {
                Ok(Some(self.ice_servers.clone()))
            }
            (false, false) => Err(PolicyError::IceServersFixed),
        }
    }

    /// Whether a call is relay-only, given whether the agent asked for it (`requested`):
    /// always under `relay`, as asked when the policy is silent.
    ///
    /// Errors: [`PolicyError::IceTransportFixed`] when asking for relay under `all`.
    pub fn relay_only(&self, requested: bool) -> Result<bool, PolicyError> {
        match (self.ice_transport_policy, requested) {
            (Some(IceTransportPolicy::Relay), _) => Ok(true),
            (Some(IceTransportPolicy::All), true) => Err(PolicyError::IceTransportFixed),
            _ => Ok(requested),
        }
    }

    /// What sync does with a local recording once the server has it, given whether the
    /// agent asked to delete it (`prune`).
    ///
    /// Errors: [`PolicyError::RecordingsKept`] when asking to delete under `keep`,
    /// [`PolicyError::RecordingsKeptDays`] under `keep_days`.
    pub fn retention(
        &self,
        prune: bool,
    ) -> Result<softphone_store::recordings::Retention, PolicyError> {
        use softphone_store::recordings::Retention;
        match (self.local_recordings, prune) {
            (Some(LocalRecordings::Keep), true) => Err(PolicyError::RecordingsKept),
            (Some(LocalRecordings::KeepDays(d)), true) => Err(PolicyError::RecordingsKeptDays(d)),
            (Some(LocalRecordings::KeepDays(d)), false) => Ok(Retention::KeepDays(d)),
            (Some(LocalRecordings::DeleteAfterUpload), _) | (None, true) => Ok(Retention::Prune),
            _ => Ok(Retention::Keep),
        }
    }

    /// What a call actually uses, whatever was asked: recording on under `forced`, off
    /// under `off`, and the policy's bitrate (kbit/s per track) when it fixes one. For
    /// calls set up from saved preferences (an incoming call), where refusing would
    /// lose the call; choices the agent makes go through [`Self::record_call`] and
    /// [`Self::recording_bitrate`] to get a clear refusal.
    pub fn enforce_recording(&self, record: bool, kbps: Option<u32>) -> (bool, Option<u32>) {
        let record = match self.recording {
            Some(RecordingPolicy::Off) => false,
            Some(RecordingPolicy::Forced) => true,
            _ => record,
        };
        (record, self.recording_bitrate_kbps.or(kbps))
    }

    /// The recording bitrate per track, kbit/s, given what the agent asked for
    /// (`None`: the default).
    ///
    /// Errors: [`PolicyError::BitrateFixed`] when asking for another one than the
    /// policy's.
    pub fn recording_bitrate(&self, requested: Option<u32>) -> Result<Option<u32>, PolicyError> {
        match (self.recording_bitrate_kbps, requested) {
            (Some(fixed), Some(r)) if r != fixed => Err(PolicyError::BitrateFixed(fixed)),
            (Some(fixed), _) => Ok(Some(fixed)),
            (None, r) => Ok(r),
        }
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
        std::fs::write(&p, r#"{"recording_bitrate_kbps": 512}"#).unwrap();
        let e = AdminConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("outside 6-256"), "{e}");
        std::fs::write(&p, r#"{"log_level": "debug,,=x=y"}"#).unwrap();
        let e = AdminConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("not a log filter"), "{e}");
        std::fs::write(&p, r#"{"local_recordings": {"keep_days": 30}}"#).unwrap();
        assert_eq!(
            AdminConfig::load(&p).unwrap().local_recordings,
            Some(LocalRecordings::KeepDays(30))
        );
        std::fs::write(&p, r#"{"local_recordings": {"keep_days": 0}}"#).unwrap();
        let e = AdminConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("keep_days 0 is outside 1-3650"), "{e}");
        std::fs::write(&p, r#"{"recording": "sometimes"}"#).unwrap();
        let e = AdminConfig::load(&p).unwrap_err().to_string();
        assert!(e.contains("unknown variant `sometimes`"), "{e}");
    }

    /// The repository's file `rel` (from the workspace root).
    fn repo_file(rel: &str) -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(rel),
        )
        .unwrap()
    }

    #[test]
    fn the_macos_profile_example_is_a_valid_policy() {
        // What macOS writes to Managed Preferences: the payload's dictionary.
        let profile: plist::Dictionary =
            plist::from_bytes(repo_file("packaging/macos/agent-softphone.mobileconfig").as_bytes())
                .unwrap();
        let payload = profile["PayloadContent"].as_array().unwrap()[0].clone();
        assert_eq!(
            payload.as_dictionary().unwrap()["PayloadType"].as_string(),
            Some("com.agentsoftphone.desktop")
        );
        let mut bytes = Vec::new();
        plist::to_writer_xml(&mut bytes, &payload).unwrap();
        let c = AdminConfig::from_managed_preferences(&bytes).unwrap();
        assert_eq!(
            c.server_url.as_deref(),
            Some("https://softphone.example.com")
        );
        assert!(c.lock_server_url);
        assert_eq!(c.recording, Some(RecordingPolicy::Forced));
        assert_eq!(c.recording_bitrate_kbps, Some(24));
        assert_eq!(c.local_recordings, Some(LocalRecordings::KeepDays(30)));
        assert_eq!(c.updates, Some(true));
        assert_eq!(c.ice_transport_policy, Some(IceTransportPolicy::Relay));
        // A typo in a profile is refused like one in config.json.
        let mut typo = payload.as_dictionary().unwrap().clone();
        typo.insert("recordng".into(), plist::Value::String("off".into()));
        let mut bytes = Vec::new();
        plist::to_writer_xml(&mut bytes, &typo).unwrap();
        let e = AdminConfig::from_managed_preferences(&bytes)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("recordng") && e.contains("Managed Preferences"),
            "{e}"
        );
    }

    #[test]
    fn every_msi_property_lands_where_the_app_reads_it() {
        let wxs = repo_file("packaging/windows/policy.wxs");
        let value = regex::Regex::new(
            r#"<Component Id="\w+" Guid="\*">\s*<Condition>(\w+)</Condition>\s*<RegistryValue Root="HKLM" Key="([^"]+)" Name="(\w+)" Type="string" Value="\[(\w+)\]" KeyPath="yes" />"#,
        )
        .unwrap();
        let search = regex::Regex::new(
            r#"<Property Id="(\w+)" Secure="yes">\s*<RegistrySearch Id="\w+" Root="HKLM" Key="([^"]+)" Name="(\w+)" Type="raw" />"#,
        )
        .unwrap();
        let written: Vec<_> = value.captures_iter(&wxs).collect();
        let remembered: Vec<_> = search.captures_iter(&wxs).collect();
        assert_eq!(written.len(), 10, "one component per property");
        assert_eq!(
            remembered.len(),
            written.len(),
            "each is read back on upgrade"
        );
        // What an admin would pass, e.g. SERVER_URL=https://... LOCK_SERVER_URL=1.
        let sample = |prop: &str| match prop {
            "SERVER_URL" => "https://softphone.example.com",
            "LOCK_SERVER_URL" | "UPDATES" => "1",
            "ALLOW_INSECURE_HTTP" => "0",
            "RECORDING" => "forced",
            "RECORDING_BITRATE_KBPS" => "24",
            "LOCAL_RECORDINGS" => "30",
            "LOG_LEVEL" => "debug",
            "UPDATE_CHANNEL" => "beta",
            "ICE_TRANSPORT_POLICY" => "relay",
            other => panic!("no sample for {other}"),
        };
        let mut pairs = Vec::new();
        for (w, r) in written.iter().zip(&remembered) {
            let (cond, key, name, prop) = (&w[1], &w[2], &w[3], &w[4]);
            assert_eq!(cond, prop, "written only when given");
            assert_eq!(key, WINDOWS_POLICY_KEY);
            assert_eq!(
                (&r[1], &r[2], &r[3]),
                (prop, key, name),
                "read back from the same value"
            );
            pairs.push((name.to_string(), sample(prop).to_string()));
        }
        let c = AdminConfig::from_policy_values(&pairs).unwrap();
        assert_eq!(
            c.server_url.as_deref(),
            Some("https://softphone.example.com")
        );
        assert!(c.lock_server_url && !c.allow_insecure_http);
        assert_eq!(c.recording, Some(RecordingPolicy::Forced));
        assert_eq!(c.recording_bitrate_kbps, Some(24));
        assert_eq!(c.local_recordings, Some(LocalRecordings::KeepDays(30)));
        assert_eq!(c.log_level.as_deref(), Some("debug"));
        assert_eq!(c.ice_transport_policy, Some(IceTransportPolicy::Relay));
        assert_eq!(
            (c.updates, c.update_channel),
            (Some(true), Some(softphone_proto::UpdateChannel::Beta))
        );
        // Bad values are refused with the source named.
        let bad = [("recording_bitrate_kbps".to_string(), "lots".to_string())];
        let e = AdminConfig::from_policy_values(&bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("must be a number") && e.contains("Policies"),
            "{e}"
        );
        let bad = [("lock_server_url".to_string(), "maybe".to_string())];
        assert!(AdminConfig::from_policy_values(&bad).is_err());
        // The managed policy wins over config.json key by key.
        let file = AdminConfig {
            server_url: Some("https://old.example.com".into()),
            recording: Some(RecordingPolicy::On),
            log_level: Some("info".into()),
            ..Default::default()
        };
        let merged = file.under(c);
        assert_eq!(
            merged.server_url.as_deref(),
            Some("https://softphone.example.com")
        );
        assert_eq!(merged.recording, Some(RecordingPolicy::Forced));
        assert_eq!(merged.log_level.as_deref(), Some("debug"));
    }

    #[test]
    fn the_file_wins_over_the_org_policy_key_by_key() {
        use softphone_proto::{OrgPolicy, UpdateChannel};
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        let profile = dir.path().join("profile");
        // No org policy cached: the file alone.
        std::fs::write(&file, r#"{"recording": "off"}"#).unwrap();
        let only = AdminConfig::load_effective(&file, Some(&profile)).unwrap();
        assert_eq!(only.recording, Some(RecordingPolicy::Off));
        assert_eq!(only.recording_bitrate_kbps, None);
        let org = OrgPolicy {
            recording: Some(RecordingPolicy::Forced),
            recording_bitrate_kbps: Some(24),
            local_recordings: Some(LocalRecordings::DeleteAfterUpload),
            updates: Some(false),
            update_channel: Some(UpdateChannel::Beta),
        };
        save_org_policy(&profile, &org).unwrap();
        let both = AdminConfig::load_effective(&file, Some(&profile)).unwrap();
        assert_eq!(
            both.recording,
            Some(RecordingPolicy::Off),
            "the file's own key"
        );
        assert_eq!(both.recording_bitrate_kbps, Some(24));
        assert_eq!(
            both.local_recordings,
            Some(LocalRecordings::DeleteAfterUpload)
        );
        assert_eq!(both.updates, Some(false));
        assert_eq!(both.update_channel, Some(UpdateChannel::Beta));
        // No file: the org policy alone; no profile: nothing of it.
        let none = dir.path().join("missing.json");
        let org_only = AdminConfig::load_effective(&none, Some(&profile)).unwrap();
        assert_eq!(org_only.recording, Some(RecordingPolicy::Forced));
        assert_eq!(
            AdminConfig::load_effective(&none, None).unwrap(),
            AdminConfig::default()
        );
        // A cached file out of range is ignored, not obeyed.
        std::fs::write(
            profile.join(ORG_POLICY_FILE),
            r#"{"recording_bitrate_kbps": 1000}"#,
        )
        .unwrap();
        assert_eq!(read_org_policy(&profile), None);
    }

    #[test]
    fn recording_choices_follow_the_policy() {
        let with = |recording, kbps| AdminConfig {
            recording,
            recording_bitrate_kbps: kbps,
            ..Default::default()
        };
        let free = with(None, None);
        assert_eq!(free.record_call(true), Ok(true));
        assert_eq!(free.record_call(false), Ok(false));
        assert_eq!(free.recording_bitrate(Some(48)), Ok(Some(48)));
        let off = with(Some(RecordingPolicy::Off), None);
        assert_eq!(off.record_call(true), Err(PolicyError::RecordingOff));
        assert_eq!(off.record_call(false), Ok(false));
        let forced = with(Some(RecordingPolicy::Forced), Some(24));
        assert_eq!(forced.record_call(false), Err(PolicyError::RecordingForced));
        assert_eq!(forced.record_call(true), Ok(true));
        assert_eq!(forced.recording_bitrate(None), Ok(Some(24)));
        assert_eq!(forced.recording_bitrate(Some(24)), Ok(Some(24)));
        assert_eq!(
            forced.recording_bitrate(Some(48)),
            Err(PolicyError::BitrateFixed(24))
        );
        assert_eq!(
            with(Some(RecordingPolicy::On), None).record_call(false),
            Ok(false)
        );
        assert_eq!(forced.enforce_recording(false, Some(48)), (true, Some(24)));
        assert_eq!(off.enforce_recording(true, Some(48)), (false, Some(48)));
        assert_eq!(free.enforce_recording(false, None), (false, None));
        use softphone_store::recordings::Retention;
        assert_eq!(free.retention(false), Ok(Retention::Keep));
        assert_eq!(free.retention(true), Ok(Retention::Prune));
        let keep = AdminConfig {
            local_recordings: Some(LocalRecordings::Keep),
            ..Default::default()
        };
        assert_eq!(keep.retention(true), Err(PolicyError::RecordingsKept));
        let delete = AdminConfig {
            local_recordings: Some(LocalRecordings::DeleteAfterUpload),
            ..Default::default()
        };
        assert_eq!(delete.retention(false), Ok(Retention::Prune));
        let month = AdminConfig {
            local_recordings: Some(LocalRecordings::KeepDays(30)),
            ..Default::default()
        };
        assert_eq!(month.retention(false), Ok(Retention::KeepDays(30)));
        assert_eq!(
            month.retention(true),
            Err(PolicyError::RecordingsKeptDays(30))
        );
        let relay = softphone_proto::IceServer {
            urls: vec!["turn:relay.example.com:3478".into()],
            username: "agents".into(),
            credential: "s3cret".into(),
        };
        let stun = softphone_proto::IceServer {
            urls: vec!["stun:stun.example.com:3478".into()],
            ..Default::default()
        };
        assert_eq!(free.ice_servers_for(&[]), Ok(None));
        assert_eq!(free.ice_servers_for(std::slice::from_ref(&stun)), Ok(None));
        let fixed = AdminConfig {
            ice_servers: vec![relay.clone()],
            ..Default::default()
        };
        assert_eq!(fixed.ice_servers_for(&[]), Ok(Some(vec![relay.clone()])));
        assert_eq!(
            fixed.ice_servers_for(&[stun]),
            Err(PolicyError::IceServersFixed)
        );

        assert_eq!(free.relay_only(false), Ok(false));
        assert_eq!(free.relay_only(true), Ok(true));
        let relayed = AdminConfig {
            ice_transport_policy: Some(IceTransportPolicy::Relay),
            ..Default::default()
        };
        assert_eq!(relayed.relay_only(false), Ok(true));
        let direct = AdminConfig {
            ice_transport_policy: Some(IceTransportPolicy::All),
            ..Default::default()
        };
        assert_eq!(direct.relay_only(false), Ok(false));
        assert_eq!(direct.relay_only(true), Err(PolicyError::IceTransportFixed));
    }
}
