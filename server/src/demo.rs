//! `--demo` data: one organisation with an admin, two agents and 20 leads, each with a
//! contact, a WhatsApp conversation, notes and, for some, past calls, written through
//! the same write path as the API (versions, feed sequence, activity log).

use crate::db::{self, activity, changes, leads, notes};
use crate::records;
use rusqlite::Connection;
use softphone_proto::*;
use uuid::Uuid;

/// Organisation of the demo accounts.
pub const ORG: &str = "Demo Call Centre";
/// Password of every demo account (demo data only; never use it for real accounts).
pub const PASSWORD: &str = "demo-password";
/// (e-mail, name, role) of the demo accounts.
pub const ACCOUNTS: [(&str, &str, Role); 3] = [
    ("admin@demo.test", "Dana Admin", Role::Admin),
    ("ana@demo.test", "Ana García", Role::Agent),
    ("ben@demo.test", "Ben Okafor", Role::Agent),
];

const LEADS: [(&str, &str); 20] = [
    ("Lucía Pérez", "Hostal Mar Azul"),
    ("Tomás Silva", "Silva Logística"),
    ("Amara Nwosu", "Lagos Foods UK"),
    ("Jonas Weber", "Weber Elektro"),
    ("Chloé Martin", "Atelier Martin"),
    ("Rahul Mehta", "Mehta Textiles"),
    ("Sofia Rossi", "Trattoria Rossi"),
    ("Mateo Fernández", "Talleres MF"),
    ("Aiko Tanaka", "Tanaka Design"),
    ("Liam O'Brien", "O'Brien Builders"),
    ("Fatima Zahra", "Zahra Cosmetics"),
    ("Pedro Alves", "Alves Imobiliária"),
    ("Emma Johansson", "Nordic Outdoor"),
    ("Kwame Mensah", "Accra Solar"),
    ("Isabel Costa", "Costa Clínica"),
    ("Noah Schmidt", "Schmidt & Söhne"),
    ("Valentina Ruiz", "Ruiz Eventos"),
    ("Omar Haddad", "Haddad Trading"),
    ("Elena Popescu", "Popescu Dental"),
    ("Lucas Moreau", "Moreau Vins"),
];

const DISPOSITIONS: [&str; 4] = ["interested", "callback", "not_interested", "voicemail"];

/// What [`seed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// False when the demo organisation already existed (nothing written).
    pub created: bool,
    /// Leads written.
    pub leads: usize,
}

fn user(c: &Connection, email: &str) -> anyhow::Result<UserInfo> {
    Ok(db::users::by_email(c, email)?
        .ok_or_else(|| anyhow::anyhow!("{email} missing"))?
        .info)
}

