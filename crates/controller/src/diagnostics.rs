//! "Copy diagnostics": one plain-text report an agent pastes into a support ticket.
//!
//! Key design decision: the report is built from facts the app already has (versions,
//! platform, policy, account, sync state, devices) plus the tail of the redacted log,
//! and the whole text goes through [`crate::logs::redact`] once more, so nothing in it
//! needs its own care about personal data or secrets.

use crate::agent::Agent;
use crate::logs;
use std::fmt::Write;
use std::path::Path;

/// Bytes of log tail a report carries at most (64 KiB).
pub const LOG_TAIL_BYTES: usize = 64 * 1024;

/// Builds the report.
///
/// - `app`: the program and its version, e.g. `agent-softphone 0.1.0`;
/// - `agent`: the signed-in agent, for the server, user id and sync state (`None`:
///   signed out);
/// - `log_dir`: where the logs are (`None`: no log file).
///
/// Never fails: a fact that cannot be read is reported as the error it gave.
pub fn report(app: &str, agent: Option<&Agent>, log_dir: Option<&Path>) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "Agent Softphone diagnostics");
    let _ = writeln!(r, "program: {app}");
    let _ = writeln!(
        r,
        "platform: {} {} ({})",
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::env::consts::FAMILY
    );
    let now = std::time::SystemTime::now();
    let _ = writeln!(r, "time: {}", humantime::format_rfc3339_seconds(now));
    let policy = crate::admin::AdminConfig::system_path();
    let loaded = match crate::admin::AdminConfig::load(&policy) {
        Ok(c) if c == crate::admin::AdminConfig::default() => "none set".to_string(),
        Ok(c) => format!("{c:?}"),
        Err(e) => format!("unreadable: {e}"),
    };
    let _ = writeln!(r, "admin policy: {} ({loaded})", policy.display());
    match agent {
        Some(a) => {
            let s = &a.account().settings;
            let _ = writeln!(r, "server: {}", s.server_url);
            let _ = writeln!(r, "user id: {}", s.user_id);
            let _ = writeln!(r, "profile: {}", a.profile().display());
            let org = match crate::admin::read_org_policy(a.profile()) {
                Some(p) if p == softphone_proto::OrgPolicy::default() => "none set".to_string(),
                Some(p) => format!("{p:?}"),
                None => "not fetched".to_string(),
            };
            let _ = writeln!(r, "org policy (the file above wins): {org}");
            match a.status() {
                Ok(st) => {
                    let _ = writeln!(
                        r,
                        "sync: online={} pending={} parked={} bytes_left={} cursor={}",
                        st.online,
                        st.pending,
                        st.parked.len(),
                        st.bytes_left,
                        st.cursor
                    );
                    for (seq, entity, reason) in &st.parked {
                        let _ = writeln!(r, "  parked #{seq} {entity}: {reason}");
                    }
                    if let Some(e) = &st.last_error {
                        let _ = writeln!(r, "  last error: {e}");
                    }
                }
                Err(e) => {
                    let _ = writeln!(r, "sync: unreadable ({e})");
                }
            }
        }
        None => {
            let _ = writeln!(r, "account: signed out");
        }
    }
    match softphone_audio::list_devices() {
        Ok(devices) => {
            let _ = writeln!(r, "audio devices: {}", devices.len());
            for d in devices {
                let _ = writeln!(
                    r,
                    "  {:?}{} {} ({} Hz, {:?} ch)",
                    d.direction,
                    if d.is_default { " default" } else { "" },
                    d.name,
                    d.sample_rates
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join("/"),
                    d.channels
                );
            }
        }
        Err(e) => {
            let _ = writeln!(r, "audio devices: unavailable ({e})");
        }
    }
    match log_dir {
        Some(dir) => {
            let _ = writeln!(r, "log folder: {}", dir.display());
            match logs::tail(dir, LOG_TAIL_BYTES) {
                Ok(t) if t.is_empty() => {
                    let _ = writeln!(r, "--- no log lines yet ---");
                }
                Ok(t) => {
                    let _ = writeln!(r, "--- last log lines ---");
                    r.push_str(&t);
                }
                Err(e) => {
                    let _ = writeln!(r, "--- log unreadable: {e} ---");
                }
            }
        }
        None => {
            let _ = writeln!(r, "log folder: none");
        }
    }
    logs::redact(&r).into_owned()
}
