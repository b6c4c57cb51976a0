//! `recordings`: finished call recordings waiting for upload (or uploaded), with the
//! bytes the server has acknowledged. The local file is kept until the server confirms
//! the sha256, then kept or deleted per [`Retention`].

use crate::{now, outbox, Result, Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::Digest;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE recordings (
    call_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    uploaded_bytes INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'uploaded')),
    created_at INTEGER NOT NULL
) STRICT;";

/// What to do with a local recording once the server has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retention {
    /// Keep the file.
    #[default]
    Keep,
    /// Delete the file after the server confirmed the sha256.
    Prune,
    /// Keep the file this many days after the call (counted from when it was
    /// registered for upload), then delete it once the server has it; sync sweeps
    /// ([`Store::expire_uploaded_recordings`]).
    KeepDays(u32),
}

impl Retention {
    /// Seconds an uploaded file stays, when the rule is [`Retention::KeepDays`].
    pub fn keep_secs(self) -> Option<i64> {
        match self {
            Retention::KeepDays(d) => Some(i64::from(d) * 86_400),
            _ => None,
        }
    }
}

/// A local recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRecording {
    /// The call.
    pub call_id: Uuid,
    /// The Ogg Opus file.
    pub path: PathBuf,
    /// SHA-256, hex.
    pub sha256: String,
    /// Size, bytes.
    pub bytes: u64,
    /// Duration, ms.
    pub duration_ms: u64,
    /// Channels.
    pub channels: u8,
    /// Bytes the server acknowledged.
    pub uploaded_bytes: u64,
    /// True once the server confirmed it.
    pub uploaded: bool,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LocalRecording> {
    Ok(LocalRecording {
        call_id: Uuid::parse_str(&r.get::<_, String>(0)?).unwrap_or_default(),
        path: PathBuf::from(r.get::<_, String>(1)?),
        sha256: r.get(2)?,
        bytes: r.get::<_, i64>(3)? as u64,
        duration_ms: r.get::<_, i64>(4)? as u64,
        channels: r.get::<_, i64>(5)? as u8,
        uploaded_bytes: r.get::<_, i64>(6)? as u64,
        uploaded: r.get::<_, String>(7)? == "uploaded",
    })
}

const COLS: &str = "call_id, path, sha256, bytes, duration_ms, channels, uploaded_bytes, state";

impl Store {
    /// Registers a finished recording for upload (hashing the file now, so a later
    /// change to it is caught by the server's check). Registering the same call again
    /// is a no-op.
    pub fn add_recording(
        &mut self,
        call_id: Uuid,
        path: &Path,
        duration_ms: u64,
        channels: u8,
    ) -> Result<LocalRecording> {
        if let Some(r) = self.recording(call_id)? {
            return Ok(r);
        }
        let path = std::fs::canonicalize(path)?;
        let mut f = std::fs::File::open(&path)?;
        let mut h = sha2::Sha256::new();
        let bytes = std::io::copy(&mut f, &mut h)?;
        if bytes == 0 {
            return Err(StoreError::Invalid(format!("{} is empty", path.display())));
        }
        let sha = hex::encode(h.finalize());
        let tx = self.conn.transaction()?;
        tx.execute(
            &format!("INSERT INTO recordings ({COLS}, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 'pending', ?7)"),
            params![
                call_id.to_string(),
                path.to_string_lossy(),
                sha,
                bytes as i64,
                duration_ms as i64,
                i64::from(channels),
                now()
            ],
        )?;
        outbox::push(&tx, "recording", call_id, "{}")?;
        tx.commit()?;
        self.recording(call_id)?
            .ok_or_else(|| StoreError::NotFound(format!("recording {call_id}")))
    }