fn api(e: crate::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// Writes the demo data unless the demo accounts exist already.
pub fn seed(conn: &Connection) -> anyhow::Result<Seeded> {
    if db::users::by_email(conn, ACCOUNTS[0].0)?.is_some() {
        return Ok(Seeded {
            created: false,
            leads: 0,
        });
    }
    let tx = conn.unchecked_transaction()?;
    for (email, name, role) in ACCOUNTS {
        crate::add_user(&tx, ORG, email, name, role, PASSWORD)?;
    }
    let agents = [user(&tx, ACCOUNTS[1].0)?, user(&tx, ACCOUNTS[2].0)?];
    let start = crate::now() - 14 * 86_400;
    for (i, (name, company)) in LEADS.iter().enumerate() {
        let agent = &agents[i % 2];
        let t = start + i as i64 * 3_600 * 13;
        let phone = format!("+3460{:07}", 1_000_000 + i * 7_919);
        let lead_id = Uuid::now_v7();
        let lead = LeadUpsert {
            name: (*name).into(),
            phone: Some(phone.clone()),
            email: Some(format!(
                "{}@example.com",
                name.split(' ').next().unwrap_or("lead").to_lowercase()
            )),
            company: Some((*company).into()),
            assigned_user_id: Some(agent.id),
        };
        let seq = changes::next(&tx)?;
        leads::write(&tx, lead_id, agent.org_id, &lead, 1, t, seq)?;
        activity::record(&tx, agent.org_id, agent.id, "create", "lead", lead_id, 1, t)?;

        let contact_id = Uuid::now_v7();
        let wa_id = phone.trim_start_matches('+').to_string();
        records::upsert::<Contact>(
            &tx,
            agent,
            contact_id,
            &ContactUpsert {
                lead_id,
                name: name.split(' ').next().unwrap_or(name).into(),
                phone: Some(phone.clone()),
                email: None,
                wa_id: Some(wa_id.clone()),
            },
        )
        .map_err(api)?;
        let conv_id = Uuid::now_v7();
        records::upsert::<Conversation>(
            &tx,
            agent,
            conv_id,
            &ConversationUpsert {
                lead_id,
                contact_id: Some(contact_id),
                channel: Channel::Whatsapp,
                external_id: Some(wa_id.clone()),
                status: ConversationStatus::Open,
                unread_count: (i % 3) as i64,
                assigned_user_id: Some(agent.id),
            },
        )
        .map_err(api)?;
        let lines = [
            (
                Direction::Inbound,
                "Hola, vi vuestro anuncio. ¿Podéis llamarme?",
            ),
            (Direction::Outbound, "¡Claro! Te llamo esta tarde."),
            (Direction::Inbound, "Perfecto, gracias."),
        ];
        for (k, (dir, body)) in lines.iter().take(1 + i % 3).enumerate() {
            let inbound = *dir == Direction::Inbound;
            records::upsert::<Message>(
                &tx,
                agent,
                Uuid::now_v7(),
                &MessageUpsert {
                    conversation_id: conv_id,
                    direction: *dir,
                    kind: "text".into(),
                    body: Some((*body).into()),
                    status: if inbound {
                        MessageStatus::Received
                    } else {
                        MessageStatus::Delivered
                    },
                    media_url: None,
                    media_mime_type: None,
                    provider_message_id: Some(format!("wamid.DEMO{i:02}{k}")),
                    payload: None,
                    call_id: None,
                    sent_at: Some(t + 60 * k as i64),
                },
            )
            .map_err(api)?;
        }
        let mut call_id = None;
        if i % 2 == 0 {
            let id = Uuid::now_v7();
            let began = (t + 3_600) * 1000;
            let talk = 45_000 + (i as i64 * 17_000) % 240_000;
            records::upsert::<Call>(
                &tx,
                agent,
                id,
                &CallUpsert {
                    lead_id,
                    direction: CallDirection::Outbound,
                    remote: phone.clone(),
                    started_at_ms: began,
                    answered_at_ms: Some(began + 6_000),
                    ended_at_ms: Some(began + 6_000 + talk),
                    duration_ms: Some(talk),
                    end_reason: Some("local_hangup".into()),
                    disposition: Some(DISPOSITIONS[i / 2 % 4].into()),
                    quality: Some(CallQuality {
                        mos: 4.2 - (i % 5) as f64 * 0.1,
                        jitter_ms: 4.0 + (i % 5) as f64,
                        packet_loss_pct: (i % 4) as f64 * 0.4,
                        rtt_ms: 40.0 + (i % 6) as f64 * 20.0,
                        level: if i % 5 < 3 { "excellent" } else { "good" }.into(),
                    }),
                },
            )
            .map_err(api)?;
            call_id = Some(id);
        }
        let note_id = Uuid::now_v7();
        let note = NoteUpsert {
            lead_id,
            call_id,
            body: format!(
                "{name} runs {company}. {}",
                if call_id.is_some() {
                    "Spoke on the phone; send pricing by WhatsApp."
                } else {
                    "Asked for a call back; prefers mornings."
                }
            ),
            deleted: false,
        };
        let seq = changes::next(&tx)?;
        notes::write(
            &tx,
            note_id,
            agent.org_id,
            agent.id,
            &note,
            1,
            t + 7_200,
            seq,
        )?;
        activity::record(
            &tx,
            agent.org_id,
            agent.id,
            "create",
            "note",
            note_id,
            1,
            t + 7_200,
        )?;
    }
    tx.commit()?;
    Ok(Seeded {
        created: true,
        leads: LEADS.len(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_once_with_the_promised_shape() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open(dir.path()).unwrap();
        let first = super::seed(&conn).unwrap();
        assert_eq!(first.leads, 20);
        assert!(!super::seed(&conn).unwrap().created);
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT COUNT(*) FROM users"), 3);
        assert_eq!(count("SELECT COUNT(*) FROM leads"), 20);
        assert_eq!(count("SELECT COUNT(*) FROM contacts"), 20);
        assert_eq!(count("SELECT COUNT(*) FROM conversations"), 20);
        assert_eq!(count("SELECT COUNT(*) FROM calls"), 10);
        assert_eq!(count("SELECT COUNT(*) FROM notes"), 20);
        assert!(count("SELECT COUNT(*) FROM messages") >= 20);
        assert_eq!(
            count("SELECT COUNT(DISTINCT assigned_user_id) FROM leads"),
            2,
            "leads are split between the two agents"
        );
    }
}
