//! The signed-in agent: the account (token in the OS keyring), the offline-first local
//! store and its sync worker, the signaling line and calls. The CLI, the Tauri shell
//! and the headless scenario drive calls and notes only through this module, so a call
//! placed from a test is stored, recorded and synced exactly as one placed in the app.
//!
//! Async (tokio): every caller already runs a runtime (Tauri's, the CLI's, a test's).

use softphone_call::machine::{CallMachine, Timeouts};
use softphone_call::{run_call, CallEvent, CallReport, CallSetup, Command, EndReason};
use softphone_client::{Client, ClientError, SignalConn};
use softphone_proto::signal::{Presence, ServerMsg};
use softphone_proto::{Call, CallDirection, CallLink, CallUpsert, Change, CreateLink, Lead, Note};
use softphone_store::credentials::{self, CredentialError, Settings};
use softphone_store::sync::{PullReport, PushReport, Status, SyncOptions, Syncer};
use softphone_store::{now_ms, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Errors of the signed-in agent, each with a stable [`AgentError::code`].
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server refused or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Not signed in, or the keyring is unavailable.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The signaling line broke or said something unexpected.
    #[error("signaling: {0}")]
    Signal(String),
    /// A call target that names nobody (or several people).
    #[error("{0}")]
    UnknownTarget(String),
    /// Nothing happened within the time asked for.
    #[error("{0}")]
    Timeout(String),
    /// The organisation's policy could not be applied.
    #[error("org policy: {0}")]
    OrgPolicy(String),
}

impl AgentError {
    /// Stable error code for the UI, e.g. `client.network`, `agent.unknown_target`.
    pub fn code(&self) -> &str {
        match self {
            AgentError::Client(e) => e.code(),
            AgentError::Store(e) => e.code(),
            AgentError::Credentials(CredentialError::NotLoggedIn) => "auth.not_signed_in",
            AgentError::Credentials(CredentialError::Keyring(_)) => "auth.keyring",
            AgentError::Credentials(CredentialError::Settings { .. }) => "auth.settings",
            AgentError::Signal(_) => "agent.signal",
            AgentError::UnknownTarget(_) => "agent.unknown_target",
            AgentError::Timeout(_) => "agent.timeout",
            AgentError::OrgPolicy(_) => "agent.org_policy",
        }
    }
}

/// Result of this module.
pub type Result<T, E = AgentError> = std::result::Result<T, E>;

/// The profile folder (local store and account settings): `SOFTPHONE_PROFILE`, else the
/// platform's data folder (`~/.local/share/agent-softphone` on Linux,
/// `~/Library/Application Support/agent-softphone` on macOS, `%APPDATA%\agent-softphone`
/// on Windows). `None` only on a system without a data folder.
pub fn default_profile() -> Option<PathBuf> {
    match std::env::var_os("SOFTPHONE_PROFILE") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => dirs::data_dir().map(|d| d.join("agent-softphone")),
    }
}

/// A signed-in server account: its settings and a client holding the token.
#[derive(Clone)]
pub struct Account {
    /// Server URL, e-mail, user id, display name.
    pub settings: Settings,
    client: Client,
}

impl Account {
    /// Signs in with e-mail and password. Nothing is saved; see [`Account::remember`].
    ///
    /// Errors: `auth.*` codes from the server (wrong password, rate limited),
    /// `client.network` when it is unreachable.
    pub async fn sign_in(server: &str, email: &str, password: &str) -> Result<Account> {
        let mut client = Client::new(server)?;
        let resp = client.login(email, password).await?;
        tracing::info!(server, email = %resp.user.email, user = %resp.user.id, "signed in");
        Ok(Account {
            settings: Settings {
                server_url: server.trim_end_matches('/').to_string(),
                email: resp.user.email.clone(),
                user_id: resp.user.id,
                display_name: resp.user.display_name.clone(),
            },
            client,
        })
    }

    /// The session saved in `profile` (settings file + token from the OS keyring).
    pub fn from_profile(profile: &Path) -> Result<Account> {
        let (settings, token) = credentials::load(profile)?;
        let client = Client::new(&settings.server_url)?.with_token(token);
        Ok(Account { settings, client })
    }

    /// Keeps this session for the next start: settings in `profile/settings.json`, the
    /// token only in the OS keyring.
    pub fn remember(&self, profile: &Path) -> Result<()> {
        let token = self.client.token().ok_or(CredentialError::NotLoggedIn)?;
        credentials::save(profile, &self.settings, token)?;
        Ok(())
    }

