//! Domain records through the real client against the real server on port 0: contacts,
//! conversations, messages with WhatsApp-style dedup and status events, call records
//! tied to recordings, the changes feed across every kind, and visibility.

mod common;

use common::{boot, client, data_dir};
use softphone_client::{Client, ClientError, UploadMeta};
use softphone_proto::*;
use uuid::Uuid;

fn api_status(e: ClientError) -> (u16, String) {
    match e {
        ClientError::Api { status, code, .. } => (status, code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn lead_for(c: &Client, name: &str) -> Lead {
    c.put::<Lead>(
        Uuid::now_v7(),
        &LeadUpsert {
            name: name.into(),
            phone: Some("+34600000001".into()),
            email: None,
            company: None,
            assigned_user_id: None,
        },
    )
    .await
    .unwrap()
}

async fn all_changes(c: &Client, page: usize) -> Vec<Change> {
    let (mut since, mut out) = (0, Vec::new());
    loop {
        let p = c.changes(since, page).await.unwrap();
        out.extend(p.changes);
        since = p.next;
        if !p.more {
            return out;
        }
    }
}

fn text(conversation_id: Uuid, body: &str, wamid: Option<&str>) -> MessageUpsert {
    MessageUpsert {
        conversation_id,
        direction: Direction::Inbound,
        kind: "text".into(),
        body: Some(body.into()),
        status: MessageStatus::Received,
        media_url: None,
        media_mime_type: None,
        provider_message_id: wamid.map(Into::into),
        payload: Some(serde_json::json!({"from": "34600000001", "id": wamid})),
        call_id: None,
        sent_at: Some(1_700_000_000),
    }
}

#[tokio::test]
async fn conversation_messages_statuses_and_calls() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let lead = lead_for(&alice, "Lucía Pérez").await;

    let contact_id = Uuid::now_v7();
    let contact = alice
        .put::<Contact>(
            contact_id,
            &ContactUpsert {
                lead_id: lead.id,
                name: "Lucía".into(),
                phone: Some("+34600000001".into()),
                email: None,
                wa_id: Some("34600000001".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(contact.version, 1);

    let conv_id = Uuid::now_v7();
    let conv_body = ConversationUpsert {
        lead_id: lead.id,
        contact_id: Some(contact_id),
        channel: Channel::Whatsapp,
        external_id: Some("34600000001".into()),
        status: ConversationStatus::Open,
        unread_count: 1,
        assigned_user_id: None,
    };
    alice
        .put::<Conversation>(conv_id, &conv_body)
        .await
        .unwrap();

    // A message, then the same write retried: one message, version 1.
    let msg_id = Uuid::now_v7();
    let body = text(conv_id, "Hola, ¿me llamáis?", Some("wamid.HBgL1"));
    let m1 = alice.put::<Message>(msg_id, &body).await.unwrap();
    let m2 = alice.put::<Message>(msg_id, &body).await.unwrap();
    assert_eq!(m1, m2);
    assert_eq!(m1.version, 1);
    assert_eq!(m1.lead_id, lead.id);
    assert_eq!(m1.channel, Channel::Whatsapp);
    assert_eq!(m1.author_id, None, "inbound messages have no agent author");

    // The webhook delivered twice under a new id: refused, nothing stored.
    let dup = alice
        .put::<Message>(Uuid::now_v7(), &body)
        .await
        .unwrap_err();
    assert_eq!(api_status(dup), (409, "conflict.duplicate".into()));

    // The conversation learned about the message.
    let conv = alice.get::<Conversation>(conv_id).await.unwrap();
    assert_eq!(conv.last_message_at, Some(1_700_000_000));

    // An outbound message and its statuses out of order: read before delivered.
    let out_id = Uuid::now_v7();
    let mut out = text(conv_id, "¡Claro! Te llamo ahora.", Some("wamid.HBgL2"));
    out.direction = Direction::Outbound;
    out.status = MessageStatus::Sent;
    let sent = alice.put::<Message>(out_id, &out).await.unwrap();
    assert_eq!(sent.author_id, Some(alice.me().await.unwrap().id));
    let read_ev = Uuid::now_v7();
    let read = MessageStatusEventUpsert {
        message_id: out_id,
        status: MessageStatus::Read,
        at: 1_700_000_090,
        error: None,
    };
    alice
        .put::<MessageStatusEvent>(read_ev, &read)
        .await
        .unwrap();
    alice
        .put::<MessageStatusEvent>(
            Uuid::now_v7(),
            &MessageStatusEventUpsert {
                message_id: out_id,
                status: MessageStatus::Delivered,
                at: 1_700_000_060,
                error: None,
            },
        )
        .await
        .unwrap();
    // Retrying an event is fine; changing it is not.
    alice
        .put::<MessageStatusEvent>(read_ev, &read)
        .await
        .unwrap();
    let changed = MessageStatusEventUpsert {
        status: MessageStatus::Failed,
        ..read.clone()
    };
    let e = alice
        .put::<MessageStatusEvent>(read_ev, &changed)
        .await
        .unwrap_err();
    assert_eq!(api_status(e), (409, "conflict.immutable".into()));
    let m = alice.get::<Message>(out_id).await.unwrap();
    assert_eq!(m.status, MessageStatus::Read, "a late delivered keeps read");
    assert_eq!(m.read_at, Some(1_700_000_090));
    assert_eq!(m.delivered_at, Some(1_700_000_060));

    // A call record, then its recording: has_recording follows.
    let call_id = Uuid::now_v7();
    let call_body = CallUpsert {
        lead_id: lead.id,
        direction: CallDirection::Outbound,
        remote: "+34600000001".into(),
        started_at_ms: 1_700_000_100_000,
        answered_at_ms: Some(1_700_000_104_000),
        ended_at_ms: Some(1_700_000_164_000),
        duration_ms: Some(60_000),
        end_reason: Some("local_hangup".into()),
        disposition: Some("interested".into()),
        quality: Some(CallQuality {
            mos: 4.3,
            jitter_ms: 3.2,
            packet_loss_pct: 0.1,
            rtt_ms: 21.0,
            level: "excellent".into(),
        }),
    };
    let call = alice.put::<Call>(call_id, &call_body).await.unwrap();
    assert!(!call.has_recording);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("call.opus");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let meta = UploadMeta {
        call_id,
        sha256: sha256_hex(&bytes),
        duration_ms: 60_000,
        channels: 2,
    };
    alice
        .upload_recording(&file, &meta, 64 * 1024, |_, _| {})
        .await
        .unwrap();
    let call = alice.get::<Call>(call_id).await.unwrap();
    assert!(call.has_recording);
    assert_eq!(call.version, 2);
    // Re-sending the same call body after the upload stays a retry.
    let again = alice.put::<Call>(call_id, &call_body).await.unwrap();
    assert_eq!(again.version, 2);

    // The feed holds each record once, at its latest state, across page boundaries.
    let feed = all_changes(&alice, 2).await;
    let count = |f: &dyn Fn(&Change) -> bool| feed.iter().filter(|c| f(c)).count();
    assert_eq!(count(&|c| matches!(c, Change::Lead(_))), 1);
    assert_eq!(count(&|c| matches!(c, Change::Contact(_))), 1);
    assert_eq!(count(&|c| matches!(c, Change::Conversation(_))), 1);
    assert_eq!(count(&|c| matches!(c, Change::Message(_))), 2);
    assert_eq!(
        count(&|c| matches!(c, Change::Call(x) if x.has_recording)),
        1
    );
    assert!(feed.iter().any(
        |c| matches!(c, Change::Message(m) if m.id == out_id && m.status == MessageStatus::Read)
    ));

    // Visibility: bob (another agent) and eve (another org) get 404 for every kind;
    // the admin of the organisation sees them.
    let bob = client(&url, "bob@acme.test").await;
    let eve = client(&url, "eve@other.test").await;
    let boss = client(&url, "boss@acme.test").await;
    for other in [&bob, &eve] {
        assert_eq!(
            api_status(other.get::<Contact>(contact_id).await.unwrap_err()).0,
            404
        );
        assert_eq!(
            api_status(other.get::<Conversation>(conv_id).await.unwrap_err()).0,
            404
        );
        assert_eq!(
            api_status(other.get::<Message>(msg_id).await.unwrap_err()).0,
            404
        );
        assert_eq!(
            api_status(other.get::<MessageStatusEvent>(read_ev).await.unwrap_err()).0,
            404
        );
        assert_eq!(
            api_status(other.get::<Call>(call_id).await.unwrap_err()).0,
            404
        );
        // Writing onto someone else's lead or record is refused the same way.
        let e = other
            .put::<Contact>(
                contact_id,
                &ContactUpsert {
                    lead_id: lead.id,
                    name: "hijack".into(),
                    phone: None,
                    email: None,
                    wa_id: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(api_status(e).0, 404);
        assert!(all_changes(other, 100).await.is_empty());
    }
    assert_eq!(boss.get::<Call>(call_id).await.unwrap().id, call_id);
    assert_eq!(all_changes(&boss, 100).await.len(), feed.len());
    assert_eq!(
        alice.get::<Contact>(contact_id).await.unwrap().name,
        "Lucía"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn bad_records_are_refused_with_reasons() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let alice = client(&server.url(), "alice@acme.test").await;
    let lead = lead_for(&alice, "Empty Fields").await;
    let e = alice
        .put::<Contact>(
            Uuid::now_v7(),
            &ContactUpsert {
                lead_id: lead.id,
                name: "  ".into(),
                phone: None,
                email: None,
                wa_id: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(api_status(e), (422, "request.invalid".into()));
    // A message in a conversation that does not exist.
    let e = alice
        .put::<Message>(Uuid::now_v7(), &text(Uuid::now_v7(), "hi", None))
        .await
        .unwrap_err();
    assert_eq!(api_status(e).0, 404);
    // A call ending before it was answered.
    let e = alice
        .put::<Call>(
            Uuid::now_v7(),
            &CallUpsert {
                lead_id: lead.id,
                direction: CallDirection::Outbound,
                remote: "echo".into(),
                started_at_ms: 10,
                answered_at_ms: Some(20),
                ended_at_ms: Some(15),
                duration_ms: None,
                end_reason: None,
                disposition: None,
                quality: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(api_status(e), (422, "request.invalid".into()));
    // Raw garbage instead of JSON.
    let r = reqwest::Client::new()
        .put(format!(
            "{}{}",
            server.url(),
            sync_routes::with_id(Call::ROUTE, Uuid::now_v7())
        ))
        .bearer_auth(alice.token().unwrap())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    server.stop().await.unwrap();
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}
