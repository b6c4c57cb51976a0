//! `lead_reads`: how far the agent has read each lead's timeline, on this device, and
//! the lead list's overview built on it (last activity, unread and pending counts).
//!
//! The read mark is the id of the newest message the agent has seen. Record ids are
//! UUIDv7, so their text order is creation order and "unread" is a range query on the
//! same `records` index the timeline uses. Marks are local on purpose: each device
//! counts what its own screen has shown (as a phone's and a laptop's mail apps do).

use crate::{Result, Store};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use softphone_proto::Lead;
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = "CREATE TABLE lead_reads (
    lead_id TEXT PRIMARY KEY,
    read_up_to TEXT NOT NULL
) STRICT;";

/// One row of the lead list.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadOverview {
    /// The lead.
    pub lead: Lead,
    /// When the newest note, message or call of this lead was created (Unix ms, from
    /// its UUIDv7 id); `None` when there is none yet.
    pub last_activity_ms: Option<i64>,
    /// What that newest entry is: `note`, `message` or `call`.
    pub last_activity: Option<String>,
    /// Inbound messages newer than the read mark.
    pub unread: u32,
    /// Notes, messages and calls created here and not yet on the server.
    pub pending: u32,
}

/// SQL counting the unread inbound messages of the lead whose id is the SQL expression
/// `lead` (a column or a parameter): newer than its read mark.
fn unread_count_sql(lead: &str) -> String {
    format!(
        "(SELECT count(*) FROM records r
           WHERE r.lead_id = {lead} AND r.entity = 'message'
             AND r.id > coalesce((SELECT read_up_to FROM lead_reads WHERE lead_id = {lead}), '')
             AND json_extract(r.data, '$.direction') = 'INBOUND')"
    )
}

/// Unix ms of a UUIDv7 id (`None` for other versions).
fn created_ms(id: &str) -> Option<i64> {
    let ts = Uuid::parse_str(id).ok()?.get_timestamp()?;
    let (secs, nanos) = ts.to_unix();
    Some(secs as i64 * 1000 + i64::from(nanos / 1_000_000))
}