    /// The API client (logged in).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Fetches the organisation's policy (`GET /api/v1/org/policy`) and keeps it in
    /// `profile` for [`crate::admin::AdminConfig::load_effective`], where the machine's
    /// policy file wins key by key. A failure is logged and leaves the cached one.
    ///
    /// Errors: the server could not be asked, its policy is out of range, or the
    /// profile cannot be written (`agent.org_policy`).
    pub async fn fetch_org_policy(&self, profile: &Path) -> Result<softphone_proto::OrgPolicy> {
        let policy = match self.client.org_policy().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "could not fetch the org policy; the cached one applies");
                return Err(e.into());
            }
        };
        if let Err(e) = policy.validate() {
            tracing::warn!(error = %e, "the server's org policy is out of range; ignored");
            return Err(AgentError::OrgPolicy(e));
        }
        crate::admin::save_org_policy(profile, &policy)
            .map_err(|e| AgentError::OrgPolicy(e.to_string()))?;
        tracing::info!(policy = ?policy, "org policy applied");
        Ok(policy)
    }

    /// Fills `setup`'s ICE servers: the admin policy's when it sets some (they replace
    /// any the caller set; the CLI refuses others before the call), else from the server
    /// (`GET /api/v1/ice-servers`, fresh TURN credentials for this call) unless the
    /// caller set some. A failure is logged and leaves none: host candidates still
    /// connect on a LAN, and a call must not fail for want of a relay it may not need.
    ///
    /// It also makes the call relay-only under the policy's `ice_transport_policy:
    /// relay` (keeping a relay-only the caller asked for otherwise).
    pub async fn fill_ice_servers(&self, setup: &mut softphone_call::CallSetup) {
        let policy = crate::admin::AdminConfig::load(&crate::admin::AdminConfig::system_path())
            .unwrap_or_default();
        if policy.ice_transport_policy == Some(crate::admin::IceTransportPolicy::Relay) {
            setup.peer.relay_only = true;
        }
        if !policy.ice_servers.is_empty() {
            setup.peer.ice_servers = policy.ice_servers;
            return;
        }
        if !setup.peer.ice_servers.is_empty() {
            return;
        }
        match self.client.ice_servers().await {
            Ok(ice) => setup.peer.ice_servers = ice.ice_servers,
            Err(e) => tracing::warn!(code = e.code(), error = %e, "no ICE servers for this call"),
        }
    }

    /// Opens the signaling line and waits for the server's welcome.
    pub async fn phone(&self) -> Result<Phone> {
        let mut signal = self.client.signal().await?;
        match signal.recv().await? {
            Some(ServerMsg::Welcome { user_id, presence }) => Ok(Phone {
                signal,
                user_id,
                members: presence
                    .into_iter()
                    .map(|p| (p.user_id, p.display_name))
                    .collect(),
            }),
            other => Err(AgentError::Signal(format!(
                "expected the server's welcome, got {other:?}"
            ))),
        }
    }

    /// A browser call link for a prospect (optionally tied to a lead). The prospect
    /// opens `link.url`; the agent then dials `link.id`.
    pub async fn create_link(&self, req: &CreateLink) -> Result<CallLink> {
        Ok(self.client.create_link(req).await?)
    }

    /// This agent's call links that can still be opened, newest first.
    pub async fn links(&self) -> Result<Vec<CallLink>> {
        Ok(self.client.links().await?)
    }

    /// Revokes one of this agent's call links; an open page is disconnected at once.
    pub async fn revoke_link(&self, id: Uuid) -> Result<()> {
        Ok(self.client.revoke_link(id).await?)
    }
}

/// The signaling line: where calls are placed and incoming calls arrive.
pub struct Phone {
    signal: SignalConn,
    /// Our user id.
    pub user_id: Uuid,
    /// Colleagues online at connect time (and browser guests): (id, display name).
    pub members: Vec<(Uuid, String)>,
}

impl Phone {
    /// `echo`, a user or link id, or a colleague's display name (case-insensitive) to
    /// the dial string the server routes.
    ///
    /// Errors: `agent.unknown_target` when the name matches nobody or several people.
    pub fn resolve(&self, target: &str) -> Result<String> {
        if target == "echo" || Uuid::parse_str(target).is_ok() {
            return Ok(target.to_string());
        }
        let found: Vec<_> = self
            .members
            .iter()
            .filter(|(_, n)| n.eq_ignore_ascii_case(target))
            .collect();
        match found.as_slice() {
            [(id, _)] => Ok(id.to_string()),
            [] => Err(AgentError::UnknownTarget(format!(
                "no colleague called `{target}`: use `echo`, a user id or a display name"
            ))),
            _ => Err(AgentError::UnknownTarget(format!(
                "several colleagues are called `{target}`: use the user id"
            ))),
        }
    }

