//! App updates. An admin uploads each release with the signature the release pipeline
//! made (`tauri signer sign`); the server checks that signature against the one key
//! the app also trusts (`update_pubkey`) before storing anything, and offers the newest
//! release above the asking app's version in the shape tauri-plugin-updater reads.
//!
//! The server's check is a second lock, not the first: the app verifies every download
//! itself with the key compiled into it, so a compromised server cannot ship code. What
//! the upload check buys is a clear refusal at upload time (a wrong key, a tampered
//! file, a signature for another version) instead of agents whose updates fail.

use crate::db::releases::{self, Release};
use crate::extract::{Path, Query};
use crate::{now, AppState, Caller, Error};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use futures_util::StreamExt;
use object_store::{ObjectStoreExt, WriteMultipart};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use softphone_proto::{update_routes, ReleaseInfo, Role, UpdateChannel, UpdateManifest};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// What release uploads are checked against.
#[derive(Clone)]
pub(crate) struct ReleaseSettings {
    /// `update_pubkey`: base64 of the minisign public key file.
    pub pubkey: Option<Arc<str>>,
    /// `release_max_bytes`.
    pub max_bytes: u64,
}

/// Operating systems, architectures and bundle types the updater names in a target
/// (`{os}-{arch}-{bundle}`; tauri-plugin-updater's `target()`).
const OSES: [&str; 3] = ["linux", "windows", "darwin"];
const ARCHES: [&str; 4] = ["x86_64", "aarch64", "i686", "armv7"];
const BUNDLES: [&str; 6] = ["deb", "rpm", "appimage", "msi", "nsis", "app"];

/// Parses `update_pubkey` (base64 of a minisign public key file, or the bare key line).
///
/// Errors: a message saying what is wrong with the key.
pub fn parse_pubkey(b64: &str) -> Result<minisign_verify::PublicKey, String> {
    let text = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    match text {
        Some(t) => minisign_verify::PublicKey::decode(&t),
        None => minisign_verify::PublicKey::from_base64(b64.trim()),
    }
    .map_err(|e| format!("not a minisign public key ({e})"))
}

/// Parses an `Update-Signature` (base64 of a minisign signature file, as in a `.sig`).
fn parse_signature(b64: &str) -> Result<minisign_verify::Signature, String> {
    let text = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| "Update-Signature is not base64 (send the .sig file's content)".to_string())?;
    let text = String::from_utf8(text).map_err(|_| "Update-Signature is not text".to_string())?;
    minisign_verify::Signature::decode(&text)
        .map_err(|e| format!("Update-Signature is not a minisign signature ({e})"))
}

/// The version a signature's trusted comment names (`version:X` among tab-separated
/// `key:value` pairs, as the Tauri CLI writes it).
fn signed_version(trusted_comment: &str) -> Option<&str> {
    trusted_comment
        .split('\t')
        .find_map(|f| f.strip_prefix("version:"))
}

fn valid_target(t: &str) -> bool {
    let mut parts = t.split('-');
    let (Some(os), Some(arch)) = (parts.next(), parts.next()) else {
        return false;
    };
    let bundle = parts.next();
    parts.next().is_none()
        && OSES.contains(&os)
        && ARCHES.contains(&arch)
        && bundle.is_none_or(|b| BUNDLES.contains(&b))
}

fn bad_request(m: impl Into<String>) -> Error {
    Error::new(StatusCode::BAD_REQUEST, "request.invalid", m)
}

fn admin_only(caller: &Caller) -> Result<(), Error> {
    if caller.user.role != Role::Admin {
        return Err(crate::error::forbidden("only an admin manages releases"));
    }
    Ok(())
}

/// A canonical semver version (`1.2.3`, `1.2.3-beta.1`), or a 400.
fn parse_version(v: &str) -> Result<semver::Version, Error> {
    semver::Version::parse(v)
        .ok()
        .filter(|p| p.to_string() == v)
        .ok_or_else(|| bad_request(format!("{v:?} is not a semver version like 1.2.3")))
}

/// Query of [`upload`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    file_name: String,
    #[serde(default)]
    notes: String,
}

