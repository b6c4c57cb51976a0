//! Opening, migrating, and recovering from a corrupt database file.

use crate::{call_journal, lead_reads, outbox, recordings, records, search, state, Result, Store};
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{Migrations, M};
use std::path::{Path, PathBuf};

/// What [`Store::open`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Where the unreadable database was moved, when it was.
    pub corrupt_moved_to: Option<PathBuf>,
    /// Outbox entries (unsynced work) carried over from it.
    pub salvaged_outbox: usize,
    /// Recordings still to upload carried over from it.
    pub salvaged_recordings: usize,
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(records::MIGRATION_1),
        M::up(search::MIGRATION_1),
        M::up(outbox::MIGRATION_1),
        M::up(recordings::MIGRATION_1),
        M::up(state::MIGRATION_1),
        M::up(lead_reads::MIGRATION_1),
        M::up(call_journal::MIGRATION_1),
    ])
}

fn try_open(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Durability over speed: an acknowledged note survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")?;
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(check),
        )
        .into());
    }
    migrations().to_latest(&mut conn)?;
    Ok(conn)
}

fn is_corruption(e: &crate::StoreError) -> bool {
    match e {
        crate::StoreError::Db(rusqlite::Error::SqliteFailure(f, _)) => matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
        ),
        crate::StoreError::Migration(_) => true,
        _ => false,
    }
}

pub(crate) fn open(dir: &Path) -> Result<(Store, OpenReport)> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("store.db");
    match try_open(&path) {
        Ok(conn) => Ok((Store { conn, path }, OpenReport::default())),
        Err(e) if is_corruption(&e) => {
            tracing::error!(error = %e, path = %path.display(), "local database unreadable; moving it aside");
            let aside = dir.join(format!("store.db.corrupt-{}", crate::now_ms()));
            std::fs::rename(&path, &aside)?;
            for ext in ["-wal", "-shm"] {
                let side = dir.join(format!("store.db{ext}"));
                if side.exists() {
                    std::fs::rename(&side, dir.join(format!("{}{ext}", aside.display())))?;
                }
            }
            let conn = try_open(&path)?;
            let mut store = Store { conn, path };
            let (salvaged_outbox, salvaged_recordings) = salvage(&aside, &mut store);
            Ok((
                store,
                OpenReport {
                    corrupt_moved_to: Some(aside),
                    salvaged_outbox,
                    salvaged_recordings,
                },
            ))
        }
        Err(e) => Err(e),
    }
}

/// Copies whatever outbox entries, pending recordings and local records still read from
/// the damaged file. Best effort: every row that reads is kept.
fn salvage(old: &Path, store: &mut Store) -> (usize, usize) {
    let Ok(src) = Connection::open_with_flags(old, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return (0, 0);
    };
    // A file cut short (a full disk, a copy that stopped) still says in its header how
    // many pages it had, and SQLite refuses every read of it as malformed, even of the
    // pages that are there. With `writable_schema` it takes the file's own length instead
    // (btree.c, lockBtree), so the rows on the pages that survived read again. The
    // connection is read-only: nothing is written through it.
    let _ = src.pragma_update(None, "writable_schema", "ON");
    let outbox = outbox::salvage_from(&src, &store.conn).unwrap_or(0);
    let recs = recordings::salvage_from(&src, &store.conn).unwrap_or(0);
    let _ = records::salvage_pending_from(&src, &store.conn);
    tracing::warn!(
        outbox,
        recordings = recs,
        "salvaged unsynced work from the damaged database"
    );
    (outbox, recs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
