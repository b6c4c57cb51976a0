//! App updates against the real server, with keys and signatures from the real
//! `tauri signer`: an admin's signed release is offered to the organisation's agents
//! above their version only, and a release with a wrong key, a changed file, no
//! signature or a signature for another version is refused with its reason and leaves
//! nothing behind.

mod common;

use common::{boot_with, data_dir, login};
use softphone_proto::{update_routes, ApiError, ReleaseInfo, UpdateManifest};
use softphone_testkit::updates::Signer;
use std::path::Path;

const TARGET: &str = "linux-x86_64-deb";

struct Upload<'a> {
    channel: &'a str,
    target: &'a str,
    version: &'a str,
    body: Vec<u8>,
    signature: Option<String>,
}

async fn upload(url: &str, auth: &str, u: Upload<'_>) -> reqwest::Response {
    let path = update_routes::RELEASE
        .replace("{channel}", u.channel)
        .replace("{target}", u.target)
        .replace("{version}", u.version);
    let mut req = reqwest::Client::new()
        .put(format!("{url}{path}"))
        .query(&[
            (
                "file_name",
                format!("Agent Softphone_{}_amd64.deb", u.version),
            ),
            ("notes", format!("Release {}", u.version)),
        ])
        .header("authorization", auth)
        .body(u.body);
    if let Some(s) = u.signature {
        req = req.header("update-signature", s);
    }
    req.send().await.unwrap()
}

async fn refused(r: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(r.status().as_u16(), status);
    let e: ApiError = r.json().await.unwrap();
    assert_eq!(e.code, code, "{}", e.message);
    e.message
}

async fn check(url: &str, auth: &str, current: &str, channel: &str) -> Option<UpdateManifest> {
    let path = update_routes::CHECK
        .replace("{target}", TARGET)
        .replace("{current_version}", current);
    let r = reqwest::Client::new()
        .get(format!("{url}{path}?channel={channel}"))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        204 => None,
        200 => Some(r.json().await.unwrap()),
        s => panic!("check answered {s}: {}", r.text().await.unwrap()),
    }
}

/// An artifact of `len` bytes for `version`, written in `dir` and signed there.
fn artifact(dir: &Path, signer: &Signer, version: &str, len: usize) -> (Vec<u8>, String) {
    let body: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect();
    let file = dir.join(format!("app_{version}.deb"));
    std::fs::write(&file, &body).unwrap();
    let sig = signer.sign(&file, version).unwrap();
    (body, sig)
}

