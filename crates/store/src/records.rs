//! `records`: local copies of server records (leads, notes, contacts, conversations,
//! messages, calls) in their wire JSON, keyed by (entity, id). Records created here and
//! not yet acknowledged carry `version` 0 and have outbox entries.

use crate::{now, outbox, search, Result, Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use softphone_proto::{Change, Note, NoteUpsert, Resource};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE records (
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    lead_id TEXT,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (entity, id)
) STRICT;
CREATE INDEX records_lead ON records(lead_id, entity);";

/// Entity name, id and lead of a feed change, and its JSON.
fn parts(ch: &Change) -> Result<(&'static str, Uuid, Option<Uuid>, i64, String)> {
    Ok(match ch {
        Change::Lead(x) => (
            "lead",
            x.id,
            Some(x.id),
            x.version,
            serde_json::to_string(x)?,
        ),
        Change::Note(x) => (
            "note",
            x.id,
            Some(x.lead_id),
            x.version,
            serde_json::to_string(x)?,
        ),
        Change::Contact(x) => (
            "contact",
            x.id,
            Some(x.lead_id),
            x.version,
            serde_json::to_string(x)?,
        ),
        Change::Conversation(x) => (
            "conversation",
            x.id,
            Some(x.lead_id),
            x.version,
            serde_json::to_string(x)?,
        ),
        Change::Message(x) => (
            "message",
            x.id,
            Some(x.lead_id),
            x.version,
            serde_json::to_string(x)?,
        ),
        Change::Call(x) => (
            "call",
            x.id,
            Some(x.lead_id),
            x.version,
            serde_json::to_string(x)?,
        ),
        Change::LeadRevoked(_) => {
            return Err(StoreError::Invalid("a revocation is not a record".into()))
        }
    })
}

/// Why an unsynced edit of a reassigned lead waits (shown in `softphone status` and
/// the app's sync panel).
pub const REASSIGNED: &str =
    "lead.reassigned: this lead was reassigned to another agent; your unsynced change is kept here";

/// Drops a lead that was reassigned away and its history from the local copy. Records
/// with unsynced edits stay, and those edits are parked with [`REASSIGNED`]: nothing
/// typed here is deleted silently. Answers how many records were dropped.
fn revoke_lead(c: &Connection, lead: Uuid) -> Result<usize> {
    let rows: Vec<(String, String, i64)> = {
        let mut st = c.prepare("SELECT entity, id, rowid FROM records WHERE lead_id = ?1")?;
        let rows = st.query_map([lead.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut dropped = 0;
    for (entity, id, rowid) in rows {
        // Any outbox entry (waiting, or parked earlier) is an edit the server has not
        // taken: the record stays, and what was still waiting is parked.
        let unsynced = c.execute(
            "UPDATE outbox SET parked_reason = COALESCE(parked_reason, ?3),
                               last_error = COALESCE(parked_reason, ?3)
             WHERE entity = ?1 AND record_id = ?2",
            params![entity, id, REASSIGNED],
        )?;
        if unsynced > 0 {
            continue;
        }
        c.execute("DELETE FROM search WHERE rowid = ?1", [rowid])?;
        c.execute("DELETE FROM records WHERE rowid = ?1", [rowid])?;
        dropped += 1;
    }
    Ok(dropped)
}

pub(crate) fn write(
    c: &Connection,
    entity: &str,
    id: Uuid,
    lead_id: Option<Uuid>,
    data: &str,
    version: i64,
) -> Result<()> {
    c.execute(
        "INSERT INTO records (entity, id, lead_id, data, version, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(entity, id) DO UPDATE SET lead_id = ?3, data = ?4, version = ?5, updated_at = ?6",
        params![entity, id.to_string(), lead_id.map(|l| l.to_string()), data, version, now()],
    )?;
    Ok(())
}

fn stored_version(c: &Connection, entity: &str, id: Uuid) -> Result<Option<i64>> {
    Ok(c.query_row(
        "SELECT version FROM records WHERE entity = ?1 AND id = ?2",
        params![entity, id.to_string()],
        |r| r.get(0),
    )
    .optional()?)
}

/// Applies one pulled change: skipped while local edits of the same record wait in the
/// outbox (the push answer brings the server's state), and when it is older than what
/// is stored. Answers whether it was applied.
pub(crate) fn apply(c: &Connection, ch: &Change) -> Result<bool> {
    if let Change::LeadRevoked(r) = ch {
        return Ok(revoke_lead(c, r.lead_id)? > 0);
    }
    let (entity, id, lead, version, data) = parts(ch)?;
    if outbox::has_pending_for(c, entity, id)? {
        return Ok(false);
    }
    if stored_version(c, entity, id)?.is_some_and(|v| v > version) {
        return Ok(false);
    }
    write(c, entity, id, lead, &data, version)?;
    search::index_change(c, ch)?;
    Ok(true)
}

impl Store {
    /// Reads a record by id.
    pub fn get<T: Resource>(&self, id: Uuid) -> Result<Option<T>> {
        let data: Option<String> = self
            .conn
            .query_row(
                "SELECT data FROM records WHERE entity = ?1 AND id = ?2",
                params![T::ENTITY, id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(data.map(|d| serde_json::from_str(&d)).transpose()?)
    }

    /// Every record of a kind, oldest first.
    pub fn list<T: Resource>(&self) -> Result<Vec<T>> {
        let mut st = self
            .conn
            .prepare("SELECT data FROM records WHERE entity = ?1 ORDER BY id")?;
        let rows = st.query_map([T::ENTITY], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(serde_json::from_str(&r?)?);
        }
        Ok(out)
    }

    /// Applies changes in one transaction, as a pull does (used for imports and tests).
    pub fn apply_changes(&mut self, changes: &[Change]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        for ch in changes {
            if apply(&tx, ch)? {
                n += 1;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// A lead's timeline: its notes, messages and calls, oldest first (ids are UUIDv7,
    /// so id order is creation order).
    pub fn timeline(&self, lead_id: Uuid) -> Result<Vec<Change>> {
        let mut st = self.conn.prepare(
            "SELECT entity, data FROM records
             WHERE lead_id = ?1 AND entity IN ('note', 'message', 'call') ORDER BY id",
        )?;
        let rows = st.query_map([lead_id.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (entity, data) = r?;
            out.push(match entity.as_str() {
                "note" => Change::Note(serde_json::from_str(&data)?),
                "message" => Change::Message(serde_json::from_str(&data)?),
                _ => Change::Call(serde_json::from_str(&data)?),
            });
        }
        Ok(out)
    }

    /// Notes of a lead (deleted ones excluded), oldest first.
    pub fn notes_for(&self, lead_id: Uuid) -> Result<Vec<Note>> {
        let mut st = self.conn.prepare(
            "SELECT data FROM records WHERE entity = 'note' AND lead_id = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([lead_id.to_string()], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            let n: Note = serde_json::from_str(&r?)?;
            if !n.deleted {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// Writes a note locally and queues it for the server, in one transaction. The note
    /// gets a fresh UUIDv7 and `version` 0 until the server acknowledges it.
    ///
    /// Errors: `store.invalid` for an empty body or one over
    /// [`softphone_proto::MAX_TEXT_BYTES`] (the server would refuse it with 413 and it
    /// would sit in the outbox for ever).
    pub fn write_note(
        &mut self,
        author_id: Uuid,
        lead_id: Uuid,
        call_id: Option<Uuid>,
        body: &str,
    ) -> Result<Note> {
        if body.trim().is_empty() {
            return Err(StoreError::Invalid("a note needs text".into()));
        }
        if body.len() > softphone_proto::MAX_TEXT_BYTES {
            return Err(StoreError::Invalid(format!(
                "a note holds at most {} KiB of text; this one is {} KiB: split it",
                softphone_proto::MAX_TEXT_BYTES / 1024,
                body.len().div_ceil(1024)
            )));
        }
        let note = Note {
            id: Uuid::now_v7(),
            lead_id,
            call_id,
            author_id,
            body: body.to_string(),
            deleted: false,
            version: 0,
            updated_at: now(),
        };
        self.save_note(&note)?;
        Ok(note)
    }

    /// Edits (or, with `deleted`, deletes) a note locally and queues the change.
    pub fn edit_note(&mut self, id: Uuid, body: &str, deleted: bool) -> Result<Note> {
        let mut note: Note = self
            .get(id)?
            .ok_or_else(|| StoreError::NotFound(format!("note {id}")))?;
        note.body = body.to_string();
        note.deleted = deleted;
        note.updated_at = now();
        self.save_note(&note)?;
        Ok(note)
    }

    fn save_note(&mut self, note: &Note) -> Result<()> {
        let upsert = NoteUpsert {
            lead_id: note.lead_id,
            call_id: note.call_id,
            body: note.body.clone(),
            deleted: note.deleted,
        };
        let tx = self.conn.transaction()?;
        write(
            &tx,
            "note",
            note.id,
            Some(note.lead_id),
            &serde_json::to_string(note)?,
            note.version,
        )?;
        search::index_change(&tx, &Change::Note(note.clone()))?;
        outbox::push(&tx, "note", note.id, &serde_json::to_string(&upsert)?)?;
        tx.commit()?;
        Ok(())
    }

    /// Writes any record locally and queues its upsert (used for call records).
    pub fn queue<T: Resource>(
        &mut self,
        id: Uuid,
        lead_id: Option<Uuid>,
        local: &T,
        upsert: &T::Upsert,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let version = stored_version(&tx, T::ENTITY, id)?.unwrap_or(0);
        write(
            &tx,
            T::ENTITY,
            id,
            lead_id,
            &serde_json::to_string(local)?,
            version,
        )?;
        outbox::push(&tx, T::ENTITY, id, &serde_json::to_string(upsert)?)?;
        tx.commit()?;
        Ok(())
    }
}

/// Copies records that have outbox entries in the damaged file (the local view of
/// unsynced work).
pub(crate) fn salvage_pending_from(src: &Connection, dst: &Connection) -> Result<usize> {
    let mut st = src.prepare(
        "SELECT r.entity, r.id, r.lead_id, r.data, r.version FROM records r
         WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.entity = r.entity AND o.record_id = r.id)",
    )?;
    let mut rows = st.query([])?;
    let mut n = 0;
    while let Ok(Some(r)) = rows.next() {
        let (Ok(entity), Ok(id), Ok(lead), Ok(data), Ok(version)) = (
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, Option<String>>(2),
            r.get::<_, String>(3),
            r.get::<_, i64>(4),
        ) else {
            continue;
        };
        let (Ok(id), lead) = (
            Uuid::parse_str(&id),
            lead.and_then(|l| Uuid::parse_str(&l).ok()),
        ) else {
            continue;
        };
        write(dst, &entity, id, lead, &data, version)?;
        n += 1;
    }
    Ok(n)
}
