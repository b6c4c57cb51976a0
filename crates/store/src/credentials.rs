//! Who the app talks to: the server URL and account in `settings.json` in the profile
//! folder, and the bearer token only in the OS keyring (Secret Service on Linux,
//! Keychain on macOS, Credential Manager on Windows) via the `keyring` crate. Nothing
//! secret is ever written to the profile folder or logs.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Keyring service name.
pub const SERVICE: &str = "agent-softphone";

/// Credential errors.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Not logged in (no settings or no token).
    #[error("not logged in: run `softphone login`")]
    NotLoggedIn,
    /// The OS keyring is missing or locked.
    #[error("OS keyring unavailable: {0}")]
    Keyring(String),
    /// The settings file could not be read or written.
    #[error("settings file {path}: {error}")]
    Settings {
        /// File.
        path: PathBuf,
        /// Cause.
        error: String,
    },
}

/// The non-secret half of a login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Server base URL.
    pub server_url: String,
    /// Account e-mail.
    pub email: String,
    /// Account id.
    pub user_id: Uuid,
    /// Name shown to colleagues.
    pub display_name: String,
}

fn settings_path(profile: &Path) -> PathBuf {
    profile.join("settings.json")
}

fn entry(s: &Settings) -> Result<keyring::Entry, CredentialError> {
    // The key names the server too: one person may have accounts on two servers.
    keyring::Entry::new(SERVICE, &format!("{}|{}", s.email, s.server_url))
        .map_err(|e| CredentialError::Keyring(e.to_string()))
}

/// Saves the settings and puts `token` in the keyring.
pub fn save(profile: &Path, s: &Settings, token: &str) -> Result<(), CredentialError> {
    entry(s)?
        .set_password(token)
        .map_err(|e| CredentialError::Keyring(e.to_string()))?;
    std::fs::create_dir_all(profile).map_err(|e| CredentialError::Settings {
        path: profile.to_path_buf(),
        error: e.to_string(),
    })?;
    let path = settings_path(profile);
    let json = serde_json::to_string_pretty(s).unwrap_or_default();
    std::fs::write(&path, json).map_err(|e| CredentialError::Settings {
        path,
        error: e.to_string(),
    })
}

/// The saved settings, if any.
pub fn settings(profile: &Path) -> Result<Option<Settings>, CredentialError> {
    let path = settings_path(profile);
    match std::fs::read_to_string(&path) {
        Ok(s) => serde_json::from_str(&s)
            .map(Some)
            .map_err(|e| CredentialError::Settings {
                path,
                error: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CredentialError::Settings {
            path,
            error: e.to_string(),
        }),
    }
}

/// Settings and token of the logged-in account.
pub fn load(profile: &Path) -> Result<(Settings, String), CredentialError> {
    let s = settings(profile)?.ok_or(CredentialError::NotLoggedIn)?;
    match entry(&s)?.get_password() {
        Ok(t) => Ok((s, t)),
        Err(keyring::Error::NoEntry) => Err(CredentialError::NotLoggedIn),
        Err(e) => Err(CredentialError::Keyring(e.to_string())),
    }
}

/// Removes the token from the keyring and the settings file. Local data stays (it may
/// hold unsynced work).
pub fn clear(profile: &Path) -> Result<(), CredentialError> {
    let Some(s) = settings(profile)? else {
        return Ok(());
    };
    match entry(&s)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => {}
        Err(e) => return Err(CredentialError::Keyring(e.to_string())),
    }
    match std::fs::remove_file(settings_path(profile)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CredentialError::Settings {
            path: settings_path(profile),
            error: e.to_string(),
        }),
    }
}
