//! Account, leads, notes and sync: the signed-in agent of `softphone-controller`
//! (`agent::Agent`) seen from the webview.

use super::{AgentSlot, UiError};
use serde::Serialize;
use softphone_controller::admin::AdminConfig;
use softphone_controller::agent::{default_profile, Account, Agent, AgentError, SyncRound};
use softphone_proto::Note;
use softphone_store::lead_reads::LeadOverview;
use std::sync::Arc;
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_notification::NotificationExt;
use uuid::Uuid;

impl From<AgentError> for UiError {
    fn from(e: AgentError) -> Self {
        Self {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// What the header shows.
#[cfg_attr(test, derive(ts_rs::TS))]
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

/// The administrator's policy, from the system-wide `config.json` of a managed install:
/// the sign-in screen's server URL (and whether it is locked), and the recording choice
/// and quality the settings show as set by the administrator; all empty when there is
/// none.
///
/// Errors: `admin.config` when the file is unreadable or malformed (the message names
/// the file).
#[tauri::command]
pub fn sign_in_defaults() -> Result<AdminConfig, UiError> {
    super::admin_policy()
}

/// The saved session (keyring) when there is one; `null` when signed out.
/// Signed in, the agent is reachable: the incoming-call line starts (once).
#[tauri::command]
pub fn account(app: AppHandle, slot: State<'_, AgentSlot>) -> Result<Option<AccountView>, UiError> {
    if let Ok(agent) = slot.get() {
        return Ok(Some(view(&agent)?));
    }
    match Agent::resume(&profile()?) {
        Ok(mut agent) => {
            follow_policy(&mut agent)?;
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

/// Sync follows the admin policy's `local_recordings` (the app itself never deletes
/// recordings otherwise).
fn follow_policy(agent: &mut Agent) -> Result<(), UiError> {
    agent.set_sync_options(softphone_store::sync::SyncOptions {
        retention: super::admin_policy()?.retention(false)?,
        ..Default::default()
    });
    Ok(())
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
    // The organisation's policy holds from the first call (a failure leaves the cached
    // one; sync asks again).
    let _ = account.fetch_org_policy(&profile).await;
    let mut agent = Agent::open(&profile, account)?.0;
    follow_policy(&mut agent)?;
    let agent = Arc::new(agent);
    *slot.0.lock().expect("agent lock") = Some(agent.clone());
    super::call::start_line(app, agent.clone());
    agent.sync_once().await?;
    view(&agent)
}

/// The lead list from the local store: each lead with its last activity, unread
/// inbound messages and pending entries, most recent activity first.
#[tauri::command]
pub fn leads(slot: State<'_, AgentSlot>) -> Result<Vec<LeadOverview>, UiError> {
    Ok(slot.get()?.lead_overview()?)
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

/// "Copy diagnostics": the support report (`softphone_controller::diagnostics`):
/// version, platform, policy, account and sync state, devices and the last 64 KiB of
/// the log, with phone numbers, e-mail addresses and tokens redacted.
#[tauri::command]
pub fn diagnostics(slot: State<'_, AgentSlot>) -> String {
    let agent = slot.get().ok();
    let policy = super::admin_policy().unwrap_or_default();
    let program = format!(
        "agent-softphone {} (updates: target {}, key {}, channel {}, {})",
        env!("CARGO_PKG_VERSION"),
        super::update::install_target().unwrap_or_else(|| "none".into()),
        if super::update::BUILD_PUBKEY.is_some_and(|k| !k.trim().is_empty()) {
            "built in"
        } else {
            "none"
        },
        policy.update_channel.unwrap_or_default().as_str(),
        if policy.updates == Some(false) {
            "off by policy"
        } else {
            "on"
        },
    );
    softphone_controller::diagnostics::report(
        &program,
        agent.as_deref(),
        super::LOG_DIR.get().and_then(|d| d.as_deref()),
    )
}

/// One sync round: push what is pending, pull what is new. New inbound messages raise
/// an OS notification while the window is not focused.
#[tauri::command]
pub async fn sync_now(app: AppHandle, slot: State<'_, AgentSlot>) -> Result<SyncRound, UiError> {
    let agent = slot.get()?;
    let before = agent.lead_overview().unwrap_or_default();
    let round = agent.sync_once().await?;
    if round.pull.as_ref().is_ok_and(|p| p.applied > 0) {
        if let Ok(after) = agent.lead_overview() {
            notify_new_messages(&app, &before, &after);
        }
    }
    Ok(round)
}

/// Leads whose unread count grew between two overviews, with how many new messages.
pub(crate) fn newly_unread<'a>(
    before: &[LeadOverview],
    after: &'a [LeadOverview],
) -> Vec<(&'a str, u32)> {
    after
        .iter()
        .filter_map(|a| {
            let was = before
                .iter()
                .find(|b| b.lead.id == a.lead.id)
                .map_or(0, |b| b.unread);
            (a.unread > was).then(|| (a.lead.name.as_str(), a.unread - was))
        })
        .collect()
}

fn notify_new_messages(app: &AppHandle, before: &[LeadOverview], after: &[LeadOverview]) {
    let new = newly_unread(before, after);
    if new.is_empty() {
        return;
    }
    let _ = app.emit("messages-arrived", new.len());
    let focused = app
        .get_webview_window("main")
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false);
    if focused {
        return;
    }
    let body = match new.as_slice() {
        [(name, 1)] => format!("{name} sent a message"),
        [(name, n)] => format!("{name} sent {n} messages"),
        _ => format!("{} leads sent messages", new.len()),
    };
    let _ = app
        .notification()
        .builder()
        .title("New message")
        .body(body)
        .show();
}

#[cfg(test)]
mod tests {
    use super::*;
    use softphone_proto::Lead;
    use uuid::Uuid;

    fn row(id: Uuid, name: &str, unread: u32) -> LeadOverview {
        LeadOverview {
            lead: Lead {
                id,
                name: name.into(),
                phone: None,
                email: None,
                company: None,
                assigned_user_id: None,
                version: 1,
                updated_at: 0,
            },
            last_activity_ms: None,
            last_activity: None,
            unread,
            pending: 0,
        }
    }

    #[test]
    fn only_leads_with_more_unread_messages_are_announced() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let before = [row(a, "Ana", 1), row(b, "Bo", 2)];
        // Ana got two more, Bo read his, Cy is a new lead with one message.
        let after = [row(a, "Ana", 3), row(b, "Bo", 0), row(c, "Cy", 1)];
        assert_eq!(newly_unread(&before, &after), [("Ana", 2), ("Cy", 1)]);
        assert!(newly_unread(&after, &after).is_empty());
    }
}
