//! `ui/bindings.d.ts`: TypeScript declarations of what crosses the webview boundary
//! (command arguments and results, event payloads), generated from the Rust types with
//! ts-rs by the test below and committed. The test fails when the file is stale, so CI
//! catches a Rust change the front end has not seen; `UPDATE_BINDINGS=1 cargo test
//! --workspace --lib bindings` rewrites it. The `ui/*.js` modules import the types in JSDoc and
//! `tsc` checks it against them (`scripts/test-all.sh`, docs/adr/0011).
//!
//! The `Commands` and `Events` maps name each command and event with its payload types;
//! they are written here by hand, and the test checks that `Commands` lists exactly the
//! commands registered in `lib.rs`.

#[cfg(test)]
mod tests {
    use crate::commands;
    use softphone_controller as controller;
    use std::collections::BTreeSet;
    use ts_rs::{Config, TS};

    /// Declarations, one per type, in file order: `decls![cfg; A, B, …]`.
    macro_rules! decls {
        ($cfg:expr; $($t:ty),+ $(,)?) => {{
            let mut out: Vec<(String, String, Vec<String>)> = Vec::new();
            $(
                let docs = <$t as TS>::docs()
                    .map(|d| format!("{}\n", d.trim_end()))
                    .unwrap_or_default();
                out.push((
                    <$t as TS>::ident($cfg),
                    format!("{docs}export {}\n", <$t as TS>::decl($cfg)),
                    <$t as TS>::dependencies($cfg).into_iter().map(|d| d.ts_name).collect(),
                ));
            )+
            out
        }};
    }

    const COMMANDS: &str = r#"/** Commands, `invoke(name, args)`: their arguments and what they resolve to. A
 * failing command rejects with a `UiError`. Argument names are camelCase (Tauri). */
export interface Commands {
  ui_ready: { args: Record<string, never>; ret: null };
  list_devices: { args: Record<string, never>; ret: DeviceInfo[] };
  start_meter: { args: { device: string | null }; ret: null };
  stop_meter: { args: Record<string, never>; ret: null };
  play_test_tone: { args: { output: string | null }; ret: null };
  account: { args: Record<string, never>; ret: AccountView | null };
  sign_in_defaults: { args: Record<string, never>; ret: AdminConfig };
  sign_in: { args: { server: string; email: string; password: string }; ret: AccountView };
  leads: { args: Record<string, never>; ret: LeadOverview[] };
  notes: { args: { lead: string }; ret: Note[] };
  write_note: { args: { lead: string; body: string }; ret: Note };
  search: { args: { query: string }; ret: Hit[] };
  sync_now: { args: Record<string, never>; ret: SyncRound };
  diagnostics: { args: Record<string, never>; ret: string };
  start_call: { args: { request: DialRequest }; ret: string };
  call_command: { args: { command: CallAction; digit?: string }; ret: null };
  set_call_prefs: { args: { prefs: CallPrefs }; ret: null };
  set_presence: { args: { status: Presence }; ret: null };
  meters_visible: { args: { visible: boolean }; ret: null };
  timeline: { args: { lead: string }; ret: TimelineEntry[] };
  recording_waveform: { args: { call: string; buckets: number }; ret: Waveform };
  play_recording: { args: { call: string; output: string | null; fromMs?: number | null }; ret: null };
  stop_playback: { args: Record<string, never>; ret: null };
  check_update: { args: Record<string, never>; ret: UpdateOffer | null };
  create_link: { args: { lead: string | null; singleUse: boolean }; ret: CallLink };
  links: { args: Record<string, never>; ret: CallLink[] };
  revoke_link: { args: { id: string }; ret: null };
  install_update: { args: Record<string, never>; ret: null };
}

/** Events the app emits, by name, with their payloads. */
export interface Events {
  meter: MeterReading;
  "meter-started": Event;
  "audio-error": Event;
  "call-event": CallEvent;
  "call-view": CallView;
  "call-levels": Levels;
  "call-ended": CallEnded;
  "incoming-call": IncomingCall;
  playback: PlaybackUpdate;
  "sync-changed": null;
  "messages-arrived": number;
  "presence-changed": Presence;
}
"#;

