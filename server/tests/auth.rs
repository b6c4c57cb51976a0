//! The real server on 127.0.0.1:0 driven over HTTP: login, me, logout, expiry, and
//! every way a token can be wrong. Tokens are never stored in plain text.

use reqwest::StatusCode;
use softphone_proto::{routes, ApiError, LoginRequest, LoginResponse, Role, UserInfo};
mod common;

struct Fixture {
    _dir: tempfile::TempDir,
    data_dir: std::path::PathBuf,
    url: String,
    server: softphone_server::Running,
    http: reqwest::Client,
}

async fn fixture(ttl: i64) -> Fixture {
    let (dir, data_dir) = common::data_dir();
    let server = common::boot(&data_dir, ttl).await;
    Fixture {
        _dir: dir,
        data_dir,
        url: server.url(),
        server,
        http: reqwest::Client::new(),
    }
}

impl Fixture {
    async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{}", self.url, routes::LOGIN))
            .json(&LoginRequest {
                email: email.into(),
                password: password.into(),
            })
            .send()
            .await
            .unwrap()
    }

    async fn me(&self, auth: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{}", self.url, routes::ME));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.send().await.unwrap()
    }
}

async fn error_code(resp: reqwest::Response) -> String {
    resp.json::<ApiError>().await.unwrap().code
}

#[tokio::test]
async fn login_me_logout_round_trip() {
    let f = fixture(3600).await;
    let health = f
        .http
        .get(format!("{}{}", f.url, routes::HEALTH))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let resp = f.login("Alice@Acme.test", "alice-password").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let login: LoginResponse = resp.json().await.unwrap();
    assert_eq!(login.user.email, "alice@acme.test");
    assert_eq!(login.user.role, Role::Agent);
    assert_eq!(login.user.org_name, "Acme");
    assert!(login.expires_at > softphone_server::now() + 3500);

    let bearer = format!("Bearer {}", login.token);
    let me = f.me(Some(&bearer)).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<UserInfo>().await.unwrap(), login.user);

    let out = f
        .http
        .post(format!("{}{}", f.url, routes::LOGOUT))
        .header("Authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let after = f.me(Some(&bearer)).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(after).await, "auth.invalid_token");
    f.server.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_and_bad_tokens_are_rejected_with_stable_codes() {
    let f = fixture(3600).await;
    for (email, pw) in [
        ("alice@acme.test", "wrong-password"),
        ("nobody@acme.test", "alice-password"),
        ("", ""),
    ] {
        let r = f.login(email, pw).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{email}");
        assert_eq!(error_code(r).await, "auth.invalid_credentials");
    }
    let r = f
        .http
        .post(format!("{}{}", f.url, routes::LOGIN))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_code(r).await, "request.content_type");
    let r = f
        .http
        .post(format!("{}{}", f.url, routes::LOGIN))
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(r).await, "request.malformed_json");

    let none = f.me(None).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(none).await, "auth.missing_token");
    for bad in ["Bearer nonsense", "Basic YWxpY2U6cHc=", "Bearer "] {
        let r = f.me(Some(bad)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad}");
    }
    // Another organisation's valid token is a valid token, for its own account only.
    let eve: LoginResponse = f
        .login("eve@other.test", "eve-password")
        .await
        .json()
        .await
        .unwrap();
    let me: UserInfo = f
        .me(Some(&format!("Bearer {}", eve.token)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me.org_name, "Other");
    f.server.stop().await.unwrap();
}

#[tokio::test]
async fn expired_tokens_are_rejected() {
    let f = fixture(0).await;
    let login: LoginResponse = f
        .login("boss@acme.test", "boss-password")
        .await
        .json()
        .await
        .unwrap();
    let r = f.me(Some(&format!("Bearer {}", login.token))).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(r).await, "auth.invalid_token");
    f.server.stop().await.unwrap();
}

#[tokio::test]
async fn tokens_and_passwords_never_reach_the_data_dir_in_plain_text() {
    let f = fixture(3600).await;
    let login: LoginResponse = f
        .login("alice@acme.test", "alice-password")
        .await
        .json()
        .await
        .unwrap();
    f.server.stop().await.unwrap();
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut all = Vec::new();
    files(&f.data_dir, &mut all);
    assert!(all.iter().any(|p| p.ends_with("softphone.db")));
    let mut found = Vec::new();
    for path in all {
        // SQLite's -wal/-shm files can go away between the listing and the read while
        // the last connection closes; a file that is gone holds nothing.
        let bytes = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            r => r.unwrap(),
        };
        for secret in [login.token.as_bytes(), b"alice-password".as_slice()] {
            if bytes.windows(secret.len()).any(|w| w == secret) {
                found.push(path.display().to_string());
            }
        }
    }
    assert!(found.is_empty(), "plain-text secret in {found:?}");
}
