//! `outbox`: local changes waiting for the server, in the order they were made. Each
//! entry carries an idempotency key; the record id is the server's idempotency key, so
//! pushing an entry twice stores it once.

use crate::{now_ms, Result, Store};
use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    entity TEXT NOT NULL,
    record_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    parked_reason TEXT
) STRICT;
CREATE INDEX outbox_record ON outbox(entity, record_id);";

/// One waiting change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position (push order).
    pub seq: i64,
    /// Unique per local change.
    pub idempotency_key: String,
    /// `note`, `lead`, `call`, `recording`, …
    pub entity: String,
    /// Record id (for recordings, the call id).
    pub record_id: Uuid,
    /// The upsert body (JSON) or, for recordings, the upload description.
    pub body: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// Not before this time, Unix ms.
    pub next_attempt_at_ms: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Set when the server refused the entry as invalid: it waits for a person.
    pub parked_reason: Option<String>,
}

const COLS: &str = "seq, idempotency_key, entity, record_id, body, attempts, next_attempt_at_ms, last_error, parked_reason";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        seq: r.get(0)?,
        idempotency_key: r.get(1)?,
        entity: r.get(2)?,
        record_id: Uuid::parse_str(&r.get::<_, String>(3)?).unwrap_or_default(),
        body: r.get(4)?,
        attempts: r.get(5)?,
        next_attempt_at_ms: r.get(6)?,
        last_error: r.get(7)?,
        parked_reason: r.get(8)?,
    })
}

pub(crate) fn push(c: &Connection, entity: &str, record_id: Uuid, body: &str) -> Result<()> {
    c.execute(
        "INSERT INTO outbox (idempotency_key, entity, record_id, body, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![Uuid::now_v7().to_string(), entity, record_id.to_string(), body, now_ms()],
    )?;
    Ok(())
}

pub(crate) fn has_pending_for(c: &Connection, entity: &str, id: Uuid) -> Result<bool> {
    Ok(c
        .query_row(
            "SELECT 1 FROM outbox WHERE entity = ?1 AND record_id = ?2 AND parked_reason IS NULL LIMIT 1",
            params![entity, id.to_string()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

impl Store {
    /// The oldest entry that is not parked (due or not).
    pub fn outbox_head(&self) -> Result<Option<Entry>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLS} FROM outbox WHERE parked_reason IS NULL ORDER BY seq LIMIT 1"
                ),
                [],
                row,
            )
            .optional()?)
    }

    /// Every entry, parked ones included, in order.
    pub fn outbox(&self) -> Result<Vec<Entry>> {
        let mut st = self
            .conn
            .prepare(&format!("SELECT {COLS} FROM outbox ORDER BY seq"))?;
        let rows = st.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes a pushed entry and, when no later edit of the record waits, stores the
    /// server's answer as the local record — in one transaction.
    pub fn outbox_done(
        &mut self,
        e: &Entry,
        answer: Option<&softphone_proto::Change>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM outbox WHERE seq = ?1", [e.seq])?;
        if let Some(ch) = answer {
            crate::records::apply(&tx, ch)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub fn outbox_retry(&mut self, e: &Entry, error: &str, next_attempt_at_ms: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at_ms = ?3 WHERE seq = ?1",
            params![e.seq, error, next_attempt_at_ms],
        )?;
        crate::state::set(&self.conn, "last_error", error)?;
        Ok(())
    }

    /// Parks an entry the server refused as invalid; it stays visible with `reason`.
    pub fn outbox_park(&mut self, e: &Entry, reason: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, parked_reason = ?2, last_error = ?2 WHERE seq = ?1",
            params![e.seq, reason],
        )?;
        Ok(())
    }

    /// Puts a parked entry back in the queue (after the cause was fixed).
    pub fn outbox_unpark(&mut self, seq: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET parked_reason = NULL, next_attempt_at_ms = 0 WHERE seq = ?1",
            [seq],
        )?;
        Ok(())
    }
}

pub(crate) fn salvage_from(src: &Connection, dst: &Connection) -> Result<usize> {
    let mut st = src.prepare(&format!("SELECT {COLS} FROM outbox ORDER BY seq"))?;
    let mut rows = st.query([])?;
    let mut n = 0;
    // Read row by row: a damaged page ends the scan, everything before it is kept.
    while let Ok(Some(r)) = rows.next() {
        let Ok(e) = row(r) else { continue };
        dst.execute(
            "INSERT OR IGNORE INTO outbox (idempotency_key, entity, record_id, body, created_at_ms, last_error, parked_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                e.idempotency_key,
                e.entity,
                e.record_id.to_string(),
                e.body,
                now_ms(),
                e.last_error,
                e.parked_reason
            ],
        )?;
        n += 1;
    }
    Ok(n)
}
