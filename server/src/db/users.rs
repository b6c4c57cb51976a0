//! `users`: agents and admins. Passwords are stored only as argon2id PHC strings.

use rusqlite::{params, Connection, OptionalExtension};
use softphone_proto::{Role, UserInfo};
use uuid::Uuid;

use super::uuid_at;

/// Creates the table. E-mails are unique across the server (they are the login name).
pub const MIGRATION_1: &str = "CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
) STRICT;";

/// A stored user with the hash needed to check a password.
pub struct UserRow {
    /// Public view.
    pub info: UserInfo,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
}

/// Inserts a user; `email` is stored lowercase.
pub fn insert(
    conn: &Connection,
    org_id: Uuid,
    email: &str,
    display_name: &str,
    role: Role,
    password_hash: &str,
    now: i64,
) -> rusqlite::Result<Uuid> {
    let id = Uuid::now_v7();
    conn.execute(
        "INSERT INTO users (id, org_id, email, display_name, role, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id.to_string(),
            org_id.to_string(),
            email.to_lowercase(),
            display_name,
            role.as_str(),
            password_hash,
            now
        ],
    )?;
    Ok(id)
}

const SELECT: &str =
    "SELECT u.id, u.org_id, o.name, u.email, u.display_name, u.role, u.password_hash, u.disabled
    FROM users u JOIN orgs o ON o.id = u.org_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        info: UserInfo {
            id: uuid_at(r, 0)?,
            org_id: uuid_at(r, 1)?,
            org_name: r.get(2)?,
            email: r.get(3)?,
            display_name: r.get(4)?,
            role: {
                let role = r.get::<_, String>(5)?;
                Role::parse(&role).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        5,
                        rusqlite::types::Type::Text,
                        format!("unknown role `{role}`").into(),
                    )
                })?
            },
        },
        password_hash: r.get(6)?,
        disabled: r.get::<_, i64>(7)? != 0,
    })
}

/// Finds a user by e-mail (case-insensitive).
pub fn by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<UserRow>> {
    conn.query_row(
        &format!("{SELECT} WHERE u.email = ?1"),
        [email.to_lowercase()],
        row,
    )
    .optional()
}

/// Disables or re-enables the account with this e-mail; its id, or `None` when no
/// such account exists.
pub fn set_disabled(
    conn: &Connection,
    email: &str,
    disabled: bool,
) -> rusqlite::Result<Option<Uuid>> {
    let Some(row) = by_email(conn, email)? else {
        return Ok(None);
    };
    conn.execute(
        "UPDATE users SET disabled = ?1 WHERE id = ?2",
        rusqlite::params![i64::from(disabled), row.info.id.to_string()],
    )?;
    Ok(Some(row.info.id))
}

/// Finds a user by id.
pub fn by_id(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<UserRow>> {
    conn.query_row(&format!("{SELECT} WHERE u.id = ?1"), [id.to_string()], row)
        .optional()
}

/// Enabled accounts of an organisation, by name.
pub fn in_org(conn: &Connection, org_id: Uuid) -> rusqlite::Result<Vec<UserInfo>> {
    let mut st = conn.prepare(&format!(
        "{SELECT} WHERE u.org_id = ?1 AND u.disabled = 0 ORDER BY u.display_name"
    ))?;
    let rows = st.query_map([org_id.to_string()], row)?;
    rows.map(|r| r.map(|u| u.info)).collect()
}
