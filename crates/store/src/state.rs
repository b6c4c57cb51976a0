//! `sync_state`: small key/value settings of the sync (the changes-feed cursor, the
//! last error). Never secrets: the token lives in the OS keyring.

use crate::{Result, Store};
use rusqlite::{params, Connection, OptionalExtension};

/// Creates the table.
pub const MIGRATION_1: &str =
    "CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;";

pub(crate) fn get(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

pub(crate) fn set(c: &Connection, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = ?2",
        params![key, value],
    )?;
    Ok(())
}

impl Store {
    /// The changes-feed cursor (0 before the first pull).
    pub fn cursor(&self) -> Result<i64> {
        Ok(get(&self.conn, "cursor")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }
}
