//! The sync worker: pushes the outbox in order, pulls the changes feed, and listens for
//! live "changed" events on the signaling connection.
//!
//! Rules (docs/sync.md): an entry is retried with capped exponential backoff and jitter
//! while the failure can pass (network, 408, 429, 5xx); the head entry blocks later
//! ones so edits keep their order; an entry the server refuses as invalid (other 4xx) is
//! parked with its reason and the queue moves on; a rejected token (401) stops pushing
//! until the next login, without counting against the entry.

use crate::outbox::Entry;
use crate::recordings::Retention;
use crate::{now_ms, state, Store};
use serde::Serialize;
use softphone_client::{Client, ClientError, UploadMeta};
use softphone_proto::signal::ServerMsg;
use softphone_proto::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Tunables.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// First retry delay, ms (seed 001 used 2 s, 4 s, 8 s …).
    pub backoff_base_ms: i64,
    /// Longest retry delay, ms; retries go on at this interval while offline.
    pub backoff_cap_ms: i64,
    /// Upload chunk, bytes.
    pub chunk_bytes: usize,
    /// What happens to a recording file after the server confirmed it.
    pub retention: Retention,
    /// Changes per pull page.
    pub page: usize,
    /// Pull at least this often without a live event, ms.
    pub pull_every_ms: u64,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            backoff_base_ms: 2_000,
            backoff_cap_ms: 60_000,
            chunk_bytes: 1 << 20,
            retention: Retention::Keep,
            page: 500,
            pull_every_ms: 60_000,
        }
    }
}

/// Delay before attempt `attempts + 1`, ms: `base · 2^(attempts-1)` capped, then a
/// random point in its upper half (jitter spreads many clients coming back at once).
pub fn backoff_ms(opts: &SyncOptions, attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 30) - 1;
    let full = opts
        .backoff_base_ms
        .saturating_mul(1i64 << exp.min(20))
        .min(opts.backoff_cap_ms);
    full / 2 + rand::random_range(0..=full / 2)
}

/// What a push pass did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushReport {
    /// Entries the server accepted.
    pub pushed: usize,
    /// Entries parked (refused as invalid) during this pass.
    pub parked: usize,
    /// The error that stopped the pass, if one did.
    pub stopped_by: Option<String>,
}

/// What a pull did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PullReport {
    /// Changes applied locally.
    pub applied: usize,
    /// Pages fetched.
    pub pages: usize,
    /// Cursor after the pull.
    pub cursor: i64,
}

/// For the UI and `softphone status`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The last contact with the server worked.
    pub online: bool,
    /// Entries waiting (not parked).
    pub pending: usize,
    /// Parked entries: (seq, entity, reason).
    pub parked: Vec<(i64, String, String)>,
    /// Recording bytes the server does not have yet.
    pub bytes_left: u64,
    /// The last error seen, if any.
    pub last_error: Option<String>,
    /// Changes-feed cursor.
    pub cursor: i64,
}

impl Store {
    /// Current sync status.
    pub fn status(&self) -> crate::Result<Status> {
        let entries = self.outbox()?;
        let bytes_left = self
            .recordings()?
            .iter()
            .filter(|r| !r.uploaded)
            .map(|r| r.bytes.saturating_sub(r.uploaded_bytes))
            .sum();
        Ok(Status {
            online: state::get(&self.conn, "online")?.as_deref() == Some("1"),
            pending: entries.iter().filter(|e| e.parked_reason.is_none()).count(),
            parked: entries
                .iter()
                .filter_map(|e| {
                    e.parked_reason
                        .clone()
                        .map(|r| (e.seq, e.entity.clone(), r))
                })
                .collect(),
            bytes_left,
            last_error: if entries.iter().any(|e| e.parked_reason.is_none()) {
                state::get(&self.conn, "last_error")?
            } else {
                None
            },
            cursor: self.cursor()?,
        })
    }

    fn set_online(&self, online: bool) {
        let _ = state::set(&self.conn, "online", if online { "1" } else { "0" });
    }
}

/// Drives one store against one server.
#[derive(Clone)]
pub struct Syncer {
    store: Arc<Mutex<Store>>,
    client: Client,
    opts: SyncOptions,
}

enum Outcome {
    Done(Option<Box<Change>>),
    Retry(String),
    Park(String),
    Auth(String),
}

