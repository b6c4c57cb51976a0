//! Online backup and restore of the database (SQLite's backup API), and the lock that
//! keeps a restore and a running server off one data folder.
//!
//! A backup is a plain SQLite file, consistent as of one moment, taken while the server
//! runs (the API copies pages under a read transaction; WAL writers go on). Recordings
//! are not inside it: they are immutable objects in `DATA_DIR/objects` or the S3 bucket,
//! copied separately *after* the database (docs/admin.md), so every recording the
//! backup names is there.

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags, MAIN_DB};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock file in a data folder.
pub fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("softphone.lock")
}

/// How [`lock`] takes the data folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// A server: any number may share the folder (SQLite's own locking keeps their
    /// writes apart, and an upgrade may start the new server before stopping the old).
    Shared,
    /// A restore: nothing else may have the folder open.
    Exclusive,
}

/// Takes the data folder's lock (an OS file lock on `softphone.lock`, released when the
/// returned file closes, also when the process dies).
///
/// Errors: the lock is held incompatibly (a restore while a server runs, or a server
/// while a restore runs), naming the folder.
pub fn lock(data_dir: &Path, mode: LockMode) -> Result<File> {
    std::fs::create_dir_all(data_dir)?;
    let path = lock_path(data_dir);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let got = match mode {
        LockMode::Shared => f.try_lock_shared(),
        LockMode::Exclusive => f.try_lock(),
    };
    match got {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "data folder {} is in use by another softphone-server process (it holds {}); stop it first",
            data_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// What a backup or restore produced.
#[derive(Debug)]
pub struct BackupInfo {
    /// Size of the database file written, bytes.
    pub bytes: u64,
    /// Schema version (migrations applied) of the copied database.
    pub schema_version: i64,
}

fn schema_version(c: &Connection) -> Result<i64> {
    Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

fn check_integrity(c: &Connection, what: &Path) -> Result<()> {
    let verdict: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .with_context(|| format!("cannot read {} as a SQLite database", what.display()))?;
    if verdict != "ok" {
        bail!(
            "{} failed SQLite's integrity check: {verdict}",
            what.display()
        );
    }
    Ok(())
}

/// Copies `DATA_DIR/softphone.db` to `out` while a server may be running.
///
/// Writes `out.partial` first and renames it when complete and checked, so a file at
/// `out` is always a whole backup. Errors: no database in `data_dir`; `out` exists;
/// I/O; the copy failing its integrity check.
pub fn backup(data_dir: &Path, out: &Path) -> Result<BackupInfo> {
    let src = super::path(data_dir);
    if !src.is_file() {
        bail!("no database at {}", src.display());
    }
    if out.exists() {
        bail!("{} exists; choose a new file name", out.display());
    }
    let partial = out.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let conn = Connection::open_with_flags(&src, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    conn.backup(MAIN_DB, &partial, None)
        .with_context(|| format!("copying {} to {}", src.display(), partial.display()))?;
    let copy = Connection::open(&partial)?;
    // The copy inherits WAL mode, which needs `-wal`/`-shm` files beside it: a WAL file
    // cannot even be read from a folder the reader may not write (SQLITE_READONLY_
    // DIRECTORY, e.g. restoring as the service user from a root-owned backup folder),
    // and renaming it would orphan them. A rollback-journal file stands alone.
    let mode: String =
        copy.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        bail!(
            "could not take {} out of WAL mode ({mode})",
            partial.display()
        );
    }
    check_integrity(&copy, &partial)?;
    let schema_version = schema_version(&copy)?;
    drop(copy);
    std::fs::rename(&partial, out)?;
    Ok(BackupInfo {
        bytes: std::fs::metadata(out)?.len(),
        schema_version,
    })
}

/// A name for the database a restore sets aside, `softphone.db.before-restore-UNIXTIME`,
/// with `.2`, `.3`, … appended when that exists (two restores in one second must not
/// overwrite the first one's set-aside database: rename replaces its target silently).
fn aside_path(data_dir: &Path, now: i64) -> PathBuf {
    let base = format!("softphone.db.before-restore-{now}");
    let taken = |p: &Path| {
        ["", "-wal", "-shm"].iter().any(|s| {
            let mut n = p.as_os_str().to_owned();
            n.push(s);
            Path::new(&n).exists()
        })
    };
    let mut path = data_dir.join(&base);
    let mut n = 1;
    while taken(&path) {
        n += 1;
        path = data_dir.join(format!("{base}.{n}"));
    }
    path
}

/// Replaces the database of a stopped server with the backup `from`.
///
/// Takes the data folder's lock (so it refuses while a server runs), checks `from`
/// (a SQLite file that passes its integrity check, from this or an older server),
/// moves the current `softphone.db` and its `-wal`/`-shm` aside to
/// `softphone.db.before-restore-UNIXTIME` (kept; nothing is deleted), copies `from` in,
/// and migrates it to this server's schema. Returns the info and the set-aside path
/// (None when the folder had no database).
///
/// Errors: a running server; `from` missing, not a database, damaged, or from a newer
/// server; I/O. On an error before the copy the current database is left as it was.
pub fn restore(data_dir: &Path, from: &Path) -> Result<(BackupInfo, Option<PathBuf>)> {
    let _lock = lock(data_dir, LockMode::Exclusive)?;
    if !from.is_file() {
        bail!("backup {} not found", from.display());
    }
    let src = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    check_integrity(&src, from)?;
    let version = schema_version(&src)?;
    let ours = super::migrations_count();
    if version > ours {
        bail!(
            "{} has schema version {version}, newer than this server's {ours}; restore it with the server version that made it",
            from.display()
        );
    }
    let db = super::path(data_dir);
    let aside = if db.exists() {
        let aside = aside_path(data_dir, crate::now());
        std::fs::rename(&db, &aside)?;
        // A WAL left beside the old file belongs to it: applied to the restored copy it
        // would corrupt it, so it moves with it.
        for suffix in ["-wal", "-shm"] {
            let side = data_dir.join(format!("softphone.db{suffix}"));
            if side.exists() {
                let mut name = aside.clone().into_os_string();
                name.push(suffix);
                std::fs::rename(&side, PathBuf::from(name))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    src.backup(MAIN_DB, &db, None)
        .with_context(|| format!("copying {} to {}", from.display(), db.display()))?;
    drop(src);
    let conn = super::open(data_dir)?;
    check_integrity(&conn, &db)?;
    let info = BackupInfo {
        bytes: std::fs::metadata(&db)?.len(),
        schema_version: schema_version(&conn)?,
    };
    Ok((info, aside))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two restores in one second: found running docs/admin.md's restore twice, where
    /// the second rename replaced the first set-aside database.
    #[test]
    fn a_set_aside_database_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let first = aside_path(dir.path(), 1_796_664_858);
        assert!(first.ends_with("softphone.db.before-restore-1796664858"));
        std::fs::write(&first, b"first").unwrap();
        let second = aside_path(dir.path(), 1_796_664_858);
        assert_ne!(first, second);
        assert!(second.ends_with("softphone.db.before-restore-1796664858.2"));
        std::fs::write(&second, b"second").unwrap();
        let third = aside_path(dir.path(), 1_796_664_858);
        assert!(third.ends_with("softphone.db.before-restore-1796664858.3"));
    }
}
