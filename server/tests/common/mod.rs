//! Shared fixtures for the server tests: one cast of accounts, a real server on
//! 127.0.0.1:0 over a temporary data folder, and login.
#![allow(dead_code)]

use softphone_proto::{routes, LoginRequest, LoginResponse, Role};
use softphone_server::{add_user, db, start, Config, Running};
use std::path::{Path, PathBuf};

/// (org, e-mail, name, role, password) of every test account.
pub const CAST: [(&str, &str, &str, Role, &str); 4] = [
    (
        "Acme",
        "alice@acme.test",
        "Alice",
        Role::Agent,
        "alice-password",
    ),
    ("Acme", "bob@acme.test", "Bob", Role::Agent, "bob-password"),
    (
        "Acme",
        "boss@acme.test",
        "Boss",
        Role::Admin,
        "boss-password",
    ),
    (
        "Other",
        "eve@other.test",
        "Eve",
        Role::Admin,
        "eve-password",
    ),
];

/// A temporary data folder holding a migrated database with [`CAST`].
pub fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let conn = db::open(&data).unwrap();
    for (org, email, name, role, pw) in CAST {
        add_user(&conn, org, email, name, role, pw).unwrap();
    }
    (dir, data)
}

/// Starts the server on port 0 over `data` with a session lifetime of `ttl` seconds.
pub async fn boot(data: &Path, ttl: i64) -> Running {
    boot_with(data, |cfg| cfg.token_ttl_secs = ttl).await
}

/// Starts the server on port 0 over `data` with settings changed by `f`.
pub async fn boot_with(data: &Path, f: impl FnOnce(&mut Config)) -> Running {
    let mut cfg = Config::new(data.to_path_buf());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    f(&mut cfg);
    start(&cfg).await.unwrap()
}

/// Logs in as a [`CAST`] member by e-mail; returns (`Bearer …` header value, response).
pub async fn login(url: &str, email: &str) -> (String, LoginResponse) {
    let pw = CAST.iter().find(|c| c.1 == email).expect("cast member").4;
    let r: LoginResponse = reqwest::Client::new()
        .post(format!("{url}{}", routes::LOGIN))
        .json(&LoginRequest {
            email: email.into(),
            password: pw.into(),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (format!("Bearer {}", r.token), r)
}

/// A `softphone-client` logged in as a [`CAST`] member.
pub async fn client(url: &str, email: &str) -> softphone_client::Client {
    let pw = CAST.iter().find(|c| c.1 == email).expect("cast member").4;
    let mut c = softphone_client::Client::new(url).unwrap();
    c.login(email, pw).await.unwrap();
    c
}

/// Creates a lead named `name`, unassigned, through `client`; its id.
pub async fn new_lead(client: &softphone_client::Client, name: &str) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    client
        .put::<softphone_proto::Lead>(
            id,
            &softphone_proto::LeadUpsert {
                name: name.into(),
                phone: None,
                email: None,
                company: None,
                assigned_user_id: None,
            },
        )
        .await
        .unwrap();
    id
}

/// Creates a call record on lead `lead` through `client`: the call a recording is
/// uploaded under (the server refuses a recording with no call record, 409
/// `upload.no_call`). Its id.
pub async fn new_call(client: &softphone_client::Client, lead: uuid::Uuid) -> uuid::Uuid {
    new_call_as(client, lead, uuid::Uuid::now_v7()).await
}

/// [`new_call`] under a chosen id (the one a client picked offline); its id.
pub async fn new_call_as(
    client: &softphone_client::Client,
    lead: uuid::Uuid,
    id: uuid::Uuid,
) -> uuid::Uuid {
    client
        .put::<softphone_proto::Call>(
            id,
            &softphone_proto::CallUpsert {
                lead_id: lead,
                direction: softphone_proto::CallDirection::Outbound,
                remote: "+15550100".into(),
                started_at_ms: 1_700_000_000_000,
                answered_at_ms: Some(1_700_000_001_000),
                ended_at_ms: Some(1_700_000_031_000),
                duration_ms: Some(30_000),
                end_reason: Some("local_hangup".into()),
                disposition: None,
                quality: None,
            },
        )
        .await
        .unwrap();
    id
}

/// A new lead and a call record on it through `client`; the call's id.
pub async fn call_with_lead(client: &softphone_client::Client) -> uuid::Uuid {
    let lead = new_lead(client, "Recorded prospect").await;
    new_call(client, lead).await
}
