//! Bad input over real HTTP: malformed JSON, unknown fields, oversized bodies, wrong
//! content types, invalid UUIDs and query values. Each answers a clear 4xx with a
//! stable code, and nothing is stored.

mod common;

use common::{boot, data_dir, login};
use softphone_proto::{sync_routes, ApiError, Contact, Lead, Resource};
use uuid::Uuid;

/// (method, path, content type, body, expected status, expected code).
type Case = (
    &'static str,
    String,
    Option<&'static str>,
    String,
    u16,
    &'static str,
);

#[tokio::test]
async fn bad_requests_get_stable_codes_and_store_nothing() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let (bearer, _) = login(&url, "alice@acme.test").await;
    let http = reqwest::Client::new();
    let lead_path = sync_routes::with_id(Lead::ROUTE, Uuid::now_v7());
    let good_lead =
        r#"{"name":"Ok","phone":null,"email":null,"company":null,"assigned_user_id":null}"#;
    let huge = format!(
        r#"{{"name":"{}","phone":null,"email":null,"company":null,"assigned_user_id":null}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let json = Some("application/json");
    let cases: Vec<Case> = vec![
        (
            "PUT",
            lead_path.clone(),
            json,
            "{\"name\": ".into(),
            400,
            "request.malformed_json",
        ),
        (
            "PUT",
            lead_path.clone(),
            json,
            "[1,2,3]".into(),
            422,
            "request.invalid",
        ),
        (
            "PUT",
            lead_path.clone(),
            json,
            r#"{"name": 42}"#.into(),
            422,
            "request.invalid",
        ),
        (
            "PUT",
            lead_path.clone(),
            json,
            good_lead.replace("\"name\"", "\"nickname\":\"z\",\"name\""),
            422,
            "request.unknown_field",
        ),
        (
            "PUT",
            lead_path.clone(),
            None,
            good_lead.into(),
            415,
            "request.content_type",
        ),
        (
            "PUT",
            lead_path.clone(),
            Some("text/plain"),
            good_lead.into(),
            415,
            "request.content_type",
        ),
        (
            "PUT",
            lead_path.clone(),
            json,
            huge,
            413,
            "request.too_large",
        ),
        (
            "PUT",
            "/api/v1/leads/not-a-uuid".into(),
            json,
            good_lead.into(),
            400,
            "request.invalid_id",
        ),
        (
            "GET",
            "/api/v1/contacts/123".into(),
            None,
            String::new(),
            400,
            "request.invalid_id",
        ),
        (
            "GET",
            "/api/v1/changes?since=yesterday".into(),
            None,
            String::new(),
            400,
            "request.invalid_query",
        ),
        (
            "GET",
            "/api/v1/changes?limit=0".into(),
            None,
            String::new(),
            422,
            "request.invalid",
        ),
        (
            "PUT",
            sync_routes::with_id(Contact::ROUTE, Uuid::now_v7()),
            json,
            format!(
                r#"{{"lead_id":"{}","name":"x","phone":null,"email":null,"wa_id":null}}"#,
                Uuid::now_v7()
            ),
            404,
            "not_found",
        ),
        (
            "POST",
            "/api/v1/recordings/not-a-uuid/url".into(),
            None,
            String::new(),
            400,
            "request.invalid_id",
        ),
    ];
    for (method, path, ctype, body, status, code) in cases {
        let mut rb = http
            .request(method.parse().unwrap(), format!("{url}{path}"))
            .header("authorization", &bearer)
            .body(body.clone());
        if let Some(c) = ctype {
            rb = rb.header("content-type", c);
        }
        let resp = rb.send().await.unwrap();
        let got = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let label = format!("{method} {path} ({} bytes, {ctype:?})", body.len());
        assert_eq!(got, status, "{label}: {text}");
        let err: ApiError = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{label}: not an ApiError ({e}): {text}"));
        assert_eq!(err.code, code, "{label}");
        assert!(!err.message.is_empty());
    }
    let feed = http
        .get(format!("{url}{}", sync_routes::CHANGES))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json::<softphone_proto::ChangesPage>()
        .await
        .unwrap();
    assert!(
        feed.changes.is_empty(),
        "nothing stored: {:?}",
        feed.changes
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_row_that_cannot_be_read_fails_its_own_request_and_no_other() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = common::client(&url, "alice@acme.test").await;
    let upsert = |name: &str| softphone_proto::LeadUpsert {
        name: name.into(),
        phone: None,
        email: None,
        company: None,
        assigned_user_id: None,
    };
    let (bad, good) = (Uuid::now_v7(), Uuid::now_v7());
    alice.put::<Lead>(bad, &upsert("Damaged")).await.unwrap();
    alice.put::<Lead>(good, &upsert("Intact")).await.unwrap();
    // Damage one row behind the server's back (a bad restore, a manual edit).
    let conn = softphone_server::db::open(&data).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = OFF;
         UPDATE leads SET assigned_user_id = 'not-a-uuid' WHERE id = '{bad}';"
    ))
    .unwrap();
    drop(conn);
    let e = alice.get::<Lead>(bad).await.unwrap_err();
    assert_eq!(e.status(), Some(500), "{e}");
    assert_eq!(e.code(), "internal");
    // Everything else goes on: the same agent, the same table, another account.
    for _ in 0..3 {
        assert_eq!(alice.get::<Lead>(good).await.unwrap().name, "Intact");
        alice.me().await.unwrap();
    }
    let bob = common::client(&url, "bob@acme.test").await;
    bob.me().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test]
