//! Embedded storage: one SQLite file (WAL), schema versioned by `rusqlite_migration`.
//! One module per table, each with its migration beside it (GitButler's but-db layout).

pub mod activity;
pub mod backup;
pub mod call_links;
pub mod calls;
pub mod changes;
pub mod contacts;
pub mod conversations;
pub mod lead_handoffs;
pub mod leads;
pub mod message_status_events;
pub mod messages;
pub mod notes;
pub mod org_policies;
pub mod orgs;
pub mod recordings;
pub mod releases;
pub mod tokens;
pub mod uploads;
pub mod users;

use rusqlite::Connection;
use uuid::Uuid;

/// Parses a UUID stored as text; a malformed value is a conversion error for the one
/// request that read it (a panic would take the database lock down with it).
pub(crate) fn parse_uuid(i: usize, s: &str) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Column `i` of `r` as a UUID (see [`parse_uuid`]).
pub(crate) fn uuid_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    parse_uuid(i, &r.get::<_, String>(i)?)
}

/// Column `i` of `r` as an optional UUID.
pub(crate) fn opt_uuid_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Uuid>> {
    r.get::<_, Option<String>>(i)?
        .map(|s| parse_uuid(i, &s))
        .transpose()
}
use rusqlite_migration::{Migrations, M};
use std::path::Path;

/// All migrations in order. Append only: never edit one that has shipped.
fn migrations() -> Migrations<'static> {
    Migrations::new(migration_list())
}

fn migration_list() -> Vec<M<'static>> {
    vec![
        M::up(orgs::MIGRATION_1),
        M::up(users::MIGRATION_1),
        M::up(tokens::MIGRATION_1),
        M::up(changes::MIGRATION_1),
        M::up(activity::MIGRATION_1),
        M::up(leads::MIGRATION_1),
        M::up(notes::MIGRATION_1),
        M::up(uploads::MIGRATION_1),
        M::up(recordings::MIGRATION_1),
        M::up(contacts::MIGRATION_1),
        M::up(conversations::MIGRATION_1),
        M::up(messages::MIGRATION_1),
        M::up(message_status_events::MIGRATION_1),
        M::up(calls::MIGRATION_1),
        M::up(uploads::MIGRATION_2),
        M::up(lead_handoffs::MIGRATION_1),
        M::up(call_links::MIGRATION_1),
        M::up(releases::MIGRATION_1),
        M::up(org_policies::MIGRATION_1),
        M::up(uploads::MIGRATION_3),
        M::up(recordings::MIGRATION_2),
    ]
}

/// Schema version of a fully migrated database: rusqlite_migration keeps the number of
/// applied migrations in `PRAGMA user_version`.
pub(crate) fn migrations_count() -> i64 {
    migration_list().len() as i64
}

/// The database file in `data_dir`.
pub fn path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("softphone.db")
}

/// Opens (creating if needed) `DATA_DIR/softphone.db`, enables WAL and foreign keys,
/// and migrates it to the latest schema.
pub fn open(data_dir: &Path) -> anyhow::Result<Connection> {
    std::fs::create_dir_all(data_dir)?;
    let mut conn = Connection::open(path(data_dir))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let ours = migrations_count();
    anyhow::ensure!(
        version <= ours,
        "{} has schema version {version}, but this softphone-server knows only {ours}: a newer \
         server migrated it (database too far ahead); run that version, or restore the backup \
         taken before the upgrade (docs/admin.md)",
        path(data_dir).display()
    );
    migrations().to_latest(&mut conn)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }

    /// Rollback safety (docs/admin.md): an older server refuses a database a newer one
    /// migrated instead of running on a schema it does not know.
    #[test]
    fn a_database_from_a_newer_server_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::open(dir.path()).unwrap();
        let ahead = super::migrations_count() + 1;
        conn.pragma_update(None, "user_version", ahead).unwrap();
        drop(conn);
        let e = super::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("too far ahead"), "{e}");
    }
}

#[cfg(test)]
mod per_org_tests {
    const UPLOAD: &str = "INSERT INTO uploads (id, org_id, user_id, call_id, length, offset,
        sha256, duration_ms, channels, created_at, touched_at)
        VALUES (?1, ?2, ?3, 'c1', 10, 4, 's', 1000, 2, 5, 6)";
    const RECORDING: &str = "INSERT INTO recordings (call_id, org_id, user_id, object_key,
        bytes, sha256, duration_ms, channels, format, created_at)
        VALUES ('c0', ?1, ?2, 'k', 10, 's', 1000, 2, 'ogg/opus', 7)";

    /// Issue "Trust" item 10: the rebuild of `uploads` and `recordings` keeps every row,
    /// and afterwards a call id is unique per organisation, not across all of them.
    #[test]
    fn the_rebuild_keeps_rows_and_keys_call_ids_per_organisation() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = rusqlite::Connection::open(super::path(dir.path())).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        let before = super::migrations_count() as usize - 2;
        super::migrations().to_version(&mut conn, before).unwrap();
        conn.execute_batch(
            "INSERT INTO orgs VALUES ('o1', 'A', 0), ('o2', 'B', 0);
             INSERT INTO users (id, org_id, email, display_name, role, password_hash,
               created_at)
             VALUES ('u1', 'o1', 'a@a.test', 'A', 'agent', 'h', 0),
                    ('u2', 'o2', 'b@b.test', 'B', 'agent', 'h', 0);",
        )
        .unwrap();
        conn.execute(UPLOAD, ["up1", "o1", "u1"]).unwrap();
        conn.execute(RECORDING, ["o1", "u1"]).unwrap();
        // The old schema: another organisation cannot use the id at all.
        assert!(conn.execute(UPLOAD, ["up2", "o2", "u2"]).is_err());
        assert!(conn.execute(RECORDING, ["o2", "u2"]).is_err());
        drop(conn);

        let conn = super::open(dir.path()).unwrap();
        let kept: (i64, i64, i64) = conn
            .query_row(
                "SELECT offset, touched_at, (SELECT created_at FROM recordings) FROM uploads
                 WHERE id = 'up1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(kept, (4, 6, 7), "rows kept as they were");
        conn.execute(UPLOAD, ["up2", "o2", "u2"]).unwrap();
        conn.execute(RECORDING, ["o2", "u2"]).unwrap();
        // Still one per call within an organisation.
        assert!(conn.execute(UPLOAD, ["up3", "o1", "u1"]).is_err());
        assert!(conn.execute(RECORDING, ["o1", "u1"]).is_err());
        let idx: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'uploads_touched'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(idx, 1, "the expiry index is rebuilt with the table");
    }
}

#[cfg(test)]
mod schema_tests {
    #[test]
    fn every_table_exists_after_migration() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::open(dir.path()).unwrap();
        let mut st = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let names: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for t in [
            "activity_log",
            "calls",
            "change_seq",
            "contacts",
            "conversations",
            "message_status_events",
            "messages",
            "leads",
            "note_history",
            "notes",
            "orgs",
            "recordings",
            "tokens",
            "uploads",
            "users",
        ] {
            assert!(names.iter().any(|n| n == t), "{t} missing from {names:?}");
        }
    }
}