#[tokio::test]
async fn signed_releases_are_offered_upwards_and_bad_ones_are_refused() {
    let keys = tempfile::tempdir().unwrap();
    let signer = Signer::generate(keys.path()).unwrap();
    let other_dir = keys.path().join("other");
    std::fs::create_dir(&other_dir).unwrap();
    let stranger = Signer::generate(&other_dir).unwrap();
    let (_dir, data) = data_dir();
    let pubkey = signer.pubkey.clone();
    let server = boot_with(&data, move |c| {
        c.update_pubkey = Some(pubkey);
        c.release_max_bytes = 256 * 1024;
    })
    .await;
    let url = server.url();
    let (boss, _) = login(&url, "boss@acme.test").await;
    let (alice, _) = login(&url, "alice@acme.test").await;
    let (eve, _) = login(&url, "eve@other.test").await;

    // Nothing released yet: 204.
    assert!(check(&url, &alice, "0.1.0", "stable").await.is_none());

    let (body, sig) = artifact(keys.path(), &signer, "0.2.0", 100_000);
    let up = |version, body, signature| Upload {
        channel: "stable",
        target: TARGET,
        version,
        body,
        signature,
    };
    // An agent cannot release.
    refused(
        upload(&url, &alice, up("0.2.0", body.clone(), Some(sig.clone()))).await,
        403,
        "auth.forbidden",
    )
    .await;
    // A changed byte: the signature no longer matches.
    let mut tampered = body.clone();
    tampered[50_000] ^= 1;
    let m = refused(
        upload(&url, &boss, up("0.2.0", tampered, Some(sig.clone()))).await,
        422,
        "release.bad_signature",
    )
    .await;
    assert!(m.contains("does not match its signature"), "{m}");
    // Signed with a key the app does not trust.
    let (_, foreign) = artifact(&other_dir, &stranger, "0.2.0", 100_000);
    let m = refused(
        upload(&url, &boss, up("0.2.0", body.clone(), Some(foreign))).await,
        422,
        "release.bad_signature",
    )
    .await;
    assert!(m.contains("update_pubkey"), "{m}");
    // No signature at all.
    refused(
        upload(&url, &boss, up("0.2.0", body.clone(), None)).await,
        422,
        "release.no_signature",
    )
    .await;
    // A signature for 0.2.0 announced as 0.9.0 (a replayed old release).
    let m = refused(
        upload(&url, &boss, up("0.9.0", body.clone(), Some(sig.clone()))).await,
        422,
        "release.bad_signature",
    )
    .await;
    assert!(m.contains("for version 0.2.0, not 0.9.0"), "{m}");
    // Not a target the updater names; not semver.
    refused(
        upload(
            &url,
            &boss,
            Upload {
                target: "linux-x86_64-snap",
                ..up("0.2.0", body.clone(), Some(sig.clone()))
            },
        )
        .await,
        400,
        "request.invalid",
    )
    .await;
    refused(
        upload(&url, &boss, up("2", body.clone(), Some(sig.clone()))).await,
        400,
        "request.invalid",
    )
    .await;
    // Over release_max_bytes (256 KiB).
    let (big, big_sig) = artifact(keys.path(), &signer, "0.2.1", 300_000);
    refused(
        upload(&url, &boss, up("0.2.1", big, Some(big_sig))).await,
        413,
        "body.too_large",
    )
    .await;
    // Nothing of the refused uploads was kept.
    let list = |auth: String| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .get(format!("{url}{}", update_routes::RELEASES))
                .header("authorization", auth)
                .send()
                .await
                .unwrap()
                .json::<Vec<ReleaseInfo>>()
                .await
                .unwrap()
        }
    };
    assert!(list(boss.clone()).await.is_empty());
    let staged: Vec<_> = std::fs::read_dir(data.join("uploads")).unwrap().collect();
    assert!(staged.is_empty(), "staged files left: {staged:?}");

    // The good one.
    let r = upload(&url, &boss, up("0.2.0", body.clone(), Some(sig.clone()))).await;
    assert_eq!(r.status().as_u16(), 201);
    let info: ReleaseInfo = r.json().await.unwrap();
    assert_eq!(info.bytes, body.len() as u64);
    refused(
        upload(&url, &boss, up("0.2.0", body.clone(), Some(sig.clone()))).await,
        409,
        "release.exists",
    )
    .await;

    let offer = check(&url, &alice, "0.1.0", "stable")
        .await
        .expect("offered");
    assert_eq!(offer.version, "0.2.0");
    assert_eq!(offer.signature, sig);
    assert_eq!(offer.notes, "Release 0.2.0");
    assert!(offer.url.starts_with(&url), "{}", offer.url);
    let got = reqwest::Client::new()
        .get(&offer.url)
        .header("authorization", &alice)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), body.as_slice());
    // Never sideways or down.
    assert!(check(&url, &alice, "0.2.0", "stable").await.is_none());
    assert!(check(&url, &alice, "0.3.0", "stable").await.is_none());
    // Another organisation sees none of it.
    assert!(check(&url, &eve, "0.1.0", "stable").await.is_none());
    let r = reqwest::Client::new()
        .get(&offer.url)
        .header("authorization", &eve)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    // A beta is offered on the beta channel only, and withdrawn.
    let (beta, beta_sig) = artifact(keys.path(), &signer, "0.3.0-beta.1", 50_000);
    let r = upload(
        &url,
        &boss,
        Upload {
            channel: "beta",
            ..up("0.3.0-beta.1", beta, Some(beta_sig))
        },
    )
    .await;
    assert_eq!(r.status().as_u16(), 201);
    let beta_info: ReleaseInfo = r.json().await.unwrap();
    let stable = check(&url, &alice, "0.1.0", "stable").await.unwrap();
    assert_eq!(stable.version, "0.2.0");
    let early = check(&url, &alice, "0.2.0", "beta").await.unwrap();
    assert_eq!(early.version, "0.3.0-beta.1");
    let r = reqwest::Client::new()
        .delete(format!(
            "{url}{}",
            update_routes::RELEASE_BY_ID.replace("{id}", &beta_info.id.to_string())
        ))
        .header("authorization", &boss)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(check(&url, &alice, "0.2.0", "beta").await.is_none());
    let r = reqwest::Client::new()
        .get(&early.url)
        .header("authorization", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let all = list(boss.clone()).await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|r| r.withdrawn_at.is_some()));
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_server_without_update_pubkey_takes_no_release() {
    let keys = tempfile::tempdir().unwrap();
    let signer = Signer::generate(keys.path()).unwrap();
    let (_dir, data) = data_dir();
    let server = boot_with(&data, |_| {}).await;
    let url = server.url();
    let (boss, _) = login(&url, "boss@acme.test").await;
    let (body, sig) = artifact(keys.path(), &signer, "0.2.0", 1000);
    let m = refused(
        upload(
            &url,
            &boss,
            Upload {
                channel: "stable",
                target: TARGET,
                version: "0.2.0",
                body,
                signature: Some(sig),
            },
        )
        .await,
        409,
        "release.no_key",
    )
    .await;
    assert!(m.contains("update_pubkey"), "{m}");
    server.stop().await.unwrap();
}
