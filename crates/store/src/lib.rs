//! `softphone-store`: the app's offline-first local store and the sync worker.
//!
//! Key design decision: every local change is written in the same SQLite transaction as
//! an outbox entry, so a change that exists locally is always on its way to the server,
//! across crashes and restarts. The worker pushes the outbox strictly in order (a failing
//! head blocks what comes after it, so edits are never reordered), with capped,
//! jittered exponential backoff; answers the server refuses as invalid park the entry
//! with the reason instead of retrying forever or dropping it. Records keep the server's
//! JSON shape (`softphone-proto`), one row per record, so pulled changes apply as they
//! come.

pub mod call_journal;
pub mod credentials;
pub mod lead_reads;
mod open;
pub mod outbox;
pub mod recordings;
pub mod records;
pub mod search;
pub mod state;
pub mod sync;

pub use open::OpenReport;

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// What can go wrong with the local store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("local database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The schema could not be migrated.
    #[error("local database migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A file could not be read or moved.
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
    /// Stored JSON does not parse (a bug or a newer app's data).
    #[error("stored record does not parse: {0}")]
    Json(#[from] serde_json::Error),
    /// No such record locally.
    #[error("{0} not found locally")]
    NotFound(String),
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// Stable code for the UI.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Db(_) | StoreError::Migration(_) => "store.db",
            StoreError::Io(_) => "store.io",
            StoreError::Json(_) => "store.json",
            StoreError::NotFound(_) => "store.not_found",
            StoreError::Invalid(_) => "store.invalid",
        }
    }
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The local store: one SQLite file (`store.db`, WAL) in the profile folder.
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Unix time now, seconds.
pub fn now() -> i64 {
    now_ms() / 1000
}

/// Unix time now, ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens `DIR/store.db`, creating and migrating it. A corrupt or unreadable file is
    /// moved aside (never deleted), its outbox salvaged as far as it reads, and a fresh
    /// store built; the report says what happened (docs/adr/0007-local-store.md).
    pub fn open(dir: &Path) -> Result<(Store, OpenReport)> {
        open::open(dir)
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
