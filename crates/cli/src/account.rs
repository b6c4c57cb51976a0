//! `login`, `logout`, `note`, `search`, `upload`, `sync`, `status`: the offline-first
//! store and the sync worker (`softphone-store`) from the command line. The profile
//! folder holds `store.db` and `settings.json`; the token is only in the OS keyring.

use anyhow::{bail, Context, Result};
use softphone_client::Client;
use softphone_store::credentials::{self, Settings};
use softphone_store::recordings::Retention;
use softphone_store::sync::{SyncOptions, Syncer};
use softphone_store::Store;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// The profile folder: `--profile`, else `SOFTPHONE_PROFILE`, else the platform's data
/// folder (`~/.local/share/agent-softphone` on Linux).
pub fn profile_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = arg {
        return Ok(p);
    }
    dirs::data_dir()
        .map(|d| d.join("agent-softphone"))
        .context("no data folder on this system: pass --profile DIR")
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn open_store(profile: &Path) -> Result<Store> {
    let (store, report) = Store::open(profile)?;
    if let Some(moved) = &report.corrupt_moved_to {
        eprintln!(
            "warning: the local database was unreadable and was moved to {}; kept {} unsynced changes and {} recordings from it; pull to rebuild the rest",
            moved.display(),
            report.salvaged_outbox,
            report.salvaged_recordings
        );
    }
    Ok(store)
}

fn logged_in(profile: &Path) -> Result<(Settings, Client)> {
    let (s, token) = credentials::load(profile)?;
    let client = Client::new(&s.server_url)?.with_token(token);
    Ok((s, client))
}

/// `softphone login --server URL --email E` (password on stdin).
pub fn login(profile: &Path, server: &str, email: &str) -> Result<()> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    runtime()?.block_on(async {
        let mut client = Client::new(server)?;
        let resp = client.login(email, password).await?;
        let settings = Settings {
            server_url: server.trim_end_matches('/').to_string(),
            email: resp.user.email.clone(),
            user_id: resp.user.id,
            display_name: resp.user.display_name.clone(),
        };
        credentials::save(profile, &settings, &resp.token)?;
        println!(
            "logged in as {} ({}) at {}",
            resp.user.display_name,
            resp.user.role.as_str(),
            settings.server_url
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
    let (s, _) = logged_in(profile)?;
    let lead = Uuid::parse_str(lead).with_context(|| format!("`{lead}` is not a lead id"))?;
    let call = call
        .map(|c| Uuid::parse_str(c).with_context(|| format!("`{c}` is not a call id")))
        .transpose()?;
    let mut store = open_store(profile)?;
    let n = store.write_note(s.user_id, lead, call, text)?;
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

/// `softphone upload FILE --call-id ID`: queues a finished recording.
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
    let r = store.add_recording(call_id, file, duration_ms, parsed.head.channels)?;
    println!(
        "queued {} ({} bytes, {} ms) for upload",
        r.path.display(),
        r.bytes,
        r.duration_ms
    );
    Ok(())
}

fn options(prune: bool) -> SyncOptions {
    SyncOptions {
        retention: if prune {
            Retention::Prune
        } else {
            Retention::Keep
        },
        ..SyncOptions::default()
    }
}

/// `softphone sync [--once]`. With `--once`: exit 0 only when nothing is left to push
/// and the pull worked.
pub fn sync(profile: &Path, once: bool, json: bool, prune: bool) -> Result<()> {
    let (_, client) = logged_in(profile)?;
    let store = Arc::new(Mutex::new(open_store(profile)?));
    let syncer = Syncer::new(store.clone(), client, options(prune));
    let rt = runtime()?;
    if once {
        let (push, pull) = rt.block_on(syncer.run_once());
        let status = store
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock"))?
            .status()?;
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "pushed": push.pushed,
                    "parked": push.parked,
                    "stopped_by": push.stopped_by,
                    "pulled": pull.as_ref().map(|p| p.applied).ok(),
                    "pull_error": pull.as_ref().err().map(|e| e.to_string()),
                    "status": status,
                })
            );
        } else {
            println!(
                "pushed {}, parked {}, pulled {}; {} pending",
                push.pushed,
                push.parked,
                pull.as_ref().map(|p| p.applied).unwrap_or(0),
                status.pending
            );
        }
        if let Some(e) = push.stopped_by {
            bail!("push stopped: {e}");
        }
        pull?;
        return Ok(());
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(true);
    })?;
    eprintln!("syncing; Ctrl-C to stop");
    rt.block_on(syncer.run(stop_rx, Arc::default()));
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
