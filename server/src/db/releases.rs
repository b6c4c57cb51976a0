//! `releases`: app updates an admin uploaded, per organisation, channel and target. The
//! artifact lives in the object store under `object_key`; this row is what the update
//! check chooses from.

use rusqlite::{params, Connection, OptionalExtension};
use softphone_proto::{ReleaseInfo, UpdateChannel};
use uuid::Uuid;

use super::uuid_at;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE releases (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    version TEXT NOT NULL,
    notes TEXT NOT NULL,
    file_name TEXT NOT NULL,
    signature TEXT NOT NULL,
    object_key TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    withdrawn_at INTEGER,
    UNIQUE (org_id, channel, target, version)
) STRICT;";

/// A stored release: what the admin API shows, plus what serving it needs.
#[derive(Debug, Clone)]
pub struct Release {
    /// Organisation.
    pub org_id: Uuid,
    /// What the admin API shows.
    pub info: ReleaseInfo,
    /// The `.sig` file's content (base64 minisign signature).
    pub signature: String,
    /// Where the artifact is in the object store.
    pub object_key: String,
}

const COLUMNS: &str = "id, org_id, channel, target, version, notes, file_name, signature, \
                       object_key, bytes, sha256, created_at, withdrawn_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Release> {
    let channel: String = r.get(2)?;
    Ok(Release {
        org_id: uuid_at(r, 1)?,
        info: ReleaseInfo {
            id: uuid_at(r, 0)?,
            channel: UpdateChannel::parse(&channel).unwrap_or_default(),
            target: r.get(3)?,
            version: r.get(4)?,
            notes: r.get(5)?,
            file_name: r.get(6)?,
            bytes: r.get::<_, i64>(9)? as u64,
            sha256: r.get(10)?,
            created_at: r.get(11)?,
            withdrawn_at: r.get(12)?,
        },
        signature: r.get(7)?,
        object_key: r.get(8)?,
    })
}

/// Stores a release. A second one for the same organisation, channel, target and
/// version is refused by the UNIQUE constraint (`SQLITE_CONSTRAINT`).
pub fn insert(c: &Connection, r: &Release, created_by: Uuid) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO releases (id, org_id, channel, target, version, notes, file_name, \
         signature, object_key, bytes, sha256, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            r.info.id.to_string(),
            r.org_id.to_string(),
            r.info.channel.as_str(),
            r.info.target,
            r.info.version,
            r.info.notes,
            r.info.file_name,
            r.signature,
            r.object_key,
            r.info.bytes as i64,
            r.info.sha256,
            created_by.to_string(),
            r.info.created_at,
        ],
    )?;
    Ok(())
}

/// Whether the organisation already has this version on this channel and target.
pub fn exists(
    c: &Connection,
    org: Uuid,
    channel: UpdateChannel,
    target: &str,
    version: &str,
) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT 1 FROM releases WHERE org_id = ?1 AND channel = ?2 AND target = ?3 AND version = ?4",
        params![org.to_string(), channel.as_str(), target, version],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

/// One release by id.
pub fn get(c: &Connection, id: Uuid) -> rusqlite::Result<Option<Release>> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM releases WHERE id = ?1"),
        params![id.to_string()],
        row,
    )
    .optional()
}

/// The organisation's releases, newest upload first.
pub fn list(c: &Connection, org: Uuid) -> rusqlite::Result<Vec<Release>> {
    let mut s = c.prepare(&format!(
        "SELECT {COLUMNS} FROM releases WHERE org_id = ?1 ORDER BY created_at DESC, id DESC"
    ))?;
    let rows = s.query_map(params![org.to_string()], row)?;
    rows.collect()
}

/// Releases not withdrawn for `target` on any of `channels` (the caller picks the
/// newest by semver: version order is not text order).
pub fn offered(
    c: &Connection,
    org: Uuid,
    target: &str,
    channels: &[UpdateChannel],
) -> rusqlite::Result<Vec<Release>> {
    let mut s = c.prepare(&format!(
        "SELECT {COLUMNS} FROM releases \
         WHERE org_id = ?1 AND target = ?2 AND withdrawn_at IS NULL"
    ))?;
    let rows = s.query_map(params![org.to_string(), target], row)?;
    Ok(rows
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|r| channels.contains(&r.info.channel))
        .collect())
}

/// Marks a release withdrawn at `at` (Unix seconds); true when it was offered until now.
pub fn withdraw(c: &Connection, id: Uuid, at: i64) -> rusqlite::Result<bool> {
    Ok(c.execute(
        "UPDATE releases SET withdrawn_at = ?2 WHERE id = ?1 AND withdrawn_at IS NULL",
        params![id.to_string(), at],
    )? == 1)
}
