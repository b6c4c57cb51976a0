//! Recording upload (tus 1.0 core: creation, HEAD, PATCH), sha256 verification, object
//! storage (`object_store`: local folder by default), signed playback URLs with Range,
//! and delete that removes the object.
//!
//! Durability rule: `offset` in the database only advances after the staged bytes are
//! fsync'd, and a PATCH first truncates the staging file to the recorded offset, so a
//! crash between the two never leaves unacknowledged bytes inside an upload.

use crate::db::{recordings, uploads};
use crate::extract::{Path, Query};
use crate::{now, AppState, Caller, Error};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use object_store::{ObjectStoreExt, WriteMultipart};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use softphone_proto::{recording_routes, RecordingInfo, Role, SignedUrl, UserInfo};
use std::collections::HashMap;
use std::io::SeekFrom;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use uuid::Uuid;

const TUS_VERSION: &str = "1.0.0";

fn err(status: StatusCode, code: &'static str, msg: impl Into<String>) -> Error {
    Error::new(status, code, msg)
}

use crate::error::not_found;

fn may_access(user: &UserInfo, org_id: Uuid, owner: Uuid) -> bool {
    org_id == user.org_id && (owner == user.id || user.role == Role::Admin)
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn check_tus(h: &HeaderMap) -> Result<(), Error> {
    match header_str(h, "tus-resumable") {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(err(
            StatusCode::PRECONDITION_FAILED,
            "upload.tus_version",
            "send Tus-Resumable: 1.0.0",
        )),
    }
}

fn tus_headers(offset: u64, length: u64) -> [(header::HeaderName, HeaderValue); 4] {
    [
        (
            header::HeaderName::from_static("tus-resumable"),
            HeaderValue::from_static(TUS_VERSION),
        ),
        (
            header::HeaderName::from_static("upload-offset"),
            HeaderValue::from(offset),
        ),
        (
            header::HeaderName::from_static("upload-length"),
            HeaderValue::from(length),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

/// Parses tus `Upload-Metadata`: `key base64value,key base64value`.
fn parse_metadata(v: &str) -> Result<HashMap<String, String>, Error> {
    let bad = || {
        err(
            StatusCode::BAD_REQUEST,
            "request.invalid",
            "malformed Upload-Metadata",
        )
    };
    let mut out = HashMap::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, b64) = pair.split_once(' ').unwrap_or((pair, ""));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| bad())?;
        out.insert(k.to_string(), String::from_utf8(raw).map_err(|_| bad())?);
    }
    Ok(out)
}

fn staging_path(state: &AppState, id: Uuid) -> std::path::PathBuf {
    state.staging_dir.join(format!("{id}.part"))
}

/// `POST /api/v1/uploads`.
pub async fn create_upload(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, Error> {
    check_tus(&headers)?;
    let invalid = |m: &str| {
        err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid",
            m.to_string(),
        )
    };
    let length: u64 = header_str(&headers, "upload-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| invalid("Upload-Length required"))?;
    if length == 0 {
        return Err(invalid("empty upload"));
    }
    if length > state.max_upload_bytes {
        return Err(err(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload.too_large",
            format!("at most {} bytes", state.max_upload_bytes),
        ));
    }
    let meta = parse_metadata(header_str(&headers, "upload-metadata").unwrap_or(""))?;
    let call_id = meta
        .get("call_id")
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(|| invalid("metadata call_id (UUID) required"))?;
    let sha256 = meta
        .get("sha256")
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|v| v.to_lowercase())
        .ok_or_else(|| invalid("metadata sha256 (hex) required"))?;
    let duration_ms = meta
        .get("duration_ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let channels = meta
        .get("channels")
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let user = caller.user;
    let st = state.clone();
    let quota = state.upload_quota;
    let upload = state
        .with_db(move |c| {
            check_call(c, &user, call_id)?;
            if let Some(existing) = uploads::by_call(c, user.org_id, call_id).map_err(Error::internal)? {
                if !may_access(&user, existing.org_id, existing.user_id) {
                    return Err(not_found());
                }
                if existing.length != length || existing.sha256 != sha256 {
                    return Err(err(
                        StatusCode::CONFLICT,
                        "upload.conflict",
                        "this call already has an upload of different content",
                    ));
                }
                return Ok(existing);
            }
            let (count, bytes) = uploads::in_flight(c, user.id).map_err(Error::internal)?;
            if count >= quota.0 || bytes + length > quota.1 {
                return Err(err(
                    StatusCode::TOO_MANY_REQUESTS,
                    "upload.quota",
                    format!(
                        "{count} unfinished uploads expecting {bytes} more bytes: finish or wait for those first (at most {} uploads and {} bytes at once)",
                        quota.0, quota.1
                    ),
                ));
            }
            let u = uploads::Upload {
                id: Uuid::now_v7(),
                org_id: user.org_id,
                user_id: user.id,
                call_id,
                length,
                offset: 0,
                sha256,
                duration_ms,
                channels,
            };
            std::fs::File::create(staging_path(&st, u.id)).map_err(Error::internal)?;
            uploads::insert(c, &u, now()).map_err(Error::internal)?;
            Ok(u)
        })
        .await?;
    let location = recording_routes::UPLOAD.replace("{id}", &upload.id.to_string());
    let mut resp = (
        StatusCode::CREATED,
        tus_headers(upload.offset, upload.length),
    )
        .into_response();
    resp.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&location).map_err(Error::internal)?,
    );
    Ok(resp)
}

