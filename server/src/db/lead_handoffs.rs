//! `lead_handoffs`: a lead reassigned away from an agent. The feed turns each row into
//! a `lead_revoked` change for that agent, so their app drops the lead's history; and
//! the reassignment gives every row of the lead a new feed position, so the new agent
//! receives the whole history even when their cursor is already past it.

use rusqlite::{params, Connection};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE lead_handoffs (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    lead_id TEXT NOT NULL REFERENCES leads(id),
    from_user_id TEXT NOT NULL REFERENCES users(id),
    at INTEGER NOT NULL,
    change_seq INTEGER NOT NULL
) STRICT;
CREATE INDEX lead_handoffs_from ON lead_handoffs(from_user_id, change_seq);";

/// Tables whose rows hang off a lead (`lead_id`) and appear in the feed (`change_seq`).
const LEAD_TABLES: [&str; 5] = ["notes", "contacts", "conversations", "messages", "calls"];

/// Records that `lead` left `from` at feed position `seq`, and moves every row of the
/// lead to new feed positions after it (one each, so a page boundary never splits a
/// position). Runs inside the reassignment's transaction; returns the rows moved.
pub fn record(
    tx: &Connection,
    org: Uuid,
    lead: Uuid,
    from: Option<Uuid>,
    seq: i64,
    at: i64,
) -> rusqlite::Result<usize> {
    if let Some(from) = from {
        tx.execute(
            "INSERT INTO lead_handoffs (org_id, lead_id, from_user_id, at, change_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![org.to_string(), lead.to_string(), from.to_string(), at, seq],
        )?;
    }
    let mut moved = 0;
    for table in LEAD_TABLES {
        let ids: Vec<String> = {
            let mut st = tx.prepare(&format!(
                "SELECT id FROM {table} WHERE lead_id = ?1 ORDER BY change_seq"
            ))?;
            let rows = st.query_map([lead.to_string()], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for id in ids {
            let next = super::changes::next(tx)?;
            tx.execute(
                &format!("UPDATE {table} SET change_seq = ?1 WHERE id = ?2"),
                params![next, id],
            )?;
            moved += 1;
        }
    }
    Ok(moved)
}

/// Leads taken away from `user` after `since` that are not theirs again:
/// (feed position, lead id), oldest first, at most `limit`.
pub fn revoked_for(
    c: &Connection,
    org: Uuid,
    user: Uuid,
    since: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, Uuid)>> {
    let mut st = c.prepare(
        "SELECT h.change_seq, h.lead_id FROM lead_handoffs h JOIN leads l ON l.id = h.lead_id
         WHERE h.org_id = ?1 AND h.from_user_id = ?2 AND h.change_seq > ?3
           AND (l.assigned_user_id IS NULL OR l.assigned_user_id <> ?2)
         ORDER BY h.change_seq LIMIT ?4",
    )?;
    let rows = st.query_map(
        params![org.to_string(), user.to_string(), since, limit as i64],
        |r| Ok((r.get::<_, i64>(0)?, super::uuid_at(r, 1)?)),
    )?;
    rows.collect()
}
