//! Readiness for load balancers: `/api/v1/ready` answers 200 when the database and the
//! object store answer, and 503 `not_ready` naming the object store when it does not
//! (an S3 endpoint nobody listens on), within a few seconds either way.

mod common;

use common::{boot_with, data_dir};
use softphone_proto::{routes, ApiError, Health};
use std::time::{Duration, Instant};

#[tokio::test]
async fn ready_when_the_database_and_the_store_answer() {
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |_| {}).await;
    let r = reqwest::get(format!("{}{}", server.url(), routes::READY))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Health>().await.unwrap().status, "ready");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn not_ready_while_the_object_store_is_unreachable() {
    // This binary's only S3 user: the builder reads these when the server starts.
    for (k, v) in [
        ("AWS_ENDPOINT", "http://127.0.0.1:9"),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ] {
        std::env::set_var(k, v);
    }
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |c| {
        c.storage_url = Some("s3://nowhere/recordings".into())
    })
    .await;
    let t = Instant::now();
    let r = reqwest::get(format!("{}{}", server.url(), routes::READY))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let e: ApiError = r.json().await.unwrap();
    assert_eq!(e.code, "not_ready");
    assert!(e.message.contains("object store"), "{}", e.message);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    // Liveness is another question: the process itself is fine.
    let h = reqwest::get(format!("{}{}", server.url(), routes::HEALTH))
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
    server.stop().await.unwrap();
}