/// A recording belongs to a call record the uploader may attach it to: one of their
/// organisation, on a lead they can see, and their own call (or they are an admin).
/// The clients push the call record before its recording (the outbox is ordered), so
/// a missing record means an id the uploader has no call under: 409
/// `upload.no_call`, which the app parks with that reason and keeps the file.
fn check_call(c: &rusqlite::Connection, user: &UserInfo, call_id: Uuid) -> Result<(), Error> {
    let no_call = || {
        err(
            StatusCode::CONFLICT,
            "upload.no_call",
            format!("no call record {call_id} of yours is on the server: push the call first"),
        )
    };
    let call = crate::records::get::<softphone_proto::Call>(c, call_id)
        .map_err(Error::internal)?
        .filter(|row| row.org_id == user.org_id)
        .ok_or_else(no_call)?;
    // A database error stays a 500; only "not yours" is `upload.no_call`.
    let lead_visible = crate::db::leads::get(c, call.lead_id)
        .map_err(Error::internal)?
        .is_some_and(|l| crate::records::can_see_lead(user, l.org_id, &l.lead));
    let own_call = call.record.agent_id == user.id || user.role == Role::Admin;
    if lead_visible && own_call {
        Ok(())
    } else {
        Err(no_call())
    }
}

async fn load_upload(
    state: &AppState,
    user: &UserInfo,
    id: Uuid,
) -> Result<uploads::Upload, Error> {
    let u = state
        .with_db(move |c| uploads::get(c, id).map_err(Error::internal))
        .await?
        .ok_or_else(not_found)?;
    if !may_access(user, u.org_id, u.user_id) {
        return Err(not_found());
    }
    Ok(u)
}

/// `HEAD /api/v1/uploads/{id}`.
pub async fn head_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, Error> {
    let u = load_upload(&state, &caller.user, id).await?;
    Ok((StatusCode::OK, tus_headers(u.offset, u.length)).into_response())
}

/// Releases the per-upload PATCH lock when dropped.
struct PatchGuard(AppState, Uuid);

impl Drop for PatchGuard {
    fn drop(&mut self) {
        if let Ok(mut set) = self.0.patching.lock() {
            set.remove(&self.1);
        }
    }
}

