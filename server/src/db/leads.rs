//! `leads`: prospects. Ids are client-generated UUIDv7 so offline creation syncs
//! idempotently; `version` counts accepted changes; `change_seq` is the feed cursor.

use rusqlite::{params, Connection, OptionalExtension};
use softphone_proto::{Lead, LeadUpsert};
use uuid::Uuid;

use super::{opt_uuid_at, uuid_at};

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE leads (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    company TEXT,
    assigned_user_id TEXT REFERENCES users(id),
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    change_seq INTEGER NOT NULL
) STRICT;
CREATE INDEX leads_org_seq ON leads(org_id, change_seq);
CREATE INDEX leads_assignee ON leads(assigned_user_id);";

/// A stored lead and the organisation it belongs to.
pub struct LeadRow {
    /// Owning organisation.
    pub org_id: Uuid,
    /// The lead.
    pub lead: Lead,
}

pub(crate) const COLUMNS: &str = "l.id, l.org_id, l.name, l.phone, l.email, l.company, l.assigned_user_id, l.version, l.updated_at";

pub(crate) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LeadRow> {
    Ok(LeadRow {
        org_id: uuid_at(r, 1)?,
        lead: Lead {
            id: uuid_at(r, 0)?,
            name: r.get(2)?,
            phone: r.get(3)?,
            email: r.get(4)?,
            company: r.get(5)?,
            assigned_user_id: opt_uuid_at(r, 6)?,
            version: r.get(7)?,
            updated_at: r.get(8)?,
        },
    })
}

/// Reads a lead by id.
pub fn get(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<LeadRow>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM leads l WHERE l.id = ?1"),
        [id.to_string()],
        row,
    )
    .optional()
}

/// True when the stored lead already equals `u` (a retried write).
pub fn same(lead: &Lead, u: &LeadUpsert) -> bool {
    lead.name == u.name
        && lead.phone == u.phone
        && lead.email == u.email
        && lead.company == u.company
        && lead.assigned_user_id == u.assigned_user_id
}

/// Inserts or replaces a lead at `version` with feed position `seq`.
pub fn write(
    conn: &Connection,
    id: Uuid,
    org_id: Uuid,
    u: &LeadUpsert,
    version: i64,
    now: i64,
    seq: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO leads (id, org_id, name, phone, email, company, assigned_user_id, version, updated_at, change_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(id) DO UPDATE SET name = ?3, phone = ?4, email = ?5, company = ?6,
             assigned_user_id = ?7, version = ?8, updated_at = ?9, change_seq = ?10",
        params![
            id.to_string(),
            org_id.to_string(),
            u.name,
            u.phone,
            u.email,
            u.company,
            u.assigned_user_id.map(|x| x.to_string()),
            version,
            now,
            seq
        ],
    )?;
    Ok(())
}