    /// Waits until `id` (a colleague or a browser link) is online, up to `wait`.
    pub async fn wait_online(&mut self, id: Uuid, wait: Duration) -> Result<()> {
        if self.members.iter().any(|(m, _)| *m == id) {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.signal.recv()).await {
                Err(_) => return Err(AgentError::Timeout(format!("{id} did not come online"))),
                Ok(Ok(Some(ServerMsg::Presence(p)))) => {
                    let online = p.user_id == id;
                    self.members.push((p.user_id, p.display_name));
                    if online {
                        return Ok(());
                    }
                }
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) => {
                    return Err(AgentError::Signal("the server closed the line".into()))
                }
                Ok(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Places a call to `target` (see [`Phone::resolve`]). The phone is busy until the
    /// call's [`LiveCall::finish`] hands it back. A recording in `setup` gets this
    /// call's id in its metadata.
    pub fn dial(self, target: &str, setup: CallSetup) -> Result<LiveCall> {
        self.dial_as(Uuid::now_v7(), target, setup)
    }

    /// [`Phone::dial`] with a call id chosen by the caller (a fresh UUIDv7), e.g. to name
    /// the recording file after the call before it starts.
    pub fn dial_as(self, call_id: Uuid, target: &str, setup: CallSetup) -> Result<LiveCall> {
        let to = self.resolve(target)?;
        let machine = CallMachine::outgoing(call_id, Instant::now(), Timeouts::default());
        Ok(LiveCall::start(self, machine, Some(to), setup, false))
    }

    /// Waits up to `wait` for an incoming call and answers it at once.
    pub async fn answer_next(mut self, wait: Duration, setup: CallSetup) -> Result<LiveCall> {
        let incoming = self.next_incoming(wait).await?;
        Ok(self.take_call(incoming, setup, true))
    }

    /// Waits up to `wait` for the next incoming call; the phone stays usable after a
    /// timeout. Presence updates that arrive meanwhile are kept in [`Phone::members`].
    ///
    /// Errors: `agent.timeout` when nobody called; `agent.signal` when the server closed
    /// the line; `client.*` for a broken connection.
    pub async fn next_incoming(&mut self, wait: Duration) -> Result<Incoming> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.signal.recv()).await {
                Err(_) => return Err(AgentError::Timeout(format!("no call within {wait:?}"))),
                Ok(Ok(Some(ServerMsg::Incoming {
                    call_id,
                    from,
                    from_name,
                    offer,
                }))) => {
                    return Ok(Incoming {
                        call_id,
                        from,
                        from_name,
                        offer,
                    })
                }
                Ok(Ok(Some(ServerMsg::Presence(p)))) => {
                    if !self.members.iter().any(|(m, _)| *m == p.user_id) {
                        self.members.push((p.user_id, p.display_name));
                    }
                }
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) => {
                    return Err(AgentError::Signal("the server closed the line".into()))
                }
                Ok(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Takes a ringing call. With `accept` it is answered at once; otherwise it keeps
    /// ringing (state `ringing_in`) until [`Command::Accept`] or [`Command::Reject`] is
    /// sent, the caller cancels, or the ring timeout ends it (`no_answer`).
    pub fn take_call(self, incoming: Incoming, setup: CallSetup, accept: bool) -> LiveCall {
        let machine = CallMachine::incoming(
            incoming.call_id,
            incoming.from.to_string(),
            incoming.offer,
            Instant::now(),
            Timeouts::default(),
        );
        LiveCall::start(self, machine, None, setup, accept)
    }

    /// Sets this agent's presence for the whole organisation: `available` takes calls,
    /// `busy` and `wrap_up` make calls to the agent fail with `busy` (the server's rule).
    ///
    /// Errors: `client.*` when the line is broken; the server answers `offline` with a
    /// `signal.malformed` error frame (close the phone instead).
    pub async fn set_presence(&mut self, status: Presence) -> Result<()> {
        self.signal
            .send(&softphone_proto::signal::ClientMsg::Presence { status })
            .await?;
        Ok(())
    }

    /// Closes the signaling line (the server marks us offline).
    pub async fn close(self) {
        let _ = self.signal.close().await;
    }
}

/// A call ringing in (signaling `incoming`), before anyone took it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The caller's call id.
    pub call_id: Uuid,
    /// Caller user id.
    pub from: Uuid,
    /// Caller name, as the server knows it.
    pub from_name: String,
    offer: Option<String>,
}

/// A call in progress: send [`Command`]s, read [`CallEvent`]s, then [`LiveCall::finish`].
pub struct LiveCall {
    /// Call id (UUIDv7 for calls we placed, the caller's for incoming ones).
    pub call_id: Uuid,
    cmd: mpsc::Sender<Command>,
    events: mpsc::Receiver<CallEvent>,
    task: JoinHandle<(CallReport, Phone)>,
}

impl LiveCall {
    fn start(
        mut phone: Phone,
        machine: CallMachine,
        dial_to: Option<String>,
        mut setup: CallSetup,
        accept: bool,
    ) -> LiveCall {
        let call_id = machine.call_id;
        // The recording's metadata names the call the machine actually runs.
        if let Some(r) = setup.record.as_mut() {
            r.meta.call_id = call_id.to_string();
        }
        let (cmd, cmd_rx) = mpsc::channel(16);
        let (ev_tx, events) = mpsc::channel(256);
        if accept {
            let _ = cmd.try_send(Command::Accept);
        }
        let task = tokio::spawn(async move {
            let report = run_call(&mut phone.signal, machine, dial_to, setup, cmd_rx, ev_tx).await;
            (report, phone)
        });
        LiveCall {
            call_id,
            cmd,
            events,
            task,
        }
    }