fn classify(e: ClientError) -> Outcome {
    let msg = e.to_string();
    if e.status() == Some(401) || matches!(e, ClientError::NotLoggedIn) {
        Outcome::Auth(msg)
    } else if e.is_retryable() {
        Outcome::Retry(msg)
    } else {
        Outcome::Park(format!("{}: {msg}", e.code()))
    }
}

impl Syncer {
    /// A worker over `store` using `client` (logged in).
    pub fn new(store: Arc<Mutex<Store>>, client: Client, opts: SyncOptions) -> Self {
        Self {
            store,
            client,
            opts,
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn put<T: Resource>(&self, e: &Entry) -> Result<T, Outcome> {
        let body: T::Upsert = serde_json::from_str(&e.body)
            .map_err(|err| Outcome::Park(format!("store.json: {err}")))?;
        self.client
            .put::<T>(e.record_id, &body)
            .await
            .map_err(classify)
    }

    async fn upload(&self, e: &Entry) -> Result<(), Outcome> {
        let rec = self
            .store()
            .recording(e.record_id)
            .map_err(|err| Outcome::Retry(err.to_string()))?
            .ok_or_else(|| Outcome::Park("store.not_found: recording row missing".into()))?;
        if rec.uploaded {
            return Ok(());
        }
        if !rec.path.is_file() {
            return Err(Outcome::Park(format!(
                "recording.missing: {} is gone",
                rec.path.display()
            )));
        }
        let meta = UploadMeta {
            call_id: rec.call_id,
            sha256: rec.sha256.clone(),
            duration_ms: rec.duration_ms,
            channels: rec.channels,
        };
        let store = self.store.clone();
        let call_id = rec.call_id;
        self.client
            .upload_recording(&rec.path, &meta, self.opts.chunk_bytes, move |sent, _| {
                if let Ok(mut s) = store.lock() {
                    let _ = s.set_uploaded_bytes(call_id, sent);
                }
            })
            .await
            .map_err(classify)?;
        self.store()
            .set_uploaded(call_id, self.opts.retention)
            .map_err(|err| Outcome::Retry(err.to_string()))?;
        Ok(())
    }

    async fn send(&self, e: &Entry) -> Outcome {
        let r = match e.entity.as_str() {
            "note" => self.put::<Note>(e).await.map(|x| Some(Change::Note(x))),
            "lead" => self.put::<Lead>(e).await.map(|x| Some(Change::Lead(x))),
            "contact" => self
                .put::<Contact>(e)
                .await
                .map(|x| Some(Change::Contact(x))),
            "conversation" => self
                .put::<Conversation>(e)
                .await
                .map(|x| Some(Change::Conversation(x))),
            "message" => self
                .put::<Message>(e)
                .await
                .map(|x| Some(Change::Message(x))),
            "message_status_event" => self.put::<MessageStatusEvent>(e).await.map(|_| None),
            "call" => self.put::<Call>(e).await.map(|x| Some(Change::Call(x))),
            "recording" => self.upload(e).await.map(|_| None),
            other => Err(Outcome::Park(format!("store.unknown_entity: {other}"))),
        };
        match r {
            Ok(ch) => Outcome::Done(ch.map(Box::new)),
            Err(o) => o,
        }
    }

    /// Pushes due entries in order. With `now_regardless`, a waiting head is tried at
    /// once (a manual "sync now"); otherwise the pass stops at a head not yet due.
    pub async fn push(&self, now_regardless: bool) -> PushReport {
        let mut report = PushReport::default();
        if let Some(keep) = self.opts.retention.keep_secs() {
            // Files past their days go even when nothing new was uploaded.
            if let Err(e) = self.store().expire_uploaded_recordings(keep, crate::now()) {
                tracing::warn!(error = %e, "could not delete expired recordings");
            }
        }
        loop {
            let head = match self.store().outbox_head() {
                Ok(Some(h)) => h,
                Ok(None) => return report,
                Err(e) => {
                    report.stopped_by = Some(e.to_string());
                    return report;
                }
            };
            if !now_regardless && head.next_attempt_at_ms > now_ms() {
                report.stopped_by = head.last_error.clone();
                return report;
            }
            let outcome = self.send(&head).await;
            let mut s = self.store();
            match outcome {
                Outcome::Done(answer) => {
                    s.set_online(true);
                    if let Err(e) = s.outbox_done(&head, answer.as_deref()) {
                        report.stopped_by = Some(e.to_string());
                        return report;
                    }
                    report.pushed += 1;
                }
                Outcome::Park(reason) => {
                    s.set_online(true);
                    tracing::warn!(entity = %head.entity, id = %head.record_id, %reason, "server refused; parked");
                    let _ = s.outbox_park(&head, &reason);
                    report.parked += 1;
                }
                Outcome::Retry(err) => {
                    s.set_online(false);
                    let at = now_ms() + backoff_ms(&self.opts, head.attempts + 1);
                    let _ = s.outbox_retry(&head, &err, at);
                    report.stopped_by = Some(err);
                    return report;
                }
                Outcome::Auth(err) => {
                    s.set_online(true);
                    let _ = state::set(&s.conn, "last_error", &err);
                    report.stopped_by = Some(err);
                    return report;
                }
            }
        }
    }

    /// Pulls every change after the stored cursor, page by page; each page and its
    /// cursor commit together, so an interrupted pull resumes where it stopped.
    pub async fn pull(&self) -> Result<PullReport, ClientError> {
        let mut report = PullReport {
            cursor: self.store().cursor().unwrap_or(0),
            ..PullReport::default()
        };
        loop {
            let page = match self.client.changes(report.cursor, self.opts.page).await {
                Ok(p) => p,
                Err(e) => {
                    self.store().set_online(!e.is_retryable());
                    return Err(e);
                }
            };
            report.pages += 1;
            let mut s = self.store();
            s.set_online(true);
            let tx = s
                .conn
                .transaction()
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            for ch in &page.changes {
                if crate::records::apply(&tx, ch)
                    .map_err(|e| ClientError::Protocol(e.to_string()))?
                {
                    report.applied += 1;
                }
            }
            state::set(&tx, "cursor", &page.next.to_string())
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            tx.commit()
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            report.cursor = page.next;
            if !page.more {
                return Ok(report);
            }
        }
    }

    /// One manual round: push everything now, then pull.
    pub async fn run_once(&self) -> (PushReport, Result<PullReport, ClientError>) {
        let push = self.push(true).await;
        let pull = self.pull().await;
        (push, pull)
    }

    /// Runs until `stop` turns true: pushes when entries are due or `nudge` fires,
    /// pulls on live "changed" events, after pushes and periodically.
    pub async fn run(&self, mut stop: watch::Receiver<bool>, nudge: Arc<tokio::sync::Notify>) {
        let (changed_tx, mut changed_rx) = mpsc::channel::<i64>(16);
        let listener = tokio::spawn(listen(self.client.clone(), changed_tx));
        let mut last_pull = 0u64;
        loop {
            if *stop.borrow() {
                break;
            }
            let pushed = self.push(false).await;
            let now = now_ms() as u64;
            if (pushed.pushed > 0 || now.saturating_sub(last_pull) >= self.opts.pull_every_ms)
                && self.pull().await.is_ok()
            {
                last_pull = now;
            }
            let wake_ms = match self.store().outbox_head() {
                Ok(Some(h)) => (h.next_attempt_at_ms - now_ms()).clamp(50, 30_000) as u64,
                _ => 30_000,
            };
            tokio::select! {
                _ = stop.changed() => {}
                _ = nudge.notified() => {}
                Some(_) = changed_rx.recv() => {
                    while changed_rx.try_recv().is_ok() {}
                    if self.pull().await.is_ok() {
                        last_pull = now_ms() as u64;
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(wake_ms)) => {}
            }
        }
        listener.abort();
    }
}

/// Keeps a signaling connection open and forwards "changed" events; reconnects with
/// backoff when it drops.
async fn listen(client: Client, tx: mpsc::Sender<i64>) {
    let mut delay = Duration::from_millis(500);
    loop {
        if let Ok(mut conn) = client.signal().await {
            delay = Duration::from_millis(500);
            let _ = tx.try_send(0);
            while let Ok(Some(msg)) = conn.recv().await {
                if let ServerMsg::Changed { seq } = msg {
                    let _ = tx.try_send(seq);
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_and_caps() {
        let o = SyncOptions::default();
        for (attempt, full) in [
            (1, 2_000),
            (2, 4_000),
            (3, 8_000),
            (7, 60_000),
            (50, 60_000),
        ] {
            for _ in 0..50 {
                let d = backoff_ms(&o, attempt);
                assert!((full / 2..=full).contains(&d), "attempt {attempt}: {d}");
            }
        }
    }
}
