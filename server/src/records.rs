//! Lead-scoped records (contacts, conversations, messages, message status events, calls)
//! share one write path: visibility through the record's lead, idempotent upsert by
//! client UUIDv7, last writer wins with `version` +1, the next feed sequence, and an
//! activity-log entry, all in one transaction. Each table's module (in `db/`) says only
//! what is particular to it through [`Stored`].
//!
//! Rows keep the indexed columns SQL needs (id, org, lead, feed sequence, plus a few
//! per table) and the record itself as JSON, so adding a field is a serde change rather
//! than a migration.

use crate::db::{activity, changes, leads};
use crate::error::{invalid, not_found, tx_err};
use crate::extract::{JsonBody, Path};
use crate::{now, AppState, Caller, Error};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rusqlite::{Connection, OptionalExtension};
use softphone_proto::{Change, Lead, Resource, Role, UserInfo};
use uuid::Uuid;

/// Whether `user` sees a lead of organisation `org_id`: admins see their organisation's
/// leads, agents those assigned to them.
pub(crate) fn can_see_lead(user: &UserInfo, org_id: Uuid, lead: &Lead) -> bool {
    org_id == user.org_id && (user.role == Role::Admin || lead.assigned_user_id == Some(user.id))
}

/// What a record table adds to the shared write path.
pub trait Stored: Resource {
    /// SQLite table.
    const TABLE: &'static str;
    /// Events never change: a different body for a known id answers 409.
    const IMMUTABLE: bool = false;

    /// The lead an upsert belongs to, after checking the records it points at exist in
    /// `org` (a missing or foreign reference answers 404).
    fn lead_of(tx: &Connection, org: Uuid, u: &Self::Upsert) -> Result<Uuid, Error>;

    /// Field checks; the message is shown to the client.
    fn validate(_u: &Self::Upsert) -> Result<(), String> {
        Ok(())
    }

    /// Bytes of free text the upsert carries (a message's body), held to
    /// [`softphone_proto::MAX_TEXT_BYTES`].
    fn text_bytes(_u: &Self::Upsert) -> usize {
        0
    }

    /// The stored record for `u`. `prior` is the current row, if any, so fields the
    /// server keeps (authors, derived times) carry over.
    fn build(ctx: &BuildCtx<'_>, u: &Self::Upsert, prior: Option<&Self>) -> Result<Self, Error>;

    /// Version of a stored record.
    fn version(&self) -> i64;

    /// Last change of a stored record, Unix seconds.
    fn updated_at(&self) -> i64;

    /// Sets version and last change.
    fn stamp(&mut self, version: i64, at: i64);

    /// Extra indexed columns and their values (names must exist in the table).
    fn columns(&self) -> Vec<(&'static str, Option<String>)> {
        Vec::new()
    }

    /// Side effects inside the transaction (e.g. a message moves its conversation's
    /// `last_message_at`).
    fn after_write(&self, _tx: &Connection, _ctx: &BuildCtx<'_>) -> Result<(), Error> {
        Ok(())
    }

    /// The feed entry, or `None` for records that do not travel in the feed.
    fn into_change(self) -> Option<Change>;
}

/// Inputs to [`Stored::build`].
pub struct BuildCtx<'a> {
    /// Record id.
    pub id: Uuid,
    /// Its lead.
    pub lead_id: Uuid,
    /// Who writes.
    pub user: &'a UserInfo,
    /// Version to store.
    pub version: i64,
    /// Timestamp to store, Unix seconds.
    pub at: i64,
    /// The transaction (for lookups).
    pub tx: &'a Connection,
}

/// A stored row: organisation, lead and record.
pub struct Row<T> {
    /// Organisation.
    pub org_id: Uuid,
    /// Lead.
    pub lead_id: Uuid,
    /// Record.
    pub record: T,
}

/// Parses a row's `data` column (column `col`) into its record.
fn parse_data<T: serde::de::DeserializeOwned>(data: String, col: usize) -> rusqlite::Result<T> {
    serde_json::from_str(&data).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, e.into())
    })
}

/// Reads a record by id.
pub fn get<T: Stored>(c: &Connection, id: Uuid) -> rusqlite::Result<Option<Row<T>>> {
    c.query_row(
        &format!(
            "SELECT org_id, lead_id, data FROM {} WHERE id = ?1",
            T::TABLE
        ),
        [id.to_string()],
        |r| {
            let record = parse_data(r.get(2)?, 2)?;
            Ok(Row {
                org_id: crate::db::uuid_at(r, 0)?,
                lead_id: crate::db::uuid_at(r, 1)?,
                record,
            })
        },
    )
    .optional()
}