/// `PATCH /api/v1/uploads/{id}`.
pub async fn patch_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    check_tus(&headers)?;
    if header_str(&headers, "content-type") != Some("application/offset+octet-stream") {
        return Err(err(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "upload.content_type",
            "Content-Type: application/offset+octet-stream",
        ));
    }
    let claimed: u64 = header_str(&headers, "upload-offset")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            err(
                StatusCode::BAD_REQUEST,
                "request.invalid",
                "Upload-Offset required",
            )
        })?;
    let u = load_upload(&state, &caller.user, id).await?;
    if !state.patching.lock().map_err(Error::internal)?.insert(id) {
        return Err(err(
            StatusCode::LOCKED,
            "upload.busy",
            "another PATCH for this upload is running",
        ));
    }
    let _guard = PatchGuard(state.clone(), id);
    // Re-read under the lock: the offset may have moved.
    let u = load_upload(&state, &caller.user, u.id).await?;
    if claimed != u.offset {
        let mut e = (StatusCode::CONFLICT, tus_headers(u.offset, u.length)).into_response();
        *e.body_mut() =
            Body::from(r#"{"code":"upload.offset_mismatch","message":"ask HEAD for the offset"}"#);
        return Ok(e);
    }
    if u.offset == u.length {
        // Every byte arrived earlier; finish the job if a crash cut completion short.
        let (org, call_id) = (u.org_id, u.call_id);
        let stored = state
            .with_db(move |c| recordings::get(c, org, call_id).map_err(Error::internal))
            .await?
            .is_some();
        if !stored {
            complete(&state, &u, &staging_path(&state, id)).await?;
        }
        return Ok((StatusCode::NO_CONTENT, tus_headers(u.offset, u.length)).into_response());
    }
    let path = staging_path(&state, id);
    // tokio::fs: every open, write and fsync runs on the blocking pool, never on the
    // async workers that serve signaling and the API.
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .await
        .map_err(Error::internal)?;
    file.set_len(u.offset).await.map_err(Error::internal)?;
    file.seek(SeekFrom::Start(u.offset))
        .await
        .map_err(Error::internal)?;
    let mut offset = u.offset;
    let mut stream = body.into_data_stream();
    let mut too_long = false;
    while let Some(chunk) = stream.next().await {
        // A dropped connection ends the stream with an error: keep what arrived.
        let Ok(chunk) = chunk else { break };
        if offset + chunk.len() as u64 > u.length {
            too_long = true;
            break;
        }
        file.write_all(&chunk).await.map_err(Error::internal)?;
        offset += chunk.len() as u64;
    }
    file.sync_data().await.map_err(Error::internal)?;
    drop(file);
    state.metrics.uploaded(offset - u.offset);
    state
        .with_db(move |c| uploads::set_offset(c, id, offset, now()).map_err(Error::internal))
        .await?;
    if too_long {
        return Err(err(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload.too_long",
            "more bytes than Upload-Length",
        ));
    }
    if offset < u.length {
        return Ok((StatusCode::NO_CONTENT, tus_headers(offset, u.length)).into_response());
    }
    complete(&state, &u, &path).await?;
    Ok((StatusCode::NO_CONTENT, tus_headers(offset, u.length)).into_response())
}

/// Part size of a recording's multipart upload to object storage, bytes (S3's minimum
/// is 5 MiB, and every part but the last must reach it).
pub(crate) const MULTIPART_CHUNK: usize = 5 * 1024 * 1024;
/// Parts in flight at once: with [`MULTIPART_CHUNK`] this bounds what one completion
/// holds in memory (~2 x 5 MiB plus the read buffer).
const MULTIPART_IN_FLIGHT: usize = 1;

/// Streams the staged file into `w`, waiting for part capacity before each write, so a
/// slow object store slows the copy instead of growing memory.
pub(crate) async fn copy_to_store(
    path: &std::path::Path,
    w: &mut WriteMultipart,
) -> Result<(), Error> {
    let mut f = tokio::fs::File::open(path).await.map_err(Error::internal)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        w.wait_for_capacity(MULTIPART_IN_FLIGHT)
            .await
            .map_err(Error::internal)?;
        let n = f.read(&mut buf).await.map_err(Error::internal)?;
        if n == 0 {
            return Ok(());
        }
        w.write(&buf[..n]);
    }
}

