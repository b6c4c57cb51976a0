//! The authorization matrix: every authenticated route tried with no token, a bad
//! token, another organisation's token and another agent's token, against records that
//! belong to alice. All refused, no body mentions alice's data, nothing changed.

mod common;

use common::{boot, client, data_dir, login};
use reqwest::Method;
use softphone_client::UploadMeta;
use softphone_proto::*;
use uuid::Uuid;

struct Owned {
    lead: Uuid,
    note: Uuid,
    contact: Uuid,
    conversation: Uuid,
    message: Uuid,
    status_event: Uuid,
    call: Uuid,
    upload_location: String,
    secret_words: Vec<String>,
}

async fn alice_owns(url: &str) -> Owned {
    let alice = client(url, "alice@acme.test").await;
    let lead = Uuid::now_v7();
    alice
        .put::<Lead>(
            lead,
            &LeadUpsert {
                name: "Zebediah Quartermaine".into(),
                phone: Some("+441632960961".into()),
                email: None,
                company: Some("Quartermaine Holdings".into()),
                assigned_user_id: None,
            },
        )
        .await
        .unwrap();
    let note = Uuid::now_v7();
    alice
        .put::<Note>(
            note,
            &NoteUpsert {
                lead_id: lead,
                call_id: None,
                body: "Budget approved xylophone".into(),
                deleted: false,
            },
        )
        .await
        .unwrap();
    let contact = Uuid::now_v7();
    alice
        .put::<Contact>(contact, &contact_body(lead))
        .await
        .unwrap();
    let conversation = Uuid::now_v7();
    alice
        .put::<Conversation>(conversation, &conversation_body(lead))
        .await
        .unwrap();
    let message = Uuid::now_v7();
    alice
        .put::<Message>(message, &message_body(conversation))
        .await
        .unwrap();
    let status_event = Uuid::now_v7();
    alice
        .put::<MessageStatusEvent>(status_event, &status_body(message))
        .await
        .unwrap();
    let call = Uuid::now_v7();
    alice.put::<Call>(call, &call_body(lead)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.opus");
    std::fs::write(&file, b"OggS quartermaine recording").unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"OggS quartermaine recording"))
    };
    let meta = UploadMeta {
        call_id: call,
        sha256: sha,
        duration_ms: 1000,
        channels: 2,
    };
    alice
        .upload_recording(&file, &meta, 1024, |_, _| {})
        .await
        .unwrap();
    let (upload_location, _) = alice.upload_create(27, &meta).await.unwrap();
    let me = alice.me().await.unwrap();
    Owned {
        lead,
        note,
        contact,
        conversation,
        message,
        status_event,
        call,
        upload_location,
        secret_words: vec![
            "Quartermaine".into(),
            "xylophone".into(),
            "+441632960961".into(),
            lead.to_string(),
            me.id.to_string(),
        ],
    }
}

fn contact_body(lead_id: Uuid) -> ContactUpsert {
    ContactUpsert {
        lead_id,
        name: "Zeb".into(),
        phone: None,
        email: None,
        wa_id: None,
    }
}

fn conversation_body(lead_id: Uuid) -> ConversationUpsert {
    ConversationUpsert {
        lead_id,
        contact_id: None,
        channel: Channel::Whatsapp,
        external_id: None,
        status: ConversationStatus::Open,
        unread_count: 0,
        assigned_user_id: None,
    }
}

fn message_body(conversation_id: Uuid) -> MessageUpsert {
    MessageUpsert {
        conversation_id,
        direction: Direction::Outbound,
        kind: "text".into(),
        body: Some("hello".into()),
        status: MessageStatus::Sent,
        media_url: None,
        media_mime_type: None,
        provider_message_id: None,
        payload: None,
        call_id: None,
        sent_at: None,
    }
}

fn status_body(message_id: Uuid) -> MessageStatusEventUpsert {
    MessageStatusEventUpsert {
        message_id,
        status: MessageStatus::Read,
        at: 1,
        error: None,
    }
}

fn call_body(lead_id: Uuid) -> CallUpsert {
    CallUpsert {
        lead_id,
        direction: CallDirection::Outbound,
        remote: "echo".into(),
        started_at_ms: 1,
        answered_at_ms: None,
        ended_at_ms: None,
        duration_ms: None,
        end_reason: None,
        disposition: None,
        quality: None,
    }
}