    fn generate() -> String {
        let cfg = Config::new().with_large_int("number");
        let cfg = &cfg;
        let decls = decls![cfg;
            // Shell
            commands::UiError,
            commands::account::AccountView,
            controller::admin::AdminConfig,
            controller::admin::RecordingPolicy,
            controller::line::CallPrefs,
            commands::call::DialRequest,
            commands::call::CallAction,
            controller::line::CallEnded,
            controller::line::CallView,
            controller::line::Levels,
            controller::line::IncomingCall,
            commands::timeline::PlaybackUpdate,
            commands::update::UpdateOffer,
            softphone_proto::CallLink,
            // Devices and meters
            softphone_audio::DeviceInfo,
            softphone_audio::DeviceDirection,
            softphone_audio::MeterReading,
            controller::Event,
            // Calls
            softphone_call::CallEvent,
            softphone_call::CallState,
            softphone_call::EndReason,
            softphone_call::QualitySample,
            softphone_call::QualityLevel,
            softphone_proto::CallQuality,
            softphone_proto::signal::Presence,
            // Leads, timeline, recordings, sync
            softphone_store::lead_reads::LeadOverview,
            softphone_proto::Lead,
            controller::agent::TimelineEntry,
            controller::agent::RecordingState,
            softphone_proto::Change,
            softphone_proto::LeadRevoked,
            softphone_proto::Note,
            softphone_proto::Contact,
            softphone_proto::Conversation,
            softphone_proto::ConversationStatus,
            softphone_proto::Message,
            serde_json::Value,
            softphone_proto::Direction,
            softphone_proto::Channel,
            softphone_proto::MessageStatus,
            softphone_proto::Call,
            softphone_proto::CallDirection,
            controller::player::Waveform,
            controller::player::PlaybackEvent,
            softphone_store::search::Hit,
            controller::agent::SyncRound,
            softphone_store::sync::PushReport,
            softphone_store::sync::PullReport,
            softphone_store::sync::Status,
        ];
        let declared: BTreeSet<_> = decls.iter().map(|(n, _, _)| n.clone()).collect();
        for (name, _, deps) in &decls {
            for d in deps {
                assert!(
                    declared.contains(d),
                    "{name} uses {d}, which bindings.rs does not declare: add it to the list"
                );
            }
        }
        let mut out = String::from(
            "// Generated from the Rust types by src-tauri/src/bindings.rs (ts-rs): do not edit.\n\
             // Regenerate: UPDATE_BINDINGS=1 cargo test --workspace --lib bindings\n\n",
        );
        for (_, decl, _) in &decls {
            out.push_str(decl);
            out.push('\n');
        }
        out.push_str(COMMANDS);
        out
    }

    #[test]
    fn bindings_match_the_rust_types() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/bindings.d.ts");
        let fresh = generate();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/bindings.d.ts is stale: run UPDATE_BINDINGS=1 cargo test --workspace --lib bindings"
        );
    }

    #[test]
    fn the_commands_map_lists_every_registered_command() {
        let lib = include_str!("lib.rs");
        let handler = lib
            .split("generate_handler![")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .expect("generate_handler! in lib.rs");
        let registered: BTreeSet<_> = handler
            .split(',')
            .filter_map(|p| p.trim().rsplit("::").next())
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        let body = COMMANDS
            .split("export interface Commands {")
            .nth(1)
            .and_then(|r| r.split("\n}").next())
            .unwrap();
        let mapped: BTreeSet<_> = body
            .lines()
            .filter_map(|l| l.trim().split_once(':').map(|(n, _)| n.to_string()))
            .collect();
        assert_eq!(mapped, registered);
    }
}
