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
    /// The machine's file at `path`, with the organisation's policy cached in `profile`
    /// (when given and present) filling each key the file leaves unset: the file wins
    /// key by key.
    ///
    /// Errors: as [`AdminConfig::load`].
    pub fn load_effective(
        path: &Path,
        profile: Option<&Path>,
    ) -> Result<AdminConfig, AdminConfigError> {
        let local = Self::load(path)?;
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
        let mut cfg: AdminConfig =
            serde_json::from_str(&text).map_err(|source| AdminConfigError::Json {
                path: path.into(),
                source,
            })?;
        cfg.lock_server_url &= cfg.server_url.is_some();
        let invalid = |message: String| AdminConfigError::Invalid {
            path: path.into(),
            message,
        };
        if let Some(k) = cfg.recording_bitrate_kbps {
            if !(6..=256).contains(&k) {
                return Err(invalid(format!(
                    "recording_bitrate_kbps {k} is outside 6-256"
                )));
            }
        }
        if let Some(LocalRecordings::KeepDays(d)) = cfg.local_recordings {
            if !(1..=3650).contains(&d) {
                return Err(invalid(format!(
                    "local_recordings keep_days {d} is outside 1-3650"
                )));
            }
        }
        if let Some(f) = &cfg.log_level {
            if tracing_subscriber::EnvFilter::try_new(f).is_err() {
                return Err(invalid(format!("log_level {f:?} is not a log filter")));
            }
        }
        Ok(cfg)
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
    }
}
