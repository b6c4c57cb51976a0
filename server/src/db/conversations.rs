//! `conversations`: a thread with a lead on one channel.

use crate::error::{invalid, not_found, tx_err};
use crate::records::{self, BuildCtx, Stored};
use crate::Error;
use rusqlite::Connection;
use softphone_proto::{Change, Contact, Conversation, ConversationUpsert};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = crate::record_table!("conversations", "");

impl Stored for Conversation {
    const TABLE: &'static str = "conversations";

    fn lead_of(tx: &Connection, org: Uuid, u: &ConversationUpsert) -> Result<Uuid, Error> {
        if let Some(contact) = u.contact_id {
            let row = records::get::<Contact>(tx, contact)
                .map_err(tx_err)?
                .filter(|r| r.org_id == org)
                .ok_or_else(not_found)?;
            if row.lead_id != u.lead_id {
                return Err(invalid("the contact belongs to another lead"));
            }
        }
        Ok(u.lead_id)
    }

    fn validate(u: &ConversationUpsert) -> Result<(), String> {
        if u.unread_count < 0 {
            return Err("unread_count cannot be negative".into());
        }
        Ok(())
    }

    fn build(
        ctx: &BuildCtx<'_>,
        u: &ConversationUpsert,
        prior: Option<&Self>,
    ) -> Result<Self, Error> {
        if let Some(a) = u.assigned_user_id {
            let ok = crate::db::users::by_id(ctx.tx, a)
                .map_err(tx_err)?
                .is_some_and(|x| x.info.org_id == ctx.user.org_id);
            if !ok {
                return Err(invalid("assignee is not in your organisation"));
            }
        }
        Ok(Conversation {
            id: ctx.id,
            lead_id: ctx.lead_id,
            contact_id: u.contact_id,
            channel: u.channel,
            external_id: u.external_id.clone(),
            status: u.status,
            last_message_at: prior.and_then(|p| p.last_message_at),
            unread_count: u.unread_count,
            assigned_user_id: u.assigned_user_id,
            version: ctx.version,
            updated_at: ctx.at,
        })
    }

    crate::stamped!();

    fn into_change(self) -> Option<Change> {
        Some(Change::Conversation(self))
    }
}
