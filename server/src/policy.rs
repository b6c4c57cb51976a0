//! The organisation's policy for its agents' apps (`GET`/`PUT /api/v1/org/policy`).
//! The app applies it at sign-in and at each sync; a machine's own policy file wins
//! key by key (softphone-controller's `admin` module).

use crate::db::org_policies;
use crate::extract::JsonBody;
use crate::{now, AppState, Caller, Error};
use axum::extract::State;
use axum::Json;
use softphone_proto::{OrgPolicy, Role};

/// `GET /api/v1/org/policy`: any account of the organisation.
pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<OrgPolicy>, Error> {
    let org = caller.user.org_id;
    let p = state
        .with_read(move |c| org_policies::get(c, org).map_err(Error::internal))
        .await?;
    Ok(Json(p))
}

/// `PUT /api/v1/org/policy` (admin): replaces the policy; answers the stored one.
/// 403 `auth.forbidden` for an agent, 422 `request.invalid` for a value out of range.
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(p): JsonBody<OrgPolicy>,
) -> Result<Json<OrgPolicy>, Error> {
    if caller.user.role != Role::Admin {
        return Err(crate::error::forbidden(
            "only an admin sets the organisation's policy",
        ));
    }
    p.validate().map_err(crate::error::invalid)?;
    let (org, by, stored) = (caller.user.org_id, caller.user.id, p.clone());
    state
        .with_db(move |c| org_policies::put(c, org, &stored, by, now()).map_err(Error::internal))
        .await?;
    tracing::info!(org = %org, policy = ?p, "org policy set");
    Ok(Json(p))
}
