//! What the app's WebDriver test and its footprint benchmark share: helper processes
//! (Xvfb, tauri-driver), the demo server, speech files and WebDriver helpers.
#![allow(dead_code)] // each includer uses a different part

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A helper process, stopped with SIGTERM (tauri-driver leaves orphans on SIGKILL),
/// then SIGKILL if it lingers.
pub struct Proc(pub Child, pub &'static str);

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

pub fn spawn(cmd: &mut Command, name: &'static str) -> Result<Proc> {
    use std::os::unix::process::CommandExt;
    let child = cmd
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {name}: {e} (run scripts/setup-debian.sh)"))?;
    Ok(Proc(child, name))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn wait_port(port: u16, what: &str) -> Result<()> {
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
pub fn start_xvfb() -> Result<(Proc, String)> {
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

pub fn tool(cmd: &mut Command) -> Result<()> {
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
pub fn speech(dir: &Path) -> Result<PathBuf> {
    let out = dir.join("agent-voice.wav");
    softphone_testkit::alsa_speech(&softphone_testkit::ALSA_VOICES, &out, &["repeat", "1"])?;
    Ok(out)
}

/// The real server with the demo data in `dir/server` (the folder is returned, for a
/// restart on the same address) on 127.0.0.1:0.
pub async fn demo_server(dir: &Path) -> Result<(softphone_server::Running, PathBuf)> {
    let data = dir.join("server");
    {
        let conn = softphone_server::db::open(&data)?;
        softphone_server::demo::seed(&conn)?;
    }
    let server = start_server(&data, "127.0.0.1:0".parse()?).await?;
    Ok((server, data))
}

/// Fails unless the test runs in the private PulseAudio and D-Bus/gnome-keyring session
/// that `scripts/test-all.sh` starts.
pub fn require_session() -> Result<()> {
    if std::env::var_os("PULSE_SERVER").is_none()
        || std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none()
    {
        return Err(
            "needs the private PulseAudio and D-Bus/gnome-keyring session: run scripts/test-all.sh"
                .into(),
        );
    }
    Ok(())
}

pub async fn start_server(data: &Path, listen: SocketAddr) -> Result<softphone_server::Running> {
    let mut cfg = softphone_server::Config::new(data.to_path_buf());
    cfg.listen = listen;
    cfg.media_udp_addrs = vec!["127.0.0.1:0".into()];
    Ok(softphone_server::start(&cfg).await?)
}

/// Whether a WebDriver error means the element was replaced while it was being
/// looked up or used. WebKitWebDriver also answers a *search* with this when the list
/// it searches redraws (the lead list does on every sync round), so searches retry it.
pub fn is_stale(e: &fantoccini::error::CmdError) -> bool {
    matches!(e, fantoccini::error::CmdError::Standard(w)
        if w.error == fantoccini::error::ErrorStatus::StaleElementReference)
}

/// Waits up to 15 s for an element matching `css` (see [`locator`]).
pub async fn find(c: &Client, css: &str) -> Result<Element> {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let last = match c.find(locator(css)).await {
            Ok(e) => return Ok(e),
            Err(fantoccini::error::CmdError::Standard(w))
                if w.error == fantoccini::error::ErrorStatus::NoSuchElement =>
            {
                w.to_string()
            }
            Err(e) if is_stale(&e) => e.to_string(),
            Err(e) => return Err(format!("looking for `{css}`: {e}").into()),
        };
        if Instant::now() > end {
            return Err(format!("no `{css}` on screen: {last}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `sel` is on screen (present and displayed).
pub async fn wait_visible(c: &Client, sel: &str) -> Result<Element> {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = c.find(locator(sel)).await {
            if e.is_displayed().await.unwrap_or(false) {
                return Ok(e);
            }
        }
        if Instant::now() > end {
            return Err(format!("`{sel}` never became visible").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A CSS selector, or an XPath when it starts with `(` or `/`.
pub fn locator(sel: &str) -> Locator<'_> {
    if sel.starts_with('(') || sel.starts_with('/') {
        Locator::XPath(sel)
    } else {
        Locator::Css(sel)
    }
}

/// The newest call in the timeline (the list is oldest first).
pub const LAST_CALL: &str = "(//ol[@id='timeline']/li[contains(@class,'call')])[last()]";

/// Waits until the text of `sel` (see [`locator`]) satisfies `ok`; returns it.
pub async fn wait_text(
    c: &Client,
    sel: &str,
    secs: u64,
    ok: impl Fn(&str) -> bool,
) -> Result<String> {
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

/// Clicks the element `sel` (see [`locator`]). Lists that redraw (the lead list does
/// on every sync round) can replace the element between finding and clicking it: then
/// it is found again, up to 3 times.
pub async fn click(c: &Client, sel: &str) -> Result<()> {
    let mut tries = 0;
    loop {
        match find(c, sel).await?.click().await {
            Err(e) if is_stale(&e) && tries < 3 => tries += 1,
            r => return Ok(r?),
        }
    }
}

/// The attribute `name` of the element `sel` (found again if it went stale, as in
/// [`click`]); an error when it has none.
pub async fn attr(c: &Client, sel: &str, name: &str) -> Result<String> {
    let mut tries = 0;
    loop {
        match find(c, sel).await?.attr(name).await {
            Err(e) if is_stale(&e) && tries < 3 => tries += 1,
            r => return r?.ok_or_else(|| format!("`{sel}` has no {name}").into()),
        }
    }
}

/// Waits until exactly `n` elements match `css`.
pub async fn wait_count(c: &Client, css: &str, n: usize, secs: u64) -> Result<()> {
    let end = Instant::now() + Duration::from_secs(secs);
    let mut last = 0;
    while Instant::now() < end {
        match c.find_all(Locator::Css(css)).await {
            Ok(found) if found.len() == n => return Ok(()),
            Ok(found) => last = found.len(),
            Err(e) if is_stale(&e) => {}
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    Err(format!("`{css}` matched {last} elements, not {n}, within {secs} s").into())
}

/// Reads a meter's `aria-valuenow` (0-100) as fast as WebDriver allows for `ms`.
pub async fn sample_meter(c: &Client, id: &str, ms: u64) -> Result<Vec<f64>> {
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

pub fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

/// The app under WebDriver: tauri-driver (stopped on drop) and the session. The app
/// gets `env` on top of this process's environment; its stderr (the app's log, e.g.
/// `window usable`) goes to `log`.
pub async fn launch_app(
    display: &str,
    env: &[(&str, &std::ffi::OsStr)],
    log: &Path,
) -> Result<(Proc, Client)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let driver = root.join("node_modules/.bin/tauri-driver");
    if !driver.exists() {
        return Err(format!(
            "{} missing: run `npm install` (scripts/setup-debian.sh does)",
            driver.display()
        )
        .into());
    }
    let (port, native) = (free_port(), free_port());
    let mut cmd = Command::new(&driver);
    cmd.args([
        "--port",
        &port.to_string(),
        "--native-port",
        &native.to_string(),
    ])
    .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
    .env("DISPLAY", display)
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(log)?);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let driver = spawn(&mut cmd, "tauri-driver")?;
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
    Ok((driver, c))
}