/// Verifies the staged file, moves it to object storage and records it.
async fn complete(
    state: &AppState,
    u: &uploads::Upload,
    path: &std::path::Path,
) -> Result<(), Error> {
    // A few completions at a time: each hashes a whole recording and holds up to two
    // parts in memory; more at once only share the same disk and core.
    let _slot = state.completions.acquire().await.map_err(Error::internal)?;
    // Hashing a whole recording takes a core for a while: the blocking pool does it.
    let hash_path = path.to_path_buf();
    let got = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut f = std::fs::File::open(hash_path)?;
        let mut h = Sha256::new();
        std::io::copy(&mut f, &mut h)?;
        Ok(hex::encode(h.finalize()))
    })
    .await
    .map_err(Error::internal)?
    .map_err(Error::internal)?;
    if got != u.sha256 {
        let id = u.id;
        let _ = tokio::fs::remove_file(path).await;
        state
            .with_db(move |c| uploads::delete(c, id).map_err(Error::internal))
            .await?;
        return Err(err(
            StatusCode::from_u16(460).expect("valid status"),
            "upload.checksum_mismatch",
            format!("sha256 of the received bytes is {got}; upload discarded, start again"),
        ));
    }
    let t = now();
    let (yyyy, mm) = year_month(t);
    let key = format!("recordings/{}/{yyyy}/{mm:02}/{}.opus", u.user_id, u.call_id);
    let upload = state
        .store
        .put_multipart(&key.as_str().into())
        .await
        .map_err(Error::internal)?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, MULTIPART_CHUNK);
    if let Err(e) = copy_to_store(path, &mut w).await {
        // Leave no half-written object (S3 keeps unfinished parts, and bills them).
        let _ = w.abort().await;
        return Err(e);
    }
    w.finish().await.map_err(Error::internal)?;
    let info = RecordingInfo {
        call_id: u.call_id,
        user_id: u.user_id,
        object_key: key,
        bytes: u.length,
        sha256: got,
        duration_ms: u.duration_ms,
        channels: u.channels,
        format: "ogg/opus".into(),
        created_at: t,
    };
    let (org, actor, call_id) = (u.org_id, u.user_id, u.call_id);
    let seq = state
        .with_db(move |c| {
            let tx = c.unchecked_transaction().map_err(Error::internal)?;
            recordings::insert(&tx, org, &info).map_err(Error::internal)?;
            let seq = set_has_recording(&tx, org, actor, call_id, true)?;
            tx.commit().map_err(Error::internal)?;
            Ok(seq)
        })
        .await?;
    if let Some(seq) = seq {
        state.hub.changed(org, seq);
    }
    let _ = tokio::fs::remove_file(path).await;
    Ok(())
}

/// Civil year and month of a Unix time (UTC), without a date library.
fn year_month(unix: i64) -> (i64, u32) {
    let days = unix.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m)
}

async fn load_recording(
    state: &AppState,
    user: &UserInfo,
    call_id: Uuid,
) -> Result<RecordingInfo, Error> {
    let org = user.org_id;
    let r = state
        .with_db(move |c| recordings::get(c, org, call_id).map_err(Error::internal))
        .await?
        .ok_or_else(not_found)?;
    if !may_access(user, r.org_id, r.info.user_id) {
        return Err(not_found());
    }
    Ok(r.info)
}

/// `GET /api/v1/recordings/{call_id}`.
pub async fn get_recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(call_id): Path<Uuid>,
) -> Result<Json<RecordingInfo>, Error> {
    Ok(Json(load_recording(&state, &caller.user, call_id).await?))
}

