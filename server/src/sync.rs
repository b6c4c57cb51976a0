//! Sync API: idempotent upserts keyed by client UUIDv7, and the changes feed.
//!
//! Rules (also in docs/protocol-sync.md when the client lands):
//! - A write identical to the stored row is a retry: nothing changes, no new version.
//! - Otherwise the write wins (last writer wins), `version` +1, the row gets the next
//!   feed sequence, and an activity-log entry is written in the same transaction.
//!   A note's replaced text is kept in `note_history`.
//! - Visibility: admins see their organisation; agents see leads assigned to them and
//!   those leads' notes. Anything else answers 404 `not_found` (no existence leaks).

use crate::db::{self, activity, changes, leads, notes};
use crate::extract::{JsonBody, Path, Query};
use crate::records;
use crate::{now, AppState, Caller, Error};
use axum::extract::State;
use axum::Json;
use rusqlite::Connection;
use serde::Deserialize;
use softphone_proto::{
    Call, Change, ChangesPage, Contact, Conversation, Lead, LeadRevoked, LeadUpsert, Message, Note,
    NoteUpsert, Role, UserInfo,
};
use uuid::Uuid;

pub(crate) use crate::error::{invalid, not_found, tx_err};
use crate::records::can_see_lead;

/// `PUT /api/v1/leads/{id}`.
pub async fn put_lead(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    JsonBody(mut u): JsonBody<LeadUpsert>,
) -> Result<Json<Lead>, Error> {
    if u.name.trim().is_empty() {
        return Err(invalid("a lead needs a name"));
    }
    let user = caller.user;
    let org = user.org_id;
    if user.role == Role::Agent {
        match u.assigned_user_id {
            None => u.assigned_user_id = Some(user.id),
            Some(a) if a != user.id => {
                return Err(crate::error::forbidden(
                    "agents can only assign leads to themselves",
                ))
            }
            Some(_) => {}
        }
    }
    let (lead, seq) = state
        .with_db(move |c| {
            let tx = c.unchecked_transaction().map_err(tx_err)?;
            if let Some(a) = u.assigned_user_id {
                let ok = db::users::by_id(&tx, a)
                    .map_err(tx_err)?
                    .is_some_and(|x| x.info.org_id == user.org_id);
                if !ok {
                    return Err(invalid("assignee is not in your organisation"));
                }
            }
            let existing = leads::get(&tx, id).map_err(tx_err)?;
            let version = match &existing {
                Some(row) if !can_see_lead(&user, row.org_id, &row.lead) => return Err(not_found()),
                Some(row) if leads::same(&row.lead, &u) => return Ok((row.lead.clone(), None)),
                Some(row) => row.lead.version + 1,
                None => 1,
            };
            let (t, seq) = (now(), changes::next(&tx).map_err(tx_err)?);
            leads::write(&tx, id, user.org_id, &u, version, t, seq).map_err(tx_err)?;
            // A lead that changes hands: the previous agent's app is told to drop it, and
            // its history moves after the lead in the feed for the new agent.
            if let Some(prior) = existing.as_ref().map(|r| r.lead.assigned_user_id) {
                if prior != u.assigned_user_id {
                    db::lead_handoffs::record(&tx, user.org_id, id, prior, seq, t)
                        .map_err(tx_err)?;
                }
            }
            let action = if version == 1 { "create" } else { "update" };
            activity::record(&tx, user.org_id, user.id, action, "lead", id, version, t)
                .map_err(tx_err)?;
            let lead = leads::get(&tx, id)
                .map_err(tx_err)?
                .ok_or_else(not_found)?
                .lead;
            tx.commit().map_err(tx_err)?;
            Ok((lead, Some(seq)))
        })
        .await?;
    state.metrics.pushed("leads");
    if let Some(seq) = seq {
        state.hub.changed(org, seq);
    }
    Ok(Json(lead))
}

/// `PUT /api/v1/notes/{id}`.
pub async fn put_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    JsonBody(u): JsonBody<NoteUpsert>,
) -> Result<Json<Note>, Error> {
    crate::check_text_size(u.body.len())?;
    let user = caller.user;
    let org = user.org_id;
    let (note, seq) = state
        .with_db(move |c| {
            let tx = c.unchecked_transaction().map_err(tx_err)?;
            let lead = leads::get(&tx, u.lead_id)
                .map_err(tx_err)?
                .ok_or_else(not_found)?;
            if !can_see_lead(&user, lead.org_id, &lead.lead) {
                return Err(not_found());
            }
            let existing = notes::get(&tx, id).map_err(tx_err)?;
            let (version, author) = match &existing {
                Some(row) if row.org_id != user.org_id => return Err(not_found()),
                Some(row) if notes::same(&row.note, &u) => return Ok((row.note.clone(), None)),
                Some(row) => (row.note.version + 1, row.note.author_id),
                None => (1, user.id),
            };
            let t = now();
            if let Some(row) = &existing {
                if row.note.body != u.body {
                    notes::keep_history(&tx, &row.note, user.id, t).map_err(tx_err)?;
                }
            }
            let seq = changes::next(&tx).map_err(tx_err)?;
            notes::write(&tx, id, user.org_id, author, &u, version, t, seq).map_err(tx_err)?;
            let action = match (version, u.deleted) {
                (_, true) => "delete",
                (1, _) => "create",
                _ => "update",
            };
            activity::record(&tx, user.org_id, user.id, action, "note", id, version, t)
                .map_err(tx_err)?;
            let note = notes::get(&tx, id)
                .map_err(tx_err)?
                .ok_or_else(not_found)?
                .note;
            tx.commit().map_err(tx_err)?;
            Ok((note, Some(seq)))
        })
        .await?;
    state.metrics.pushed("notes");
    if let Some(seq) = seq {
        state.hub.changed(org, seq);
    }
    Ok(Json(note))
}

