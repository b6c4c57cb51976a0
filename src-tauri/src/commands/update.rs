//! App updates from the signed-in server (ADR 0022): tauri-plugin-updater checks,
//! downloads and verifies with the build's key; installing waits for the call to end
//! and keeps calls out until it is done.

use super::call::PhoneLine;
use super::AgentSlot;
use super::UiError;
use serde::Serialize;
use softphone_controller::updates::{UpdateError, UpdateSource};
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_updater::{Update, UpdaterExt};

/// The build's update key: `SOFTPHONE_UPDATER_PUBKEY` when it was compiled (base64 of
/// the `.pub` file `tauri signer generate` writes). The release workflow sets it; a
/// build without it cannot update itself.
pub const BUILD_PUBKEY: Option<&str> = option_env!("SOFTPHONE_UPDATER_PUBKEY");

impl From<UpdateError> for UiError {
    fn from(e: UpdateError) -> Self {
        Self {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// An update the server offers, as the window shows it.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct UpdateOffer {
    /// The offered version, semver.
    pub version: String,
    /// This app's version.
    pub current_version: String,
    /// Release notes.
    pub notes: String,
}

/// The update last offered, until it is installed.
#[derive(Default)]
pub struct UpdateSlot(tokio::sync::Mutex<Option<Update>>);

fn plugin_error(e: tauri_plugin_updater::Error) -> UpdateError {
    use tauri_plugin_updater::Error as E;
    match e {
        E::Minisign(_)
        | E::Base64(_)
        | E::SignatureUtf8(_)
        | E::SignedVersionMismatch { .. }
        | E::MissingSignedVersion => UpdateError::BadSignature(e.to_string()),
        E::Reqwest(_) | E::Network(_) | E::ReleaseNotFound | E::Serialization(_) => {
            UpdateError::Unreachable(e.to_string())
        }
        other => UpdateError::Install(other.to_string()),
    }
}

/// Asks `source`'s server for an update above this app's version, and returns it with
/// its signature not yet checked ([`Update::download`] checks it against
/// `source.pubkey` before anything is installed).
///
/// Errors: [`UpdateError::NotNewer`] when the server offers a version at or below this
/// one (the updater never goes down), [`UpdateError::Unreachable`],
/// [`UpdateError::BadSignature`] for a malformed signature.
pub async fn check<R: Runtime>(
    app: &AppHandle<R>,
    source: &UpdateSource,
) -> Result<Option<Update>, UpdateError> {
    // The plugin answers "no update" for a release that is not newer; the comparator
    // notes it so the agent (and the log) learn that a server offered a downgrade.
    let refused: Arc<Mutex<Option<(String, String)>>> = Arc::default();
    let seen = Arc::clone(&refused);
    let updater = app
        .updater_builder()
        .pubkey(source.pubkey.clone())
        .target(source.target.clone())
        .endpoints(vec![source.endpoint.clone()])
        .and_then(|b| b.header("authorization", source.authorization.as_str()))
        .map_err(plugin_error)?
        .timeout(std::time::Duration::from_secs(60))
        .version_comparator(move |current, release| {
            let newer = release.version > current;
            if !newer {
                *seen.lock().expect("comparator lock") =
                    Some((release.version.to_string(), current.to_string()));
            }
            newer
        })
        .build()
        .map_err(plugin_error)?;
    let update = updater.check().await.map_err(plugin_error)?;
    if update.is_none() {
        if let Some((offered, current)) = refused.lock().expect("comparator lock").take() {
            tracing::warn!(%offered, %current, "update server offered an older version; refused");
            return Err(UpdateError::NotNewer { offered, current });
        }
    }
    Ok(update)
}

/// Downloads `update` and verifies it with the build's key; the verified bytes.
///
/// Errors: [`UpdateError::BadSignature`] for a changed file, another key or a
/// signature for another version; [`UpdateError::Unreachable`].
pub async fn download(update: &Update) -> Result<Vec<u8>, UpdateError> {
    update
        .download(|_, _| {}, || {})
        .await
        .map_err(plugin_error)
}

/// The updater's name for this install, `{os}-{arch}-{bundle}` (e.g.
/// `linux-x86_64-deb`): the plugin's `target()` gives `{os}-{arch}` only, and the
/// bundle is the type the bundler stamped into the binary. `None` for a binary not
/// installed from a package (a cargo build), which must not replace itself.
pub fn install_target() -> Option<String> {
    let bundle = tauri::utils::platform::bundle_type()?;
    Some(format!("{}-{bundle}", tauri_plugin_updater::target()?))
}

/// The source for this install: the build's key, the updater's name for how the app
/// was installed, and the signed-in agent's server and session.
fn source(agents: &AgentSlot) -> Result<UpdateSource, UiError> {
    let policy = super::admin_policy()?;
    let agent = agents.get().map_err(|_| UpdateError::NotSignedIn)?;
    Ok(UpdateSource::new(
        &policy,
        BUILD_PUBKEY,
        install_target(),
        agent.account().client(),
    )?)
}

/// Checks the signed-in server for an update; `None` when there is none.
///
/// Errors: `update.disabled`, `update.no_key`, `update.not_packaged`,
/// `update.not_signed_in`, `update.not_newer`, `update.unreachable`,
/// `update.bad_signature`.
#[tauri::command]
pub async fn check_update(
    app: AppHandle,
    agents: State<'_, AgentSlot>,
    slot: State<'_, UpdateSlot>,
) -> Result<Option<UpdateOffer>, UiError> {
    let source = source(&agents)?;
    let update = check(&app, &source).await?;
    let offer = update.as_ref().map(|u| UpdateOffer {
        version: u.version.clone(),
        current_version: u.current_version.clone(),
        notes: u.body.clone().unwrap_or_default(),
    });
    if let Some(o) = &offer {
        tracing::info!(version = %o.version, channel = source.channel.as_str(), "update offered");
    }
    *slot.0.lock().await = update;
    Ok(offer)
}

/// Holds the call slot while an update installs, so no call starts (an incoming one
/// is answered busy); released when dropped (the install failed).
struct InstallClaim<'a>(&'a PhoneLine);

impl<'a> InstallClaim<'a> {
    /// Errors: [`UpdateError::InCall`] while a call runs or is being set up.
    fn take(calls: &'a PhoneLine) -> Result<Self, UpdateError> {
        if calls.claim() {
            Ok(InstallClaim(calls))
        } else {
            Err(UpdateError::InCall)
        }
    }
}

impl Drop for InstallClaim<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Installs the update [`check_update`] offered and restarts the app: only when no
/// call runs, and only bytes that verify with the build's key.
///
/// Errors: `update.in_call`, `update.bad_signature`, `update.unreachable`,
/// `update.install_failed`, `update.none` (nothing was offered).
#[tauri::command]
pub async fn install_update(
    app: AppHandle,
    calls: State<'_, Arc<PhoneLine>>,
    slot: State<'_, UpdateSlot>,
) -> Result<(), UiError> {
    let _claim = InstallClaim::take(&calls)?;
    let guard = slot.0.lock().await;
    let update = guard.as_ref().ok_or_else(|| UiError {
        code: "update.none".into(),
        message: "no update is offered; check again".into(),
    })?;
    let bytes = download(update).await?;
    tracing::info!(version = %update.version, bytes = bytes.len(), "update verified; installing");
    update.install(&bytes).map_err(plugin_error)?;
    tracing::info!(version = %update.version, "update installed; restarting");
    app.restart()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cargo_build_names_no_install_target() {
        // Test binaries are not stamped by the bundler: they must never update
        // themselves (the .deb/.rpm stamp is asserted by scripts/check-packages.sh).
        assert_eq!(install_target(), None);
    }

    #[test]
    fn no_install_while_a_call_holds_the_line_and_no_call_while_installing() {
        let calls = PhoneLine::default();
        assert!(calls.claim(), "a call starts");
        assert_eq!(
            InstallClaim::take(&calls).err(),
            Some(UpdateError::InCall),
            "no install during the call"
        );
        calls.release();
        let claim = InstallClaim::take(&calls).expect("the install goes ahead after the call");
        assert!(!calls.claim(), "no call starts during the install");
        drop(claim);
        assert!(calls.claim(), "a failed install frees the line");
    }
}
