//! `contacts`: people reachable for a lead.

use crate::records::{BuildCtx, Stored};
use crate::Error;
use rusqlite::Connection;
use softphone_proto::{Change, Contact, ContactUpsert};
use uuid::Uuid;

/// Creates the table.
pub const MIGRATION_1: &str = crate::record_table!("contacts", "");

impl Stored for Contact {
    const TABLE: &'static str = "contacts";

    fn lead_of(_tx: &Connection, _org: Uuid, u: &ContactUpsert) -> Result<Uuid, Error> {
        Ok(u.lead_id)
    }

    fn validate(u: &ContactUpsert) -> Result<(), String> {
        if u.name.trim().is_empty() {
            return Err("a contact needs a name".into());
        }
        Ok(())
    }

    fn build(ctx: &BuildCtx<'_>, u: &ContactUpsert, _prior: Option<&Self>) -> Result<Self, Error> {
        Ok(Contact {
            id: ctx.id,
            lead_id: ctx.lead_id,
            name: u.name.clone(),
            phone: u.phone.clone(),
            email: u.email.clone(),
            wa_id: u.wa_id.clone(),
            version: ctx.version,
            updated_at: ctx.at,
        })
    }

    crate::stamped!();

    fn into_change(self) -> Option<Change> {
        Some(Change::Contact(self))
    }
}
