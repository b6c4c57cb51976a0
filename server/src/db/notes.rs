//! `notes` and `note_history`: each note is its own row (seed 000: one notes field per
//! call loses text). An edit that replaces text keeps the replaced version in history.

use rusqlite::{params, Connection, OptionalExtension};
use softphone_proto::{Note, NoteUpsert};
use uuid::Uuid;

use super::{opt_uuid_at, uuid_at};

/// Creates the tables.
pub const MIGRATION_1: &str = "CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    lead_id TEXT NOT NULL REFERENCES leads(id),
    call_id TEXT,
    author_id TEXT NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    change_seq INTEGER NOT NULL
) STRICT;
CREATE INDEX notes_org_seq ON notes(org_id, change_seq);
CREATE INDEX notes_lead ON notes(lead_id);
CREATE TABLE note_history (
    note_id TEXT NOT NULL REFERENCES notes(id),
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    replaced_at INTEGER NOT NULL,
    replaced_by TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (note_id, version)
) STRICT;";

/// A stored note and its organisation.
pub struct NoteRow {
    /// Owning organisation.
    pub org_id: Uuid,
    /// The note.
    pub note: Note,
}

pub(crate) const COLUMNS: &str =
    "n.id, n.org_id, n.lead_id, n.call_id, n.author_id, n.body, n.deleted, n.version, n.updated_at";

pub(crate) fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NoteRow> {
    Ok(NoteRow {
        org_id: uuid_at(r, 1)?,
        note: Note {
            id: uuid_at(r, 0)?,
            lead_id: uuid_at(r, 2)?,
            call_id: opt_uuid_at(r, 3)?,
            author_id: uuid_at(r, 4)?,
            body: r.get(5)?,
            deleted: r.get::<_, i64>(6)? != 0,
            version: r.get(7)?,
            updated_at: r.get(8)?,
        },
    })
}

/// Reads a note by id.
pub fn get(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<NoteRow>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM notes n WHERE n.id = ?1"),
        [id.to_string()],
        row,
    )
    .optional()
}

/// True when the stored note already equals `u` (a retried write).
pub fn same(note: &Note, u: &NoteUpsert) -> bool {
    note.lead_id == u.lead_id
        && note.call_id == u.call_id
        && note.body == u.body
        && note.deleted == u.deleted
}

/// Inserts or replaces a note.
#[allow(clippy::too_many_arguments)]
pub fn write(
    conn: &Connection,
    id: Uuid,
    org_id: Uuid,
    author_id: Uuid,
    u: &NoteUpsert,
    version: i64,
    now: i64,
    seq: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO notes (id, org_id, lead_id, call_id, author_id, body, deleted, version, updated_at, change_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(id) DO UPDATE SET lead_id = ?3, call_id = ?4, body = ?6, deleted = ?7,
             version = ?8, updated_at = ?9, change_seq = ?10",
        params![
            id.to_string(),
            org_id.to_string(),
            u.lead_id.to_string(),
            u.call_id.map(|x| x.to_string()),
            author_id.to_string(),
            u.body,
            i64::from(u.deleted),
            version,
            now,
            seq
        ],
    )?;
    Ok(())
}

/// Keeps the text an edit replaces.
pub fn keep_history(
    conn: &Connection,
    old: &Note,
    replaced_by: Uuid,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO note_history (note_id, version, body, replaced_at, replaced_by) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![old.id.to_string(), old.version, old.body, now, replaced_by.to_string()],
    )?;
    Ok(())
}

/// Replaced versions of a note, oldest first: (version, body).
pub fn history(conn: &Connection, id: Uuid) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut st =
        conn.prepare("SELECT version, body FROM note_history WHERE note_id = ?1 ORDER BY version")?;
    let rows = st.query_map([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}
