//! `orgs`: organisations (a call centre). Every row of every other table belongs to one.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;";

/// Returns the id of the organisation called `name`, creating it if needed.
pub fn get_or_create(conn: &Connection, name: &str, now: i64) -> rusqlite::Result<Uuid> {
    if let Some(id) = conn
        .query_row("SELECT id FROM orgs WHERE name = ?1", [name], |r| {
            r.get::<_, String>(0)
        })
        .optional()?
    {
        return super::parse_uuid(0, &id);
    }
    let id = Uuid::now_v7();
    conn.execute(
        "INSERT INTO orgs (id, name, created_at) VALUES (?1, ?2, ?3)",
        params![id.to_string(), name, now],
    )?;
    Ok(id)
}
