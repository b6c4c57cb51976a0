//! The organisation's policy for its agents' apps: only an admin sets it, values out of
//! range and unknown keys are refused, and each organisation sees only its own.

mod common;

use common::{boot, client, data_dir, login};
use softphone_proto::{policy_routes, ApiError, OrgPolicy, RecordingPolicy, UpdateChannel};

#[tokio::test]
async fn an_admin_sets_the_policy_of_their_organisation_only() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let boss = client(&url, "boss@acme.test").await;
    let alice = client(&url, "alice@acme.test").await;
    let eve = client(&url, "eve@other.test").await;
    assert_eq!(alice.org_policy().await.unwrap(), OrgPolicy::default());

    let p = OrgPolicy {
        recording: Some(RecordingPolicy::Forced),
        recording_bitrate_kbps: Some(24),
        update_channel: Some(UpdateChannel::Beta),
        ..Default::default()
    };
    assert_eq!(boss.set_org_policy(&p).await.unwrap(), p);
    assert_eq!(alice.org_policy().await.unwrap(), p);
    // Another organisation's admin neither sees nor changes it.
    assert_eq!(eve.org_policy().await.unwrap(), OrgPolicy::default());
    eve.set_org_policy(&OrgPolicy {
        recording: Some(RecordingPolicy::Off),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(alice.org_policy().await.unwrap(), p);

    let e = alice
        .set_org_policy(&OrgPolicy::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "auth.forbidden");
    let e = boss
        .set_org_policy(&OrgPolicy {
            recording_bitrate_kbps: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), "request.invalid", "{e}");
    // A typo is refused, not silently dropped.
    let (auth, _) = login(&url, "boss@acme.test").await;
    let r = reqwest::Client::new()
        .put(format!("{url}{}", policy_routes::ORG_POLICY))
        .header("authorization", auth)
        .json(&serde_json::json!({"recordng": "off"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body: ApiError = r.json().await.unwrap();
    assert!(body.message.contains("recordng"), "{}", body.message);
    assert_eq!(alice.org_policy().await.unwrap(), p, "nothing changed");
    server.stop().await.unwrap();
}
