//! Recording upload and playback against the real server on 127.0.0.1:0: resumable
//! upload across a dropped connection and a server restart, sha256 verification, signed
//! URLs with Range and expiry, delete that removes the object, and access rules.

use base64::Engine;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
mod common;
use common::{boot, data_dir};
use softphone_proto::{recording_routes as rec, ApiError, RecordingInfo, SignedUrl};
use std::io::Write;
use uuid::Uuid;

fn meta(call_id: Uuid, sha: &str) -> String {
    let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "call_id {},sha256 {},duration_ms {},channels {}",
        b(&call_id.to_string()),
        b(sha),
        b("61000"),
        b("2")
    )
}

async fn create(
    url: &str,
    auth: &str,
    call_id: Uuid,
    bytes: &[u8],
    sha: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}{}", rec::UPLOADS))
        .header("Authorization", auth)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", bytes.len().to_string())
        .header("Upload-Metadata", meta(call_id, sha))
        .send()
        .await
        .unwrap()
}

async fn head_offset(url: &str, auth: &str, location: &str) -> u64 {
    let r = reqwest::Client::new()
        .head(format!("{url}{location}"))
        .header("Authorization", auth)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn patch(
    url: &str,
    auth: &str,
    location: &str,
    offset: u64,
    chunk: &[u8],
) -> reqwest::Response {
    reqwest::Client::new()
        .patch(format!("{url}{location}"))
        .header("Authorization", auth)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(chunk.to_vec())
        .send()
        .await
        .unwrap()
}

fn recording_bytes() -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

#[tokio::test]
async fn upload_survives_a_dropped_connection_and_a_restart_then_plays_with_range() {
    let (_dir, data) = data_dir();
    let bytes = recording_bytes();
    let sha = hex::encode(Sha256::digest(&bytes));
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = common::login(&url, "alice@acme.test").await.0;
    let call_id = common::call_with_lead(&common::client(&url, "alice@acme.test").await).await;

    let r = create(&url, &alice, call_id, &bytes, &sha).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    // A retried create (lost response) returns the same upload.
    let again = create(&url, &alice, call_id, &bytes, &sha).await;
    assert_eq!(again.headers()["location"].to_str().unwrap(), location);

    assert_eq!(
        patch(&url, &alice, &location, 0, &bytes[..100_000])
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // Wrong offset: 409, nothing written.
    assert_eq!(
        patch(&url, &alice, &location, 5, &bytes[5..10])
            .await
            .status(),
        StatusCode::CONFLICT
    );

    // A PATCH whose connection drops after 50 000 of 100 000 bytes: what arrived is kept.
    {
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        let head = format!(
            "PATCH {location} HTTP/1.1\r\nHost: x\r\nAuthorization: {alice}\r\nTus-Resumable: 1.0.0\r\n\
             Upload-Offset: 100000\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 100000\r\n\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&bytes[100_000..150_000]).unwrap();
        s.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let mut offset = 0;
    for _ in 0..50 {
        offset = head_offset(&url, &alice, &location).await;
        if offset > 100_000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(offset, 150_000, "bytes received before the drop are kept");

    // The server restarts; the client asks where to resume and finishes.
    server.stop().await.unwrap();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = common::login(&url, "alice@acme.test").await.0;
    let offset = head_offset(&url, &alice, &location).await;
    assert_eq!(offset, 150_000);
    let r = patch(&url, &alice, &location, offset, &bytes[offset as usize..]).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        r.headers()["upload-offset"].to_str().unwrap(),
        bytes.len().to_string()
    );

    let http = reqwest::Client::new();
    let info: RecordingInfo = http
        .get(format!(
            "{url}{}",
            rec::RECORDING.replace("{call_id}", &call_id.to_string())
        ))
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info.sha256, sha);
    assert_eq!(info.bytes, bytes.len() as u64);
    assert!(
        info.object_key.starts_with("recordings/")
            && info.object_key.ends_with(&format!("/{call_id}.opus"))
    );
    let stored = data.join("objects").join(&info.object_key);
    assert_eq!(
        std::fs::read(&stored).unwrap(),
        bytes,
        "stored object is byte-identical"
    );

    let signed: SignedUrl = http
        .post(format!(
            "{url}{}",
            rec::RECORDING_URL.replace("{call_id}", &call_id.to_string())
        ))
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let full = http
        .get(format!("{url}{}", signed.url))
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.bytes().await.unwrap().as_ref(), &bytes[..]);
    let part = http
        .get(format!("{url}{}", signed.url))
        .header("Range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 1000-1999/{}", bytes.len())
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[1000..2000]);
    let tail = http
        .get(format!("{url}{}", signed.url))
        .header("Range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tail.bytes().await.unwrap().as_ref(),
        &bytes[bytes.len() - 10..]
    );
    let bad = http
        .get(format!("{url}{}", signed.url))
        .header("Range", "bytes=999999-")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let tampered = signed.url.replace("sig=", "sig=00");
    assert_eq!(
        http.get(format!("{url}{tampered}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );

    // Delete really deletes.
    let del = http
        .delete(format!(
            "{url}{}",
            rec::RECORDING.replace("{call_id}", &call_id.to_string())
        ))
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    assert!(!stored.exists(), "object removed from storage");
    assert_eq!(
        http.get(format!("{url}{}", signed.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn checksum_mismatch_is_rejected_and_nothing_is_stored() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = common::login(&url, "alice@acme.test").await.0;
    let bytes = recording_bytes();
    let wrong = hex::encode(Sha256::digest(b"something else"));
    let call_id = common::call_with_lead(&common::client(&url, "alice@acme.test").await).await;
    let r = create(&url, &alice, call_id, &bytes, &wrong).await;
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let r = patch(&url, &alice, &location, 0, &bytes).await;
    assert_eq!(r.status().as_u16(), 460);
    assert_eq!(
        r.json::<ApiError>().await.unwrap().code,
        "upload.checksum_mismatch"
    );
    let info = reqwest::Client::new()
        .get(format!(
            "{url}{}",
            rec::RECORDING.replace("{call_id}", &call_id.to_string())
        ))
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::NOT_FOUND);
    assert_eq!(std::fs::read_dir(data.join("objects")).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(data.join("uploads")).unwrap().count(),
        0,
        "staging cleaned up"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn expired_links_and_other_users_are_refused() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = common::login(&url, "alice@acme.test").await.0;
    let bob = common::login(&url, "bob@acme.test").await.0;
    let eve = common::login(&url, "eve@other.test").await.0;
    let bytes = recording_bytes();
    let sha = hex::encode(Sha256::digest(&bytes));
    let call_id = common::call_with_lead(&common::client(&url, "alice@acme.test").await).await;
    let location = create(&url, &alice, call_id, &bytes, &sha).await.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    for auth in [&bob, &eve] {
        assert_eq!(
            patch(&url, auth, &location, 0, &bytes).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        patch(&url, &alice, &location, 0, &bytes).await.status(),
        StatusCode::NO_CONTENT
    );
    let http = reqwest::Client::new();
    let rec_url = format!(
        "{url}{}",
        rec::RECORDING.replace("{call_id}", &call_id.to_string())
    );
    for auth in [&bob, &eve] {
        assert_eq!(
            http.get(&rec_url)
                .header("Authorization", auth)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            http.delete(&rec_url)
                .header("Authorization", auth)
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        http.get(&rec_url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let signed: SignedUrl = http
        .post(format!(
            "{url}{}?ttl_secs=0",
            rec::RECORDING_URL.replace("{call_id}", &call_id.to_string())
        ))
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .get(format!("{url}{}", signed.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<ApiError>().await.unwrap().code, "media.expired");
    // Upload size limits and protocol checks.
    let too_big = http
        .post(format!("{url}{}", rec::UPLOADS))
        .header("Authorization", &alice)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", (600u64 << 20).to_string())
        .header("Upload-Metadata", meta(Uuid::now_v7(), &sha))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let no_tus = http
        .post(format!("{url}{}", rec::UPLOADS))
        .header("Authorization", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(no_tus.status(), StatusCode::PRECONDITION_FAILED);
    server.stop().await.unwrap();
}
