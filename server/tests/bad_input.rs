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