    /// A sender for commands (mute, hold, DTMF, hang-up), e.g. for a Ctrl-C handler.
    pub fn commands(&self) -> mpsc::Sender<Command> {
        self.cmd.clone()
    }

    /// Sends one command; false when the call has already ended.
    pub async fn send(&self, c: Command) -> bool {
        self.cmd.send(c).await.is_ok()
    }

    /// The next event; `None` once the call has ended and every event was read.
    pub async fn next_event(&mut self) -> Option<CallEvent> {
        self.events.recv().await
    }

    /// Waits up to `wait` for an event matching `f` and returns it; the events before it
    /// are dropped.
    ///
    /// Errors: `agent.timeout` after `wait`; `agent.signal` when the call ended first.
    pub async fn wait_for(
        &mut self,
        wait: Duration,
        f: impl Fn(&CallEvent) -> bool,
    ) -> Result<CallEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return Err(AgentError::Timeout(format!("nothing within {wait:?}"))),
                Ok(None) => return Err(AgentError::Signal("the call ended".into())),
                Ok(Some(e)) if f(&e) => return Ok(e),
                Ok(Some(_)) => {}
            }
        }
    }

    /// Waits for the end (send [`Command::Hangup`] first to end it) and returns the
    /// report and the phone. Events not yet read are dropped. Memory the call's
    /// threads freed goes back to the OS ([`crate::release_freed_memory`]).
    pub async fn finish(mut self) -> (CallReport, Phone) {
        self.events.close();
        while self.events.recv().await.is_some() {}
        let ended = match self.task.await {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        crate::release_freed_memory();
        ended
    }
}

/// What one sync round did.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncRound {
    /// The push pass.
    pub push: PushReport,
    /// Changes applied by the pull, or why it failed.
    pub pull: std::result::Result<PullReport, String>,
    /// Status after the round.
    pub status: Status,
}

/// Where a finished call's record went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavedCall {
    /// Queued in the local store (synced with its recording).
    Store,
    /// No lead: the report as JSON beside the recording.
    File(PathBuf),
    /// No lead and no recording: nothing kept.
    Nothing,
}

/// A call that never ended cleanly, as [`Agent::open`] found and recovered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredCall {
    /// This agent's record of the call ([`record_id`]: the call's id for an outgoing
    /// call).
    pub call_id: Uuid,
    /// Its lead: a call record (end reason `crashed`) was queued.
    pub lead_id: Option<Uuid>,
    /// The repaired recording; queued for upload when the call had a lead.
    pub recording: Option<PathBuf>,
    /// Playable duration of the recording, ms.
    pub duration_ms: Option<u64>,
    /// Why a journalled recording could not be kept (missing, or no audio in it).
    pub problem: Option<String>,
}

