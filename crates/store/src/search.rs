//! `search`: FTS5 index over note and message text (diacritics folded, so "lucia"
//! finds "Lucía").

use crate::{Result, Store};
use rusqlite::{params, Connection, OptionalExtension};
use softphone_proto::Change;
use uuid::Uuid;

/// Creates the index.
pub const MIGRATION_1: &str = "CREATE VIRTUAL TABLE search USING fts5(
    body, entity UNINDEXED, id UNINDEXED, lead_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);";

/// One match.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hit {
    /// `note` or `message`.
    pub entity: String,
    /// Record id.
    pub id: Uuid,
    /// Its lead.
    pub lead_id: Uuid,
    /// Text with the match wrapped in `[` `]`.
    pub snippet: String,
}

pub(crate) fn index_change(c: &Connection, ch: &Change) -> Result<()> {
    let (entity, id, lead, body) = match ch {
        Change::Note(n) => (
            "note",
            n.id,
            n.lead_id,
            (!n.deleted).then(|| n.body.clone()),
        ),
        Change::Message(m) => ("message", m.id, m.lead_id, m.body.clone()),
        _ => return Ok(()),
    };
    // The index row shares the record's rowid: deleting by rowid is a lookup, while
    // a WHERE on UNINDEXED columns would scan the whole index.
    let rowid: Option<i64> = c
        .query_row(
            "SELECT rowid FROM records WHERE entity = ?1 AND id = ?2",
            params![entity, id.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    let Some(rowid) = rowid else { return Ok(()) };
    c.execute("DELETE FROM search WHERE rowid = ?1", [rowid])?;
    if let Some(b) = body {
        c.execute(
            "INSERT INTO search (rowid, body, entity, id, lead_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![rowid, b, entity, id.to_string(), lead.to_string()],
        )?;
    }
    Ok(())
}

impl Store {
    /// Full-text search over notes and messages, best match first. `query` is plain
    /// words (each must match, as a prefix); FTS syntax characters are ignored.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>> {
        let terms: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(|t| format!("\"{t}\"*"))
            .collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let mut st = self.conn.prepare(
            "SELECT entity, id, lead_id, snippet(search, 0, '[', ']', '…', 12)
             FROM search WHERE search MATCH ?1 ORDER BY rank LIMIT ?2",
        )?;
        let rows = st.query_map(params![terms.join(" "), limit as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (entity, id, lead, snippet) = r?;
            if let (Ok(id), Ok(lead_id)) = (Uuid::parse_str(&id), Uuid::parse_str(&lead)) {
                out.push(Hit {
                    entity,
                    id,
                    lead_id,
                    snippet,
                });
            }
        }
        Ok(out)
    }
}
