//! Embedded storage: one SQLite file (WAL), schema versioned by `rusqlite_migration`.
//! One module per table, each with its migration beside it (GitButler's but-db layout).

pub mod orgs;
pub mod tokens;
pub mod users;

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};
use std::path::Path;

/// All migrations in order. Append only: never edit one that has shipped.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(orgs::MIGRATION_1),
        M::up(users::MIGRATION_1),
        M::up(tokens::MIGRATION_1),
    ])
}

/// Opens (creating if needed) `DATA_DIR/softphone.db`, enables WAL and foreign keys,
/// and migrates it to the latest schema.
pub fn open(data_dir: &Path) -> anyhow::Result<Connection> {
    std::fs::create_dir_all(data_dir)?;
    let mut conn = Connection::open(data_dir.join("softphone.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    migrations().to_latest(&mut conn)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
