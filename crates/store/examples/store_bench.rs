//! Store and sync benchmarks (docs/benchmarks.md), against the real server in this
//! process on loopback:
//! - push of N offline notes (goal: 10k in <= 2 s),
//! - pull of M messages (goal: >= 50k rows/s),
//! - local write latency p50/p99 (goal: p99 <= 1 ms),
//! - timeline of a lead with 10k messages, FTS search over K notes.
//!
//! `cargo run --release -p softphone-store --example store_bench -- [N] [M] [K]`
//! (defaults 10000 100000 1000000).

use softphone_client::Client;
use softphone_proto::*;
use softphone_server::{add_user, db, records, Config};
use softphone_store::sync::{SyncOptions, Syncer};
use softphone_store::Store;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use uuid::Uuid;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (n_notes, n_msgs, n_fts) = (arg(1, 10_000), arg(2, 100_000), arg(3, 1_000_000));
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    let conn = db::open(&data)?;
    add_user(
        &conn,
        "Bench",
        "a@bench.test",
        "A",
        Role::Agent,
        "bench-password",
    )?;
    let alice_info = db::users::by_email(&conn, "a@bench.test")?.unwrap().info;

    // Seed M messages on 10 leads (10% each) straight into the server database.
    let t = Instant::now();
    let leads: Vec<Uuid> = (0..10).map(|_| Uuid::now_v7()).collect();
    {
        let tx = conn.unchecked_transaction()?;
        for (i, l) in leads.iter().enumerate() {
            let seq = db::changes::next(&tx)?;
            db::leads::write(
                &tx,
                *l,
                alice_info.org_id,
                &LeadUpsert {
                    name: format!("Lead {i}"),
                    phone: None,
                    email: None,
                    company: None,
                    assigned_user_id: Some(alice_info.id),
                },
                1,
                1,
                seq,
            )?;
        }
        let convs: Vec<Uuid> = leads.iter().map(|_| Uuid::now_v7()).collect();
        for (l, c) in leads.iter().zip(&convs) {
            records::upsert::<Conversation>(
                &tx,
                &alice_info,
                *c,
                &ConversationUpsert {
                    lead_id: *l,
                    contact_id: None,
                    channel: Channel::Whatsapp,
                    external_id: None,
                    status: ConversationStatus::Open,
                    unread_count: 0,
                    assigned_user_id: None,
                },
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        tx.commit()?;
        for i in 0..n_msgs {
            // Commit in batches: one transaction of 100k upserts spills SQLite's page
            // cache into the WAL over and over.
            if i % 2000 == 0 {
                conn.execute_batch(if i == 0 { "BEGIN" } else { "COMMIT; BEGIN" })?;
            }
            records::upsert::<Message>(
                &conn,
                &alice_info,
                Uuid::now_v7(),
                &MessageUpsert {
                    conversation_id: convs[i % 10],
                    direction: Direction::Inbound,
                    kind: "text".into(),
                    body: Some(format!(
                        "message {i}: hola, ¿me podéis llamar mañana por la tarde?"
                    )),
                    status: MessageStatus::Received,
                    media_url: None,
                    media_mime_type: None,
                    provider_message_id: Some(format!("wamid.{i}")),
                    payload: None,
                    call_id: None,
                    sent_at: Some(1_700_000_000 + i as i64),
                },
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        if n_msgs > 0 {
            conn.execute_batch("COMMIT")?;
        }
    }
    drop(conn);
    eprintln!(
        "seeded {n_msgs} messages in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut cfg = Config::new(data);
    cfg.listen = "127.0.0.1:0".parse()?;
    cfg.api_burst = 1_000_000_000;
    cfg.api_rate_per_sec = 1_000_000_000;
    let server = softphone_server::start(&cfg).await?;
    let mut client = Client::new(&server.url())?;
    client.login("a@bench.test", "bench-password").await?;
    let (store, _) = Store::open(&dir.path().join("profile"))?;
    let store = Arc::new(Mutex::new(store));
    let opts = SyncOptions {
        page: 1000,
        ..SyncOptions::default()
    };
    let sync = Syncer::new(store.clone(), client.clone(), opts);

    // Pull.
    let t = Instant::now();
    let pulled = sync.pull().await?;
    let pull_s = t.elapsed().as_secs_f64();
    println!(
        "pull: {} changes in {:.2} s = {:.0} rows/s ({} pages)",
        pulled.applied,
        pull_s,
        pulled.applied as f64 / pull_s,
        pulled.pages
    );

    // Local writes (each its own durable transaction with an outbox entry).
    let mut lat = Vec::with_capacity(n_notes);
    for i in 0..n_notes {
        let t = Instant::now();
        store.lock().unwrap().write_note(
            alice_info.id,
            leads[i % 10],
            None,
            &format!("offline note {i}"),
        )?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "local write: p50 {:.3} ms, p99 {:.3} ms over {n_notes} notes",
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99)
    );

    // Push them.
    let t = Instant::now();
    let pushed = sync.push(true).await;
    let push_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(pushed.pushed == n_notes, "{pushed:?}");
    println!(
        "push: {n_notes} offline notes in {push_s:.2} s = {:.0} notes/s",
        n_notes as f64 / push_s
    );

    // Timeline of one lead (10% of the messages plus its notes).
    let mut tl = Vec::new();
    let mut len = 0;
    for _ in 0..20 {
        let t = Instant::now();
        len = store.lock().unwrap().timeline(leads[0])?.len();
        tl.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "timeline: {len} items in {:.1} ms (median of 20)",
        pct(&mut tl, 0.5)
    );
    server.stop().await?;

    // FTS over K notes (imported as a pull would apply them).
    let t = Instant::now();
    let words = [
        "presupuesto",
        "llamar",
        "martes",
        "contrato",
        "precio",
        "demo",
        "factura",
        "visita",
    ];
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..n_fts {
        batch.push(Change::Note(Note {
            id: Uuid::now_v7(),
            lead_id: leads[i % 10],
            call_id: None,
            author_id: alice_info.id,
            body: format!(
                "Note {i}: {} {} el {} {}",
                words[i % 8],
                words[(i / 8) % 8],
                words[(i / 64) % 8],
                if i == n_fts / 2 { "zanahoria" } else { "" }
            ),
            deleted: false,
            version: 1,
            updated_at: 1,
        }));
        if batch.len() == 10_000 {
            store.lock().unwrap().apply_changes(&batch)?;
            batch.clear();
        }
    }
    store.lock().unwrap().apply_changes(&batch)?;
    eprintln!(
        "imported {n_fts} notes in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    for q in ["zanahoria", "presupuesto martes", "factura"] {
        let mut v = Vec::new();
        let mut hits = 0;
        for _ in 0..10 {
            let t = Instant::now();
            hits = store.lock().unwrap().search(q, 20)?.len();
            v.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!(
            "search `{q}` over {n_fts} notes: {hits} hits (top 20) in {:.2} ms (median of 10)",
            pct(&mut v, 0.5)
        );
    }
    Ok(())
}