/// True while process `pid` runs (not this one's journal, which holds live calls).
fn process_alive(pid: u32, started_at_ms: i64) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let _ = started_at_ms;
        // A killed process stays a zombie until its parent reaps it, and signal 0 still
        // reaches a zombie: on Linux its state letter says it is dead.
        #[cfg(target_os = "linux")]
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // "PID (COMM) STATE ...": COMM may hold spaces and parentheses.
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].trim_start().chars().next());
            if matches!(state, Some('Z' | 'X')) {
                return false;
            }
        }
        // Signal 0 checks existence; EPERM means it exists under another user.
        let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        // No cheap liveness check without another dependency: a journalled call is
        // taken as running for 4 hours (longer than any call), then recovered.
        let _ = pid;
        now_ms() - started_at_ms < 4 * 3600 * 1000
    }
}

/// Repairs a journalled recording: `PATH.part` (the recorder was killed mid-write) or
/// `PATH` (killed after the rename, before the end-of-stream page).
fn repair_recording(
    path: &Path,
) -> std::result::Result<softphone_recorder::RecordingSummary, String> {
    let mut part = path.as_os_str().to_owned();
    part.push(softphone_recorder::PART_SUFFIX);
    let part = PathBuf::from(part);
    let target = if part.is_file() {
        part
    } else if path.is_file() {
        path.to_path_buf()
    } else {
        return Err(format!("{} is missing", path.display()));
    };
    softphone_recorder::repair_file(&target)
        .map(|r| r.summary)
        .map_err(|e| e.to_string())
}

/// The agent in a profile folder: account, local store and sync.
pub struct Agent {
    profile: PathBuf,
    account: Account,
    store: Arc<Mutex<Store>>,
    sync_opts: SyncOptions,
    recovered: Vec<RecoveredCall>,
    /// When the org policy was last fetched (sync fetches it at most every
    /// [`ORG_POLICY_EVERY`]).
    policy_fetched: Mutex<Option<Instant>>,
}

/// How often sync asks the server for the organisation's policy.
pub const ORG_POLICY_EVERY: Duration = Duration::from_secs(300);

impl Agent {
    /// Opens `profile` for `account`. When the local database was unreadable it is moved
    /// aside and its unsynced changes salvaged (the returned report says so). Calls a
    /// crash cut short are recovered first ([`Agent::recovered`]).
    pub fn open(profile: &Path, account: Account) -> Result<(Agent, softphone_store::OpenReport)> {
        let (store, report) = Store::open(profile)?;
        let mut agent = Agent {
            profile: profile.to_path_buf(),
            account,
            store: Arc::new(Mutex::new(store)),
            sync_opts: SyncOptions::default(),
            recovered: vec![],
            policy_fetched: Mutex::new(None),
        };
        agent.recovered = agent.recover_crashed_calls()?;
        for r in &agent.recovered {
            tracing::warn!(call = %r.call_id, problem = ?r.problem, "recovered a call that ended in a crash");
        }
        Ok((agent, report))
    }

    /// Calls found unfinished when this agent was opened, now recorded (see
    /// [`Agent::recover_crashed_calls`]).
    pub fn recovered(&self) -> &[RecoveredCall] {
        &self.recovered
    }

    /// Journals a call as it starts, before any audio: if the process dies mid-call,
    /// the next start finds it ([`Agent::recover_crashed_calls`]). `recording` is the
    /// path given to the recorder (its final `.opus` name).
    pub fn journal_call(
        &self,
        call_id: Uuid,
        lead: Option<Uuid>,
        recording: Option<&Path>,
        remote: &str,
        outgoing: bool,
    ) -> Result<()> {
        self.store()
            .journal_call(&softphone_store::call_journal::JournalEntry {
                call_id,
                lead_id: lead,
                recording_path: recording.map(Path::to_path_buf),
                remote: remote.to_string(),
                outgoing,
                started_at_ms: now_ms(),
                pid: std::process::id(),
            })?;
        Ok(())
    }

