//! The desktop app's footprint, measured on the real app (release build) under Xvfb,
//! next to Chromium showing the server's browser call page (what an agent on a browser
//! softphone keeps open):
//!
//! - start-up: process spawn to the first usable screen (the app logs `window usable`
//!   once its first screen is drawn), signed out and signed in, 5 runs each;
//! - PSS (sum over the app and its WebKit processes, /proc/PID/smaps_rollup) and CPU
//!   (utime + stime over the window, % of one core) idle, signed in, for 30 s;
//! - the same in an echo call with speech and both meters moving, for 20 s;
//! - PSS growth over `CALLS` (default 100) echo calls, each recorded and synced.
//!
//! Run: `bash benches/app-footprint.sh` (starts D-Bus, gnome-keyring and PulseAudio, then
//! `cargo bench -p agent-softphone --bench app_footprint`). Results: docs/benchmarks.md.

#[path = "../src-tauri/tests/harness/mod.rs"]
mod harness;

use harness::*;
use softphone_controller::agent::{Account, Agent};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Processes whose parent chain leads to `root` (itself included).
fn tree(root: u32) -> Vec<u32> {
    let mut parent = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // Field 4 (ppid) comes after the parenthesised command name.
            if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
                if let Some(pp) = rest.split_whitespace().nth(1) {
                    parent.push((pid, pp.parse::<u32>().unwrap_or(0)));
                }
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The app's own processes under `root`: the app and its WebKit helpers, not the
/// WebDriver plumbing (tauri-driver, WebKitWebDriver) that only the test adds.
fn app_processes(root: u32) -> Vec<u32> {
    tree(root)
        .into_iter()
        .filter(|p| {
            let c = comm(*p);
            (c.starts_with("agent-softphone") || c.starts_with("WebKit")) && c != "WebKitWebDriver"
        })
        .collect()
}

/// Chromium's processes under `root` (the browser and its renderers, GPU, utility).
fn chromium_processes(root: u32) -> Vec<u32> {
    tree(root)
        .into_iter()
        .filter(|p| comm(*p).starts_with("chrom"))
        .collect()
}

/// PSS, MiB, summed over `pids`.
fn pss_mib(pids: &[u32]) -> f64 {
    let mut kb = 0u64;
    for p in pids {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) {
            for l in s.lines() {
                if let Some(v) = l.strip_prefix("Pss:") {
                    kb += v
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0);
                }
            }
        }
    }
    kb as f64 / 1024.0
}