fn write_row<T: Stored>(
    c: &Connection,
    org: Uuid,
    lead: Uuid,
    id: Uuid,
    rec: &T,
    at: i64,
    seq: i64,
) -> Result<(), Error> {
    let extra = rec.columns();
    let names: String = extra.iter().map(|(n, _)| format!(", {n}")).collect();
    let marks: String = (0..extra.len()).map(|i| format!(", ?{}", i + 8)).collect();
    let sets: String = extra
        .iter()
        .map(|(n, _)| format!(", {n} = excluded.{n}"))
        .collect();
    let sql = format!(
        "INSERT INTO {t} (id, org_id, lead_id, data, version, updated_at, change_seq{names})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7{marks})
         ON CONFLICT(id) DO UPDATE SET lead_id = excluded.lead_id, data = excluded.data,
           version = excluded.version, updated_at = excluded.updated_at,
           change_seq = excluded.change_seq{sets}",
        t = T::TABLE
    );
    let data = serde_json::to_string(rec).map_err(Error::internal)?;
    let mut params: Vec<Box<dyn rusqlite::ToSql>> = vec![
        Box::new(id.to_string()),
        Box::new(org.to_string()),
        Box::new(lead.to_string()),
        Box::new(data),
        Box::new(rec.version()),
        Box::new(at),
        Box::new(seq),
    ];
    for (_, v) in extra {
        params.push(Box::new(v));
    }
    c.execute(&sql, rusqlite::params_from_iter(params.iter()))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => Error::new(
                StatusCode::CONFLICT,
                "conflict.duplicate",
                format!("another {} already has this provider id", T::ENTITY),
            ),
            _ => tx_err(e),
        })?;
    Ok(())
}

/// Checks that `lead_id` exists in `org` and is visible to `user`.
pub fn check_lead(c: &Connection, user: &UserInfo, lead_id: Uuid) -> Result<(), Error> {
    let lead = leads::get(c, lead_id)
        .map_err(tx_err)?
        .ok_or_else(not_found)?;
    if can_see_lead(user, lead.org_id, &lead.lead) {
        Ok(())
    } else {
        Err(not_found())
    }
}

/// Upserts inside an open transaction; returns the stored record and, when something
/// changed, its feed sequence.
pub fn upsert<T: Stored>(
    tx: &Connection,
    user: &UserInfo,
    id: Uuid,
    u: &T::Upsert,
) -> Result<(T, Option<i64>), Error> {
    crate::check_text_size(T::text_bytes(u))?;
    T::validate(u).map_err(invalid)?;
    let lead_id = T::lead_of(tx, user.org_id, u)?;
    check_lead(tx, user, lead_id)?;
    let existing = get::<T>(tx, id).map_err(tx_err)?;
    if let Some(row) = &existing {
        if row.org_id != user.org_id {
            return Err(not_found());
        }
        check_lead(tx, user, row.lead_id)?;
    }
    let at = now();
    if let Some(row) = &existing {
        // A retry rebuilds exactly what is stored.
        let ctx = BuildCtx {
            id,
            lead_id,
            user,
            version: row.record.version(),
            at: row.record.updated_at(),
            tx,
        };
        let again = T::build(&ctx, u, Some(&row.record))?;
        if serde_json::to_value(&again).ok() == serde_json::to_value(&row.record).ok() {
            return Ok((row.record.clone(), None));
        }
        if T::IMMUTABLE {
            return Err(Error::new(
                StatusCode::CONFLICT,
                "conflict.immutable",
                format!("a {} never changes once written", T::ENTITY),
            ));
        }
    }
    let version = existing.as_ref().map_or(1, |r| r.record.version() + 1);
    let ctx = BuildCtx {
        id,
        lead_id,
        user,
        version,
        at,
        tx,
    };
    let rec = T::build(&ctx, u, existing.as_ref().map(|r| &r.record))?;
    let seq = changes::next(tx).map_err(tx_err)?;
    write_row(tx, user.org_id, lead_id, id, &rec, at, seq)?;
    let action = if version == 1 { "create" } else { "update" };
    activity::record(tx, user.org_id, user.id, action, T::ENTITY, id, version, at)
        .map_err(tx_err)?;
    rec.after_write(tx, &ctx)?;
    Ok((rec, Some(seq)))
}