    /// Every journalled call whose process is gone: its recording (wherever it was
    /// written) is repaired, and when the call had a lead a call record with end reason
    /// `crashed`, the recording's real duration and the lead is queued, then the
    /// recording's upload. A lead-less call's repaired file stays where it was written. Idempotent: a call already saved is only taken off the journal.
    ///
    /// Errors: local store errors. A recording that cannot be repaired is reported in
    /// [`RecoveredCall::problem`] and the call record is still made.
    pub fn recover_crashed_calls(&self) -> Result<Vec<RecoveredCall>> {
        let entries = self.store().journal()?;
        let mut out = Vec::new();
        for e in entries {
            if process_alive(e.pid, e.started_at_ms) {
                continue;
            }
            let mut store = self.store();
            let id = record_id(e.call_id, e.outgoing, self.account.settings.user_id);
            let saved = store.get::<Call>(id)?.is_some() || store.recording(id)?.is_some();
            if saved {
                store.unjournal_call(e.call_id)?;
                continue;
            }
            let mut r = RecoveredCall {
                call_id: id,
                lead_id: e.lead_id,
                recording: None,
                duration_ms: None,
                problem: None,
            };
            let summary = match &e.recording_path {
                Some(p) => match repair_recording(p) {
                    Ok(s) => Some(s),
                    Err(problem) => {
                        r.problem = Some(problem);
                        None
                    }
                },
                None => None,
            };
            if let Some(lead) = e.lead_id {
                let duration = summary.as_ref().map(|s| s.duration_ms as i64);
                let upsert = CallUpsert {
                    lead_id: lead,
                    direction: if e.outgoing {
                        CallDirection::Outbound
                    } else {
                        CallDirection::Inbound
                    },
                    remote: e.remote.clone(),
                    started_at_ms: e.started_at_ms,
                    answered_at_ms: None,
                    ended_at_ms: duration.map(|d| e.started_at_ms + d),
                    duration_ms: duration,
                    end_reason: Some("crashed".into()),
                    disposition: None,
                    quality: None,
                };
                let call = Call {
                    id,
                    lead_id: lead,
                    direction: upsert.direction,
                    agent_id: self.account.settings.user_id,
                    remote: upsert.remote.clone(),
                    started_at_ms: upsert.started_at_ms,
                    answered_at_ms: None,
                    ended_at_ms: upsert.ended_at_ms,
                    duration_ms: upsert.duration_ms,
                    end_reason: upsert.end_reason.clone(),
                    disposition: None,
                    quality: None,
                    has_recording: false,
                    version: 0,
                    updated_at: 0,
                };
                store.queue::<Call>(id, Some(lead), &call, &upsert)?;
                // Queued after its call record: the server keeps a recording only under
                // a call record of the uploader's.
                if let Some(s) = &summary {
                    store.add_recording(id, &s.path, s.duration_ms, 2)?;
                }
            }
            // A call with no lead has no record to upload under: its repaired file stays
            // where it was written, as after a lead-less call that ended normally.
            if let Some(s) = &summary {
                r.recording = Some(s.path.clone());
                r.duration_ms = Some(s.duration_ms);
            }
            store.unjournal_call(e.call_id)?;
            out.push(r);
        }
        Ok(out)
    }

    /// The saved session in `profile` (see [`Account::from_profile`]).
    pub fn resume(profile: &Path) -> Result<Agent> {
        Ok(Agent::open(profile, Account::from_profile(profile)?)?.0)
    }

    /// Sync settings (retention, backoff) for the rounds and workers started after this.
    pub fn set_sync_options(&mut self, opts: SyncOptions) {
        self.sync_opts = opts;
    }

    /// The account.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The profile folder.
    pub fn profile(&self) -> &Path {
        &self.profile
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leads in the local store (as last pulled).
    pub fn leads(&self) -> Result<Vec<Lead>> {
        Ok(self.store().list::<Lead>()?)
    }

    /// The lead list: every lead with its last activity (Unix ms and kind), unread
    /// inbound messages and pending entries, most recent activity first.
    pub fn lead_overview(&self) -> Result<Vec<softphone_store::lead_reads::LeadOverview>> {
        Ok(self.store().lead_overview()?)
    }

    /// Marks a lead's messages as read on this device (the agent opened its timeline);
    /// answers how many were unread.
    pub fn mark_read(&self, lead: Uuid) -> Result<u32> {
        Ok(self.store().mark_read(lead)?)
    }

    /// Notes on a lead, local ones included (pending or synced).
    pub fn notes(&self, lead: Uuid) -> Result<Vec<Note>> {
        Ok(self.store().notes_for(lead)?)
    }

    /// Writes a note: saved locally at once, queued for sync (works offline).
    ///
    /// Errors: `store.invalid` for an empty note.
    pub fn write_note(&self, lead: Uuid, call: Option<Uuid>, body: &str) -> Result<Note> {
        let author = self.account.settings.user_id;
        Ok(self.store().write_note(author, lead, call, body)?)
    }

    /// A lead's timeline, oldest first: its notes, messages and calls, each with whether
    /// the server has it yet and, for a call, its local recording.
    pub fn timeline(&self, lead: Uuid) -> Result<Vec<TimelineEntry>> {
        let store = self.store();
        let mut out = Vec::new();
        for item in store.timeline(lead)? {
            let (pending, recording) = match &item {
                Change::Note(n) if n.deleted => continue,
                Change::Note(n) => (n.version == 0, None),
                Change::Message(m) => (m.version == 0, None),
                Change::Call(c) => (
                    c.version == 0,
                    store.recording(c.id)?.map(|r| RecordingState {
                        local: r.path.exists(),
                        path: r.path,
                        duration_ms: r.duration_ms,
                        bytes: r.bytes,
                        uploaded_bytes: r.uploaded_bytes,
                        uploaded: r.uploaded,
                    }),
                ),
                _ => (false, None),
            };
            out.push(TimelineEntry {
                item,
                pending,
                recording,
            });
        }
        Ok(out)
    }

    /// Full-text search over the local notes and messages (works offline), best match
    /// first, at most `limit` hits; each names its lead and carries a snippet with the
    /// match in `[` `]`.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<softphone_store::search::Hit>> {
        Ok(self.store().search(query, limit)?)
    }

