//! Recording upload and playback through the real client (`softphone-client`) against
//! the real server: an upload cut by a server stop resumes after restart from the
//! acknowledged byte, a wrong sha256 is refused, Range playback, signed-URL expiry, and
//! delete removing the object from disk.

mod common;

use common::{boot, client, data_dir};
use softphone_client::{ClientError, UploadMeta};
use uuid::Uuid;

/// The refusal of a recording with no call record of the uploader's under its id.
fn assert_no_call(e: &ClientError) {
    assert_eq!((e.status(), e.code()), (Some(409), "upload.no_call"), "{e}");
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[tokio::test]
async fn interrupted_upload_resumes_after_restart_then_plays_expires_and_deletes() {
    let (_dir, data) = data_dir();
    let bytes: Vec<u8> = (0..5_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("call.opus");
    std::fs::write(&file, &bytes).unwrap();

    // First attempt: 2 MB arrive, then the server goes away.
    let server = boot(&data, 3600).await;
    let alice = client(&server.url(), "alice@acme.test").await;
    let call_id = common::call_with_lead(&alice).await;
    let meta = UploadMeta {
        call_id,
        sha256: sha(&bytes),
        duration_ms: 120_000,
        channels: 2,
    };
    let (location, offset) = alice
        .upload_create(bytes.len() as u64, &meta)
        .await
        .unwrap();
    assert_eq!(offset, 0);
    let acked = alice
        .upload_patch(&location, 0, bytes[..2_000_000].to_vec())
        .await
        .unwrap();
    assert_eq!(acked, 2_000_000);
    let token = alice.token().unwrap().to_string();
    server.stop().await.unwrap();
    let e = alice
        .upload_recording(&file, &meta, 1 << 20, |_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Network(_)) && e.is_retryable(),
        "{e:?}"
    );

    // The server is back (same data, same token): the upload continues from 2 MB.
    let server = boot(&data, 3600).await;
    let alice = softphone_client::Client::new(&server.url())
        .unwrap()
        .with_token(token);
    let mut progress = Vec::new();
    let info = alice
        .upload_recording(&file, &meta, 1 << 20, |sent, total| {
            progress.push((sent, total))
        })
        .await
        .unwrap();
    assert_eq!(
        progress.first(),
        Some(&(2_000_000 + (1 << 20), 5_000_000)),
        "resumed at the acknowledged byte, not restarted"
    );
    assert_eq!(progress.last(), Some(&(5_000_000, 5_000_000)));
    assert_eq!(info.sha256, sha(&bytes));
    assert_eq!(info.bytes, 5_000_000);
    // Uploading again is a no-op answering the same recording.
    let again = alice
        .upload_recording(&file, &meta, 1 << 20, |_, _| panic!("nothing to send"))
        .await
        .unwrap();
    assert_eq!(again, info);

    // Range playback through a signed URL.
    let (url, _) = alice.recording_url(call_id, 120).await.unwrap();
    let whole = alice.download(&url, None).await.unwrap();
    assert_eq!(sha(&whole), info.sha256);
    let part = alice
        .download(&url, Some((4_999_990, 4_999_999)))
        .await
        .unwrap();
    assert_eq!(part, &bytes[4_999_990..]);

    // A link that has expired is refused.
    let (expired, exp) = alice.recording_url(call_id, 0).await.unwrap();
    while softphone_server::now() <= exp {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let e = alice.download(&expired, None).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e:?}");

    // Delete removes the object from disk.
    let object = data.join("objects").join(&info.object_key);
    assert!(object.is_file(), "{}", object.display());
    alice.delete_recording(call_id).await.unwrap();
    assert!(!object.exists(), "object still on disk");
    let e = alice.recording(call_id).await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_wrong_sha256_is_refused_and_nothing_is_kept() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let alice = client(&server.url(), "alice@acme.test").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("call.opus");
    std::fs::write(&file, vec![1u8; 100_000]).unwrap();
    let call_id = common::call_with_lead(&alice).await;
    let meta = UploadMeta {
        call_id,
        sha256: sha(b"something else"),
        duration_ms: 1000,
        channels: 2,
    };
    let e = alice
        .upload_recording(&file, &meta, 30_000, |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(460), "{e:?}");
    assert_eq!(e.code(), "upload.checksum_mismatch");
    assert!(!e.is_retryable());
    assert_eq!(
        alice.recording(call_id).await.unwrap_err().status(),
        Some(404)
    );
    assert_eq!(std::fs::read_dir(data.join("uploads")).unwrap().count(), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn another_organisation_cannot_attach_a_recording_to_our_call() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let eve = client(&url, "eve@other.test").await;
    let bob = client(&url, "bob@acme.test").await;
    let lead = common::new_lead(&alice, "Ours").await;
    let call_id = common::new_call(&alice, lead).await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("x.opus");
    let forged = b"not alice's call".repeat(1000);
    std::fs::write(&file, &forged).unwrap();
    let meta = UploadMeta {
        call_id,
        sha256: sha(&forged),
        duration_ms: 10_000,
        channels: 2,
    };
    // Another organisation, and a colleague who cannot see the lead, are refused as if
    // the call did not exist: neither has a call record of theirs under this id.
    for stranger in [&eve, &bob] {
        let e = stranger
            .upload_recording(&file, &meta, 1 << 20, |_, _| {})
            .await
            .unwrap_err();
        assert_no_call(&e);
    }
    let call: softphone_proto::Call = alice.get(call_id).await.unwrap();
    assert!(!call.has_recording, "nothing attached");
    // The call's own agent uploads as usual.
    let real = b"alice's recording".repeat(1000);
    std::fs::write(&file, &real).unwrap();
    let meta = UploadMeta {
        sha256: sha(&real),
        ..meta
    };
    alice
        .upload_recording(&file, &meta, 1 << 20, |_, _| {})
        .await
        .unwrap();
    let call: softphone_proto::Call = alice.get(call_id).await.unwrap();
    assert!(call.has_recording);
    server.stop().await.unwrap();
}

/// Issue "Trust" item 10: a call id is the organisation's. Before this fix another
/// organisation's upload under an id whose call record had not reached the server yet
/// was accepted (201), and the rightful agent's upload was then refused (404): the
/// recording could never be stored. Now an upload needs its call record first, and
/// uploads and recordings are keyed by (organisation, call id).
#[tokio::test]
async fn another_organisation_cannot_claim_a_call_id_before_its_call_is_pushed() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let alice = client(&url, "alice@acme.test").await;
    let eve = client(&url, "eve@other.test").await;
    let bob = client(&url, "bob@acme.test").await;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("x.opus");
    // The id alice's app chose offline; its call record is still in her outbox.
    let call_id = Uuid::now_v7();
    let forged = b"eve's claim".repeat(1000);
    std::fs::write(&file, &forged).unwrap();
    let claim = UploadMeta {
        call_id,
        sha256: sha(&forged),
        duration_ms: 1000,
        channels: 2,
    };
    let e = eve
        .upload_create(forged.len() as u64, &claim)
        .await
        .unwrap_err();
    assert_no_call(&e);
    // Alice's outbox arrives in order: the call record, then its recording.
    let lead = common::new_lead(&alice, "Prospect").await;
    assert_eq!(common::new_call_as(&alice, lead, call_id).await, call_id);
    let real = b"alice's recording".repeat(1000);
    std::fs::write(&file, &real).unwrap();
    let meta = UploadMeta {
        call_id,
        sha256: sha(&real),
        duration_ms: 1000,
        channels: 2,
    };
    alice
        .upload_recording(&file, &meta, 1 << 20, |_, _| {})
        .await
        .unwrap();
    let call: softphone_proto::Call = alice.get(call_id).await.unwrap();
    assert!(call.has_recording);
    let (media, _) = alice.recording_url(call_id, 60).await.unwrap();
    assert_eq!(alice.download(&media, None).await.unwrap(), real);
    // The other organisation still learns nothing about it.
    assert_eq!(
        eve.recording(call_id).await.unwrap_err().status(),
        Some(404)
    );

    // A colleague who now holds the lead may not attach a recording to a call of
    // alice's on it: only the call's agent (or an admin) uploads its recording.
    let second = common::new_call(&alice, lead).await;
    let boss = client(&url, "boss@acme.test").await;
    let mut handed = boss.get::<softphone_proto::Lead>(lead).await.unwrap();
    handed.assigned_user_id = Some(bob.me().await.unwrap().id);
    boss.put::<softphone_proto::Lead>(
        lead,
        &softphone_proto::LeadUpsert {
            name: handed.name,
            phone: handed.phone,
            email: handed.email,
            company: handed.company,
            assigned_user_id: handed.assigned_user_id,
        },
    )
    .await
    .unwrap();
    let e = bob
        .upload_recording(
            &file,
            &UploadMeta {
                call_id: second,
                ..meta
            },
            1 << 20,
            |_, _| {},
        )
        .await
        .unwrap_err();
    assert_no_call(&e);
    server.stop().await.unwrap();
}
