//! `call_links`: browser call links as issued, so one can be revoked or used once. The
//! token in the URL stays a signed claim (checked without the database first); this
//! row is the link's current standing.

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use super::uuid_at;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE call_links (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    agent_id TEXT NOT NULL REFERENCES users(id),
    lead_id TEXT,
    created_at INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    single_use INTEGER NOT NULL,
    used_at INTEGER,
    revoked_at INTEGER
) STRICT;";

/// A stored link.
#[derive(Debug, Clone)]
pub struct LinkRow {
    /// Organisation.
    pub org_id: Uuid,
    /// The agent who made it.
    pub agent_id: Uuid,
    /// Expiry, Unix ms.
    pub expires_at_ms: i64,
    /// Good for one answered call.
    pub single_use: bool,
    /// When its one call was answered (single-use links).
    pub used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

impl LinkRow {
    /// Why the link cannot be opened now at `now_ms`, if it cannot.
    pub fn refusal(&self, now_ms: i64) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("revoked")
        } else if self.expires_at_ms <= now_ms {
            Some("expired")
        } else if self.single_use && self.used_at.is_some() {
            Some("used")
        } else {
            None
        }
    }
}

/// Stores a new link.
#[allow(clippy::too_many_arguments)]
pub fn insert(
    c: &Connection,
    id: Uuid,
    org: Uuid,
    agent: Uuid,
    lead: Option<Uuid>,
    expires_at_ms: i64,
    single_use: bool,
    now: i64,
) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO call_links (id, org_id, agent_id, lead_id, created_at, expires_at_ms, single_use)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id.to_string(),
            org.to_string(),
            agent.to_string(),
            lead.map(|l| l.to_string()),
            now,
            expires_at_ms,
            i64::from(single_use)
        ],
    )?;
    Ok(())
}

/// Reads a link.
pub fn get(c: &Connection, id: Uuid) -> rusqlite::Result<Option<LinkRow>> {
    c.query_row(
        "SELECT org_id, agent_id, expires_at_ms, single_use, used_at, revoked_at FROM call_links WHERE id = ?1",
        [id.to_string()],
        |r| {
            Ok(LinkRow {
                org_id: uuid_at(r, 0)?,
                agent_id: uuid_at(r, 1)?,
                expires_at_ms: r.get(2)?,
                single_use: r.get::<_, i64>(3)? != 0,
                used_at: r.get(4)?,
                revoked_at: r.get(5)?,
            })
        },
    )
    .optional()
}

/// Marks a link revoked (idempotent).
pub fn revoke(c: &Connection, id: Uuid, now: i64) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE call_links SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
        params![id.to_string(), now],
    )?;
    Ok(())
}

/// Records that the link's call was answered (idempotent).
pub fn mark_used(c: &Connection, id: Uuid, now: i64) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE call_links SET used_at = COALESCE(used_at, ?2) WHERE id = ?1",
        params![id.to_string(), now],
    )?;
    Ok(())
}

/// A live link of an agent's, for listing.
#[derive(Debug, Clone)]
pub struct LiveLink {
    /// The link id.
    pub id: Uuid,
    /// Organisation.
    pub org_id: Uuid,
    /// The lead it is for.
    pub lead_id: Option<Uuid>,
    /// Expiry, Unix ms.
    pub expires_at_ms: i64,
    /// Good for one answered call.
    pub single_use: bool,
}

/// `agent`'s links that can still be opened at `now_ms` (not expired, revoked or
/// spent), newest first, at most `limit`.
pub fn live_for_agent(
    c: &Connection,
    agent: Uuid,
    now_ms: i64,
    limit: usize,
) -> rusqlite::Result<Vec<LiveLink>> {
    let mut s = c.prepare(
        "SELECT id, org_id, lead_id, expires_at_ms, single_use FROM call_links
         WHERE agent_id = ?1 AND expires_at_ms > ?2 AND revoked_at IS NULL
           AND NOT (single_use = 1 AND used_at IS NOT NULL)
         ORDER BY created_at DESC, id DESC LIMIT ?3",
    )?;
    let rows = s.query_map(params![agent.to_string(), now_ms, limit as i64], |r| {
        Ok(LiveLink {
            id: uuid_at(r, 0)?,
            org_id: uuid_at(r, 1)?,
            lead_id: super::opt_uuid_at(r, 2)?,
            expires_at_ms: r.get(3)?,
            single_use: r.get::<_, i64>(4)? != 0,
        })
    })?;
    rows.collect()
}