    /// A local recording by call id.
    pub fn recording(&self, call_id: Uuid) -> Result<Option<LocalRecording>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLS} FROM recordings WHERE call_id = ?1"),
                [call_id.to_string()],
                row,
            )
            .optional()?)
    }

    /// Every local recording.
    pub fn recordings(&self) -> Result<Vec<LocalRecording>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {COLS} FROM recordings ORDER BY created_at"
        ))?;
        let rows = st.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Stores upload progress.
    pub fn set_uploaded_bytes(&mut self, call_id: Uuid, bytes: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE recordings SET uploaded_bytes = ?2 WHERE call_id = ?1",
            params![call_id.to_string(), bytes as i64],
        )?;
        Ok(())
    }

    /// Marks a recording uploaded and applies the retention rule to its file.
    pub fn set_uploaded(&mut self, call_id: Uuid, retention: Retention) -> Result<()> {
        let Some(r) = self.recording(call_id)? else {
            return Ok(());
        };
        self.conn.execute(
            "UPDATE recordings SET state = 'uploaded', uploaded_bytes = bytes WHERE call_id = ?1",
            [call_id.to_string()],
        )?;
        match retention {
            Retention::Prune => remove_if_there(&r.path)?,
            Retention::KeepDays(_) => {
                if let Some(keep) = retention.keep_secs() {
                    self.expire_uploaded_recordings(keep, now())?;
                }
            }
            Retention::Keep => {}
        }
        Ok(())
    }

    /// Deletes the files of uploaded recordings registered at least `keep_secs` before
    /// `now` (Unix seconds); recordings not yet on the server are never touched. The
    /// rows stay (the call's timeline shows the recording as on the server). Answers
    /// how many files went.
    ///
    /// Errors: a file that exists but cannot be deleted.
    pub fn expire_uploaded_recordings(&mut self, keep_secs: i64, now: i64) -> Result<usize> {
        let mut st = self
            .conn
            .prepare("SELECT path FROM recordings WHERE state = 'uploaded' AND created_at <= ?1")?;
        let paths: Vec<String> = st
            .query_map([now.saturating_sub(keep_secs)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut gone = 0;
        for p in paths {
            let p = PathBuf::from(p);
            if p.exists() {
                remove_if_there(&p)?;
                gone += 1;
            }
        }
        if gone > 0 {
            tracing::info!(
                files = gone,
                keep_secs,
                "expired uploaded recordings deleted"
            );
        }
        Ok(gone)
    }
}

fn remove_if_there(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn salvage_from(src: &Connection, dst: &Connection) -> Result<usize> {
    let mut st = src.prepare(&format!(
        "SELECT {COLS} FROM recordings WHERE state = 'pending'"
    ))?;
    let mut rows = st.query([])?;
    let mut n = 0;
    while let Ok(Some(r)) = rows.next() {
        let Ok(rec) = row(r) else { continue };
        dst.execute(
            &format!("INSERT OR IGNORE INTO recordings ({COLS}, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 'pending', ?7)"),
            params![
                rec.call_id.to_string(),
                rec.path.to_string_lossy(),
                rec.sha256,
                rec.bytes as i64,
                rec.duration_ms as i64,
                i64::from(rec.channels),
                now()
            ],
        )?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_recordings_go_after_their_days_and_pending_ones_never() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(&dir.path().join("profile")).unwrap();
        let day = 86_400;
        let mut add = |name: &str, age_days: i64| {
            let path = dir.path().join(name);
            std::fs::write(&path, b"OggS...").unwrap();
            let id = Uuid::now_v7();
            store.add_recording(id, &path, 1000, 2).unwrap();
            store
                .conn
                .execute(
                    "UPDATE recordings SET created_at = ?2 WHERE call_id = ?1",
                    params![id.to_string(), now() - age_days * day],
                )
                .unwrap();
            (id, path)
        };
        let (old_up, old_up_path) = add("old-uploaded.opus", 31);
        let (new_up, new_up_path) = add("new-uploaded.opus", 2);
        let (_old_pending, old_pending_path) = add("old-pending.opus", 90);
        // Uploaded under "keep 30 days": the 31-day-old file goes at once, the other stays.
        store.set_uploaded(old_up, Retention::KeepDays(30)).unwrap();
        store.set_uploaded(new_up, Retention::KeepDays(30)).unwrap();
        assert!(!old_up_path.exists());
        assert!(new_up_path.exists());
        assert!(old_pending_path.exists(), "not on the server yet: kept");
        // 29 days later the second one is due too; the pending one still stays.
        let later = now() + 29 * day;
        assert_eq!(
            store.expire_uploaded_recordings(30 * day, later).unwrap(),
            1
        );
        assert!(!new_up_path.exists());
        assert!(old_pending_path.exists());
        assert_eq!(store.recordings().unwrap().len(), 3, "the rows stay");
    }
}