/// `DELETE /api/v1/recordings/{call_id}`: removes the object, the row and the upload.
pub async fn delete_recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(call_id): Path<Uuid>,
) -> Result<StatusCode, Error> {
    let info = load_recording(&state, &caller.user, call_id).await?;
    match state.store.delete(&info.object_key.as_str().into()).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(Error::internal(e)),
    }
    let (org, actor) = (caller.user.org_id, caller.user.id);
    let seq = state
        .with_db(move |c| {
            let tx = c.unchecked_transaction().map_err(Error::internal)?;
            recordings::delete(&tx, org, call_id).map_err(Error::internal)?;
            if let Some(u) = uploads::by_call(&tx, org, call_id).map_err(Error::internal)? {
                uploads::delete(&tx, u.id).map_err(Error::internal)?;
            }
            let seq = set_has_recording(&tx, org, actor, call_id, false)?;
            tx.commit().map_err(Error::internal)?;
            Ok(seq)
        })
        .await?;
    if let Some(seq) = seq {
        state.hub.changed(org, seq);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Keeps the call record's `has_recording` in step; the feed sequence when it changed.
fn set_has_recording(
    tx: &rusqlite::Connection,
    org: Uuid,
    actor: Uuid,
    call_id: Uuid,
    has: bool,
) -> Result<Option<i64>, Error> {
    Ok(
        crate::records::touch::<softphone_proto::Call>(tx, org, actor, call_id, |c| {
            c.has_recording = has
        })?
        .map(|(_, seq)| seq),
    )
}

/// Query of the signing route.
#[derive(Deserialize)]
pub struct TtlQuery {
    /// Lifetime, seconds (0-3600, default 300).
    ttl_secs: Option<i64>,
}

fn signature(key: &[u8], org_id: Uuid, call_id: Uuid, exp: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(format!("{org_id}.{call_id}.{exp}").as_bytes());
    mac
}

/// `POST /api/v1/recordings/{call_id}/url`.
pub async fn sign_url(
    State(state): State<AppState>,
    caller: Caller,
    Path(call_id): Path<Uuid>,
    Query(q): Query<TtlQuery>,
) -> Result<Json<SignedUrl>, Error> {
    let ttl = q.ttl_secs.unwrap_or(300);
    if !(0..=3600).contains(&ttl) {
        return Err(err(
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid",
            "ttl_secs must be 0-3600",
        ));
    }
    load_recording(&state, &caller.user, call_id).await?;
    let org = caller.user.org_id;
    let exp = now() + ttl;
    let sig = hex::encode(
        signature(&state.url_key[..], org, call_id, exp)
            .finalize()
            .into_bytes(),
    );
    let url = format!(
        "{}?exp={exp}&sig={sig}",
        recording_routes::MEDIA
            .replace("{org_id}", &org.to_string())
            .replace("{call_id}", &call_id.to_string())
    );
    Ok(Json(SignedUrl {
        url,
        expires_at: exp,
    }))
}

/// Query of the media route.
#[derive(Deserialize)]
pub struct MediaQuery {
    exp: i64,
    sig: String,
}

/// `GET /media/recordings/{org_id}/{call_id}?exp=&sig=` with single-range `Range` support.
pub async fn media(
    State(state): State<AppState>,
    Path((org, call_id)): Path<(Uuid, Uuid)>,
    Query(q): Query<MediaQuery>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let forbidden = |code, m: &str| err(StatusCode::FORBIDDEN, code, m.to_string());
    let sig = hex::decode(&q.sig).map_err(|_| forbidden("media.bad_signature", "bad signature"))?;
    signature(&state.url_key[..], org, call_id, q.exp)
        .verify_slice(&sig)
        .map_err(|_| forbidden("media.bad_signature", "bad signature"))?;
    if q.exp <= now() {
        return Err(forbidden(
            "media.expired",
            "link expired; ask for a new one",
        ));
    }
    let info = state
        .with_db(move |c| recordings::get(c, org, call_id).map_err(Error::internal))
        .await?
        .ok_or_else(not_found)?
        .info;
    let key: object_store::path::Path = info.object_key.as_str().into();
    let size = match state.store.head(&key).await {
        Ok(m) => m.size,
        Err(object_store::Error::NotFound { .. }) => return Err(not_found()),
        Err(e) => return Err(Error::internal(e)),
    };
    let base = [
        (header::CONTENT_TYPE, HeaderValue::from_static("audio/ogg")),
        (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
    ];
    let Some(range) = header_str(&headers, "range") else {
        let stream = state
            .store
            .get(&key)
            .await
            .map_err(Error::internal)?
            .into_stream();
        return Ok((StatusCode::OK, base, Body::from_stream(stream)).into_response());
    };
    let unsatisfiable = || {
        let mut r = (StatusCode::RANGE_NOT_SATISFIABLE, base.clone()).into_response();
        r.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
        );
        r
    };
    let Some((start, end)) = parse_range(range, size) else {
        return Ok(unsatisfiable());
    };
    // Streamed: a `Range: bytes=0-` of a long recording is never held in memory whole.
    let stream = state
        .store
        .get_opts(
            &key,
            object_store::GetOptions {
                range: Some(object_store::GetRange::Bounded(start..end + 1)),
                ..Default::default()
            },
        )
        .await
        .map_err(Error::internal)?
        .into_stream();
    let mut r = (StatusCode::PARTIAL_CONTENT, base, Body::from_stream(stream)).into_response();
    r.headers_mut().insert(
        header::CONTENT_RANGE,
        HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")).expect("ascii"),
    );
    Ok(r)
}

/// One `bytes=` range (RFC 9110 §14.1.2) → inclusive (start, end), or None if unsatisfiable.
fn parse_range(v: &str, size: u64) -> Option<(u64, u64)> {
    let spec = v.strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size - 1)
        }
        (s, "") => (s.parse().ok()?, size - 1),
        (s, e) => (s.parse().ok()?, e.parse::<u64>().ok()?.min(size - 1)),
    };
    (start <= end && start < size).then_some((start, end))
}

