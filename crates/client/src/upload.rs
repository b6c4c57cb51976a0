//! Resumable recording upload over the tus 1.0 core protocol (create, `HEAD` for the
//! offset, `PATCH` chunks). Resuming needs no local state: creating the upload again for
//! the same call returns the same upload, and `HEAD` says where to continue.

use crate::{Client, ClientError, Result};
use base64::Engine;
use reqwest::Method;
use softphone_proto::{recording_routes, RecordingInfo};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use uuid::Uuid;

/// What the server records with an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadMeta {
    /// The call (one recording per call).
    pub call_id: Uuid,
    /// SHA-256 of the whole file, lowercase hex; checked by the server at the last byte.
    pub sha256: String,
    /// Duration, ms.
    pub duration_ms: u64,
    /// Channel count (2 for the dual-track recording).
    pub channels: u8,
}

const TUS: &str = "1.0.0";

fn header_u64(resp: &reqwest::Response, name: &str) -> Result<u64> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ClientError::Protocol(format!("missing {name} header")))
}

impl Client {
    /// Creates (or finds again) the upload for `meta.call_id`; answers its location
    /// path and current offset.
    ///
    /// Errors: 413 `upload.too_large`, 409 `upload.conflict` (different content for the
    /// same call), 409 `upload.no_call` (no call record of the caller's under that id on
    /// the server: push the call record first), 429 `upload.quota`, 422
    /// `request.invalid`.
    pub async fn upload_create(&self, length: u64, meta: &UploadMeta) -> Result<(String, u64)> {
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let metadata = format!(
            "call_id {},sha256 {},duration_ms {},channels {}",
            b64(&meta.call_id.to_string()),
            b64(&meta.sha256),
            b64(&meta.duration_ms.to_string()),
            b64(&meta.channels.to_string())
        );
        let resp = Self::send(
            self.authed(Method::POST, recording_routes::UPLOADS)?
                .header("Tus-Resumable", TUS)
                .header("Upload-Length", length)
                .header("Upload-Metadata", metadata),
        )
        .await?;
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ClientError::Protocol("upload created without Location".into()))?
            .to_string();
        Ok((location, header_u64(&resp, "upload-offset")?))
    }

    /// Bytes the server holds for an upload.
    pub async fn upload_offset(&self, location: &str) -> Result<u64> {
        let resp = Self::send(
            self.authed(Method::HEAD, location)?
                .header("Tus-Resumable", TUS),
        )
        .await?;
        header_u64(&resp, "upload-offset")
    }

    /// Appends `bytes` at `offset`; answers the new offset. The last chunk makes the
    /// server check the sha256: 460 `upload.checksum_mismatch` when it differs.
    pub async fn upload_patch(&self, location: &str, offset: u64, bytes: Vec<u8>) -> Result<u64> {
        let resp = Self::send(
            self.authed(Method::PATCH, location)?
                .header("Tus-Resumable", TUS)
                .header("Upload-Offset", offset)
                .header("Content-Type", "application/offset+octet-stream")
                .body(bytes),
        )
        .await?;
        header_u64(&resp, "upload-offset")
    }

    /// Uploads `path` from wherever the server left off, in `chunk` byte pieces,
    /// calling `progress(sent, total)` after each; answers the stored recording.
    ///
    /// A failure part-way leaves the received prefix on the server: call again to
    /// resume. The file must not change between attempts (its sha256 is in `meta`).
    pub async fn upload_recording(
        &self,
        path: &std::path::Path,
        meta: &UploadMeta,
        chunk: usize,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<RecordingInfo> {
        let mut file = tokio::fs::File::open(path).await?;
        let length = file.metadata().await?.len();
        let (location, mut offset) = self.upload_create(length, meta).await?;
        if offset > 0 && offset < length {
            offset = self.upload_offset(&location).await?;
        }
        let chunk = chunk.max(1);
        let mut buf = Vec::with_capacity(chunk);
        while offset < length {
            file.seek(std::io::SeekFrom::Start(offset)).await?;
            buf.clear();
            let want = chunk.min((length - offset) as usize);
            (&mut file).take(want as u64).read_to_end(&mut buf).await?;
            if buf.len() != want {
                return Err(ClientError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the recording got shorter during upload",
                )));
            }
            offset = self
                .upload_patch(&location, offset, std::mem::take(&mut buf))
                .await?;
            progress(offset, length);
        }
        if offset == length && length > 0 {
            // Finished earlier but the completion answer may have been lost: a PATCH at
            // the end is a no-op that completes if needed.
            let _ = self.upload_patch(&location, offset, Vec::new()).await;
        }
        self.recording(meta.call_id).await
    }
}
