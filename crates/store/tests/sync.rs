//! The store and sync worker against the real server on 127.0.0.1:0: offline notes
//! arrive exactly once, an upload cut by a server stop resumes with a matching sha256,
//! pulls and live events bring other people's changes, refusals park with reasons,
//! failures retry without losing anything, and a corrupt database keeps unsynced work.

use softphone_client::Client;
use softphone_proto::*;
use softphone_server::{add_user, db, start, Config, Running};
use softphone_store::sync::{SyncOptions, Syncer};
use softphone_store::Store;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

struct World {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    profile: std::path::PathBuf,
    port: u16,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("server");
        let conn = db::open(&data).unwrap();
        add_user(
            &conn,
            "Acme",
            "alice@acme.test",
            "Alice",
            Role::Agent,
            "alice-password",
        )
        .unwrap();
        add_user(
            &conn,
            "Acme",
            "boss@acme.test",
            "Boss",
            Role::Admin,
            "boss-password",
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            profile: dir.path().join("profile"),
            data,
            port,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server on a fixed port, so the client's URL survives restarts.
    async fn up(&self) -> Running {
        let mut cfg = Config::new(self.data.clone());
        cfg.listen = format!("127.0.0.1:{}", self.port).parse().unwrap();
        for _ in 0..50 {
            match start(&cfg).await {
                Ok(r) => return r,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("server did not start");
    }

    async fn client(&self, email: &str, pw: &str) -> Client {
        let mut c = Client::new(&self.url()).unwrap();
        c.login(email, pw).await.unwrap();
        c
    }

    fn store(&self) -> Arc<Mutex<Store>> {
        Arc::new(Mutex::new(Store::open(&self.profile).unwrap().0))
    }
}

fn fast() -> SyncOptions {
    SyncOptions {
        backoff_base_ms: 50,
        backoff_cap_ms: 200,
        chunk_bytes: 256 * 1024,
        ..SyncOptions::default()
    }
}

async fn lead(c: &Client) -> Uuid {
    let id = Uuid::now_v7();
    c.put::<Lead>(
        id,
        &LeadUpsert {
            name: "Lucía Pérez".into(),
            phone: None,
            email: None,
            company: None,
            assigned_user_id: None,
        },
    )
    .await
    .unwrap();
    id
}

/// A call record on a new lead, put straight to the server (as the app's outbox does
/// before it uploads the call's recording); its id.
async fn server_call(c: &Client) -> Uuid {
    let lead = lead(c).await;
    let id = Uuid::now_v7();
    c.put::<Call>(
        id,
        &CallUpsert {
            lead_id: lead,
            direction: CallDirection::Outbound,
            remote: "+34600000001".into(),
            started_at_ms: 1_700_000_000_000,
            answered_at_ms: Some(1_700_000_001_000),
            ended_at_ms: Some(1_700_000_091_000),
            duration_ms: Some(90_000),
            end_reason: Some("local_hangup".into()),
            disposition: None,
            quality: None,
        },
    )
    .await
    .unwrap();
    id
}

async fn server_notes(boss: &Client) -> Vec<Note> {
    let (mut since, mut out) = (0, Vec::new());
    loop {
        let p = boss.changes(since, 1000).await.unwrap();
        out.extend(p.changes.into_iter().filter_map(|c| match c {
            Change::Note(n) => Some(n),
            _ => None,
        }));
        since = p.next;
        if !p.more {
            return out;
        }
    }
}

#[tokio::test]
async fn notes_written_offline_arrive_exactly_once() {
    let w = World::new();
    let server = w.up().await;
    let alice = w.client("alice@acme.test", "alice-password").await;
    let me = alice.me().await.unwrap().id;
    let lead_id = lead(&alice).await;
    server.stop().await.unwrap();

    let store = w.store();
    let sync = Syncer::new(store.clone(), alice.clone(), fast());
    let written: Vec<Note> = (0..3)
        .map(|i| {
            store
                .lock()
                .unwrap()
                .write_note(
                    me,
                    lead_id,
                    None,
                    &format!("offline note {i}: call back Tuesday"),
                )
                .unwrap()
        })
        .collect();
    // Offline: nothing leaves, nothing is lost, the error is visible.
    let (push, pull) = sync.run_once().await;
    assert_eq!(push.pushed, 0);
    assert!(push.stopped_by.is_some());
    assert!(pull.is_err());
    let st = store.lock().unwrap().status().unwrap();
    assert_eq!((st.pending, st.online), (3, false));
    assert!(st.last_error.unwrap().contains("unreachable"));
    // An edit while offline queues behind the create.
    store
        .lock()
        .unwrap()
        .edit_note(written[0].id, "offline note 0: call back Wednesday", false)
        .unwrap();

    let server = w.up().await;
    let (push, pull) = sync.run_once().await;
    assert_eq!(push.pushed, 4, "{push:?}");
    pull.unwrap();
    // Again: nothing more to send, nothing duplicated.
    assert_eq!(sync.run_once().await.0.pushed, 0);
    let boss = w.client("boss@acme.test", "boss-password").await;
    let notes = server_notes(&boss).await;
    assert_eq!(notes.len(), 3, "{notes:?}");
    for n in &written {
        assert_eq!(notes.iter().filter(|x| x.id == n.id).count(), 1);
    }
    let first = notes.iter().find(|n| n.id == written[0].id).unwrap();
    assert_eq!(first.body, "offline note 0: call back Wednesday");
    assert_eq!(first.version, 2, "created then edited, in that order");
    // The local copy now carries the server's version, and search finds it.
    let local: Note = store.lock().unwrap().get(written[0].id).unwrap().unwrap();
    assert_eq!(local.version, 2);
    let hits = store.lock().unwrap().search("wednesday", 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, written[0].id);
    assert_eq!(store.lock().unwrap().search("lucia", 10).unwrap().len(), 0);
    assert_eq!(store.lock().unwrap().status().unwrap().pending, 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_recording_upload_cut_by_a_server_stop_resumes_and_matches() {
    let w = World::new();
    let server = w.up().await;
    let alice = w.client("alice@acme.test", "alice-password").await;
    let store = w.store();
    let bytes: Vec<u8> = (0..6_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = w.profile.join("rec.opus");
    std::fs::create_dir_all(&w.profile).unwrap();
    std::fs::write(&file, &bytes).unwrap();
    let call_id = server_call(&alice).await;
    store
        .lock()
        .unwrap()
        .add_recording(call_id, &file, 90_000, 2)
        .unwrap();
    assert_eq!(
        store.lock().unwrap().status().unwrap().bytes_left,
        6_000_000
    );

    // Stop the server once about a third has been acknowledged.
    let sync = Syncer::new(store.clone(), alice.clone(), fast());
    let pusher = {
        let sync = sync.clone();
        tokio::spawn(async move { sync.push(true).await })
    };
    loop {
        let left = store.lock().unwrap().status().unwrap().bytes_left;
        if left <= 4_000_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.stop().await.unwrap();
    let report = pusher.await.unwrap();
    assert_eq!(report.pushed, 0, "{report:?}");
    let acked = store
        .lock()
        .unwrap()
        .recording(call_id)
        .unwrap()
        .unwrap()
        .uploaded_bytes;
    assert!(acked > 0 && acked < 6_000_000, "{acked}");

    let server = w.up().await;
    let report = sync.push(true).await;
    assert_eq!(report.pushed, 1, "{report:?}");
    let rec = alice.recording(call_id).await.unwrap();
    let local = store.lock().unwrap().recording(call_id).unwrap().unwrap();
    assert!(local.uploaded);
    assert_eq!(rec.sha256, local.sha256);
    let (url, _) = alice.recording_url(call_id, 60).await.unwrap();
    assert_eq!(alice.download(&url, None).await.unwrap(), bytes);
    assert!(file.exists(), "kept by the default retention");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn pulls_bring_others_changes_live_and_the_cursor_survives_restarts() {
    let w = World::new();
    let server = w.up().await;
    let alice = w.client("alice@acme.test", "alice-password").await;
    let boss = w.client("boss@acme.test", "boss-password").await;
    let lead_id = lead(&alice).await;
    let store = w.store();
    let sync = Syncer::new(store.clone(), alice.clone(), fast());
    let first = sync.pull().await.unwrap();
    assert_eq!(first.applied, 1);

    // Live: the worker runs; the admin writes a note on alice's lead.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = {
        let sync = sync.clone();
        tokio::spawn(async move { sync.run(stop_rx, Arc::default()).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let note_id = Uuid::now_v7();
    boss.put::<Note>(
        note_id,
        &NoteUpsert {
            lead_id,
            call_id: None,
            body: "Boss: offer the annual plan".into(),
            deleted: false,
        },
    )
    .await
    .unwrap();
    let mut arrived = false;
    for _ in 0..100 {
        if store
            .lock()
            .unwrap()
            .get::<Note>(note_id)
            .unwrap()
            .is_some()
        {
            arrived = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(arrived, "the live event did not trigger a pull within 5 s");
    stop_tx.send(true).unwrap();
    runner.await.unwrap();

    let cursor = store.lock().unwrap().cursor().unwrap();
    assert!(cursor > first.cursor);
    drop(store);
    drop(sync);
    let store = w.store();
    assert_eq!(
        store.lock().unwrap().cursor().unwrap(),
        cursor,
        "cursor persisted"
    );
    let again = Syncer::new(store.clone(), alice.clone(), fast())
        .pull()
        .await
        .unwrap();
    assert_eq!(again.applied, 0, "nothing pulled twice");
    assert_eq!(store.lock().unwrap().notes_for(lead_id).unwrap().len(), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn refusals_park_failures_retry_and_nothing_is_lost() {
    let w = World::new();
    let server = w.up().await;
    let alice = w.client("alice@acme.test", "alice-password").await;
    let me = alice.me().await.unwrap().id;
    let lead_id = lead(&alice).await;
    let store = w.store();
    let sync = Syncer::new(store.clone(), alice.clone(), fast());
    // A note on a lead the server does not know: refused (404), parked with the reason,
    // and the note behind it still goes through.
    let orphan = store
        .lock()
        .unwrap()
        .write_note(me, Uuid::now_v7(), None, "orphan")
        .unwrap();
    let good = store
        .lock()
        .unwrap()
        .write_note(me, lead_id, None, "fine")
        .unwrap();
    let r = sync.push(true).await;
    assert_eq!((r.pushed, r.parked), (1, 1), "{r:?}");
    let st = store.lock().unwrap().status().unwrap();
    assert_eq!(st.pending, 0);
    assert_eq!(st.parked.len(), 1);
    assert!(st.parked[0].2.starts_with("not_found"), "{:?}", st.parked);
    assert!(
        store
            .lock()
            .unwrap()
            .get::<Note>(orphan.id)
            .unwrap()
            .is_some(),
        "kept locally"
    );
    assert_eq!(
        store
            .lock()
            .unwrap()
            .get::<Note>(good.id)
            .unwrap()
            .unwrap()
            .version,
        1
    );
    server.stop().await.unwrap();

    // A server that answers 500, then one that answers garbage: retried, kept, in order.
    for reply in [
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 5\r\nconnection: close\r\n\r\noops!",
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\nconnection: close\r\n\r\n{\"nope\":1",
        "garbage that is not HTTP at all\r\n\r\n",
    ] {
        let fake = tokio::net::TcpListener::bind(("127.0.0.1", w.port)).await.unwrap();
        let serve = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            loop {
                let Ok((mut s, _)) = fake.accept().await else { break };
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply.as_bytes()).await;
            }
        });
        let n = store.lock().unwrap().write_note(me, lead_id, None, reply).unwrap();
        let r = sync.push(true).await;
        assert_eq!(r.pushed, 0, "{reply}: {r:?}");
        let head = store.lock().unwrap().outbox_head().unwrap().unwrap();
        assert!(head.attempts >= 1 && head.parked_reason.is_none(), "{head:?}");
        assert!(store.lock().unwrap().get::<Note>(n.id).unwrap().is_some());
        serve.abort();
        let _ = serve.await;
    }
    // The real server again: all three go, in order, once.
    let server = w.up().await;
    assert_eq!(sync.push(true).await.pushed, 3);
    let boss = w.client("boss@acme.test", "boss-password").await;
    assert_eq!(server_notes(&boss).await.len(), 4);

    // A revoked token stops pushing without charging the entry; parked stays parked.
    let mut gone = alice.clone();
    gone.logout().await.unwrap();
    store
        .lock()
        .unwrap()
        .write_note(me, lead_id, None, "after logout")
        .unwrap();
    let r = sync.push(true).await;
    assert!(r.stopped_by.unwrap().contains("401"));
    assert_eq!(store.lock().unwrap().status().unwrap().pending, 1);
    server.stop().await.unwrap();
}

/// Overwrites the root page of the full-text index with garbage (as a torn write or a
/// bad sector would), leaving the other tables readable.
fn corrupt(path: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    let (root, page): (i64, i64) = {
        let c = rusqlite::Connection::open(path).unwrap();
        (
            c.query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'search_data'",
                [],
                |r| r.get(0),
            )
            .unwrap(),
            c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap(),
        )
    };
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(((root - 1) * page) as u64)).unwrap();
    f.write_all(&vec![0xA5; page as usize]).unwrap();
    f.sync_all().unwrap();
}

#[tokio::test]
async fn a_corrupt_database_is_set_aside_and_unsynced_work_survives() {
    let w = World::new();
    let me = Uuid::now_v7();
    let lead_id = Uuid::now_v7();
    let note_ids: Vec<Uuid> = {
        let (mut s, report) = Store::open(&w.profile).unwrap();
        assert_eq!(report, Default::default());
        (0..40)
            .map(|i| {
                s.write_note(me, lead_id, None, &format!("note {i} {}", "x".repeat(200)))
                    .unwrap()
                    .id
            })
            .collect()
    };
    let db = w.profile.join("store.db");
    corrupt(&db);
    let (s, report) = Store::open(&w.profile).unwrap();
    let aside = report.corrupt_moved_to.clone().expect("moved aside");
    assert!(aside.exists(), "the damaged file is kept, not deleted");
    // The outbox still reads, so every unsynced note is carried over, in order, and
    // shows locally.
    let outbox = s.outbox().unwrap();
    assert_eq!(report.salvaged_outbox, 40);
    assert_eq!(
        outbox.iter().map(|e| e.record_id).collect::<Vec<_>>(),
        note_ids
    );
    for id in &note_ids {
        assert!(s.get::<Note>(*id).unwrap().is_some());
    }

    // A file that is not a database at all.
    drop(s);
    std::fs::write(&db, b"this is not sqlite").unwrap();
    let (s, report) = Store::open(&w.profile).unwrap();
    assert!(report.corrupt_moved_to.is_some());
    assert!(s.outbox().unwrap().is_empty());
}

#[tokio::test]
async fn a_truncated_database_is_set_aside_and_a_locked_one_says_so() {
    let w = World::new();
    let mut written = std::collections::HashSet::new();
    {
        let (mut s, _) = Store::open(&w.profile).unwrap();
        for i in 0..200 {
            let note = s
                .write_note(
                    Uuid::now_v7(),
                    Uuid::now_v7(),
                    None,
                    &format!("n{i} {}", "y".repeat(300)),
                )
                .unwrap();
            written.insert(note.id);
        }
    }
    let db = w.profile.join("store.db");
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let (s, report) = Store::open(&w.profile).unwrap();
    let aside = report
        .corrupt_moved_to
        .expect("a truncated file is detected");
    assert_eq!(
        std::fs::metadata(&aside).unwrap().len(),
        len / 2,
        "kept as it was"
    );
    eprintln!("truncated: salvaged {} of 200", report.salvaged_outbox);
    // The notes queued on the half that survived come back (88 here; none before the
    // salvage read past the header's page count), each one of those written.
    assert!(
        report.salvaged_outbox >= 80,
        "only {} of 200 queued notes salvaged from the surviving half",
        report.salvaged_outbox
    );
    let queued = s.outbox().unwrap();
    assert_eq!(queued.len(), report.salvaged_outbox);
    assert!(queued.iter().all(|e| written.contains(&e.record_id)));
    drop(s);

    // Another process holds the write lock: the write fails with a clear error after the
    // busy timeout, the file is left alone, and the next write works.
    let (mut s, _) = Store::open(&w.profile).unwrap();
    let other = rusqlite::Connection::open(&db).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let e = s
        .write_note(Uuid::now_v7(), Uuid::now_v7(), None, "while locked")
        .unwrap_err();
    assert_eq!(e.code(), "store.db");
    assert!(e.to_string().contains("locked"), "{e}");
    other.execute_batch("ROLLBACK").unwrap();
    s.write_note(Uuid::now_v7(), Uuid::now_v7(), None, "after")
        .unwrap();
    assert!(db.exists());
}

#[tokio::test]
async fn pruned_recordings_leave_disk_only_after_the_server_confirmed() {
    let w = World::new();
    let server = w.up().await;
    let alice = w.client("alice@acme.test", "alice-password").await;
    let store = w.store();
    std::fs::create_dir_all(&w.profile).unwrap();
    let file = w.profile.join("p.opus");
    std::fs::write(&file, vec![9u8; 300_000]).unwrap();
    let call_id = server_call(&alice).await;
    store
        .lock()
        .unwrap()
        .add_recording(call_id, &file, 1000, 2)
        .unwrap();
    let opts = SyncOptions {
        retention: softphone_store::recordings::Retention::Prune,
        ..fast()
    };
    let sync = Syncer::new(store.clone(), alice.clone(), opts);
    server.stop().await.unwrap();
    assert_eq!(sync.push(true).await.pushed, 0);
    assert!(file.exists(), "kept while the server does not have it");
    let server = w.up().await;
    assert_eq!(sync.push(true).await.pushed, 1);
    assert!(!file.exists(), "pruned after confirmation");
    assert_eq!(alice.recording(call_id).await.unwrap().bytes, 300_000);
    server.stop().await.unwrap();
}

#[test]
fn a_note_over_the_size_limit_is_refused_before_it_is_queued() {
    let w = World::new();
    let store = w.store();
    let mut s = store.lock().unwrap();
    let too_long = "x".repeat(softphone_proto::MAX_TEXT_BYTES + 1);
    let e = s
        .write_note(Uuid::now_v7(), Uuid::now_v7(), None, &too_long)
        .unwrap_err();
    assert_eq!(e.code(), "store.invalid", "{e}");
    assert_eq!(s.status().unwrap().pending, 0, "nothing queued");
    let at_limit = "x".repeat(softphone_proto::MAX_TEXT_BYTES);
    s.write_note(Uuid::now_v7(), Uuid::now_v7(), None, &at_limit)
        .unwrap();
    assert_eq!(s.status().unwrap().pending, 1);
}

#[tokio::test]
async fn a_reassigned_lead_moves_with_its_whole_history_and_leaves_the_old_agent() {
    let w = World::new();
    let conn = db::open(&w.data).unwrap();
    add_user(
        &conn,
        "Acme",
        "bob@acme.test",
        "Bob",
        Role::Agent,
        "bob-password",
    )
    .unwrap();
    drop(conn);
    let server = w.up().await;
    let boss = w.client("boss@acme.test", "boss-password").await;
    let alice = w.client("alice@acme.test", "alice-password").await;
    let bob = w.client("bob@acme.test", "bob-password").await;
    let (alice_id, bob_id) = (alice.me().await.unwrap().id, bob.me().await.unwrap().id);
    let assigned = |name: &str, to: Uuid| LeadUpsert {
        name: name.into(),
        phone: Some("+34600000001".into()),
        email: None,
        company: None,
        assigned_user_id: Some(to),
    };
    // Alice's lead and its history, synced long ago.
    let lead_id = Uuid::now_v7();
    boss.put::<Lead>(lead_id, &assigned("Lucía Pérez", alice_id))
        .await
        .unwrap();
    let note_id = Uuid::now_v7();
    alice
        .put::<Note>(
            note_id,
            &NoteUpsert {
                lead_id,
                call_id: None,
                body: "wants a callback on Tuesday".into(),
                deleted: false,
            },
        )
        .await
        .unwrap();
    let contact_id = Uuid::now_v7();
    alice
        .put::<Contact>(
            contact_id,
            &ContactUpsert {
                lead_id,
                name: "Lucía".into(),
                phone: Some("+34600000001".into()),
                email: None,
                wa_id: None,
            },
        )
        .await
        .unwrap();
    let conversation_id = Uuid::now_v7();
    alice
        .put::<Conversation>(
            conversation_id,
            &ConversationUpsert {
                lead_id,
                contact_id: Some(contact_id),
                channel: Channel::Whatsapp,
                external_id: None,
                status: ConversationStatus::Open,
                unread_count: 0,
                assigned_user_id: None,
            },
        )
        .await
        .unwrap();
    let message_id = Uuid::now_v7();
    alice
        .put::<Message>(
            message_id,
            &MessageUpsert {
                conversation_id,
                direction: Direction::Inbound,
                kind: "text".into(),
                body: Some("¿Me llamas el martes?".into()),
                status: MessageStatus::Received,
                media_url: None,
                media_mime_type: None,
                provider_message_id: None,
                payload: None,
                call_id: None,
                sent_at: None,
            },
        )
        .await
        .unwrap();
    let call_id = Uuid::now_v7();
    alice
        .put::<Call>(
            call_id,
            &CallUpsert {
                lead_id,
                direction: CallDirection::Outbound,
                remote: "+34600000001".into(),
                started_at_ms: 1_700_000_000_000,
                answered_at_ms: Some(1_700_000_002_000),
                ended_at_ms: Some(1_700_000_062_000),
                duration_ms: Some(60_000),
                end_reason: Some("normal".into()),
                disposition: None,
                quality: None,
            },
        )
        .await
        .unwrap();

    // Both agents' apps are in sync, with cursors past all of that.
    let own_lead = Uuid::now_v7();
    boss.put::<Lead>(own_lead, &assigned("Bob's own lead", bob_id))
        .await
        .unwrap();
    let bob_store = Arc::new(Mutex::new(
        Store::open(&w._dir.path().join("bob-profile")).unwrap().0,
    ));
    let bob_sync = Syncer::new(bob_store.clone(), bob.clone(), fast());
    let r = bob_sync.pull().await.unwrap();
    assert!(r.cursor > 0);
    let alice_store = w.store();
    let alice_sync = Syncer::new(alice_store.clone(), alice.clone(), fast());
    assert!(alice_sync.pull().await.unwrap().cursor > 0);
    assert!(alice_store
        .lock()
        .unwrap()
        .get::<Note>(note_id)
        .unwrap()
        .is_some());
    // Alice types a note the server has not seen yet.
    let unsynced = alice_store
        .lock()
        .unwrap()
        .write_note(alice_id, lead_id, None, "promised a discount")
        .unwrap();

    // The admin hands the lead to Bob.
    boss.put::<Lead>(lead_id, &assigned("Lucía Pérez", bob_id))
        .await
        .unwrap();

    bob_sync.pull().await.unwrap();
    {
        let s = bob_store.lock().unwrap();
        assert_eq!(
            s.get::<Lead>(lead_id).unwrap().unwrap().assigned_user_id,
            Some(bob_id)
        );
        assert!(
            s.get::<Note>(note_id).unwrap().is_some(),
            "the note came along"
        );
        assert!(
            s.get::<Contact>(contact_id).unwrap().is_some(),
            "the contact"
        );
        assert!(s.get::<Conversation>(conversation_id).unwrap().is_some());
        assert!(
            s.get::<Message>(message_id).unwrap().is_some(),
            "the messages"
        );
        assert!(s.get::<Call>(call_id).unwrap().is_some(), "the calls");
        assert_eq!(s.timeline(lead_id).unwrap().len(), 3, "note, message, call");
    }

    alice_sync.pull().await.unwrap();
    {
        let s = alice_store.lock().unwrap();
        assert!(
            s.get::<Lead>(lead_id).unwrap().is_none(),
            "the lead left Alice's app"
        );
        assert!(s.get::<Note>(note_id).unwrap().is_none());
        assert!(s.get::<Message>(message_id).unwrap().is_none());
        assert!(s.get::<Call>(call_id).unwrap().is_none());
        assert!(
            s.search("martes", 10).unwrap().is_empty(),
            "and from search"
        );
        let kept = s
            .get::<Note>(unsynced.id)
            .unwrap()
            .expect("the unsynced note is kept");
        assert_eq!(kept.body, "promised a discount");
        let st = s.status().unwrap();
        assert_eq!(st.pending, 0, "not pushed into a refusal");
        assert!(
            st.parked.iter().any(
                |(_, entity, reason)| entity == "note" && reason.starts_with("lead.reassigned")
            ),
            "{:?}",
            st.parked
        );
    }
    server.stop().await.unwrap();
}
