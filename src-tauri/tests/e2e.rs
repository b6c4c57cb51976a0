//! The desktop app end to end, through WebDriver, as an agent uses it.
//!
//! Real parts only: the app binary cargo built for this test (assets embedded) in a
//! real WebKitGTK window under a private Xvfb, driven by `tauri-driver` (npm
//! `@crabnebula/tauri-driver`, installed by `npm ci`) over WebKitWebDriver; the real
//! server with demo data in this process on 127.0.0.1:0; the real PulseAudio virtual
//! devices (`tests/scripts/pulse-virtual.sh`: speech goes into `micfeed`, the app
//! captures `vmic`); the session in gnome-keyring. `scripts/test-all.sh` starts D-Bus,
//! the keyring and PulseAudio; this test starts Xvfb, tauri-driver and the server.
//!
//! Screenshots of the main screens go to `$SOFTPHONE_SCREENSHOTS` (default: a folder in
//! the temp dir; `docs/screenshots/` holds the committed ones).

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use softphone_controller::agent::Account;
use softphone_proto::Change;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A helper process, stopped with SIGTERM (tauri-driver leaves orphans on SIGKILL),
/// then SIGKILL if it lingers.
struct Proc(Child, &'static str);

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(-pid, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} ignored SIGTERM; killing it", self.1);
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command, name: &'static str) -> Result<Proc> {
    use std::os::unix::process::CommandExt;
    let child = cmd
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {name}: {e} (run scripts/setup-debian.sh)"))?;
    Ok(Proc(child, name))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_port(port: u16, what: &str) -> Result<()> {
    let end = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > end {
            return Err(format!("{what} did not listen on {port}").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// A private X server: the first free display from :90.
fn start_xvfb() -> Result<(Proc, String)> {
    for n in 90..130 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let display = format!(":{n}");
        let x = spawn(
            Command::new("Xvfb")
                .args([&display, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "Xvfb",
        )?;
        let end = Instant::now() + Duration::from_secs(10);
        while !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
            if Instant::now() > end {
                return Err(format!("Xvfb {display} did not start").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        return Ok((x, display));
    }
    Err("no free X display between :90 and :129".into())
}

fn tool(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .map_err(|e| format!("{:?}: {e} (run scripts/setup-debian.sh)", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// About 17 s of real recorded speech (alsa-utils' six voices, twice) at 48 kHz mono.
fn speech(dir: &Path) -> Result<PathBuf> {
    let out = dir.join("agent-voice.wav");
    let mut sox = Command::new("sox");
    for v in [
        "Front_Center",
        "Front_Left",
        "Front_Right",
        "Rear_Center",
        "Rear_Left",
        "Rear_Right",
    ] {
        sox.arg(format!("/usr/share/sounds/alsa/{v}.wav"));
    }
    tool(
        sox.args(["-r", "48000", "-c", "1", "-b", "16"])
            .arg(&out)
            .args(["repeat", "1"]),
    )?;
    Ok(out)
}

async fn start_server(data: &Path, listen: SocketAddr) -> Result<softphone_server::Running> {
    let mut cfg = softphone_server::Config::new(data.to_path_buf());
    cfg.listen = listen;
    cfg.media_udp_addrs = vec!["127.0.0.1:0".into()];
    Ok(softphone_server::start(&cfg).await?)
}

async fn find(c: &Client, css: &str) -> Result<Element> {
    Ok(c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(locator(css))
        .await
        .map_err(|e| format!("no `{css}` on screen: {e}"))?)
}

/// A CSS selector, or an XPath when it starts with `(` or `/`.
fn locator(sel: &str) -> Locator<'_> {
    if sel.starts_with('(') || sel.starts_with('/') {
        Locator::XPath(sel)
    } else {
        Locator::Css(sel)
    }
}

/// The newest call in the timeline (the list is oldest first).
const LAST_CALL: &str = "(//ol[@id='timeline']/li[contains(@class,'call')])[last()]";

/// Waits until the text of `sel` (see [`locator`]) satisfies `ok`; returns it.
async fn wait_text(c: &Client, sel: &str, secs: u64, ok: impl Fn(&str) -> bool) -> Result<String> {
    let end = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    while Instant::now() < end {
        if let Ok(e) = c.find(locator(sel)).await {
            if let Ok(t) = e.text().await {
                if ok(&t) {
                    return Ok(t);
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Err(
        format!("`{sel}` never showed what was expected within {secs} s; last text: {last:?}")
            .into(),
    )
}

/// Reads a meter's `aria-valuenow` (0-100) as fast as WebDriver allows for `ms`.
async fn sample_meter(c: &Client, id: &str, ms: u64) -> Result<Vec<f64>> {
    let el = c.find(Locator::Id(id)).await?;
    let end = Instant::now() + Duration::from_millis(ms);
    let mut out = Vec::new();
    while Instant::now() < end {
        if let Some(v) = el.attr("aria-valuenow").await? {
            out.push(v.parse::<f64>()?);
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    Ok(out)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

struct Shots(PathBuf);

impl Shots {
    async fn take(&self, c: &Client, name: &str) -> Result<()> {
        let png = c.screenshot().await?;
        std::fs::write(self.0.join(format!("{name}.png")), png)?;
        Ok(())
    }

    /// A screenshot of the window scrolled so that the last element matching `css` is
    /// in the middle.
    async fn at(&self, c: &Client, css: &str, name: &str) -> Result<()> {
        c.execute(
            "[...document.querySelectorAll(arguments[0])].pop().scrollIntoView({block: 'center'})",
            vec![css.into()],
        )
        .await?;
        self.take(c, name).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_signs_in_calls_echo_and_keeps_notes_through_an_outage() -> Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let driver = root.join("node_modules/.bin/tauri-driver");
    if !driver.exists() {
        return Err(format!(
            "{} missing: run `npm ci` (scripts/setup-debian.sh does)",
            driver.display()
        )
        .into());
    }
    if std::env::var_os("PULSE_SERVER").is_none()
        || std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
    {
        return Err(
            "needs the private PulseAudio and D-Bus/gnome-keyring session: run scripts/test-all.sh"
                .into(),
        );
    }
    let tmp = tempfile::Builder::new()
        .prefix("softphone-e2e-")
        .tempdir()?;
    let shots = Shots(match std::env::var_os("SOFTPHONE_SCREENSHOTS") {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join("agent-softphone-e2e-screenshots"),
    });
    std::fs::create_dir_all(&shots.0)?;
    let voice = speech(tmp.path())?;

    // The server with demo data.
    let data = tmp.path().join("server");
    {
        let conn = softphone_server::db::open(&data)?;
        softphone_server::demo::seed(&conn)?;
    }
    let server = start_server(&data, "127.0.0.1:0".parse()?).await?;
    let addr = server.addr;
    let url = format!("http://{addr}");
    let (email, _, _) = softphone_server::demo::ACCOUNTS[1];

    // Display, driver, app.
    let (_xvfb, display) = start_xvfb()?;
    let (port, native) = (free_port(), free_port());
    let _driver = spawn(
        Command::new(&driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .env("DISPLAY", &display)
            .env("SOFTPHONE_PROFILE", tmp.path().join("profile"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null()),
        "tauri-driver",
    )?;
    wait_port(port, "tauri-driver")?;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "tauri:options".into(),
        serde_json::json!({ "application": env!("CARGO_BIN_EXE_agent-softphone") }),
    );
    caps.insert("browserName".into(), "wry".into());
    let http = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(http)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await?;
    let outcome = drive(&c, &shots, &voice, server, &data, addr, &url, email).await;
    if outcome.is_err() {
        let _ = shots.take(&c, "failure").await;
        eprintln!(
            "screenshot of the failure: {}",
            shots.0.join("failure.png").display()
        );
    }
    c.close().await?;
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    c: &Client,
    shots: &Shots,
    voice: &Path,
    server: softphone_server::Running,
    data: &Path,
    addr: SocketAddr,
    url: &str,
    email: &str,
) -> Result<()> {
    // A taller window than the default 680 px, so screenshots show more.
    c.set_window_size(440, 900).await?;

    // 1. Sign in.
    let server_field = find(c, "#server").await?;
    server_field.clear().await?;
    server_field.send_keys(url).await?;
    find(c, "#email").await?.send_keys(email).await?;
    find(c, "#password")
        .await?
        .send_keys(softphone_server::demo::PASSWORD)
        .await?;
    shots.take(c, "sign-in").await?;
    find(c, "#signin-form button[type=submit]")
        .await?
        .click()
        .await?;
    let who = wait_text(c, "#who", 20, |t| t.contains("Ana")).await?;
    assert!(who.contains(url), "{who}");
    let leads = c.find_all(Locator::Css("#lead option")).await?;
    assert_eq!(leads.len(), 10, "Ana's demo leads");

    // 2. Call echo (recorded, about the first lead) on the virtual devices.
    let target = find(c, "#target").await?;
    target.clear().await?;
    target.send_keys("echo").await?;
    find(c, "#dial").await?.click().await?;
    wait_text(c, "#call-state", 20, |t| {
        t.eq_ignore_ascii_case("connected")
    })
    .await?;

    // Silence into the virtual mic: the mic meter stays low.
    let quiet = sample_meter(c, "call-mic", 1500).await?;
    assert!(quiet.len() >= 10, "too few meter readings: {quiet:?}");
    assert!(max(&quiet) < 10.0, "mic meter in silence: {quiet:?}");

    // Speech into the virtual mic: the mic meter moves, and the echo comes back.
    let mut play = Command::new("paplay");
    play.args(["-d", "micfeed"]).arg(voice);
    let mut talk = spawn(&mut play, "paplay")?;
    let loud = sample_meter(c, "call-mic", 2500).await?;
    assert!(max(&loud) > 40.0, "mic meter while speaking: {loud:?}");
    let echo = sample_meter(c, "call-remote", 1500).await?;
    assert!(
        max(&echo) > 25.0,
        "remote meter with the echo coming back: {echo:?}"
    );
    let quality = wait_text(c, "#call-quality", 10, |t| !t.is_empty()).await?;
    shots.take(c, "in-call").await?;

    // Mute: speech goes on, the mic meter falls (its release takes about a second) and
    // stays down.
    find(c, "#mute").await?.click().await?;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let muted = sample_meter(c, "call-mic", 1500).await?;
    assert!(
        max(&muted) < 3.0,
        "mic meter while muted and speaking: {muted:?}"
    );
    assert!(
        talk.0.try_wait()?.is_none(),
        "the speech ended before the muted stretch was measured"
    );
    find(c, "#mute").await?.click().await?;
    drop(talk);

    // DTMF from the keypad: sent digits are echoed under it.
    find(c, "#keypad-toggle").await?.click().await?;
    for d in ["1", "2", "#"] {
        find(c, &format!("#keypad button[data-digit='{d}']"))
            .await?
            .click()
            .await?;
    }
    wait_text(c, "#dtmf-sent", 5, |t| t == "12#").await?;
    let errors = c.find(Locator::Id("call-error")).await?;
    assert!(
        !errors.is_displayed().await?,
        "call error: {}",
        errors.text().await?
    );

    // 3. Hang up: the summary, then the call with its recording in the lead's timeline.
    find(c, "#hangup").await?.click().await?;
    let summary = wait_text(c, "#call-summary", 20, |t| t.contains("Call ended")).await?;
    assert!(
        summary.contains("recorded") && summary.contains("saved to the lead"),
        "{summary}"
    );
    let call = wait_text(c, LAST_CALL, 20, |t| t.contains("echo test")).await?;
    assert!(call.contains("local hangup"), "{call}");
    assert!(!quality.is_empty());
    find(c, &format!("{LAST_CALL}//canvas")).await?;
    let play = format!("{LAST_CALL}//button[contains(@class,'play')]");
    wait_text(c, LAST_CALL, 30, |t| {
        t.contains("recording uploaded") && t.contains("synced")
    })
    .await?;
    find(c, &play).await?.click().await?;
    wait_text(c, &play, 5, |t| t == "Stop").await?;
    shots.at(c, "#timeline li.call", "timeline").await?;
    find(c, &play).await?.click().await?;
    wait_text(c, &play, 5, |t| t == "Play").await?;

    // 4. The server goes away; a note is saved anyway and shows pending.
    server.stop().await?;
    let body = format!("Offline note {}", std::process::id());
    find(c, "#note-body").await?.send_keys(&body).await?;
    find(c, "#note-save").await?.click().await?;
    let pending = wait_text(c, "#timeline li.note:last-child", 10, |t| t.contains(&body)).await?;
    assert!(pending.contains("pending"), "{pending}");
    wait_text(c, "#sync-state", 15, |t| {
        t.contains("offline") && t.contains("pending")
    })
    .await?;
    shots.at(c, "#timeline li", "offline-note").await?;

    // 5. The server comes back on the same address: after a sync the note is synced.
    let server = start_server(data, addr).await?;
    find(c, "#sync-now").await?.click().await?;
    wait_text(c, "#timeline li.note:last-child", 20, |t| {
        t.contains("synced")
    })
    .await?;
    wait_text(c, "#sync-state", 20, |t| {
        t.contains("online") && t.contains("all synced")
    })
    .await?;

    // On the server exactly once.
    let fresh = Account::sign_in(url, email, softphone_server::demo::PASSWORD).await?;
    let mut since = 0;
    let mut copies = 0;
    loop {
        let page = fresh.client().changes(since, 500).await?;
        copies += page
            .changes
            .iter()
            .filter(|ch| matches!(ch, Change::Note(n) if n.body == body))
            .count();
        since = page.next;
        if !page.more {
            break;
        }
    }
    assert_eq!(copies, 1, "the offline note on the server");
    server.stop().await?;
    Ok(())
}
