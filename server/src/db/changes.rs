//! `change_seq`: one server-wide, strictly increasing sequence. Every accepted write
//! stamps its row with the next value, which is the changes-feed cursor.

use rusqlite::Connection;

/// Creates the counter.
pub const MIGRATION_1: &str = "CREATE TABLE change_seq (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL) STRICT;
INSERT INTO change_seq (id, value) VALUES (1, 0);";

/// Allocates the next sequence number (call inside the write's transaction).
pub fn next(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "UPDATE change_seq SET value = value + 1 WHERE id = 1 RETURNING value",
        [],
        |r| r.get(0),
    )
}
