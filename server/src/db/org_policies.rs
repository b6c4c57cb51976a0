//! `org_policies`: the policy an organisation's admin sets for every agent's app, one
//! row per organisation (absent: nothing set), stored as the JSON of
//! [`softphone_proto::OrgPolicy`] so a key added later needs no migration.

use rusqlite::{params, Connection, OptionalExtension};
use softphone_proto::OrgPolicy;
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE org_policies (
    org_id TEXT PRIMARY KEY REFERENCES orgs(id),
    policy TEXT NOT NULL,
    updated_by TEXT NOT NULL REFERENCES users(id),
    updated_at INTEGER NOT NULL
) STRICT;";

/// The organisation's policy; the default (nothing set) when none was stored.
pub fn get(c: &Connection, org: Uuid) -> rusqlite::Result<OrgPolicy> {
    let text: Option<String> = c
        .query_row(
            "SELECT policy FROM org_policies WHERE org_id = ?1",
            params![org.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    match text {
        None => Ok(OrgPolicy::default()),
        Some(t) => serde_json::from_str(&t).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        }),
    }
}

/// Replaces the organisation's policy.
pub fn put(c: &Connection, org: Uuid, p: &OrgPolicy, by: Uuid, at: i64) -> rusqlite::Result<()> {
    let text = serde_json::to_string(p).expect("a policy serializes");
    c.execute(
        "INSERT INTO org_policies (org_id, policy, updated_by, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (org_id) DO UPDATE SET policy = excluded.policy,
           updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        params![org.to_string(), text, by.to_string(), at],
    )?;
    Ok(())
}
