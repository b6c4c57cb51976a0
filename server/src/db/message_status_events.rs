//! `message_status_events`: delivery reports, append-only. Each one moves its message's
//! status forward (see [`super::messages::advance`]) and stamps `delivered_at` /
//! `read_at`; the events themselves stay out of the changes feed (the message carries
//! the result).

use crate::error::{not_found, tx_err};
use crate::records::{self, BuildCtx, Stored};
use crate::Error;
use rusqlite::Connection;
use softphone_proto::{
    Change, Message, MessageStatus, MessageStatusEvent, MessageStatusEventUpsert,
};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = concat!(
    crate::record_table!(
        "message_status_events",
        ",
    message_id TEXT NOT NULL REFERENCES messages(id)"
    ),
    "
CREATE INDEX message_status_events_message ON message_status_events(message_id);"
);

impl Stored for MessageStatusEvent {
    const TABLE: &'static str = "message_status_events";
    const IMMUTABLE: bool = true;

    fn lead_of(tx: &Connection, org: Uuid, u: &MessageStatusEventUpsert) -> Result<Uuid, Error> {
        records::get::<Message>(tx, u.message_id)
            .map_err(tx_err)?
            .filter(|r| r.org_id == org)
            .map(|r| r.lead_id)
            .ok_or_else(not_found)
    }

    fn build(
        ctx: &BuildCtx<'_>,
        u: &MessageStatusEventUpsert,
        prior: Option<&Self>,
    ) -> Result<Self, Error> {
        Ok(MessageStatusEvent {
            id: ctx.id,
            message_id: u.message_id,
            status: u.status,
            at: u.at,
            error: u.error.clone(),
            version: 1,
            updated_at: prior.map_or(ctx.at, |p| p.updated_at),
        })
    }

    crate::stamped!();

    fn columns(&self) -> Vec<(&'static str, Option<String>)> {
        vec![("message_id", Some(self.message_id.to_string()))]
    }

    fn after_write(&self, tx: &Connection, ctx: &BuildCtx<'_>) -> Result<(), Error> {
        let (status, at) = (self.status, self.at);
        records::touch::<Message>(tx, ctx.user.org_id, ctx.user.id, self.message_id, |m| {
            m.status = super::messages::advance(m.status, status);
            match status {
                MessageStatus::Delivered => {
                    m.delivered_at = Some(m.delivered_at.map_or(at, |x| x.min(at)))
                }
                MessageStatus::Read => {
                    m.read_at = Some(m.read_at.map_or(at, |x| x.min(at)));
                    m.delivered_at.get_or_insert(at);
                }
                _ => {}
            }
        })?;
        Ok(())
    }

    fn into_change(self) -> Option<Change> {
        None
    }
}