/// PSS per process name (MiB), e.g. `agent-softphone 90.1, WebKitWebProcess 150.2`.
fn pss_by_name(pids: &[u32]) -> String {
    let mut by: std::collections::BTreeMap<String, f64> = Default::default();
    for p in pids {
        *by.entry(comm(*p)).or_default() += pss_mib(&[*p]);
    }
    by.iter()
        .map(|(n, v)| format!("{n} {v:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// CPU % per process name over `secs`.
async fn cpu_by_name(pids: Vec<u32>, secs: u64) -> String {
    let a: Vec<u64> = pids.iter().map(|p| cpu_ticks(&[*p])).collect();
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let mut by: std::collections::BTreeMap<String, f64> = Default::default();
    for (p, a) in pids.iter().zip(a) {
        let b = cpu_ticks(&[*p]);
        *by.entry(comm(*p)).or_default() += b.saturating_sub(a) as f64 / t.elapsed().as_secs_f64();
    }
    by.iter()
        .map(|(n, v)| format!("{n} {v:.2} %"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// utime + stime, clock ticks (1/100 s), summed over `pids`.
fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            // After the name: state is field 3, utime 14, stime 15 (1-based).
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

/// CPU use of the processes `pids()` returns over `secs`, % of one core.
async fn cpu_pct(pids: impl Fn() -> Vec<u32>, secs: u64) -> f64 {
    let a = cpu_ticks(&pids());
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let b = cpu_ticks(&pids());
    (b.saturating_sub(a)) as f64 / t.elapsed().as_secs_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Spawn to the app's `window usable` log line, ms (and the app's own figure).
fn start_once(display: &str, profile: &Path) -> Result<(f64, u64)> {
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent-softphone"))
        .env("DISPLAY", display)
        .env("SOFTPHONE_PROFILE", profile)
        .env("RUST_LOG", "agent_softphone_lib=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut found = None;
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        if line.contains("window usable") {
            let app_ms = line
                .split("elapsed_ms=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            found = Some((t.elapsed().as_secs_f64() * 1000.0, app_ms));
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    found.ok_or_else(|| "the app never logged `window usable`".into())
}

/// The page's element count and timeline items, e.g. `DOM 812 elements, 51 timeline items`.
async fn dom_size(c: &fantoccini::Client) -> String {
    let js = "return [document.getElementsByTagName('*').length, \
              document.querySelectorAll('#timeline > li').length]";
    match c.execute(js, vec![]).await {
        Ok(v) => format!("DOM {} elements, {} timeline items", v[0], v[1]),
        Err(e) => format!("DOM size unknown ({e})"),
    }
}

/// Calls after which the web process has warmed up: it grows 5-10 MiB over the first
/// ten or so calls whether or not the timeline shows them (its JavaScript heap and
/// caches reaching their working size; part of it is given back a minute later), and
/// is flat after that (docs/benchmarks.md, session 12).
const WARM_CALLS: usize = 25;

async fn echo_call(c: &fantoccini::Client, talk_ms: u64) -> Result<()> {
    find(c, "#dial").await?.click().await?;
    if let Err(e) = wait_text(c, "#call-state", 20, |t| {
        t.eq_ignore_ascii_case("connected")
    })
    .await
    {
        // What the app said instead, for the report.
        let mut said = vec![];
        for sel in ["#call-error", "#error", "#call-summary"] {
            if let Ok(el) = c.find(locator(sel)).await {
                said.push(format!("{sel}: {:?}", el.text().await.unwrap_or_default()));
            }
        }
        return Err(format!("{e}; {}", said.join("; ")).into());
    }
    tokio::time::sleep(Duration::from_millis(talk_ms)).await;
    find(c, "#hangup").await?.click().await?;
    wait_text(c, "#call-summary", 20, |t| t.contains("Call ended")).await?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let calls: usize = std::env::var("CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    if std::env::var_os("PULSE_SERVER").is_none() {
        return Err(
            "run through benches/app-footprint.sh (it starts PulseAudio and the keyring)".into(),
        );
    }
    let tmp = tempfile::Builder::new()
        .prefix("softphone-footprint-")
        .tempdir()?;
    let voice = speech(tmp.path())?;
    let (server, _data) = demo_server(tmp.path()).await?;
    let url = format!("http://{}", server.addr);
    let (email, _, _) = softphone_server::demo::ACCOUNTS[1];
    let (_xvfb, display) = start_xvfb()?;

    // Start-up, signed out (sign-in screen) and signed in (leads and timeline drawn).
    let signed_in = tmp.path().join("profile");
    let account = Account::sign_in(&url, email, softphone_server::demo::PASSWORD).await?;
    account.remember(&signed_in)?;
    Agent::open(&signed_in, account)?.0.sync_once().await?;
    // FOOTPRINT_GROWTH_ONLY=1: only the growth over calls (for A/B runs of it).
    let growth_only = std::env::var_os("FOOTPRINT_GROWTH_ONLY").is_some();
    if !growth_only {
        let mut out_ext = vec![];
        let mut in_ext = vec![];
        let mut in_app = vec![];
        for i in 0..5 {
            let fresh = tmp.path().join(format!("fresh-{i}"));
            out_ext.push(start_once(&display, &fresh)?.0);
            let (ext, app) = start_once(&display, &signed_in)?;
            in_ext.push(ext);
            in_app.push(app as f64);
        }
        println!(
            "start-up to a usable window, median of 5: signed out {:.0} ms; signed in {:.0} ms \
             (app's own clock {:.0} ms)",
            median(&mut out_ext),
            median(&mut in_ext),
            median(&mut in_app)
        );
    }

    // Idle and in a call, through WebDriver.
    let (driver, c) = launch_app(
        &display,
        &[("SOFTPHONE_PROFILE", signed_in.as_os_str())],
        &tmp.path().join("app.log"),
    )
    .await?;
    let root = driver.0.id();
    find(&c, "#who").await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (mut idle_pss, mut idle_cpu) = (f64::NAN, f64::NAN);
    if !growth_only {
        idle_pss = pss_mib(&app_processes(root));
        idle_cpu = cpu_pct(|| app_processes(root), 30).await;
        let procs = app_processes(root).len();
        println!(
            "idle, signed in: PSS {idle_pss:.1} MiB over {procs} processes, CPU {idle_cpu:.2} %"
        );
        println!("  PSS by process: {}", pss_by_name(&app_processes(root)));

        find(&c, "#dial").await?.click().await?;
        wait_text(&c, "#call-state", 20, |t| {
            t.eq_ignore_ascii_case("connected")
        })
        .await?;
        let mut loop_voice = Command::new("bash");
        loop_voice
            .args(["-c", "while true; do paplay -d micfeed \"$0\"; done"])
            .arg(&voice);
        let talk = spawn(&mut loop_voice, "paplay loop")?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let call_cpu = cpu_pct(|| app_processes(root), 20).await;
        let call_pss = pss_mib(&app_processes(root));
        let call_split = cpu_by_name(app_processes(root), 10).await;
        drop(talk);
        find(&c, "#hangup").await?.click().await?;
        wait_text(&c, "#call-summary", 20, |t| t.contains("Call ended")).await?;
        println!(
            "in an echo call with speech, meters drawn: PSS {call_pss:.1} MiB, CPU {call_cpu:.2} %"
        );
        println!("  CPU by process (10 s): {call_split}");
    }

    // Growth over many calls (after one warm-up call).
    echo_call(&c, 1000).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    // FOOTPRINT_METERS=hidden: as when the window is hidden (no `call-levels` events
    // reach the page).
    if std::env::var("FOOTPRINT_METERS").as_deref() == Ok("hidden") {
        c.execute(
            "return window.__TAURI_INTERNALS__.invoke('meters_visible', {visible: false})",
            vec![],
        )
        .await?;
        println!("  meters hidden");
    }
    // FOOTPRINT_DETACHED=1: the calls are not about the selected lead, so the
    // timeline on screen does not grow with them (an A/B of what the page keeps).
    if std::env::var_os("FOOTPRINT_DETACHED").is_some() {
        find(&c, "#about-lead").await?.click().await?;
        println!("  calls not attached to the lead");
    }
    let before = pss_mib(&app_processes(root));
    let before_split = pss_by_name(&app_processes(root));
    let t = Instant::now();
    println!(
        "  PSS by process before: {before_split}; {}",
        dom_size(&c).await
    );
    // FOOTPRINT_EVERY=N: PSS by process every N calls (default 25).
    let every: usize = std::env::var("FOOTPRINT_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let mut warm = None;
    for i in 0..calls {
        echo_call(&c, 1000)
            .await
            .map_err(|e| format!("call {} of {calls}: {e}", i + 1))?;
        if i + 1 == WARM_CALLS {
            warm = Some(pss_mib(&app_processes(root)));
        }
        if (i + 1) % every == 0 && i + 1 < calls {
            println!(
                "  after {} calls: {}; {}",
                i + 1,
                pss_by_name(&app_processes(root)),
                dom_size(&c).await
            );
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = pss_mib(&app_processes(root));
    println!(
        "  PSS by process after:  {}",
        pss_by_name(&app_processes(root))
    );
    println!(
        "PSS after {calls} more echo calls ({:.0} s): {before:.1} -> {after:.1} MiB ({:+.1} MiB)",
        t.elapsed().as_secs_f64(),
        after - before
    );
    if let Some(warm) = warm {
        println!(
            "  from call {WARM_CALLS} on (the web process warmed up): {warm:.1} -> {after:.1} MiB ({:+.1} MiB over {} calls)",
            after - warm,
            calls - WARM_CALLS
        );
    }
    println!("  {}", dom_size(&c).await);
    // Whether the web process gives anything back once calls stop.
    tokio::time::sleep(Duration::from_secs(60)).await;
    println!(
        "  a minute later: {:.1} MiB ({})",
        pss_mib(&app_processes(root)),
        pss_by_name(&app_processes(root))
    );
    c.close().await?;
    drop(driver);
    if growth_only {
        return Ok(());
    }

    // The anchor: Chromium showing the server's browser call page, idle, same display.
    let agent = Agent::resume(&signed_in)?;
    let lead = agent.leads()?.first().ok_or("no leads")?.id;
    let link = agent
        .account()
        .create_link(&softphone_proto::CreateLink {
            lead_id: Some(lead),
            ..Default::default()
        })
        .await?;
    let profile_dir = tmp.path().join("chromium");
    let chromium = spawn(
        Command::new("/usr/bin/chromium")
            .args(softphone_testkit::CHROMIUM_FLAGS)
            .arg(format!("--user-data-dir={}", profile_dir.display()))
            .arg(&link.url)
            .env("DISPLAY", &display)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "chromium",
    )?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let croot = chromium.0.id();
    let chrome_pss = pss_mib(&chromium_processes(croot));
    let chrome_cpu = cpu_pct(|| chromium_processes(croot), 30).await;
    println!(
        "anchor: Chromium on the browser call page, idle: PSS {chrome_pss:.1} MiB over {} processes, CPU {chrome_cpu:.2} %",
        chromium_processes(croot).len()
    );
    println!(
        "ratios (app / Chromium), idle: PSS {:.2}, CPU {:.2}",
        idle_pss / chrome_pss,
        if chrome_cpu > 0.0 {
            idle_cpu / chrome_cpu
        } else {
            f64::NAN
        }
    );
    drop(chromium);
    server.stop().await?;
    Ok(())
}