/// `PUT /api/v1/releases/{channel}/{target}/{version}` (admin): stores a signed release.
/// See [`update_routes::RELEASE`].
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path((channel, target, version)): Path<(String, String, String)>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ReleaseInfo>), Error> {
    admin_only(&caller)?;
    let Some(key_b64) = state.releases.pubkey.clone() else {
        return Err(Error::new(
            StatusCode::CONFLICT,
            "release.no_key",
            "the server has no update_pubkey: set it to the public key the app is built with",
        ));
    };
    let pubkey = parse_pubkey(&key_b64).map_err(Error::internal)?;
    let channel = UpdateChannel::parse(&channel)
        .ok_or_else(|| bad_request("channel must be stable or beta"))?;
    if !valid_target(&target) {
        return Err(bad_request(format!(
            "target {target:?} is not {{os}}-{{arch}}-{{bundle}}, e.g. linux-x86_64-deb \
             (os: {}; arch: {}; bundle: {})",
            OSES.join(", "),
            ARCHES.join(", "),
            BUNDLES.join(", ")
        )));
    }
    parse_version(&version)?;
    let name = q.file_name.trim();
    if name.is_empty()
        || name.len() > 255
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
        || name.starts_with('.')
    {
        return Err(bad_request(
            "file_name must be a plain file name of 1-255 bytes (no folders)",
        ));
    }
    crate::check_text_size(q.notes.len())?;
    let sig_b64 = headers
        .get("update-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "release.no_signature",
                "send the artifact's .sig file content in Update-Signature",
            )
        })?
        .to_string();
    let bad_sig =
        |m: String| Error::new(StatusCode::UNPROCESSABLE_ENTITY, "release.bad_signature", m);
    let signature = parse_signature(&sig_b64).map_err(bad_sig)?;
    match signed_version(signature.trusted_comment()) {
        Some(v) if v.trim_start_matches('v') == version => {}
        Some(v) => {
            return Err(bad_sig(format!(
                "the signature is for version {v}, not {version}"
            )))
        }
        None => {
            return Err(bad_sig(
                "the signature names no version (sign with a Tauri CLI that writes \
                 version: in the trusted comment)"
                    .into(),
            ))
        }
    }
    let max = state.releases.max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body.too_large",
            format!("a release may be at most {max} bytes (release_max_bytes)"),
        )
    };
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let org = caller.user.org_id;
    {
        let (t, v) = (target.clone(), version.clone());
        if state
            .with_read(move |c| releases::exists(c, org, channel, &t, &v).map_err(Error::internal))
            .await?
        {
            return Err(release_exists(channel, &target, &version));
        }
    }
    let mut verifier = pubkey.verify_stream(&signature).map_err(|e| {
        bad_sig(format!(
            "the signature does not match the server's update_pubkey ({e})"
        ))
    })?;
    // Staged on disk, never whole in memory: installers run to tens of MB.
    let id = Uuid::now_v7();
    let staged = state.staging_dir.join(format!("release-{id}"));
    let _cleanup = RemoveOnDrop(staged.clone());
    let mut file = tokio::fs::File::create(&staged)
        .await
        .map_err(Error::internal)?;
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| bad_request(format!("the upload broke off: {e}")))?;
        bytes += chunk.len() as u64;
        if bytes > max {
            return Err(too_large());
        }
        hash.update(&chunk);
        verifier.update(&chunk);
        file.write_all(&chunk).await.map_err(Error::internal)?;
    }
    file.flush().await.map_err(Error::internal)?;
    drop(file);
    if bytes == 0 {
        return Err(bad_request("the release artifact is empty"));
    }
    verifier.finalize().map_err(|e| {
        bad_sig(format!(
            "the artifact does not match its signature under the server's update_pubkey \
             ({e}): a wrong key, or a changed file"
        ))
    })?;
    let object_key = format!("releases/{org}/{id}");
    let upload = state
        .store
        .put_multipart(&object_key.as_str().into())
        .await
        .map_err(Error::internal)?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, crate::recordings::MULTIPART_CHUNK);
    if let Err(e) = crate::recordings::copy_to_store(&staged, &mut w).await {
        let _ = w.abort().await;
        return Err(e);
    }
    w.finish().await.map_err(Error::internal)?;
    let release = Release {
        org_id: org,
        info: ReleaseInfo {
            id,
            channel,
            target: target.clone(),
            version: version.clone(),
            notes: q.notes,
            file_name: name.to_string(),
            bytes,
            sha256: hex::encode(hash.finalize()),
            created_at: now(),
            withdrawn_at: None,
        },
        signature: sig_b64,
        object_key: object_key.clone(),
    };
    let row = release.clone();
    let by = caller.user.id;
    let stored = state
        .with_db(move |c| Ok(releases::insert(c, &row, by)))
        .await?;
    if let Err(e) = stored {
        let _ = state.store.delete(&object_key.as_str().into()).await;
        return Err(match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => {
                release_exists(channel, &target, &version)
            }
            _ => Error::internal(e),
        });
    }
    tracing::info!(release = %id, %target, %version, channel = channel.as_str(), bytes, "release uploaded");
    Ok((StatusCode::CREATED, Json(release.info)))
}

fn release_exists(channel: UpdateChannel, target: &str, version: &str) -> Error {
    Error::new(
        StatusCode::CONFLICT,
        "release.exists",
        format!(
            "{version} is already released for {target} on {}; withdraw it or release a \
             higher version",
            channel.as_str()
        ),
    )
}