    /// The local recording file of a call, when this device has it.
    ///
    /// Errors: `store.*` when the store fails; `Ok(None)` when the call has no local
    /// recording (never made here, or pruned after upload).
    pub fn recording_path(&self, call: Uuid) -> Result<Option<PathBuf>> {
        Ok(self
            .store()
            .recording(call)?
            .map(|r| r.path)
            .filter(|p| p.exists()))
    }

    /// Online/offline, pending and parked entries, recording bytes left.
    pub fn status(&self) -> Result<Status> {
        Ok(self.store().status()?)
    }

    /// A sync worker over this agent's store (for `Syncer::run` in the background).
    pub fn syncer(&self) -> Syncer {
        Syncer::new(
            self.store.clone(),
            self.account.client.clone(),
            self.sync_opts.clone(),
        )
    }

    /// One round: push everything pending (ignoring retry back-off), then pull.
    pub async fn sync_once(&self) -> Result<SyncRound> {
        let due = self
            .policy_fetched
            .lock()
            .map(|t| t.is_none_or(|t| t.elapsed() >= ORG_POLICY_EVERY))
            .unwrap_or(true);
        if due && self.account.fetch_org_policy(&self.profile).await.is_ok() {
            if let Ok(mut t) = self.policy_fetched.lock() {
                *t = Some(Instant::now());
            }
        }
        let syncer = self.syncer();
        let push = syncer.push(true).await;
        let pull = syncer.pull().await.map_err(|e| e.to_string());
        match &pull {
            Ok(p) => tracing::info!(push = ?push, pulled = ?p, "sync round"),
            Err(e) => tracing::warn!(push = ?push, error = %e, "sync round: pull failed"),
        }
        Ok(SyncRound {
            push,
            pull,
            status: self.status()?,
        })
    }

    /// Keeps a finished call: with a lead, the call record (and its recording) goes to
    /// the store and syncs; without one, the report goes to `RECORDING.json` beside the
    /// recording.
    pub fn save_call(&self, report: &CallReport, lead: Option<Uuid>) -> Result<SavedCall> {
        save_call(Some(self), report, lead)
    }
}

/// One entry of [`Agent::timeline`].
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct TimelineEntry {
    /// The note, message or call (`{"entity": "note", "data": {…}}`).
    pub item: Change,
    /// True until the server has acknowledged it (version 0).
    pub pending: bool,
    /// For a call recorded on this device: the file and its upload progress.
    pub recording: Option<RecordingState>,
}

/// A call's local recording and its upload (tus) progress.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecordingState {
    /// The Ogg Opus file.
    pub path: PathBuf,
    /// False when the file was pruned after upload (it plays from the server then).
    pub local: bool,
    /// Duration, ms.
    pub duration_ms: u64,
    /// Size, bytes.
    pub bytes: u64,
    /// Bytes the server has acknowledged.
    pub uploaded_bytes: u64,
    /// True once the server confirmed the whole file (sha256 checked).
    pub uploaded: bool,
}

/// The id of this agent's own record of call `call_id` (its call record and its
/// recording's upload). Both sides of a call between colleagues know the call's id and
/// each may record it with a lead of their own, so the two records need two ids: the
/// caller's record takes the call's id, the callee's one derived from it and the
/// callee's user id. Deterministic, so recovery after a crash finds the same record;
/// the first 8 bytes (a UUIDv7's timestamp) are kept, so it sorts with the call.
pub fn record_id(call_id: Uuid, outgoing: bool, user: Uuid) -> Uuid {
    if outgoing {
        return call_id;
    }
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"agent-softphone: the callee's record of a call");
    h.update(call_id.as_bytes());
    h.update(user.as_bytes());
    let digest = h.finalize();
    let mut b = *call_id.as_bytes();
    b[8..].copy_from_slice(&digest[..8]);
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
    Uuid::from_bytes(b)
}

