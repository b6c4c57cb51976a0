//! `messages`: every message of a conversation, with the provider id (`wamid.…`) unique
//! per organisation so a webhook delivered twice stores one message.

use crate::error::{not_found, tx_err};
use crate::records::{self, BuildCtx, Stored};
use crate::Error;
use rusqlite::Connection;
use softphone_proto::{Change, Conversation, Direction, Message, MessageStatus, MessageUpsert};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = concat!(
    crate::record_table!(
        "messages",
        ",
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    provider_message_id TEXT"
    ),
    "
CREATE UNIQUE INDEX messages_provider_id ON messages(org_id, provider_message_id);
CREATE INDEX messages_conversation ON messages(conversation_id);"
);

/// The status after `next` is reported on top of `current`: states only move forward
/// (a late `delivered` after `read` changes nothing), and `FAILED` wins.
pub fn advance(current: MessageStatus, next: MessageStatus) -> MessageStatus {
    if next == MessageStatus::Failed || current == MessageStatus::Failed {
        return MessageStatus::Failed;
    }
    current.max(next)
}

impl Stored for Message {
    const TABLE: &'static str = "messages";

    fn lead_of(tx: &Connection, org: Uuid, u: &MessageUpsert) -> Result<Uuid, Error> {
        records::get::<Conversation>(tx, u.conversation_id)
            .map_err(tx_err)?
            .filter(|r| r.org_id == org)
            .map(|r| r.lead_id)
            .ok_or_else(not_found)
    }

    fn text_bytes(u: &MessageUpsert) -> usize {
        u.body.as_ref().map_or(0, String::len)
    }

    fn validate(u: &MessageUpsert) -> Result<(), String> {
        if u.kind.trim().is_empty() {
            return Err("a message needs a kind, e.g. text".into());
        }
        if u.kind == "text" && u.body.as_deref().is_none_or(|b| b.is_empty()) {
            return Err("a text message needs a body".into());
        }
        Ok(())
    }

    fn build(ctx: &BuildCtx<'_>, u: &MessageUpsert, prior: Option<&Self>) -> Result<Self, Error> {
        let conv = records::get::<Conversation>(ctx.tx, u.conversation_id)
            .map_err(tx_err)?
            .ok_or_else(not_found)?
            .record;
        let status = prior.map_or(u.status, |p| advance(p.status, u.status));
        let author = match (prior, u.direction) {
            (Some(p), _) => p.author_id,
            (None, Direction::Inbound) => None,
            (None, _) => Some(ctx.user.id),
        };
        Ok(Message {
            id: ctx.id,
            conversation_id: u.conversation_id,
            lead_id: ctx.lead_id,
            direction: u.direction,
            channel: conv.channel,
            kind: u.kind.clone(),
            body: u.body.clone(),
            status,
            media_url: u.media_url.clone(),
            media_mime_type: u.media_mime_type.clone(),
            provider_message_id: u.provider_message_id.clone(),
            payload: u.payload.clone(),
            call_id: u.call_id,
            author_id: author,
            sent_at: u.sent_at,
            delivered_at: prior.and_then(|p| p.delivered_at),
            read_at: prior.and_then(|p| p.read_at),
            version: ctx.version,
            updated_at: ctx.at,
        })
    }

    crate::stamped!();

    fn columns(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("conversation_id", Some(self.conversation_id.to_string())),
            ("provider_message_id", self.provider_message_id.clone()),
        ]
    }

    fn after_write(&self, tx: &Connection, ctx: &BuildCtx<'_>) -> Result<(), Error> {
        let at = self.sent_at.unwrap_or(self.updated_at);
        records::touch::<Conversation>(
            tx,
            ctx.user.org_id,
            ctx.user.id,
            self.conversation_id,
            |c| {
                c.last_message_at = Some(c.last_message_at.map_or(at, |x| x.max(at)));
            },
        )?;
        Ok(())
    }

    fn into_change(self) -> Option<Change> {
        Some(Change::Message(self))
    }
}

#[cfg(test)]
mod tests {
    use super::advance;
    use softphone_proto::MessageStatus::*;

    #[test]
    fn status_only_moves_forward() {
        assert_eq!(advance(Sent, Delivered), Delivered);
        assert_eq!(advance(Read, Delivered), Read);
        assert_eq!(advance(Read, Failed), Failed);
        assert_eq!(advance(Failed, Read), Failed);
    }
}