async fn texts_over_64_kib_answer_413_and_are_not_stored() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let alice = common::client(&server.url(), "alice@acme.test").await;
    let lead = common::new_lead(&alice, "Talkative").await;
    let note = |body: String| softphone_proto::NoteUpsert {
        lead_id: lead,
        call_id: None,
        body,
        deleted: false,
    };
    let max = softphone_proto::MAX_TEXT_BYTES;
    let big = Uuid::now_v7();
    let e = alice
        .put::<softphone_proto::Note>(big, &note("é".repeat(max / 2 + 1)))
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(413), "body.too_large"), "{e}");
    assert!(
        !e.is_retryable(),
        "the outbox parks it instead of retrying for ever"
    );
    let e = alice.get::<softphone_proto::Note>(big).await.unwrap_err();
    assert_eq!(e.status(), Some(404), "nothing stored");
    alice
        .put::<softphone_proto::Note>(Uuid::now_v7(), &note("x".repeat(max)))
        .await
        .expect("exactly the limit is fine");

    let conv = Uuid::now_v7();
    alice
        .put::<softphone_proto::Conversation>(
            conv,
            &softphone_proto::ConversationUpsert {
                lead_id: lead,
                contact_id: None,
                channel: softphone_proto::Channel::Whatsapp,
                external_id: None,
                status: softphone_proto::ConversationStatus::Open,
                unread_count: 0,
                assigned_user_id: None,
            },
        )
        .await
        .unwrap();
    let msg = |body: String| softphone_proto::MessageUpsert {
        conversation_id: conv,
        direction: softphone_proto::Direction::Outbound,
        kind: "text".into(),
        body: Some(body),
        status: softphone_proto::MessageStatus::Sent,
        media_url: None,
        media_mime_type: None,
        provider_message_id: None,
        payload: None,
        call_id: None,
        sent_at: None,
    };
    let e = alice
        .put::<softphone_proto::Message>(Uuid::now_v7(), &msg("y".repeat(max + 1)))
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(413), "body.too_large"), "{e}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn feed_pages_are_bounded_in_bytes_and_uploads_by_a_quota() {
    let (_dir, data) = data_dir();
    let server = common::boot_with(&data, |c| c.upload_max_in_flight = 3).await;
    let alice = common::client(&server.url(), "alice@acme.test").await;
    let lead = common::new_lead(&alice, "Verbose").await;
    // 100 notes of 60 KiB: about 6 MB of feed.
    for i in 0..100 {
        alice
            .put::<softphone_proto::Note>(
                Uuid::now_v7(),
                &softphone_proto::NoteUpsert {
                    lead_id: lead,
                    call_id: None,
                    body: format!("{i:03}{}", "x".repeat(60 * 1024)),
                    deleted: false,
                },
            )
            .await
            .unwrap();
    }
    let (mut since, mut pages, mut notes) = (0, 0, 0);
    loop {
        let p = alice.changes(since, 1000).await.unwrap();
        let size = serde_json::to_vec(&p).unwrap().len();
        assert!(
            size <= softphone_server::sync::MAX_PAGE_BYTES + 128 * 1024,
            "page of {size} bytes"
        );
        pages += 1;
        notes += p
            .changes
            .iter()
            .filter(|c| matches!(c, softphone_proto::Change::Note(_)))
            .count();
        since = p.next;
        if !p.more {
            break;
        }
    }
    assert!(pages >= 2, "{pages} pages");
    assert_eq!(notes, 100, "every note arrives, once");

    // Unfinished uploads: three at once, the fourth waits.
    let lead = common::new_lead(&alice, "Quota").await;
    for i in 0..4 {
        let meta = softphone_client::UploadMeta {
            call_id: common::new_call(&alice, lead).await,
            sha256: "0".repeat(64),
            duration_ms: 1000,
            channels: 2,
        };
        let r = alice.upload_create(1000, &meta).await;
        if i < 3 {
            r.unwrap();
        } else {
            let e = r.unwrap_err();
            assert_eq!((e.status(), e.code()), (Some(429), "upload.quota"), "{e}");
        }
    }
    server.stop().await.unwrap();
}
