//! `uploads`: resumable recording uploads in progress. Bytes are staged in
//! `DATA_DIR/uploads/{id}.part`; `offset` is only advanced after they are fsync'd.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::uuid_at;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    call_id TEXT NOT NULL UNIQUE,
    length INTEGER NOT NULL,
    offset INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;";

/// Tracks the last byte received, so uploads abandoned mid-way can be expired.
pub const MIGRATION_2: &str =
    "ALTER TABLE uploads ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX uploads_touched ON uploads(touched_at);";

/// One upload per call *of an organisation* (issue "Trust" item 10): call ids are
/// chosen by clients, so a global `UNIQUE (call_id)` let another organisation's
/// upload claim an id first and lock the rightful agent out. SQLite cannot change a
/// constraint in place, so the table is rebuilt (rows kept).
pub const MIGRATION_3: &str = "CREATE TABLE uploads_v3 (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    call_id TEXT NOT NULL,
    length INTEGER NOT NULL,
    offset INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    channels INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    touched_at INTEGER NOT NULL DEFAULT 0,
    UNIQUE (org_id, call_id)
) STRICT;
INSERT INTO uploads_v3 (id, org_id, user_id, call_id, length, offset, sha256, duration_ms,
    channels, created_at, touched_at)
  SELECT id, org_id, user_id, call_id, length, offset, sha256, duration_ms, channels,
    created_at, touched_at FROM uploads;
DROP TABLE uploads;
ALTER TABLE uploads_v3 RENAME TO uploads;
CREATE INDEX uploads_touched ON uploads(touched_at);";

/// An upload row.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub call_id: Uuid,
    pub length: u64,
    pub offset: u64,
    pub sha256: String,
    pub duration_ms: u64,
    pub channels: u8,
}

const COLS: &str = "id, org_id, user_id, call_id, length, offset, sha256, duration_ms, channels";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Upload> {
    Ok(Upload {
        id: uuid_at(r, 0)?,
        org_id: uuid_at(r, 1)?,
        user_id: uuid_at(r, 2)?,
        call_id: uuid_at(r, 3)?,
        length: r.get::<_, i64>(4)? as u64,
        offset: r.get::<_, i64>(5)? as u64,
        sha256: r.get(6)?,
        duration_ms: r.get::<_, i64>(7)? as u64,
        channels: r.get::<_, i64>(8)? as u8,
    })
}

/// Inserts a new upload.
pub fn insert(conn: &Connection, u: &Upload, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        &format!("INSERT INTO uploads ({COLS}, created_at, touched_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?9)"),
        params![
            u.id.to_string(),
            u.org_id.to_string(),
            u.user_id.to_string(),
            u.call_id.to_string(),
            u.length as i64,
            u.sha256,
            u.duration_ms as i64,
            i64::from(u.channels),
            now
        ],
    )?;
    Ok(())
}

/// By upload id.
pub fn get(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<Upload>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM uploads WHERE id = ?1"),
        [id.to_string()],
        row,
    )
    .optional()
}

/// By organisation and call id (one upload per call of an organisation).
pub fn by_call(conn: &Connection, org_id: Uuid, call_id: Uuid) -> rusqlite::Result<Option<Upload>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM uploads WHERE org_id = ?1 AND call_id = ?2"),
        [org_id.to_string(), call_id.to_string()],
        row,
    )
    .optional()
}

/// Records durable progress at time `now` (Unix seconds).
pub fn set_offset(conn: &Connection, id: Uuid, offset: u64, now: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE uploads SET offset = ?2, touched_at = ?3 WHERE id = ?1",
        params![id.to_string(), offset as i64, now],
    )?;
    Ok(())
}

/// Unfinished uploads with no byte received since `before` (Unix seconds).
pub fn abandoned(conn: &Connection, before: i64) -> rusqlite::Result<Vec<Uuid>> {
    let mut st = conn.prepare(
        "SELECT id FROM uploads WHERE offset < length AND MAX(created_at, touched_at) < ?1",
    )?;
    let rows = st.query_map([before], |r| uuid_at(r, 0))?;
    rows.collect()
}

/// Unfinished uploads of a user: how many, and the bytes they still expect.
pub fn in_flight(conn: &Connection, user: Uuid) -> rusqlite::Result<(u64, u64)> {
    conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(length - offset), 0) FROM uploads
         WHERE user_id = ?1 AND offset < length",
        [user.to_string()],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
}

/// Forgets an upload (completed, failed or its recording deleted).
pub fn delete(conn: &Connection, id: Uuid) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM uploads WHERE id = ?1", [id.to_string()])?;
    Ok(())
}