impl Store {
    /// Every lead with its last activity, unread and pending counts; most recent
    /// activity first, leads without activity after them by name.
    pub fn lead_overview(&self) -> Result<Vec<LeadOverview>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT l.data,
                (SELECT r.id || ' ' || r.entity FROM records r
                  WHERE r.lead_id = l.id AND r.entity IN ('note', 'message', 'call')
                  ORDER BY r.id DESC LIMIT 1),
                {},
                (SELECT count(*) FROM records r
                  WHERE r.lead_id = l.id AND r.entity IN ('note', 'message', 'call')
                    AND r.version = 0)
             FROM records l WHERE l.entity = 'lead'",
            unread_count_sql("l.id")
        ))?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        // (newest entry id, row): UUIDv7 text order is creation order, finer than ms.
        let mut out = Vec::new();
        for row in rows {
            let (data, last, unread, pending) = row?;
            let (last_activity_ms, last_activity) =
                match last.as_deref().and_then(|l| l.split_once(' ')) {
                    Some((id, entity)) => (created_ms(id), Some(entity.to_string())),
                    None => (None, None),
                };
            let newest = last.and_then(|l| l.split_once(' ').map(|(id, _)| id.to_string()));
            out.push((
                newest,
                LeadOverview {
                    lead: serde_json::from_str(&data)?,
                    last_activity_ms,
                    last_activity,
                    unread: unread as u32,
                    pending: pending as u32,
                },
            ));
        }
        out.sort_by(|(a_id, a), (b_id, b)| {
            b_id.cmp(a_id)
                .then_with(|| a.lead.name.to_lowercase().cmp(&b.lead.name.to_lowercase()))
        });
        Ok(out.into_iter().map(|(_, row)| row).collect())
    }

    /// Marks every message of `lead_id` stored now as read. Answers how many were
    /// unread before.
    pub fn mark_read(&mut self, lead_id: Uuid) -> Result<u32> {
        let lead = lead_id.to_string();
        let newest: Option<String> = self
            .conn
            .query_row(
                "SELECT max(id) FROM records WHERE lead_id = ?1 AND entity = 'message'",
                [&lead],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let Some(newest) = newest else {
            return Ok(0);
        };
        let before: i64 = self.conn.query_row(
            &format!("SELECT {}", unread_count_sql("?1")),
            [&lead],
            |r| r.get(0),
        )?;
        // Never moves back: a mark only grows.
        self.conn.execute(
            "INSERT INTO lead_reads (lead_id, read_up_to) VALUES (?1, ?2)
             ON CONFLICT(lead_id) DO UPDATE SET read_up_to = max(read_up_to, ?2)",
            params![lead, newest],
        )?;
        Ok(before as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use softphone_proto::Change;
    use softphone_proto::{Channel, Direction, Message, MessageStatus};

    fn lead(name: &str) -> Lead {
        Lead {
            id: Uuid::now_v7(),
            name: name.into(),
            phone: None,
            email: None,
            company: None,
            assigned_user_id: None,
            version: 1,
            updated_at: 0,
        }
    }

    fn message(lead: Uuid, direction: Direction) -> Message {
        Message {
            id: Uuid::now_v7(),
            conversation_id: Uuid::now_v7(),
            lead_id: lead,
            direction,
            channel: Channel::Whatsapp,
            kind: "text".into(),
            body: Some("hola".into()),
            status: MessageStatus::Received,
            media_url: None,
            media_mime_type: None,
            provider_message_id: None,
            payload: None,
            call_id: None,
            author_id: None,
            sent_at: None,
            delivered_at: None,
            read_at: None,
            version: 1,
            updated_at: 0,
        }
    }

    #[test]
    fn unread_counts_inbound_messages_after_the_read_mark() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path()).unwrap();
        let (ana, bo, cy) = (lead("Ana"), lead("bo"), lead("Cy"));
        let (a, b) = (ana.id, bo.id);
        store
            .apply_changes(&[
                Change::Lead(ana),
                Change::Lead(bo),
                Change::Lead(cy),
                Change::Message(message(a, Direction::Inbound)),
                Change::Message(message(a, Direction::Outbound)),
                Change::Message(message(a, Direction::Inbound)),
                Change::Message(message(b, Direction::Outbound)),
            ])
            .unwrap();
        let o = store.lead_overview().unwrap();
        let names: Vec<_> = o.iter().map(|x| x.lead.name.as_str()).collect();
        // Bo's message is the newest activity; Cy has none and comes last.
        assert_eq!(names, ["bo", "Ana", "Cy"]);
        assert_eq!((o[1].unread, o[0].unread, o[2].unread), (2, 0, 0));
        assert_eq!(o[0].last_activity.as_deref(), Some("message"));
        assert!(o[2].last_activity_ms.is_none());
        let now = crate::now_ms();
        let ms = o[1].last_activity_ms.unwrap();
        assert!((now - 60_000..=now).contains(&ms), "{ms} vs {now}");

        assert_eq!(store.mark_read(a).unwrap(), 2);
        assert_eq!(store.lead_overview().unwrap()[1].unread, 0);
        assert_eq!(store.mark_read(a).unwrap(), 0);
        // A new inbound message is unread again; an outbound one never is.
        store
            .apply_changes(&[
                Change::Message(message(a, Direction::Inbound)),
                Change::Message(message(a, Direction::Outbound)),
            ])
            .unwrap();
        let o = store.lead_overview().unwrap();
        assert_eq!(o[0].lead.name, "Ana");
        assert_eq!(o[0].unread, 1);
    }

    #[test]
    fn a_note_written_here_is_pending_until_the_server_has_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path()).unwrap();
        let ana = lead("Ana");
        let id = ana.id;
        store.apply_changes(&[Change::Lead(ana)]).unwrap();
        store
            .write_note(Uuid::now_v7(), id, None, "call back Tuesday")
            .unwrap();
        let o = store.lead_overview().unwrap();
        assert_eq!((o[0].pending, o[0].unread), (1, 0));
        assert_eq!(o[0].last_activity.as_deref(), Some("note"));
    }
}
