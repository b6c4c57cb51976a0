//! The `softphone-server` binary as an admin uses it: `user add` (password on stdin),
//! then `serve` on port 0, then a login against the printed address.

use softphone_proto::{routes, LoginRequest, LoginResponse};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

#[tokio::test]
async fn user_add_then_serve_then_login() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_softphone-server");
    let mut add = Command::new(bin)
        .args(["--data-dir"])
        .arg(dir.path())
        .args([
            "user",
            "add",
            "--org",
            "Acme",
            "--email",
            "carol@acme.test",
            "--name",
            "Carol",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"carol-password\n")
        .unwrap();
    let out = add.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim().len(),
        36,
        "prints the new user's UUID"
    );

    let short = Command::new(bin)
        .args(["--data-dir"])
        .arg(dir.path())
        .args([
            "user",
            "add",
            "--org",
            "Acme",
            "--email",
            "dan@acme.test",
            "--name",
            "Dan",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = short.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: passwords need at least 8"));

    let mut server = Command::new(bin)
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("address line")
        .to_string();
    let login: LoginResponse = reqwest::Client::new()
        .post(format!("{url}{}", routes::LOGIN))
        .json(&LoginRequest {
            email: "carol@acme.test".into(),
            password: "carol-password".into(),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login.user.display_name, "Carol");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Reads stdout lines until `listening on URL`; answers URL.
fn listening_url(out: impl std::io::Read) -> String {
    for line in BufReader::new(out).lines() {
        let line = line.unwrap();
        if let Some(url) = line.trim().strip_prefix("listening on ") {
            return url.to_string();
        }
    }
    panic!("server exited before listening")
}

#[tokio::test]
async fn serve_demo_from_a_config_file_then_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_softphone-server");
    let cfg = dir.path().join("server.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = {:?}\nlisten = \"127.0.0.1:0\"\ntoken_ttl_secs = 600\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let mut server = Command::new(bin)
        .arg("--config")
        .arg(&cfg)
        .args(["serve", "--demo"])
        .env_remove("SOFTPHONE_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = listening_url(server.stdout.take().unwrap());
    let mut ana = softphone_client::Client::new(&url).unwrap();
    let login = ana
        .login("ana@demo.test", softphone_server::demo::PASSWORD)
        .await
        .unwrap();
    assert!(
        login.expires_at <= softphone_server::now() + 600,
        "ttl from the file"
    );
    let mut admin = softphone_client::Client::new(&url).unwrap();
    admin
        .login("admin@demo.test", softphone_server::demo::PASSWORD)
        .await
        .unwrap();
    let leads = |page: &softphone_proto::ChangesPage| {
        page.changes
            .iter()
            .filter(|c| matches!(c, softphone_proto::Change::Lead(_)))
            .count()
    };
    assert_eq!(leads(&admin.changes(0, 1000).await.unwrap()), 20);
    assert_eq!(leads(&ana.changes(0, 1000).await.unwrap()), 10, "her half");

    // SIGTERM stops it cleanly.
    let pid = server.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(server.wait().unwrap().success());
}

#[test]
fn a_typo_in_the_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("server.toml");
    std::fs::write(&cfg, "lisen = \"127.0.0.1:0\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_softphone-server"))
        .arg("--config")
        .arg(&cfg)
        .args(["serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lisen"), "{err}");
}
