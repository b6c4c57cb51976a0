//! `login`, `logout`, `note`, `search`, `upload`, `sync`, `status`: the offline-first
//! store and the sync worker (`softphone-store`) from the command line. The profile
//! folder holds `store.db` and `settings.json`; the token is only in the OS keyring.

use anyhow::{bail, Context, Result};
use softphone_client::Client;
use softphone_controller::agent::{Account, Agent};
use softphone_store::credentials::{self, Settings};
use softphone_store::sync::SyncOptions;
use softphone_store::Store;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use uuid::Uuid;

/// The profile folder: `--profile`, else `SOFTPHONE_PROFILE`, else the platform's data
/// folder (`~/.local/share/agent-softphone` on Linux).
pub fn profile_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = arg {
        return Ok(p);
    }
    softphone_controller::agent::default_profile()
        .context("no data folder on this system: pass --profile DIR")
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn open_store(profile: &Path) -> Result<Store> {
    let (store, report) = Store::open(profile)?;
    warn_rebuilt(&report);
    Ok(store)
}

fn warn_rebuilt(report: &softphone_store::OpenReport) {
    if let Some(moved) = &report.corrupt_moved_to {
        eprintln!(
            "warning: the local database was unreadable and was moved to {}; kept {} unsynced changes and {} recordings from it; pull to rebuild the rest",
            moved.display(),
            report.salvaged_outbox,
            report.salvaged_recordings
        );
    }
}

fn logged_in(profile: &Path) -> Result<(Settings, Client)> {
    let (s, token) = credentials::load(profile)?;
    let client = Client::new(&s.server_url)?.with_token(token);
    Ok((s, client))
}

/// The profile's signed-in agent, warning when its database had to be rebuilt.
fn agent(profile: &Path) -> Result<Agent> {
    let account = Account::from_profile(profile)?;
    let (agent, report) = Agent::open(profile, account)?;
    warn_rebuilt(&report);
    for r in agent.recovered() {
        eprintln!(
            "warning: call {} ended in a crash; {}{}",
            r.call_id,
            match (r.lead_id.is_some(), &r.recording, r.duration_ms) {
                (true, Some(p), Some(ms)) => format!(
                    "queued for sync: its record and its recording ({}, {:.1} s)",
                    p.display(),
                    ms as f64 / 1000.0
                ),
                (false, Some(p), Some(ms)) => format!(
                    "its recording is repaired and kept at {} ({:.1} s); no lead, so nothing to sync",
                    p.display(),
                    ms as f64 / 1000.0
                ),
                (true, _, _) => "queued for sync: its record".into(),
                (false, _, _) => "nothing to keep (no lead, no recording)".into(),
            },
            r.problem
                .as_ref()
                .map(|p| format!(" (recording lost: {p})"))
                .unwrap_or_default()
        );
    }
    Ok(agent)
}

/// `softphone diagnostics`: the report of `softphone_controller::diagnostics`, for
/// the profile's agent when signed in. Logs are read from SOFTPHONE_LOG_DIR, where
/// the CLI writes them.
pub fn diagnostics(profile: Option<PathBuf>) -> Result<()> {
    let profile = profile_dir(profile)?;
    let agent = Account::from_profile(&profile)
        .ok()
        .and_then(|a| Agent::open(&profile, a).ok().map(|(agent, _)| agent));
    let log_dir = std::env::var_os("SOFTPHONE_LOG_DIR").map(PathBuf::from);
    print!(
        "{}",
        softphone_controller::diagnostics::report(
            concat!("softphone ", env!("CARGO_PKG_VERSION")),
            agent.as_ref(),
            log_dir.as_deref()
        )
    );
    Ok(())
}

