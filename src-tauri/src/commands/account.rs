//! Account, leads, notes and sync: the signed-in agent of `softphone-controller`
//! (`agent::Agent`) seen from the webview.

use super::UiError;
use serde::Serialize;
use softphone_controller::agent::{default_profile, Account, Agent, AgentError, SyncRound};
use softphone_proto::{Lead, Note};
use std::sync::{Arc, Mutex};
use tauri::{AppHandle, State};
use uuid::Uuid;

impl From<AgentError> for UiError {
    fn from(e: AgentError) -> Self {
        Self {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// The signed-in agent, once there is one.
#[derive(Default)]
pub struct AgentSlot(Mutex<Option<Arc<Agent>>>);

impl AgentSlot {
    pub(crate) fn get(&self) -> Result<Arc<Agent>, UiError> {
        self.0
            .lock()
            .expect("agent lock")
            .clone()
            .ok_or_else(|| UiError {
                code: "auth.not_signed_in".into(),
                message: "not signed in".into(),
            })
    }
}

/// What the header shows.
#[derive(Debug, Serialize)]
pub struct AccountView {
    /// Name shown to colleagues.
    pub display_name: String,
    /// Account e-mail.
    pub email: String,
    /// Server base URL.
    pub server_url: String,
    /// Online/offline, pending and parked entries, recording bytes left.
    pub status: softphone_store::sync::Status,
}

fn view(agent: &Agent) -> Result<AccountView, UiError> {
    let s = &agent.account().settings;
    Ok(AccountView {
        display_name: s.display_name.clone(),
        email: s.email.clone(),
        server_url: s.server_url.clone(),
        status: agent.status()?,
    })
}

fn profile() -> Result<std::path::PathBuf, UiError> {
    default_profile().ok_or_else(|| UiError {
        code: "controller.invalid".into(),
        message: "this system has no data folder: set SOFTPHONE_PROFILE".into(),
    })
}

/// The saved session (keyring) when there is one; `null` when signed out.
/// Signed in, the agent is reachable: the incoming-call line starts (once).
#[tauri::command]
pub fn account(app: AppHandle, slot: State<'_, AgentSlot>) -> Result<Option<AccountView>, UiError> {
    if let Ok(agent) = slot.get() {
        return Ok(Some(view(&agent)?));
    }
    match Agent::resume(&profile()?) {
        Ok(agent) => {
            let v = view(&agent)?;
            let agent = Arc::new(agent);
            *slot.0.lock().expect("agent lock") = Some(agent.clone());
            super::call::start_line(app, agent);
            Ok(Some(v))
        }
        Err(AgentError::Credentials(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Signs in, keeps the session in the OS keyring and pulls the agent's data.
#[tauri::command]
pub async fn sign_in(
    app: AppHandle,
    slot: State<'_, AgentSlot>,
    server: String,
    email: String,
    password: String,
) -> Result<AccountView, UiError> {
    let account = Account::sign_in(&server, &email, &password).await?;
    let profile = profile()?;
    account.remember(&profile)?;
    let agent = Arc::new(Agent::open(&profile, account)?.0);
    *slot.0.lock().expect("agent lock") = Some(agent.clone());
    super::call::start_line(app, agent.clone());
    agent.sync_once().await?;
    view(&agent)
}

/// The agent's leads from the local store, by name.
#[tauri::command]
pub fn leads(slot: State<'_, AgentSlot>) -> Result<Vec<Lead>, UiError> {
    let mut leads = slot.get()?.leads()?;
    leads.sort_by_key(|l| l.name.to_lowercase());
    Ok(leads)
}

/// Notes on a lead, newest last; `version` 0 means not yet on the server (pending).
#[tauri::command]
pub fn notes(slot: State<'_, AgentSlot>, lead: Uuid) -> Result<Vec<Note>, UiError> {
    Ok(slot.get()?.notes(lead)?)
}

/// Saves a note locally at once (works offline); the next sync sends it.
#[tauri::command]
pub fn write_note(slot: State<'_, AgentSlot>, lead: Uuid, body: String) -> Result<Note, UiError> {
    Ok(slot.get()?.write_note(lead, None, &body)?)
}

/// Full-text search over the agent's local notes and messages (offline too): at most 20
/// hits, best first, each with its lead id and a snippet (match in `[` `]`).
#[tauri::command]
pub fn search(
    slot: State<'_, AgentSlot>,
    query: String,
) -> Result<Vec<softphone_store::search::Hit>, UiError> {
    Ok(slot.get()?.search(&query, 20)?)
}

/// One sync round: push what is pending, pull what is new.
#[tauri::command]
pub async fn sync_now(slot: State<'_, AgentSlot>) -> Result<SyncRound, UiError> {
    let agent = slot.get()?;
    Ok(agent.sync_once().await?)
}
