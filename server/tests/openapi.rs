//! The OpenAPI document: served equal to the checked-in docs/openapi.json (regenerate
//! with `UPDATE_OPENAPI=1 cargo test -p softphone-server --test openapi`), every
//! operation it lists is really routed, and every `$ref` resolves.

mod common;

use common::{boot, data_dir};
use std::collections::BTreeSet;

fn refs(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.insert(x.as_str().unwrap().to_string());
                }
                refs(x, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn served_document_matches_the_checked_in_one_and_the_router() {
    let (_dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let url = server.url();
    let served: serde_json::Value = reqwest::get(format!("{url}/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &pretty).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == pretty,
        "docs/openapi.json is stale: run UPDATE_OPENAPI=1 cargo test -p softphone-server --test openapi"
    );
    assert!(served["openapi"].as_str().unwrap().starts_with("3."));
    // A second opinion on validity: openapi-spec-validator (installed by setup-debian.sh).
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import json,sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1])))",
        ])
        .arg(&path)
        .output()
        .expect("python3");
    assert!(
        check.status.success(),
        "docs/openapi.json is not valid OpenAPI: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    let mut r = BTreeSet::new();
    refs(&served, &mut r);
    let schemas = served["components"]["schemas"].as_object().unwrap();
    for x in &r {
        let name = x.strip_prefix("#/components/schemas/").expect("schema ref");
        assert!(schemas.contains_key(name), "dangling {x}");
    }

    // Each listed operation is routed: never 405, and a 404 is ours (JSON), not "no route".
    let http = reqwest::Client::new();
    let listed = softphone_server::openapi::listed();
    assert!(listed.len() >= 27, "{} operations", listed.len());
    for (method, p) in listed {
        let concrete = p
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{call_id}", &uuid::Uuid::now_v7().to_string());
        let resp = http
            .request(method.parse().unwrap(), format!("{url}{concrete}"))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        assert_ne!(status, 405, "{method} {p} is not routed");
        if status == 404 && method != "HEAD" {
            assert!(body.contains("\"code\""), "{method} {p}: no such route");
        }
    }
    server.stop().await.unwrap();
}