/// `GET /api/v1/leads/{id}`.
pub async fn get_lead(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Lead>, Error> {
    let user = caller.user;
    state
        .with_read(move |c| {
            let row = leads::get(c, id).map_err(tx_err)?.ok_or_else(not_found)?;
            if !can_see_lead(&user, row.org_id, &row.lead) {
                return Err(not_found());
            }
            Ok(Json(row.lead))
        })
        .await
}

/// `GET /api/v1/notes/{id}`.
pub async fn get_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Note>, Error> {
    let user = caller.user;
    state
        .with_read(move |c| {
            let row = notes::get(c, id).map_err(tx_err)?.ok_or_else(not_found)?;
            if row.org_id != user.org_id {
                return Err(not_found());
            }
            crate::records::check_lead(c, &user, row.note.lead_id)?;
            Ok(Json(row.note))
        })
        .await
}

/// Largest changes page, bytes of JSON (about): 4 MiB, some 60 notes at the 64 KiB cap.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Query of `GET /api/v1/changes`.
#[derive(Debug, Deserialize)]
pub struct ChangesQuery {
    /// Cursor from the previous page (0 = from the start).
    #[serde(default)]
    pub since: i64,
    /// Page size, 1-1000 (default 500).
    pub limit: Option<usize>,
}

fn visible_changes(
    c: &Connection,
    user: &UserInfo,
    since: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, Change)>> {
    let admin = user.role == Role::Admin;
    let (org, uid) = (user.org_id.to_string(), user.id.to_string());
    let lead_filter = if admin {
        "l.org_id = ?1"
    } else {
        "l.org_id = ?1 AND l.assigned_user_id = ?2"
    };
    let mut out = Vec::new();
    let mut st = c.prepare(&format!(
        "SELECT {}, l.change_seq FROM leads l WHERE {lead_filter} AND l.change_seq > ?3 ORDER BY l.change_seq LIMIT ?4",
        leads::COLUMNS
    ))?;
    let rows = st.query_map(rusqlite::params![org, uid, since, limit as i64], |r| {
        Ok((r.get::<_, i64>(9)?, Change::Lead(leads::row(r)?.lead)))
    })?;
    for r in rows {
        out.push(r?);
    }
    let mut st = c.prepare(&format!(
        "SELECT {}, n.change_seq FROM notes n JOIN leads l ON l.id = n.lead_id
         WHERE n.org_id = ?1 AND {lead_filter} AND n.change_seq > ?3
         ORDER BY n.change_seq LIMIT ?4",
        notes::COLUMNS
    ))?;
    let rows = st.query_map(rusqlite::params![org, uid, since, limit as i64], |r| {
        Ok((r.get::<_, i64>(9)?, Change::Note(notes::row(r)?.note)))
    })?;
    for r in rows {
        out.push(r?);
    }
    out.extend(records::feed::<Contact>(
        c,
        user,
        lead_filter,
        since,
        limit,
    )?);
    out.extend(records::feed::<Conversation>(
        c,
        user,
        lead_filter,
        since,
        limit,
    )?);
    out.extend(records::feed::<Message>(
        c,
        user,
        lead_filter,
        since,
        limit,
    )?);
    out.extend(records::feed::<Call>(c, user, lead_filter, since, limit)?);
    if !admin {
        out.extend(
            db::lead_handoffs::revoked_for(c, user.org_id, user.id, since, limit)?
                .into_iter()
                .map(|(seq, lead_id)| (seq, Change::LeadRevoked(LeadRevoked { lead_id }))),
        );
    }
    out.sort_by_key(|(seq, _)| *seq);
    Ok(out)
}

/// `GET /api/v1/changes?since=SEQ&limit=N`.
pub async fn get_changes(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ChangesQuery>,
) -> Result<Json<ChangesPage>, Error> {
    let limit = q.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) || q.since < 0 {
        return Err(invalid("limit must be 1-1000 and since >= 0"));
    }
    let user = caller.user;
    state
        .with_read(move |c| {
            // Fetch one extra to know whether more are waiting.
            let mut rows = visible_changes(c, &user, q.since, limit + 1).map_err(tx_err)?;
            let mut more = rows.len() > limit;
            rows.truncate(limit);
            // Bounded in bytes too: a page of long messages stops early (at least one
            // row, so the cursor always moves) and says `more`.
            let mut bytes = 0;
            let fits = rows
                .iter()
                .position(|(_, ch)| {
                    bytes += serde_json::to_vec(ch).map_or(0, |v| v.len());
                    bytes > MAX_PAGE_BYTES
                })
                .map_or(rows.len(), |i| i.max(1));
            if fits < rows.len() {
                rows.truncate(fits);
                more = true;
            }
            let next = rows.last().map(|(s, _)| *s).unwrap_or(q.since);
            Ok(Json(ChangesPage {
                changes: rows.into_iter().map(|(_, ch)| ch).collect(),
                next,
                more,
            }))
        })
        .await
}
