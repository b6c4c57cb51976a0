//! `recordings`: finished, verified recordings and where their object lives.

use rusqlite::{params, Connection, OptionalExtension};
use softphone_proto::RecordingInfo;
use uuid::Uuid;

use super::uuid_at;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE recordings (
    call_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    object_key TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    format TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;";

/// Keys recordings by (organisation, call id) (issue "Trust" item 10): call ids are
/// chosen by clients, so a global key let one organisation's recording take an id
/// another organisation's call would use. The table is rebuilt (rows kept).
pub const MIGRATION_2: &str = "CREATE TABLE recordings_v2 (
    call_id TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    object_key TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    format TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, call_id)
) STRICT;
INSERT INTO recordings_v2 (call_id, org_id, user_id, object_key, bytes, sha256, duration_ms,
    channels, format, created_at)
  SELECT call_id, org_id, user_id, object_key, bytes, sha256, duration_ms, channels, format,
    created_at FROM recordings;
DROP TABLE recordings;
ALTER TABLE recordings_v2 RENAME TO recordings;";

/// A recording and its organisation.
pub struct RecordingRow {
    pub org_id: Uuid,
    pub info: RecordingInfo,
}

const COLS: &str = "call_id, org_id, user_id, object_key, bytes, sha256, duration_ms, channels, format, created_at";

/// Inserts a verified recording.
pub fn insert(conn: &Connection, org_id: Uuid, r: &RecordingInfo) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO recordings ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            r.call_id.to_string(),
            org_id.to_string(),
            r.user_id.to_string(),
            r.object_key,
            r.bytes as i64,
            r.sha256,
            r.duration_ms as i64,
            i64::from(r.channels),
            r.format,
            r.created_at
        ],
    )?;
    Ok(())
}

/// By organisation and call id.
pub fn get(
    conn: &Connection,
    org_id: Uuid,
    call_id: Uuid,
) -> rusqlite::Result<Option<RecordingRow>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM recordings WHERE org_id = ?1 AND call_id = ?2"),
        [org_id.to_string(), call_id.to_string()],
        |r| {
            Ok(RecordingRow {
                org_id: uuid_at(r, 1)?,
                info: RecordingInfo {
                    call_id: uuid_at(r, 0)?,
                    user_id: uuid_at(r, 2)?,
                    object_key: r.get(3)?,
                    bytes: r.get::<_, i64>(4)? as u64,
                    sha256: r.get(5)?,
                    duration_ms: r.get::<_, i64>(6)? as u64,
                    channels: r.get::<_, i64>(7)? as u8,
                    format: r.get(8)?,
                    created_at: r.get(9)?,
                },
            })
        },
    )
    .optional()
}

/// Removes the row.
pub fn delete(conn: &Connection, org_id: Uuid, call_id: Uuid) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM recordings WHERE org_id = ?1 AND call_id = ?2",
        [org_id.to_string(), call_id.to_string()],
    )?;
    Ok(())
}
