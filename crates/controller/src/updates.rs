//! Where the app looks for updates and whether it may: the signed-in server's update
//! route on the administrator's channel, with the build's own public key.
//!
//! Key design decision: the only key an update is checked against is the one compiled
//! into the build (`SOFTPHONE_UPDATER_PUBKEY` when the release workflow builds it).
//! Neither the server, nor the admin file, nor the agent can name another, so a
//! compromised server can offer an update but never one that installs. A build made
//! without a key cannot update itself at all, and says so.

use crate::admin::AdminConfig;
use softphone_proto::{update_routes, UpdateChannel};

/// Why no update can be checked for or installed; `code()` gives a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// This build has no update key (a developer or distribution build).
    #[error("this build cannot update itself (it was built without an update key)")]
    NoKey,
    /// The administrator turned updates off (`"updates": false`).
    #[error("your administrator manages updates of this app")]
    Disabled,
    /// The app was not installed from a package the updater knows (a build run from a
    /// folder, a repackaged install).
    #[error("this install cannot update itself: install the app from its package")]
    NotPackaged,
    /// No agent is signed in (the server's update route needs the session).
    #[error("sign in to check for updates")]
    NotSignedIn,
    /// An update would end the call in progress.
    #[error("finish the call first: the update restarts the app")]
    InCall,
    /// The server offered a version that is not newer than this one.
    #[error("the server offered version {offered}, which is not newer than {current}; refused")]
    NotNewer {
        /// What the server offered.
        offered: String,
        /// This app's version.
        current: String,
    },
    /// The download does not verify with the build's key (a changed file, another key,
    /// no signature, or a signature for another version).
    #[error("the update failed verification and was not installed: {0}")]
    BadSignature(String),
    /// The update server could not be reached or answered an error.
    #[error("could not reach the update server: {0}")]
    Unreachable(String),
    /// Installing failed (the package manager refused, no permission).
    #[error("the update could not be installed: {0}")]
    Install(String),
}

impl UpdateError {
    /// `update.no_key`, `update.disabled`, `update.not_packaged`, `update.not_signed_in`,
    /// `update.in_call`, `update.not_newer`, `update.bad_signature`, `update.unreachable`,
    /// `update.install_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            UpdateError::NoKey => "update.no_key",
            UpdateError::Disabled => "update.disabled",
            UpdateError::NotPackaged => "update.not_packaged",
            UpdateError::NotSignedIn => "update.not_signed_in",
            UpdateError::InCall => "update.in_call",
            UpdateError::NotNewer { .. } => "update.not_newer",
            UpdateError::BadSignature(_) => "update.bad_signature",
            UpdateError::Unreachable(_) => "update.unreachable",
            UpdateError::Install(_) => "update.install_failed",
        }
    }
}

/// Everything the updater needs for one check.
#[derive(Clone, PartialEq, Eq)]
pub struct UpdateSource {
    /// The check URL with the updater's `{{target}}` and `{{current_version}}`
    /// variables left in, e.g.
    /// `https://pbx.example.com/api/v1/updates/{{target}}/{{current_version}}?channel=stable`.
    pub endpoint: url::Url,
    /// `Bearer …` for the check and the download (the agent's session).
    pub authorization: String,
    /// `{os}-{arch}-{bundle}`, e.g. `linux-x86_64-deb`.
    pub target: String,
    /// The build's minisign public key (base64, as `tauri signer generate` prints it).
    pub pubkey: String,
    /// The channel asked for.
    pub channel: UpdateChannel,
}

impl std::fmt::Debug for UpdateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateSource")
            .field("endpoint", &self.endpoint.as_str())
            .field("authorization", &"[redacted]")
            .field("target", &self.target)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl UpdateSource {
    /// The source for an install: the build's key (`pubkey`, `None` for a build without
    /// one), the updater's name for this install (`target`, `None` when it was not
    /// installed from a package), and the signed-in `client` (its server and session),
    /// under the administrator's `policy` (`updates`, `update_channel`).
    ///
    /// Errors: [`UpdateError::Disabled`], [`UpdateError::NoKey`],
    /// [`UpdateError::NotPackaged`], [`UpdateError::NotSignedIn`], in that order.
    pub fn new(
        policy: &AdminConfig,
        pubkey: Option<&str>,
        target: Option<String>,
        client: &softphone_client::Client,
    ) -> Result<UpdateSource, UpdateError> {
        if policy.updates == Some(false) {
            return Err(UpdateError::Disabled);
        }
        let pubkey = pubkey
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(UpdateError::NoKey)?;
        let target = target.ok_or(UpdateError::NotPackaged)?;
        let token = client.token().ok_or(UpdateError::NotSignedIn)?;
        let channel = policy.update_channel.unwrap_or_default();
        Ok(UpdateSource {
            endpoint: endpoint(client.base_url(), channel),
            authorization: format!("Bearer {token}"),
            target,
            pubkey: pubkey.to_string(),
            channel,
        })
    }
}

/// The server's update check URL for `channel`, with the updater's variables left in
/// (see [`update_routes::CHECK`]).
pub fn endpoint(server: &url::Url, channel: UpdateChannel) -> url::Url {
    let path = update_routes::CHECK
        .replace("{target}", "{{target}}")
        .replace("{current_version}", "{{current_version}}");
    let mut url = server
        .join(&path)
        .expect("a server URL takes an absolute path");
    url.set_query(Some(&format!("channel={}", channel.as_str())));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_follows_the_policy_and_never_a_missing_key() {
        let client = softphone_client::Client::new("https://pbx.example.com/")
            .unwrap()
            .with_token("t0ken");
        let free = AdminConfig::default();
        let target = || Some("linux-x86_64-deb".to_string());
        let s = UpdateSource::new(&free, Some("a2V5"), target(), &client).unwrap();
        assert_eq!(
            s.endpoint.as_str(),
            "https://pbx.example.com/api/v1/updates/%7B%7Btarget%7D%7D/%7B%7Bcurrent_version%7D%7D?channel=stable"
        );
        assert_eq!(s.authorization, "Bearer t0ken");
        assert!(!format!("{s:?}").contains("t0ken"));
        let beta = AdminConfig {
            update_channel: Some(UpdateChannel::Beta),
            ..Default::default()
        };
        let s = UpdateSource::new(&beta, Some("a2V5"), target(), &client).unwrap();
        assert!(s.endpoint.as_str().ends_with("?channel=beta"));
        let off = AdminConfig {
            updates: Some(false),
            ..Default::default()
        };
        let err = |p: &AdminConfig, k: Option<&str>, t: Option<String>, c| {
            UpdateSource::new(p, k, t, c).unwrap_err()
        };
        assert_eq!(
            err(&off, Some("a2V5"), target(), &client),
            UpdateError::Disabled
        );
        assert_eq!(err(&free, None, target(), &client), UpdateError::NoKey);
        assert_eq!(err(&free, Some(" "), target(), &client), UpdateError::NoKey);
        assert_eq!(
            err(&free, Some("a2V5"), None, &client),
            UpdateError::NotPackaged
        );
        let anonymous = softphone_client::Client::new("https://pbx.example.com/").unwrap();
        assert_eq!(
            err(&free, Some("a2V5"), target(), &anonymous),
            UpdateError::NotSignedIn
        );
    }
}
