//! `activity_log`: who changed what, when (audit). Written in the same transaction as
//! the change it records.

use rusqlite::{params, Connection};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE activity_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX activity_entity ON activity_log(entity, entity_id);";

/// Appends one entry; `action` is `create`, `update` or `delete`.
#[allow(clippy::too_many_arguments)]
pub fn record(
    conn: &Connection,
    org_id: Uuid,
    user_id: Uuid,
    action: &str,
    entity: &str,
    entity_id: Uuid,
    version: i64,
    at: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO activity_log (org_id, user_id, action, entity, entity_id, version, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            org_id.to_string(),
            user_id.to_string(),
            action,
            entity,
            entity_id.to_string(),
            version,
            at
        ],
    )?;
    Ok(())
}

/// Number of entries for an entity (tests and audits).
pub fn count_for(conn: &Connection, entity: &str, entity_id: Uuid) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM activity_log WHERE entity = ?1 AND entity_id = ?2",
        params![entity, entity_id.to_string()],
        |r| r.get(0),
    )
}