/// Deletes a staged file when the upload ends, however it ends.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `GET /api/v1/releases` (admin).
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ReleaseInfo>>, Error> {
    admin_only(&caller)?;
    let org = caller.user.org_id;
    let rows = state
        .with_read(move |c| releases::list(c, org).map_err(Error::internal))
        .await?;
    Ok(Json(rows.into_iter().map(|r| r.info).collect()))
}

/// `DELETE /api/v1/releases/{id}` (admin): withdraws it. 404 for another
/// organisation's release or one already withdrawn.
pub async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, Error> {
    admin_only(&caller)?;
    let org = caller.user.org_id;
    let done = state
        .with_db(
            move |c| match releases::get(c, id).map_err(Error::internal)? {
                Some(r) if r.org_id == org => {
                    releases::withdraw(c, id, now()).map_err(Error::internal)
                }
                _ => Ok(false),
            },
        )
        .await?;
    if !done {
        return Err(crate::error::not_found());
    }
    tracing::info!(release = %id, "release withdrawn");
    Ok(StatusCode::NO_CONTENT)
}

/// Query of [`check`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    #[serde(default)]
    channel: Option<String>,
}

/// `GET /api/v1/updates/{target}/{current_version}?channel=`: the newest release above
/// the caller's version, or 204. See [`update_routes::CHECK`].
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    Path((target, current)): Path<(String, String)>,
    Query(q): Query<CheckQuery>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let current = semver::Version::parse(current.trim_start_matches('v'))
        .map_err(|_| bad_request(format!("{current:?} is not a semver version")))?;
    let channels: &[UpdateChannel] = match q.channel.as_deref().map(UpdateChannel::parse) {
        None | Some(Some(UpdateChannel::Stable)) => &[UpdateChannel::Stable],
        Some(Some(UpdateChannel::Beta)) => &[UpdateChannel::Stable, UpdateChannel::Beta],
        Some(None) => return Err(bad_request("channel must be stable or beta")),
    };
    if !valid_target(&target) {
        // Nothing is ever released for a target the updater cannot name (a build not
        // installed from a package reports `unknown`).
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let org = caller.user.org_id;
    let t = target.clone();
    let offered = state
        .with_read(move |c| releases::offered(c, org, &t, channels).map_err(Error::internal))
        .await?;
    // Only ever up: a release at or below the app's version is never offered, so a
    // withdrawn release cannot be "rolled back" onto machines that took it.
    let newest = offered
        .into_iter()
        .filter_map(|r| Some((semver::Version::parse(&r.info.version).ok()?, r)))
        .filter(|(v, _)| *v > current)
        .max_by(|(a, _), (b, _)| a.cmp(b));
    let Some((version, r)) = newest else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let path = update_routes::ARTIFACT.replace("{id}", &r.info.id.to_string());
    Ok(Json(UpdateManifest {
        version: version.to_string(),
        notes: r.info.notes,
        pub_date: humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(r.info.created_at.max(0) as u64),
        )
        .to_string(),
        url: crate::absolute_url(&headers, &path),
        signature: r.signature,
    })
    .into_response())
}

/// `GET /api/v1/update-artifacts/{id}`: the artifact of one of the caller's
/// organisation's releases still offered (404 otherwise).
pub async fn artifact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, Error> {
    let org = caller.user.org_id;
    let r = state
        .with_read(move |c| releases::get(c, id).map_err(Error::internal))
        .await?
        .filter(|r| r.org_id == org && r.info.withdrawn_at.is_none())
        .ok_or_else(crate::error::not_found)?;
    let stream = state
        .store
        .get(&r.object_key.as_str().into())
        .await
        .map_err(Error::internal)?
        .into_stream();
    let mut resp = (StatusCode::OK, Body::from_stream(stream)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(r.info.bytes));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_the_updaters_names_only() {
        for ok in [
            "linux-x86_64-deb",
            "linux-aarch64-rpm",
            "windows-x86_64-nsis",
            "darwin-aarch64-app",
            "linux-x86_64",
        ] {
            assert!(valid_target(ok), "{ok}");
        }
        for bad in [
            "",
            "linux",
            "linux-x86_64-deb-extra",
            "linux-x86_64-unknown",
            "../x86_64-deb",
            "plan9-x86_64-deb",
        ] {
            assert!(!valid_target(bad), "{bad}");
        }
        assert_eq!(
            signed_version("timestamp:1\tfile:a.deb\tversion:0.2.0"),
            Some("0.2.0")
        );
        assert_eq!(signed_version("timestamp:1\tfile:a.deb"), None);
    }
}
