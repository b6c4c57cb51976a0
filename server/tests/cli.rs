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
