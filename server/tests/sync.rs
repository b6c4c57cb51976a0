//! Sync API against the real server on 127.0.0.1:0: idempotent upserts, last-writer-wins
//! with history, the changes feed with paging, the activity log, and visibility rules.

use reqwest::StatusCode;
use softphone_proto::{
    sync_routes, ApiError, Change, ChangesPage, Lead, LeadUpsert, Note, NoteUpsert,
};
mod common;
use softphone_server::db;
use uuid::Uuid;

struct Env {
    _dir: tempfile::TempDir,
    data_dir: std::path::PathBuf,
    url: String,
    server: softphone_server::Running,
    http: reqwest::Client,
}

async fn env() -> Env {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let (dir, data_dir) = common::data_dir();
    let server = common::boot(&data_dir, 3600).await;
    Env {
        _dir: dir,
        data_dir,
        url: server.url(),
        server,
        http: reqwest::Client::new(),
    }
}

impl Env {
    async fn login(&self, email: &str) -> (String, Uuid) {
        let (bearer, r) = common::login(&self.url, email).await;
        (bearer, r.user.id)
    }

    async fn put<T: serde::Serialize>(
        &self,
        auth: &str,
        path: String,
        body: &T,
    ) -> reqwest::Response {
        self.http
            .put(format!("{}{path}", self.url))
            .header("Authorization", auth)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn changes(&self, auth: &str, since: i64, limit: usize) -> ChangesPage {
        let r = self
            .http
            .get(format!(
                "{}{}?since={since}&limit={limit}",
                self.url,
                sync_routes::CHANGES
            ))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }
}

fn lead(name: &str) -> LeadUpsert {
    LeadUpsert {
        name: name.into(),
        phone: Some("+15550100".into()),
        email: None,
        company: None,
        assigned_user_id: None,
    }
}

#[tokio::test]
async fn retried_writes_stay_single_and_edits_keep_the_losing_text() {
    let e = env().await;
    let (alice, alice_id) = e.login("alice@acme.test").await;
    let lead_id = Uuid::now_v7();
    let first: Lead = e
        .put(
            &alice,
            sync_routes::with_id(sync_routes::LEAD, lead_id),
            &lead("Dana"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((first.version, first.assigned_user_id), (1, Some(alice_id)));
    // The same write again (a retry after a lost response) changes nothing.
    let mut again = lead("Dana");
    again.assigned_user_id = Some(alice_id);
    let second: Lead = e
        .put(
            &alice,
            sync_routes::with_id(sync_routes::LEAD, lead_id),
            &again,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second, first);

    let note_id = Uuid::now_v7();
    let body = |text: &str| NoteUpsert {
        lead_id,
        call_id: None,
        body: text.into(),
        deleted: false,
    };
    for _ in 0..3 {
        let r = e
            .put(
                &alice,
                sync_routes::with_id(sync_routes::NOTE, note_id),
                &body("Call back Tuesday"),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let edited: Note = e
        .put(
            &alice,
            sync_routes::with_id(sync_routes::NOTE, note_id),
            &body("Call back Wednesday"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edited.version, 2);

    let page = e.changes(&alice, 0, 100).await;
    let notes: Vec<&Note> = page
        .changes
        .iter()
        .filter_map(|c| {
            if let Change::Note(n) = c {
                Some(n)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(notes.len(), 1, "one note, however often it was sent");
    assert_eq!(notes[0].body, "Call back Wednesday");
    e.server.stop().await.unwrap();

    let conn = db::open(&e.data_dir).unwrap();
    assert_eq!(
        db::notes::history(&conn, note_id).unwrap(),
        vec![(1, "Call back Tuesday".to_string())]
    );
    assert_eq!(
        db::activity::count_for(&conn, "note", note_id).unwrap(),
        2,
        "create + one edit, not the retries"
    );
    assert_eq!(db::activity::count_for(&conn, "lead", lead_id).unwrap(), 1);
}

#[tokio::test]
async fn changes_feed_pages_with_a_cursor_and_shows_each_row_once() {
    let e = env().await;
    let (boss, _) = e.login("boss@acme.test").await;
    let ids: Vec<Uuid> = (0..25).map(|_| Uuid::now_v7()).collect();
    for (i, id) in ids.iter().enumerate() {
        e.put(
            &boss,
            sync_routes::with_id(sync_routes::LEAD, *id),
            &lead(&format!("Lead {i}")),
        )
        .await;
    }
    // Rename the first lead: it moves to the end of the feed, still once.
    e.put(
        &boss,
        sync_routes::with_id(sync_routes::LEAD, ids[0]),
        &lead("Lead 0 renamed"),
    )
    .await;
    let mut since = 0;
    let mut seen = Vec::new();
    loop {
        let page = e.changes(&boss, since, 10).await;
        assert!(page.changes.len() <= 10);
        seen.extend(page.changes.iter().map(|c| match c {
            Change::Lead(l) => (l.id, l.name.clone()),
            Change::Note(n) => (n.id, n.body.clone()),
            other => panic!("only leads and notes were written: {other:?}"),
        }));
        since = page.next;
        if !page.more {
            break;
        }
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(
        seen.last().unwrap(),
        &(ids[0], "Lead 0 renamed".to_string())
    );
    assert!(
        e.changes(&boss, since, 10).await.changes.is_empty(),
        "nothing new after the last cursor"
    );
    e.server.stop().await.unwrap();
}

#[tokio::test]
async fn agents_see_only_their_leads_and_other_orgs_see_nothing() {
    let e = env().await;
    let (alice, _) = e.login("alice@acme.test").await;
    let (bob, bob_id) = e.login("bob@acme.test").await;
    let (boss, _) = e.login("boss@acme.test").await;
    let (eve, _) = e.login("eve@other.test").await;
    let alices = Uuid::now_v7();
    e.put(
        &alice,
        sync_routes::with_id(sync_routes::LEAD, alices),
        &lead("Alice's lead"),
    )
    .await;
    let note = NoteUpsert {
        lead_id: alices,
        call_id: None,
        body: "private to Acme".into(),
        deleted: false,
    };
    assert_eq!(
        e.put(
            &alice,
            sync_routes::with_id(sync_routes::NOTE, Uuid::now_v7()),
            &note
        )
        .await
        .status(),
        StatusCode::OK
    );

    // Bob (same org, not assigned) and Eve (other org) cannot see, edit or annotate it.
    for (who, auth) in [("bob", &bob), ("eve", &eve)] {
        let r = e
            .put(
                auth,
                sync_routes::with_id(sync_routes::LEAD, alices),
                &lead("hijack"),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{who} edit");
        assert_eq!(r.json::<ApiError>().await.unwrap().code, "not_found");
        let r = e
            .put(
                auth,
                sync_routes::with_id(sync_routes::NOTE, Uuid::now_v7()),
                &note,
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{who} note");
        assert!(
            e.changes(auth, 0, 100).await.changes.is_empty(),
            "{who} feed"
        );
    }
    // An agent cannot hand a lead to someone else; the admin sees and can reassign.
    let mut to_bob = lead("Alice's lead");
    to_bob.assigned_user_id = Some(bob_id);
    assert_eq!(
        e.put(
            &alice,
            sync_routes::with_id(sync_routes::LEAD, alices),
            &to_bob
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(e.changes(&boss, 0, 100).await.changes.len(), 2);
    let r: Lead = e
        .put(
            &boss,
            sync_routes::with_id(sync_routes::LEAD, alices),
            &to_bob,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r.assigned_user_id, Some(bob_id));
    assert_eq!(
        e.changes(&bob, 0, 100).await.changes.len(),
        2,
        "bob now sees the lead and its note"
    );
    assert_eq!(
        e.changes(&alice, 0, 100).await.changes,
        vec![Change::LeadRevoked(softphone_proto::LeadRevoked {
            lead_id: alices
        })],
        "alice is told to drop it, and sees nothing of it"
    );
    // No token, bad input.
    let r = e
        .http
        .get(format!("{}{}", e.url, sync_routes::CHANGES))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = e
        .put(
            &boss,
            sync_routes::with_id(sync_routes::LEAD, Uuid::now_v7()),
            &lead(" "),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = e
        .http
        .put(format!("{}/api/v1/leads/not-a-uuid", e.url))
        .header("Authorization", &boss)
        .json(&lead("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    e.server.stop().await.unwrap();
}