/// Applies `change` to a stored record as a server-side update (new version, feed
/// sequence and activity entry), e.g. a conversation's `last_message_at`. No-op when
/// the record is missing or `change` leaves it as it was.
pub fn touch<T: Stored>(
    tx: &Connection,
    org: Uuid,
    actor: Uuid,
    id: Uuid,
    change: impl FnOnce(&mut T),
) -> Result<Option<(T, i64)>, Error> {
    let Some(row) = get::<T>(tx, id).map_err(tx_err)? else {
        return Ok(None);
    };
    // A record of another organisation with the same id is not ours to change.
    if row.org_id != org {
        return Ok(None);
    }
    let before = serde_json::to_value(&row.record).map_err(Error::internal)?;
    let mut rec = row.record;
    change(&mut rec);
    if serde_json::to_value(&rec).map_err(Error::internal)? == before {
        return Ok(None);
    }
    let (version, at) = (rec.version() + 1, now());
    rec.stamp(version, at);
    let seq = changes::next(tx).map_err(tx_err)?;
    write_row(tx, row.org_id, row.lead_id, id, &rec, at, seq)?;
    activity::record(tx, row.org_id, actor, "update", T::ENTITY, id, version, at)
        .map_err(tx_err)?;
    Ok(Some((rec, seq)))
}

/// Visible feed rows of one table after `since`: (sequence, change).
pub fn feed<T: Stored>(
    c: &Connection,
    user: &UserInfo,
    lead_filter: &str,
    since: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, Change)>> {
    let mut st = c.prepare(&format!(
        "SELECT x.data, x.change_seq FROM {} x JOIN leads l ON l.id = x.lead_id
         WHERE x.org_id = ?1 AND {lead_filter} AND x.change_seq > ?3
         ORDER BY x.change_seq LIMIT ?4",
        T::TABLE
    ))?;
    let rows = st.query_map(
        rusqlite::params![
            user.org_id.to_string(),
            user.id.to_string(),
            since,
            limit as i64
        ],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
    )?;
    let mut out = Vec::new();
    for r in rows {
        let (data, seq) = r?;
        let rec: T = parse_data(data, 0)?;
        if let Some(ch) = rec.into_change() {
            out.push((seq, ch));
        }
    }
    Ok(out)
}

/// `PUT /api/v1/{kind}/{id}`: idempotent upsert; answers the stored record.
pub async fn put<T: Stored>(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    JsonBody(u): JsonBody<T::Upsert>,
) -> Result<Json<T>, Error> {
    let user = caller.user;
    let org = user.org_id;
    let (rec, seq) = state
        .with_db(move |c| {
            let tx = c.unchecked_transaction().map_err(tx_err)?;
            let out = upsert::<T>(&tx, &user, id, &u)?;
            tx.commit().map_err(tx_err)?;
            Ok(out)
        })
        .await?;
    state.metrics.pushed(T::TABLE);
    if let Some(seq) = seq {
        state.hub.changed(org, seq);
    }
    Ok(Json(rec))
}

/// `GET /api/v1/{kind}/{id}`: the record when its lead is visible, else 404.
pub async fn get_one<T: Stored>(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<T>, Error> {
    let user = caller.user;
    state
        .with_read(move |c| {
            let row = get::<T>(c, id).map_err(tx_err)?.ok_or_else(not_found)?;
            if row.org_id != user.org_id {
                return Err(not_found());
            }
            check_lead(c, &user, row.lead_id)?;
            Ok(Json(row.record))
        })
        .await
}

/// Implements the version/timestamp accessors of [`Stored`] for a record with
/// `version` and `updated_at` fields.
#[macro_export]
macro_rules! stamped {
    () => {
        fn version(&self) -> i64 {
            self.version
        }
        fn updated_at(&self) -> i64 {
            self.updated_at
        }
        fn stamp(&mut self, version: i64, at: i64) {
            self.version = version;
            self.updated_at = at;
        }
    };
}

/// `CREATE TABLE` for a record table: the shared columns, `$extra` (leading comma),
/// and indexes on (org, feed sequence) and lead.
#[macro_export]
macro_rules! record_table {
    ($name:literal, $extra:literal) => {
        concat!(
            "CREATE TABLE ",
            $name,
            " (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    lead_id TEXT NOT NULL REFERENCES leads(id),
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    change_seq INTEGER NOT NULL",
            $extra,
            ") STRICT;
CREATE INDEX ",
            $name,
            "_org_seq ON ",
            $name,
            "(org_id, change_seq);
CREATE INDEX ",
            $name,
            "_lead ON ",
            $name,
            "(lead_id);"
        )
    };
}
