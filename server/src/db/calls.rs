//! `calls`: call records. The recording is keyed by (organisation, call id) and may
//! only be uploaded once the record is here; the upload sets `has_recording` when it
//! completes, and a later write of the record keeps it.

use crate::error::tx_err;
use crate::records::{BuildCtx, Stored};
use crate::Error;
use rusqlite::Connection;
use softphone_proto::{Call, CallUpsert, Change};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = crate::record_table!("calls", "");

impl Stored for Call {
    const TABLE: &'static str = "calls";

    fn lead_of(_tx: &Connection, _org: Uuid, u: &CallUpsert) -> Result<Uuid, Error> {
        Ok(u.lead_id)
    }

    fn validate(u: &CallUpsert) -> Result<(), String> {
        if u.remote.trim().is_empty() {
            return Err("a call needs a remote party".into());
        }
        if u.duration_ms.is_some_and(|d| d < 0) {
            return Err("duration_ms cannot be negative".into());
        }
        if let (Some(a), Some(e)) = (u.answered_at_ms, u.ended_at_ms) {
            if e < a {
                return Err("ended_at_ms is before answered_at_ms".into());
            }
        }
        Ok(())
    }

    fn build(ctx: &BuildCtx<'_>, u: &CallUpsert, prior: Option<&Self>) -> Result<Self, Error> {
        let has_recording = match prior {
            Some(p) if p.has_recording => true,
            // Recordings are keyed by (organisation, call id): another organisation's
            // under the same id is not found here.
            _ => super::recordings::get(ctx.tx, ctx.user.org_id, ctx.id)
                .map_err(tx_err)?
                .is_some(),
        };
        Ok(Call {
            id: ctx.id,
            lead_id: ctx.lead_id,
            direction: u.direction,
            agent_id: prior.map_or(ctx.user.id, |p| p.agent_id),
            remote: u.remote.clone(),
            started_at_ms: u.started_at_ms,
            answered_at_ms: u.answered_at_ms,
            ended_at_ms: u.ended_at_ms,
            duration_ms: u.duration_ms,
            end_reason: u.end_reason.clone(),
            disposition: u.disposition.clone(),
            quality: u.quality.clone(),
            has_recording,
            version: ctx.version,
            updated_at: ctx.at,
        })
    }

    crate::stamped!();

    fn into_change(self) -> Option<Change> {
        Some(Change::Call(self))
    }
}
