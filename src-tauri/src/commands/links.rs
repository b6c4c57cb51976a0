//! Browser call links from the app: the agent makes one for the selected lead, copies
//! its URL to the prospect, sees the links still open, calls one whose page is open,
//! and revokes one (its page is disconnected at once).

use super::AgentSlot;
use super::UiError;
use softphone_proto::{CallLink, CreateLink};
use tauri::State;
use uuid::Uuid;

/// A new link, for `lead` when given; `single_use`: good for one answered call.
///
/// Errors: `auth.not_signed_in`, `client.network` and the server's codes.
#[tauri::command]
pub async fn create_link(
    agents: State<'_, AgentSlot>,
    lead: Option<Uuid>,
    single_use: bool,
) -> Result<CallLink, UiError> {
    let agent = agents.get()?;
    let link = agent
        .account()
        .create_link(&CreateLink {
            lead_id: lead,
            single_use,
            ..CreateLink::default()
        })
        .await?;
    tracing::info!(link = %link.id, single_use, "call link created");
    Ok(link)
}

/// The agent's links that can still be opened, newest first.
///
/// Errors: `auth.not_signed_in`, `client.network`.
#[tauri::command]
pub async fn links(agents: State<'_, AgentSlot>) -> Result<Vec<CallLink>, UiError> {
    Ok(agents.get()?.account().links().await?)
}

/// Revokes one of the agent's links.
///
/// Errors: `auth.not_signed_in`, `client.network`, `not_found`.
#[tauri::command]
pub async fn revoke_link(agents: State<'_, AgentSlot>, id: Uuid) -> Result<(), UiError> {
    agents.get()?.account().revoke_link(id).await?;
    tracing::info!(link = %id, "call link revoked");
    Ok(())
}
