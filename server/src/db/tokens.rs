//! `tokens`: bearer sessions. Only the SHA-256 of a token is stored, so a copy of the
//! database cannot be used to log in.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE tokens (
    token_sha256 TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX tokens_user ON tokens(user_id);";

/// Stores a new session.
pub fn insert(
    conn: &Connection,
    token_sha256: &str,
    user_id: Uuid,
    now: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO tokens (token_sha256, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![token_sha256, user_id.to_string(), now, expires_at],
    )?;
    Ok(())
}

/// The user of an unexpired session.
pub fn user_for(conn: &Connection, token_sha256: &str, now: i64) -> rusqlite::Result<Option<Uuid>> {
    conn.query_row(
        "SELECT user_id FROM tokens WHERE token_sha256 = ?1 AND expires_at > ?2",
        params![token_sha256, now],
        |r| super::uuid_at(r, 0),
    )
    .optional()
}

/// Revokes one session; true if it existed.
pub fn delete(conn: &Connection, token_sha256: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM tokens WHERE token_sha256 = ?1", [token_sha256])? > 0)
}

/// Revokes every session of a user; returns how many.
pub fn delete_for_user(conn: &Connection, user_id: Uuid) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM tokens WHERE user_id = ?1",
        [user_id.to_string()],
    )
}

/// Removes expired sessions; returns how many.
pub fn purge_expired(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM tokens WHERE expires_at <= ?1", [now])
}