/// [`Agent::save_call`] for callers that may have no profile (a one-off CLI call).
pub fn save_call(
    agent: Option<&Agent>,
    report: &CallReport,
    lead: Option<Uuid>,
) -> Result<SavedCall> {
    match (agent, lead) {
        (Some(agent), Some(lead)) => {
            let upsert = call_upsert(report, lead);
            let id = record_id(
                report.call_id,
                upsert.direction == CallDirection::Outbound,
                agent.account.settings.user_id,
            );
            let call = Call {
                id,
                lead_id: lead,
                direction: upsert.direction,
                agent_id: agent.account.settings.user_id,
                remote: upsert.remote.clone(),
                started_at_ms: upsert.started_at_ms,
                answered_at_ms: upsert.answered_at_ms,
                ended_at_ms: upsert.ended_at_ms,
                duration_ms: upsert.duration_ms,
                end_reason: upsert.end_reason.clone(),
                disposition: None,
                quality: upsert.quality.clone(),
                has_recording: false,
                version: 0,
                updated_at: 0,
            };
            let mut store = agent.store();
            store.queue::<Call>(id, Some(lead), &call, &upsert)?;
            if let Some(r) = &report.recording {
                store.add_recording(id, &r.path, r.duration_ms, 2)?;
            }
            // Saved: no longer a call to recover.
            store.unjournal_call(report.call_id)?;
            Ok(SavedCall::Store)
        }
        _ => {
            let saved = save_without_lead(report);
            if let (Some(agent), Ok(_)) = (agent, &saved) {
                agent.store().unjournal_call(report.call_id)?;
            }
            saved
        }
    }
}

/// A call with no lead: its report as JSON beside the recording, if any.
fn save_without_lead(report: &CallReport) -> Result<SavedCall> {
    match &report.recording {
        Some(r) => {
            let path = r.path.with_extension("json");
            let json = serde_json::to_vec_pretty(report).map_err(StoreError::from)?;
            std::fs::write(&path, json).map_err(StoreError::from)?;
            Ok(SavedCall::File(path))
        }
        None => Ok(SavedCall::Nothing),
    }
}

fn call_upsert(report: &CallReport, lead: Uuid) -> CallUpsert {
    CallUpsert {
        lead_id: lead,
        direction: if report.outgoing {
            CallDirection::Outbound
        } else {
            CallDirection::Inbound
        },
        remote: report.remote.clone(),
        started_at_ms: report.started_at_ms,
        answered_at_ms: report.answered_at_ms,
        ended_at_ms: Some(report.ended_at_ms),
        duration_ms: Some(report.duration_ms),
        end_reason: Some(report.end_reason.as_str().to_string()),
        disposition: None,
        quality: report.quality.clone(),
    }
}

/// True for the ends a user chose (either side hung up); anything else is a failure
/// worth reporting.
pub fn ended_normally(reason: &EndReason) -> bool {
    matches!(reason, EndReason::LocalHangup | EndReason::RemoteHangup)
}

#[cfg(all(test, target_os = "linux"))]
mod liveness_tests {
    use super::*;

    #[test]
    fn a_killed_process_not_yet_reaped_is_dead() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(process_alive(pid, now_ms()));
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        // Not waited for: a zombie until reaped, which signal 0 still reaches.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "never became a zombie"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            !process_alive(pid, now_ms()),
            "a zombie is not a running call"
        );
        child.wait().unwrap();
    }
}

#[cfg(test)]
mod record_id_tests {
    use super::*;

    #[test]
    fn each_side_of_a_call_has_its_own_stable_record_id() {
        let call = Uuid::now_v7();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            record_id(call, true, a),
            call,
            "the caller's record is the call's id"
        );
        let callee = record_id(call, false, b);
        assert_ne!(callee, call);
        assert_eq!(callee, record_id(call, false, b), "stable across restarts");
        assert_ne!(callee, record_id(call, false, a), "per callee");
        assert_eq!(callee.get_version_num(), 7);
        assert_eq!(callee.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(
            callee.as_bytes()[..6],
            call.as_bytes()[..6],
            "same timestamp"
        );
    }
}
