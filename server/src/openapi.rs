//! The OpenAPI 3.1 document of `/api/v1`, served at `GET /api/v1/openapi.json` and
//! checked in as `docs/openapi.json` (a test fails when they differ).
//!
//! Schemas come from the wire types themselves (`utoipa::ToSchema` derived in
//! `softphone-proto`), so they cannot drift from what the server parses; operations
//! are listed here, one line each, from the same route constants the router uses.

use axum::Json;
use softphone_proto::signal::{
    ClientMsg, IceCandidate, Presence, PresenceEntry, SdpKind, ServerMsg,
};
use softphone_proto::*;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agent Softphone API",
        description = "Accounts, sync, recordings and signaling for Agent Softphone. \
                       Errors are `ApiError` bodies with a stable `code`. \
                       Signaling (WebSocket) is described in docs/protocol.md."
    ),
    components(schemas(
        Health,
        IceServer,
        IceServers,
        LoginRequest,
        LoginResponse,
        UserInfo,
        Role,
        ApiError,
        Lead,
        LeadUpsert,
        Note,
        NoteUpsert,
        Contact,
        ContactUpsert,
        Conversation,
        ConversationUpsert,
        Channel,
        ConversationStatus,
        Message,
        MessageUpsert,
        Direction,
        MessageStatus,
        MessageStatusEvent,
        MessageStatusEventUpsert,
        Call,
        CallUpsert,
        CallDirection,
        CallQuality,
        Change,
        ChangesPage,
        RecordingInfo,
        SignedUrl,
        ReleaseInfo,
        OrgPolicy,
        RecordingPolicy,
        LocalRecordings,
        UpdateChannel,
        UpdateManifest,
        ClientMsg,
        ServerMsg,
        Presence,
        PresenceEntry,
        IceCandidate,
        SdpKind,
        CreateLink,
        CallLink
    ))
)]
struct Doc;

struct Op {
    method: HttpMethod,
    path: &'static str,
    id: String,
    tag: &'static str,
    summary: &'static str,
    auth: bool,
    /// Path and query parameters: (name, where, is UUID).
    params: &'static [(&'static str, ParameterIn, bool)],
    /// JSON request body schema.
    body: Option<&'static str>,
    /// Success status, and JSON schema of its body.
    ok: (&'static str, Option<String>),
    /// Error statuses answered with `ApiError`.
    errors: &'static [&'static str],
}

const ID: &[(&str, ParameterIn, bool)] = &[("id", ParameterIn::Path, true)];
const CALL: &[(&str, ParameterIn, bool)] = &[("call_id", ParameterIn::Path, true)];
const RW: &[&str] = &["400", "401", "404", "409", "413", "415", "422", "429"];

fn record_ops(ops: &mut Vec<Op>, route: &'static str, name: &'static str, upsert: &'static str) {
    ops.push(Op {
        method: HttpMethod::Put,
        path: route,
        id: format!("put_{name}"),
        tag: "sync",
        summary: "Idempotent upsert by client UUIDv7 (a retry changes nothing)",
        auth: true,
        params: ID,
        body: Some(upsert),
        ok: ("200", Some(schema_name(name))),
        errors: RW,
    });
    ops.push(Op {
        method: HttpMethod::Get,
        path: route,
        id: format!("get_{name}"),
        tag: "sync",
        summary: "Read one record (404 when missing or not visible)",
        auth: true,
        params: ID,
        body: None,
        ok: ("200", Some(schema_name(name))),
        errors: &["401", "404", "429"],
    });
}