struct Attempt {
    method: Method,
    path: String,
    body: Option<serde_json::Value>,
    headers: Vec<(&'static str, String)>,
    /// True when the route acts on alice's record (others get 404, not their own data).
    owned: bool,
}

fn attempts(o: &Owned) -> Vec<Attempt> {
    let id = |route: &str, id: Uuid| sync_routes::with_id(route, id);
    let call = |route: &str| route.replace("{call_id}", &o.call.to_string());
    let json = |v: serde_json::Value| Some(v);
    let tus = vec![("tus-resumable", "1.0.0".to_string())];
    let a = |method: Method, path: String, body: Option<serde_json::Value>, owned: bool| Attempt {
        method,
        path,
        body,
        headers: vec![],
        owned,
    };
    vec![
        a(Method::GET, routes::ME.into(), None, false),
        a(Method::GET, sync_routes::CHANGES.into(), None, false),
        a(Method::GET, id(Lead::ROUTE, o.lead), None, true),
        a(
            Method::PUT,
            id(Lead::ROUTE, o.lead),
            json(
                serde_json::json!({"name": "stolen", "phone": null, "email": null, "company": null, "assigned_user_id": null}),
            ),
            true,
        ),
        a(Method::GET, id(Note::ROUTE, o.note), None, true),
        a(
            Method::PUT,
            id(Note::ROUTE, o.note),
            json(
                serde_json::to_value(NoteUpsert {
                    lead_id: o.lead,
                    call_id: None,
                    body: "x".into(),
                    deleted: true,
                })
                .unwrap(),
            ),
            true,
        ),
        a(Method::GET, id(Contact::ROUTE, o.contact), None, true),
        a(
            Method::PUT,
            id(Contact::ROUTE, o.contact),
            json(serde_json::to_value(contact_body(o.lead)).unwrap()),
            true,
        ),
        a(
            Method::GET,
            id(Conversation::ROUTE, o.conversation),
            None,
            true,
        ),
        a(
            Method::PUT,
            id(Conversation::ROUTE, o.conversation),
            json(serde_json::to_value(conversation_body(o.lead)).unwrap()),
            true,
        ),
        a(Method::GET, id(Message::ROUTE, o.message), None, true),
        a(
            Method::PUT,
            id(Message::ROUTE, Uuid::now_v7()),
            json(serde_json::to_value(message_body(o.conversation)).unwrap()),
            true,
        ),
        a(
            Method::GET,
            id(MessageStatusEvent::ROUTE, o.status_event),
            None,
            true,
        ),
        a(
            Method::PUT,
            id(MessageStatusEvent::ROUTE, Uuid::now_v7()),
            json(serde_json::to_value(status_body(o.message)).unwrap()),
            true,
        ),
        a(Method::GET, id(Call::ROUTE, o.call), None, true),
        a(
            Method::PUT,
            id(Call::ROUTE, o.call),
            json(serde_json::to_value(call_body(o.lead)).unwrap()),
            true,
        ),
        a(Method::GET, call(recording_routes::RECORDING), None, true),
        a(
            Method::DELETE,
            call(recording_routes::RECORDING),
            None,
            true,
        ),
        a(
            Method::POST,
            call(recording_routes::RECORDING_URL),
            None,
            true,
        ),
        Attempt {
            method: Method::HEAD,
            path: o.upload_location.clone(),
            body: None,
            headers: tus.clone(),
            owned: true,
        },
        Attempt {
            method: Method::PATCH,
            path: o.upload_location.clone(),
            body: None,
            headers: [
                tus.clone(),
                vec![
                    ("upload-offset", "27".into()),
                    ("content-type", "application/offset+octet-stream".into()),
                ],
            ]
            .concat(),
            owned: true,
        },
        Attempt {
            method: Method::POST,
            path: recording_routes::UPLOADS.into(),
            body: None,
            headers: [
                tus,
                vec![
                    ("upload-length", "27".into()),
                    (
                        "upload-metadata",
                        // call_id = alice's call: another user cannot attach to it.
                        format!(
                            "call_id {},sha256 {}",
                            b64(&o.call.to_string()),
                            b64(&"0".repeat(64))
                        ),
                    ),
                ],
            ]
            .concat(),
            owned: true,
        },
        a(Method::POST, routes::LOGOUT.into(), None, false),
    ]
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn every_route_refuses_strangers_and_leaks_nothing() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let owned = alice_owns(&url).await;
    let alice = client(&url, "alice@acme.test").await;
    let before = alice.changes(0, 1000).await.unwrap();

    let http = reqwest::Client::new();
    let (bob, _) = login(&url, "bob@acme.test").await;
    let (eve, _) = login(&url, "eve@other.test").await;
    let callers: [(&str, Option<String>); 4] = [
        ("no token", None),
        ("bad token", Some("Bearer 0123456789abcdef".into())),
        ("eve (other org)", Some(eve)),
        ("bob (other agent)", Some(bob)),
    ];
    let mut tried = 0;
    for (who, auth) in &callers {
        for at in attempts(&owned) {
            if at.method == Method::POST && at.path == routes::LOGOUT && auth.is_some() {
                continue; // a valid logout revokes the caller's own token; tried last
            }
            let mut rb = http.request(at.method.clone(), format!("{url}{}", at.path));
            if let Some(a) = auth {
                rb = rb.header("authorization", a);
            }
            for (k, v) in &at.headers {
                rb = rb.header(*k, v);
            }
            if let Some(b) = &at.body {
                rb = rb.json(b);
            }
            let resp = rb.send().await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            let label = format!("{who}: {} {}", at.method, at.path);
            match auth {
                None => assert_eq!(status, 401, "{label}: {body}"),
                Some(a) if a.contains("0123456789abcdef") => {
                    assert_eq!(status, 401, "{label}: {body}")
                }
                // An upload under someone else's call id finds no call of the
                // uploader's: 409 `upload.no_call`, the same as for an unknown id.
                Some(_) if at.owned => assert!(
                    status == 404
                        || status == 403
                        || (status == 409 && body.contains("upload.no_call")),
                    "{label} answered {status}: {body}"
                ),
                Some(_) => assert!(status < 300, "{label} on their own data: {status}"),
            }
            for w in &owned.secret_words {
                assert!(!body.contains(w.as_str()), "{label} leaked {w}: {body}");
            }
            tried += 1;
        }
    }
    assert!(tried >= 80, "{tried} attempts");

    // Nothing changed for alice: same feed, same recording.
    let after = alice.changes(0, 1000).await.unwrap();
    assert_eq!(before, after);
    assert_eq!(
        alice.recording(owned.call).await.unwrap().call_id,
        owned.call
    );
    server.stop().await.unwrap();
}