/// Deletes uploads that received no byte for `max_idle_secs` and never finished: their
/// staged bytes and their row. Answers how many went.
pub async fn expire_uploads(state: &AppState, max_idle_secs: i64) -> Result<usize, Error> {
    let before = now() - max_idle_secs;
    let ids = state
        .with_db(move |c| uploads::abandoned(c, before).map_err(Error::internal))
        .await?;
    for id in &ids {
        if state.patching.lock().map_err(Error::internal)?.contains(id) {
            continue;
        }
        match tokio::fs::remove_file(staging_path(state, *id)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::internal(e)),
        }
        let id = *id;
        state
            .with_db(move |c| uploads::delete(c, id).map_err(Error::internal))
            .await?;
        tracing::info!(upload = %id, "expired abandoned upload");
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 999)));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=5-2", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
    }

    proptest::proptest! {
        // Stand-ins for fuzzing (no nightly toolchain here): any Range header is refused
        // or names bytes inside the file; any tus metadata parses or is a 400.
        #[test]
        fn any_range_header_is_refused_or_inside_the_file(v in proptest::prelude::any::<String>(), size in 0u64..u64::MAX) {
            if let Some((a, b)) = parse_range(&v, size) {
                proptest::prop_assert!(a <= b && b < size);
            }
        }

        #[test]
        fn numeric_ranges_stay_inside_the_file(a in proptest::prelude::any::<u64>(), b in proptest::prelude::any::<u64>(), size in 0u64..u64::MAX) {
            for v in [format!("bytes={a}-{b}"), format!("bytes={a}-"), format!("bytes=-{b}")] {
                if let Some((s, e)) = parse_range(&v, size) {
                    proptest::prop_assert!(s <= e && e < size, "{v} of {size}: {s}-{e}");
                }
            }
        }

        #[test]
        fn any_tus_metadata_parses_or_is_refused(v in proptest::prelude::any::<String>()) {
            let _ = parse_metadata(&v);
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(1_795_305_600), (2026, 11)); // 2026-11-21
        assert_eq!(year_month(951_782_400), (2000, 2)); // 2000-02-29
    }
}