fn schema_name(entity: &str) -> String {
    entity
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

fn operations() -> Vec<Op> {
    use recording_routes as rec;
    let mut ops = vec![
        Op {
            method: HttpMethod::Get,
            path: routes::HEALTH,
            id: "health".into(),
            tag: "auth",
            summary: "Liveness",
            auth: false,
            params: &[],
            body: None,
            ok: ("200", Some("Health".into())),
            errors: &[],
        },
        Op {
            method: HttpMethod::Get,
            path: routes::READY,
            id: "ready".into(),
            tag: "auth",
            summary: "Readiness: the database and the object store answer",
            auth: false,
            params: &[],
            body: None,
            ok: ("200", Some("Health".into())),
            errors: &["503"],
        },
        Op {
            method: HttpMethod::Post,
            path: routes::LOGIN,
            id: "login".into(),
            tag: "auth",
            summary: "Log in; answers an opaque bearer token",
            auth: false,
            params: &[],
            body: Some("LoginRequest"),
            ok: ("200", Some("LoginResponse".into())),
            errors: &["400", "401", "429", "503"],
        },
        Op {
            method: HttpMethod::Post,
            path: routes::LOGOUT,
            id: "logout".into(),
            tag: "auth",
            summary: "Revoke the presented token",
            auth: true,
            params: &[],
            body: None,
            ok: ("204", None),
            errors: &["401"],
        },
        Op {
            method: HttpMethod::Get,
            path: routes::ME,
            id: "me".into(),
            tag: "auth",
            summary: "The logged-in account",
            auth: true,
            params: &[],
            body: None,
            ok: ("200", Some("UserInfo".into())),
            errors: &["401"],
        },
        Op {
            method: HttpMethod::Get,
            path: routes::ICE_SERVERS,
            id: "ice_servers".into(),
            tag: "signal",
            summary: "STUN/TURN servers for the next call, with short-lived TURN credentials",
            auth: true,
            params: &[],
            body: None,
            ok: ("200", Some("IceServers".into())),
            errors: &["401"],
        },
        Op {
            method: HttpMethod::Get,
            path: sync_routes::CHANGES,
            id: "changes".into(),
            tag: "sync",
            summary: "Changes after a cursor, oldest first; each row once at its latest state",
            auth: true,
            params: &[
                ("since", ParameterIn::Query, false),
                ("limit", ParameterIn::Query, false),
            ],
            body: None,
            ok: ("200", Some("ChangesPage".into())),
            errors: &["401", "422"],
        },
        Op {
            method: HttpMethod::Post,
            path: rec::UPLOADS,
            id: "create_upload".into(),
            tag: "recordings",
            summary: "tus 1.0 creation (Upload-Length, Upload-Metadata: call_id, sha256, duration_ms, channels); 201 with Location",
            auth: true,
            params: &[],
            body: None,
            ok: ("201", None),
            errors: &["401", "404", "409", "412", "413", "422"],
        },
        Op {
            method: HttpMethod::Head,
            path: rec::UPLOAD,
            id: "upload_offset".into(),
            tag: "recordings",
            summary: "tus 1.0 offset query (Upload-Offset, Upload-Length headers)",
            auth: true,
            params: ID,
            body: None,
            ok: ("200", None),
            errors: &["401", "404"],
        },
        Op {
            method: HttpMethod::Patch,
            path: rec::UPLOAD,
            id: "upload_append".into(),
            tag: "recordings",
            summary: "tus 1.0 append at Upload-Offset; the last byte checks sha256 (460 on mismatch)",
            auth: true,
            params: ID,
            body: None,
            ok: ("204", None),
            errors: &["401", "404", "409", "412", "413", "415", "423", "460"],
        },
        Op {
            method: HttpMethod::Get,
            path: rec::RECORDING,
            id: "get_recording".into(),
            tag: "recordings",
            summary: "Stored recording metadata",
            auth: true,
            params: CALL,
            body: None,
            ok: ("200", Some("RecordingInfo".into())),
            errors: &["401", "404"],
        },
        Op {
            method: HttpMethod::Delete,
            path: rec::RECORDING,
            id: "delete_recording".into(),
            tag: "recordings",
            summary: "Delete the object and its record",
            auth: true,
            params: CALL,
            body: None,
            ok: ("204", None),
            errors: &["401", "404"],
        },
        Op {
            method: HttpMethod::Post,
            path: rec::RECORDING_URL,
            id: "sign_recording_url".into(),
            tag: "recordings",
            summary: "A short-lived signed playback URL (ttl_secs 0-3600)",
            auth: true,
            params: &[
                ("call_id", ParameterIn::Path, true),
                ("ttl_secs", ParameterIn::Query, false),
            ],
            body: None,
            ok: ("200", Some("SignedUrl".into())),
            errors: &["401", "404", "422"],
        },
        Op {
            method: HttpMethod::Get,
            path: rec::MEDIA,
            id: "media".into(),
            tag: "recordings",
            summary: "The audio (audio/ogg) by signed URL, with single-range Range support",
            auth: false,
            params: &[
                ("org_id", ParameterIn::Path, true),
                ("call_id", ParameterIn::Path, true),
                ("exp", ParameterIn::Query, false),
                ("sig", ParameterIn::Query, false),
            ],
            body: None,
            ok: ("200", None),
            errors: &["403", "404", "416"],
        },
        Op {
            method: HttpMethod::Get,
            path: signal::ROUTE,
            id: "signal".into(),
            tag: "signaling",
            summary: "WebSocket upgrade; frames are ClientMsg / ServerMsg JSON (docs/protocol.md). Token by header or access_token query",
            auth: true,
            params: &[("access_token", ParameterIn::Query, false)],
            body: None,
            ok: ("101", None),
            errors: &["400", "401", "426"],
        },
        Op {
            method: HttpMethod::Post,
            path: link_routes::LINKS,
            id: "create_link".into(),
            tag: "calls",
            summary: "A browser call link for a prospect: open `url` in a browser, then dial `id`",
            auth: true,
            params: &[],
            body: Some("CreateLink"),
            ok: ("200", Some("CallLink".into())),
            errors: &["400", "401", "415", "422", "429"],
        },
        Op {
            method: HttpMethod::Get,
            path: link_routes::LINKS,
            id: "list_links".into(),
            tag: "calls",
            summary: "The caller's call links that can still be opened, newest first (at most 100)",
            auth: true,
            params: &[],
            body: None,
            ok: ("200", None),
            errors: &["401", "429"],
        },
        Op {
            method: HttpMethod::Delete,
            path: link_routes::LINK,
            id: "revoke_link".into(),
            tag: "calls",
            summary: "Revoke a call link (its agent or an admin); an open page is disconnected",
            auth: true,
            params: ID,
            body: None,
            ok: ("204", None),
            errors: &["401", "404", "429"],
        },
        Op {
            method: HttpMethod::Get,
            path: policy_routes::ORG_POLICY,
            id: "get_org_policy".into(),
            tag: "auth",
            summary: "The organisation's policy for its agents' apps (the machine's policy file wins key by key)",
            auth: true,
            params: &[],
            body: None,
            ok: ("200", Some("OrgPolicy".into())),
            errors: &["401", "429"],
        },
        Op {
            method: HttpMethod::Put,
            path: policy_routes::ORG_POLICY,
            id: "put_org_policy".into(),
            tag: "auth",
            summary: "Replace the organisation's policy (admin)",
            auth: true,
            params: &[],
            body: Some("OrgPolicy"),
            ok: ("200", Some("OrgPolicy".into())),
            errors: &["400", "401", "403", "415", "422", "429"],
        },
        Op {
            method: HttpMethod::Put,
            path: update_routes::RELEASE,
            id: "upload_release".into(),
            tag: "updates",
            summary: "Upload a signed app release (admin): body = the artifact, header Update-Signature = its .sig content",
            auth: true,
            params: &[
                ("channel", ParameterIn::Path, false),
                ("target", ParameterIn::Path, false),
                ("version", ParameterIn::Path, false),
                ("file_name", ParameterIn::Query, false),
                ("notes", ParameterIn::Query, false),
            ],
            body: None,
            ok: ("201", Some("ReleaseInfo".into())),
            errors: &["400", "401", "403", "409", "413", "422", "429"],
        },
        Op {
            method: HttpMethod::Get,
            path: update_routes::RELEASES,
            id: "list_releases".into(),
            tag: "updates",
            summary: "The organisation's releases, newest upload first (admin)",
            auth: true,
            params: &[],
            body: None,
            ok: ("200", None),
            errors: &["401", "403", "429"],
        },
        Op {
            method: HttpMethod::Delete,
            path: update_routes::RELEASE_BY_ID,
            id: "withdraw_release".into(),
            tag: "updates",
            summary: "Withdraw a release: it is offered no more (admin)",
            auth: true,
            params: ID,
            body: None,
            ok: ("204", None),
            errors: &["401", "403", "404", "429"],
        },
        Op {
            method: HttpMethod::Get,
            path: update_routes::CHECK,
            id: "check_update".into(),
            tag: "updates",
            summary: "The newest release above current_version for target on the channel (tauri-plugin-updater's dynamic shape), or 204",
            auth: true,
            params: &[
                ("target", ParameterIn::Path, false),
                ("current_version", ParameterIn::Path, false),
                ("channel", ParameterIn::Query, false),
            ],
            body: None,
            ok: ("200", Some("UpdateManifest".into())),
            errors: &["400", "401", "429"],
        },
        Op {
            method: HttpMethod::Get,
            path: update_routes::ARTIFACT,
            id: "update_artifact".into(),
            tag: "updates",
            summary: "A release's artifact (application/octet-stream)",
            auth: true,
            params: ID,
            body: None,
            ok: ("200", None),
            errors: &["401", "404", "429"],
        },
        Op {
            method: HttpMethod::Get,
            path: OPENAPI_ROUTE,
            id: "openapi".into(),
            tag: "auth",
            summary: "This document",
            auth: false,
            params: &[],
            body: None,
            ok: ("200", None),
            errors: &[],
        },
    ];
    record_ops(&mut ops, Lead::ROUTE, "lead", "LeadUpsert");
    record_ops(&mut ops, Note::ROUTE, "note", "NoteUpsert");
    record_ops(&mut ops, Contact::ROUTE, "contact", "ContactUpsert");
    record_ops(
        &mut ops,
        Conversation::ROUTE,
        "conversation",
        "ConversationUpsert",
    );
    record_ops(&mut ops, Message::ROUTE, "message", "MessageUpsert");
    record_ops(
        &mut ops,
        MessageStatusEvent::ROUTE,
        "message_status_event",
        "MessageStatusEventUpsert",
    );
    record_ops(&mut ops, Call::ROUTE, "call", "CallUpsert");
    ops
}

/// The error statuses an operation can answer: those it lists, plus those every
/// operation of its shape gets from the shared layers and extractors: 429 from the rate
/// limit (every route), 401 for a bearer-token route, 400 for a path or query
/// parameter that does not parse, 400/413/415/422 for a JSON body, 500 for a fault.
fn error_statuses(op: &Op) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = op.errors.to_vec();
    out.extend(["429", "500"]);
    if op.auth {
        out.push("401");
    }
    if !op.params.is_empty() {
        out.push("400");
    }
    if op.body.is_some() {
        out.extend(["400", "413", "415", "422"]);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Where the document is served.
pub const OPENAPI_ROUTE: &str = "/api/v1/openapi.json";

fn json_content(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

/// Builds the document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Doc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    if let Some(c) = doc.components.as_mut() {
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("Opaque token from POST /api/v1/auth/login"))
                    .build(),
            ),
        );
    }
    for op in operations() {
        let mut b = OperationBuilder::new()
            .operation_id(Some(op.id.clone()))
            .summary(Some(op.summary))
            .tag(op.tag);
        for (name, place, is_uuid) in op.params {
            let mut schema = ObjectBuilder::new().schema_type(if *is_uuid {
                Type::String
            } else if place == &ParameterIn::Query
                && !["sig", "access_token", "channel", "file_name", "notes"].contains(name)
            {
                Type::Integer
            } else {
                Type::String
            });
            if *is_uuid {
                schema = schema.format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
            }
            b = b.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(place.clone())
                    .required(if *place == ParameterIn::Path {
                        Required::True
                    } else {
                        Required::False
                    })
                    .schema(Some(schema)),
            );
        }
        if let Some(body) = op.body {
            b = b.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", json_content(body))
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        let mut ok = ResponseBuilder::new().description("Success");
        if let Some(s) = &op.ok.1 {
            ok = ok.content("application/json", json_content(s));
        }
        b = b.response(op.ok.0, ok.build());
        for e in error_statuses(&op) {
            let r = if e == "416" {
                // The one error without a body: RFC 9110 §15.5.17.
                ResponseBuilder::new()
                    .description("Range not satisfiable; `Content-Range: bytes */LENGTH`")
            } else {
                let status: u16 = e.parse().expect("a status");
                let codes: Vec<String> = crate::error::codes_for(status)
                    .map(|(c, m)| format!("`{c}` ({m})"))
                    .collect();
                assert!(!codes.is_empty(), "no codes for {status} in error::CODES");
                ResponseBuilder::new()
                    .description(format!("Refused; `code` is one of: {}", codes.join(", ")))
                    .content("application/json", json_content("ApiError"))
            };
            b = b.response(e, r.build());
        }
        if op.auth {
            b = b.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        }
        doc.paths
            .add_path_operation(op.path, vec![op.method], b.build());
    }
    doc
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// Every (method, path) the document lists, for the test that compares with the router.
pub fn listed() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (path, item) in document().paths.paths {
        for (m, op) in [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("PATCH", &item.patch),
            ("HEAD", &item.head),
            ("DELETE", &item.delete),
        ] {
            if op.is_some() {
                out.push((m, path.clone()));
            }
        }
    }
    out
}