/// `softphone login --server URL --email E` (password on stdin).
pub fn login(profile: &Path, server: &str, email: &str) -> Result<()> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    runtime()?.block_on(async {
        let account = Account::sign_in(server, email, password).await?;
        account.remember(profile)?;
        if let Err(e) = account.fetch_org_policy(profile).await {
            eprintln!("warning: the organisation's policy was not fetched ({e}); sync asks again");
        }
        println!(
            "logged in as {} at {}",
            account.settings.display_name, account.settings.server_url
        );
        Ok(())
    })
}

/// `softphone logout`: revokes the token on the server when reachable, then removes it
/// from the keyring. Local data stays.
pub fn logout(profile: &Path) -> Result<()> {
    match logged_in(profile) {
        Ok((_, mut client)) => {
            if let Err(e) = runtime()?.block_on(client.logout()) {
                eprintln!("warning: could not revoke the session on the server ({e}); removing it here anyway");
            }
        }
        Err(e) => eprintln!("warning: {e}"),
    }
    credentials::clear(profile)?;
    println!("logged out");
    Ok(())
}

/// `softphone note LEAD TEXT`.
pub fn note(profile: &Path, lead: &str, text: &str, call: Option<&str>) -> Result<()> {
    let lead = Uuid::parse_str(lead).with_context(|| format!("`{lead}` is not a lead id"))?;
    let call = call
        .map(|c| Uuid::parse_str(c).with_context(|| format!("`{c}` is not a call id")))
        .transpose()?;
    let agent = agent(profile)?;
    let n = agent.write_note(lead, call, text)?;
    println!("{} (saved locally, pending sync)", n.id);
    Ok(())
}

/// `softphone search QUERY`.
pub fn search(profile: &Path, query: &str) -> Result<()> {
    let store = open_store(profile)?;
    for h in store.search(query, 20)? {
        println!("{} {} lead {}: {}", h.entity, h.id, h.lead_id, h.snippet);
    }
    Ok(())
}

/// `softphone upload FILE --call-id ID`: queues a finished recording. The server keeps it
/// only under a call record of this agent's with that id (synced, or queued before it in
/// this profile); otherwise the upload parks with `upload.no_call` and the file stays.
pub fn upload(profile: &Path, file: &Path, call_id: &str) -> Result<()> {
    let call_id =
        Uuid::parse_str(call_id).with_context(|| format!("`{call_id}` is not a call id"))?;
    let parsed = softphone_recorder::read_file(file)
        .with_context(|| format!("{} is not a finished recording", file.display()))?;
    if !parsed.complete {
        bail!(
            "{} is unfinished; run `softphone recover` on its folder first",
            file.display()
        );
    }
    let duration_ms = parsed.playable_samples() * 1000 / 48_000;
    let mut store = open_store(profile)?;
    if store.get::<softphone_proto::Call>(call_id)?.is_none() {
        eprintln!(
            "note: this profile has no call {call_id}; the server keeps the recording only if \
             that call's record is there (otherwise the upload parks with upload.no_call)"
        );
    }
    let r = store.add_recording(call_id, file, duration_ms, parsed.head.channels)?;
    println!(
        "queued {} ({} bytes, {} ms) for upload",
        r.path.display(),
        r.bytes,
        r.duration_ms
    );
    Ok(())
}

/// Sync options for `--prune`, under the admin policy's `local_recordings` (the
/// machine's file, then the organisation's policy cached in `profile`).
fn options(profile: &Path, prune: bool) -> Result<SyncOptions> {
    use softphone_controller::admin::AdminConfig;
    let policy = AdminConfig::load_effective(&AdminConfig::system_path(), Some(profile))?;
    Ok(SyncOptions {
        retention: policy.retention(prune)?,
        ..SyncOptions::default()
    })
}

