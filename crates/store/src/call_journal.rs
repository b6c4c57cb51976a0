//! `call_journal`: calls in progress, written when a call starts and removed when its
//! record is saved. An entry still here at the next start belongs to a call that never
//! ended cleanly (the process was killed, the laptop lost power): recovery finds its
//! recording wherever `--record` put it, repairs it, and makes the call record.

use crate::{Result, Store};
use rusqlite::params;
use std::path::PathBuf;
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE call_journal (
    call_id TEXT PRIMARY KEY,
    lead_id TEXT,
    recording_path TEXT,
    remote TEXT NOT NULL,
    outgoing INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL,
    pid INTEGER NOT NULL
) STRICT;";

/// A call that started here and has not been saved yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// The call.
    pub call_id: Uuid,
    /// Its lead, when the agent picked one.
    pub lead_id: Option<Uuid>,
    /// Where the recording is being written (the final `.opus` name; the recorder
    /// writes `NAME.opus.part` until it finishes), if recorded.
    pub recording_path: Option<PathBuf>,
    /// Who is on the other side (a user id, a link id, `echo`).
    pub remote: String,
    /// Placed by the agent (true) or taken.
    pub outgoing: bool,
    /// When it started, Unix ms.
    pub started_at_ms: i64,
    /// The process running the call: recovery leaves a live process's calls alone
    /// (the app and the CLI may share a profile).
    pub pid: u32,
}

impl Store {
    /// Journals a call as it starts (fsync'd with the store's `synchronous=FULL`), so a
    /// crash mid-call leaves a trace for [`Store::journal`].
    pub fn journal_call(&mut self, e: &JournalEntry) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO call_journal (call_id, lead_id, recording_path, remote, outgoing, started_at_ms, pid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                e.call_id.to_string(),
                e.lead_id.map(|l| l.to_string()),
                e.recording_path.as_ref().map(|p| p.to_string_lossy().into_owned()),
                e.remote,
                i64::from(e.outgoing),
                e.started_at_ms,
                i64::from(e.pid)
            ],
        )?;
        Ok(())
    }

    /// Forgets a call once its record is saved (or recovered).
    pub fn unjournal_call(&mut self, call_id: Uuid) -> Result<()> {
        self.conn.execute(
            "DELETE FROM call_journal WHERE call_id = ?1",
            [call_id.to_string()],
        )?;
        Ok(())
    }

    /// Calls journalled and never saved, oldest first.
    pub fn journal(&self) -> Result<Vec<JournalEntry>> {
        let mut st = self.conn.prepare(
            "SELECT call_id, lead_id, recording_path, remote, outgoing, started_at_ms, pid
             FROM call_journal ORDER BY started_at_ms",
        )?;
        let rows = st.query_map([], |r| {
            Ok(JournalEntry {
                call_id: Uuid::parse_str(&r.get::<_, String>(0)?).unwrap_or_default(),
                lead_id: r
                    .get::<_, Option<String>>(1)?
                    .and_then(|s| Uuid::parse_str(&s).ok()),
                recording_path: r.get::<_, Option<String>>(2)?.map(PathBuf::from),
                remote: r.get(3)?,
                outgoing: r.get::<_, i64>(4)? != 0,
                started_at_ms: r.get(5)?,
                pid: r.get::<_, i64>(6)? as u32,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
