//! `softphone-server backup` and `restore` as an operator runs them: a backup taken from
//! a running server holds what was written before it; a restore into the stopped
//! server brings that back, keeps the replaced database, and is refused while a server
//! runs or when the file is not a backup (leaving the database untouched).

mod common;

use common::{boot, client, data_dir, new_lead, CAST};
use softphone_proto::{Note, NoteUpsert};
use std::path::Path;
use std::process::{Command, Output};
use uuid::Uuid;

fn server_cli(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_softphone-server"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn note(lead_id: Uuid, body: &str) -> NoteUpsert {
    NoteUpsert {
        lead_id,
        call_id: None,
        body: body.into(),
        deleted: false,
    }
}

#[tokio::test]
async fn a_backup_of_a_running_server_restores_into_a_stopped_one() {
    let (dir, data) = data_dir();
    let server = boot(&data, 3600).await;
    let alice = client(&server.url(), CAST[0].1).await;
    let lead_id = new_lead(&alice, "Backed-up lead").await;
    let before = Uuid::now_v7();
    alice
        .put::<Note>(before, &note(lead_id, "written before the backup"))
        .await
        .unwrap();

    let file = dir.path().join("nightly.db");
    let out = server_cli(&data, &["backup", "--out", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("backed up") && said.contains("schema version"),
        "{said}"
    );
    // A file that stands alone: rollback-journal mode (SQLite header bytes 18-19 are 1,
    // 2 for WAL), so it reads from a folder the reader cannot write, and nothing is
    // left beside it.
    let header = std::fs::read(&file).unwrap();
    assert_eq!(&header[18..20], &[1, 1], "the backup is not in WAL mode");
    let mut beside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("nightly"))
        .collect();
    beside.sort();
    assert_eq!(beside, ["nightly.db"]);
    // A second backup to the same name is refused rather than overwriting it.
    let again = server_cli(&data, &["backup", "--out", file.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));

    let after = Uuid::now_v7();
    alice
        .put::<Note>(after, &note(lead_id, "written after the backup"))
        .await
        .unwrap();

    // While the server runs, restore refuses and changes nothing.
    let refused = server_cli(&data, &["restore", "--from", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("in use"), "{err}");
    assert_eq!(
        alice.get::<Note>(after).await.unwrap().body,
        "written after the backup"
    );
    server.stop().await.unwrap();

    // A file that is not a database is refused with the folder as it was.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database, just bytes ".repeat(200)).unwrap();
    let bad = server_cli(&data, &["restore", "--from", junk.to_str().unwrap()]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("not a database"), "{err}");
    let server = boot(&data, 3600).await;
    let alice = client(&server.url(), CAST[0].1).await;
    assert_eq!(
        alice.get::<Note>(after).await.unwrap().body,
        "written after the backup",
        "a refused restore touched nothing"
    );
    server.stop().await.unwrap();

    let ok = server_cli(&data, &["restore", "--from", file.to_str().unwrap()]);
    assert!(ok.status.success(), "{ok:?}");
    let said = String::from_utf8_lossy(&ok.stdout);
    let kept = said
        .lines()
        .find_map(|l| l.strip_prefix("the previous database is kept at "))
        .unwrap_or_else(|| panic!("{said}"))
        .to_string();
    assert!(Path::new(&kept).is_file());
    // A second restore right away (same second) sets its database aside under a new
    // name: the first set-aside database is still whole.
    let again = server_cli(&data, &["restore", "--from", file.to_str().unwrap()]);
    assert!(again.status.success(), "{again:?}");
    let said = String::from_utf8_lossy(&again.stdout);
    let kept_again = said
        .lines()
        .find_map(|l| l.strip_prefix("the previous database is kept at "))
        .unwrap_or_else(|| panic!("{said}"))
        .to_string();
    assert_ne!(kept, kept_again);
    assert!(Path::new(&kept_again).is_file());

    let server = boot(&data, 3600).await;
    let alice = client(&server.url(), CAST[0].1).await;
    assert_eq!(
        alice.get::<Note>(before).await.unwrap().body,
        "written before the backup"
    );
    let gone = alice.get::<Note>(after).await.unwrap_err();
    assert_eq!(gone.status(), Some(404), "{gone}");
    server.stop().await.unwrap();

    // The replaced database is whole: it still holds the later note.
    assert_eq!(
        notes_in(&kept),
        2,
        "both notes are in the set-aside database"
    );
}

/// Notes in the server database file at `path` (opened from a copy).
fn notes_in(path: &str) -> i64 {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(path, dir.path().join("softphone.db")).unwrap();
    let wal = format!("{path}-wal");
    if Path::new(&wal).exists() {
        std::fs::copy(&wal, dir.path().join("softphone.db-wal")).unwrap();
    }
    softphone_server::db::open(dir.path())
        .unwrap()
        .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_server_cannot_start_while_a_restore_holds_the_folder() {
    use softphone_server::db::backup::{lock, LockMode};
    let (_dir, data) = data_dir();
    let restore = lock(&data, LockMode::Exclusive).unwrap();
    let mut cfg = softphone_server::Config::new(data.clone());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let e = softphone_server::start(&cfg).await.err().expect("refused");
    assert!(e.to_string().contains("in use"), "{e}");
    drop(restore);
    // Servers share the folder with each other (an upgrade overlaps old and new).
    let a = softphone_server::start(&cfg).await.unwrap();
    let b = softphone_server::start(&cfg).await.unwrap();
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