/// `softphone sync [--once]`. With `--once`: exit 0 only when nothing is left to push
/// and the pull worked.
pub fn sync(profile: &Path, once: bool, json: bool, prune: bool) -> Result<()> {
    // The policy first: a refused --prune is refused before anything is opened.
    let opts = options(profile, prune)?;
    let mut agent = agent(profile)?;
    agent.set_sync_options(opts);
    let rt = runtime()?;
    if once {
        let round = rt.block_on(agent.sync_once())?;
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "pushed": round.push.pushed,
                    "parked": round.push.parked,
                    "stopped_by": round.push.stopped_by,
                    "pulled": round.pull.as_ref().map(|p| p.applied).ok(),
                    "pull_error": round.pull.as_ref().err(),
                    "status": round.status,
                })
            );
        } else {
            println!(
                "pushed {}, parked {}, pulled {}; {} pending",
                round.push.pushed,
                round.push.parked,
                round.pull.as_ref().map(|p| p.applied).unwrap_or(0),
                round.status.pending
            );
        }
        if let Some(e) = round.push.stopped_by {
            bail!("push stopped: {e}");
        }
        if let Err(e) = round.pull {
            bail!("pull failed: {e}");
        }
        return Ok(());
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(true);
    })?;
    eprintln!("syncing; Ctrl-C to stop");
    rt.block_on(agent.syncer().run(stop_rx, Arc::default()));
    Ok(())
}

/// `softphone status [--json]`.
pub fn status(profile: &Path, json: bool) -> Result<()> {
    let settings = credentials::settings(profile)?;
    let store = open_store(profile)?;
    let st = store.status()?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "server_url": settings.as_ref().map(|s| &s.server_url),
                "email": settings.as_ref().map(|s| &s.email),
                "status": st,
            })
        );
        return Ok(());
    }
    match &settings {
        Some(s) => println!("account {} at {}", s.email, s.server_url),
        None => println!("not logged in"),
    }
    println!(
        "{}; {} pending, {} parked, {} bytes of recordings to upload",
        if st.online { "online" } else { "offline" },
        st.pending,
        st.parked.len(),
        st.bytes_left
    );
    for (seq, entity, reason) in &st.parked {
        println!("  parked #{seq} {entity}: {reason}");
    }
    if let Some(e) = &st.last_error {
        println!("last error: {e}");
    }
    Ok(())
}

fn print_link(l: &softphone_proto::CallLink) {
    let left_s = (l.expires_at_ms - softphone_store::now_ms()).max(0) / 1000;
    println!(
        "{}  {}  expires in {}h{:02}m{}{}",
        l.id,
        l.url,
        left_s / 3600,
        (left_s % 3600) / 60,
        if l.single_use { "  single-use" } else { "" },
        l.lead_id.map(|x| format!("  lead {x}")).unwrap_or_default()
    );
}

/// `softphone link new [--lead ID] [--single-use] [--ttl SECS] [--json]`.
pub fn link_new(
    profile: &Path,
    lead: Option<&str>,
    single_use: bool,
    ttl: Option<i64>,
    json: bool,
) -> Result<()> {
    let lead_id = lead
        .map(|l| Uuid::parse_str(l).with_context(|| format!("--lead {l} is not a UUID")))
        .transpose()?;
    let (_, client) = logged_in(profile)?;
    let link = runtime()?.block_on(client.create_link(&softphone_proto::CreateLink {
        lead_id,
        ttl_secs: ttl,
        single_use,
    }))?;
    if json {
        println!("{}", serde_json::to_string(&link)?);
    } else {
        print_link(&link);
    }
    Ok(())
}

/// `softphone link list [--json]`.
pub fn link_list(profile: &Path, json: bool) -> Result<()> {
    let (_, client) = logged_in(profile)?;
    let links = runtime()?.block_on(client.links())?;
    if json {
        println!("{}", serde_json::to_string(&links)?);
    } else {
        for l in &links {
            print_link(l);
        }
    }
    Ok(())
}

/// `softphone link revoke ID`.
pub fn link_revoke(profile: &Path, id: &str) -> Result<()> {
    let id = Uuid::parse_str(id).with_context(|| format!("{id} is not a link id"))?;
    let (_, client) = logged_in(profile)?;
    runtime()?.block_on(client.revoke_link(id))?;
    println!("revoked {id}");
    Ok(())
}
