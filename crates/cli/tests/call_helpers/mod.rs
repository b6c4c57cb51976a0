//! Shared helpers of the call tests: a server with two agents on 127.0.0.1:0, call
//! engines driven from a test, and speech comparison.
#![allow(dead_code)]

use super::common::*;
use softphone_call::machine::{CallMachine, Timeouts};
use softphone_call::{
    run_call, AudioIn, AudioOut, CallEvent, CallReport, CallSetup, Command, PeerConfig, RecordSpec,
};
use softphone_client::{Client, SignalConn};
use softphone_proto::signal::ServerMsg;
use softphone_proto::Role;
use softphone_server::{add_user, db, start, Config, Running};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

pub struct World {
    _serial: tokio::sync::MutexGuard<'static, ()>,
    pub dir: tempfile::TempDir,
    pub server: Running,
    pub url: String,
}

/// One call test at a time: each runs several real-time engines, and on a 2-core machine
/// eight at once starve the audio threads (a late playout slot is audible, and PESQ and
/// correlation measure exactly that).
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn world() -> World {
    world_with(|_| {}).await
}

/// [`world`] with server settings changed by `f`.
pub async fn world_with(f: impl FnOnce(&mut Config)) -> World {
    let guard = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let conn = db::open(&data).unwrap();
    for name in ["alice", "bob"] {
        add_user(
            &conn,
            "Acme",
            &format!("{name}@acme.test"),
            name,
            Role::Agent,
            &format!("{name}-password"),
        )
        .unwrap();
    }
    drop(conn);
    let mut cfg = Config::new(data);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.media_udp_addrs = vec!["127.0.0.1:0".into()];
    f(&mut cfg);
    let server = start(&cfg).await.unwrap();
    let url = format!("http://{}", server.addr);
    World {
        _serial: guard,
        dir,
        server,
        url,
    }
}

impl World {
    pub async fn agent(&self, name: &str) -> (Client, SignalConn, Uuid) {
        let mut c = Client::new(&self.url).unwrap();
        c.login(&format!("{name}@acme.test"), &format!("{name}-password"))
            .await
            .unwrap();
        let mut s = c.signal().await.unwrap();
        let id = match s.recv().await.unwrap() {
            Some(ServerMsg::Welcome { user_id, .. }) => user_id,
            other => panic!("expected welcome, got {other:?}"),
        };
        (c, s, id)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

pub fn loopback_setup(input: AudioIn, output: AudioOut, record: Option<PathBuf>) -> CallSetup {
    CallSetup {
        input,
        output,
        record: record.map(|path| RecordSpec {
            path,
            meta: Default::default(),
            config: Default::default(),
        }),
        peer: PeerConfig {
            udp_addrs: vec!["127.0.0.1:0".into()],
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A running engine: send it commands, read its events, await its report.
pub struct Running_ {
    pub cmd: mpsc::Sender<Command>,
    pub events: mpsc::Receiver<CallEvent>,
    done: tokio::task::JoinHandle<(CallReport, SignalConn)>,
}

impl Running_ {
    /// Waits for an event matching `f` (other events are dropped), up to `secs`.
    pub async fn wait_for(&mut self, secs: u64, f: impl Fn(&CallEvent) -> bool) -> CallEvent {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) if f(&e) => return e,
                Ok(Some(e)) => {
                    if !matches!(e, CallEvent::MicLevel(_) | CallEvent::RemoteLevel(_)) {
                        eprintln!("event: {e:?}");
                    }
                }
                Ok(None) => panic!("engine stopped before the expected event"),
                Err(_) => panic!("timed out waiting for an event"),
            }
        }
    }

    pub async fn connected(&mut self) {
        self.wait_for(20, |e| {
            matches!(e, CallEvent::State { state } if *state == softphone_call::CallState::Connected)
        })
        .await;
    }

    /// Waits (10 s at most) for the first second of audio received: media is up, which
    /// over a TURN relay comes later than the answer [`Self::connected`] waits for.
    pub async fn hearing(&mut self) {
        self.wait_for(
            10,
            |e| matches!(e, CallEvent::Quality(q) if q.recv_kbps > 0.0),
        )
        .await;
    }

    pub async fn report(self) -> (CallReport, SignalConn) {
        tokio::time::timeout(Duration::from_secs(20), self.done)
            .await
            .expect("call did not end")
            .unwrap()
    }
}

pub fn dial(mut signal: SignalConn, to: impl ToString, setup: CallSetup) -> Running_ {
    let to = to.to_string();
    let (cmd, cmd_rx) = mpsc::channel(16);
    let (ev_tx, events) = mpsc::channel(1024);
    let done = tokio::spawn(async move {
        let m = CallMachine::outgoing(Uuid::now_v7(), Instant::now(), Timeouts::default());
        let r = run_call(&mut signal, m, Some(to.to_string()), setup, cmd_rx, ev_tx).await;
        (r, signal)
    });
    Running_ { cmd, events, done }
}

/// Waits for an incoming call on `signal` and answers it at once.
pub fn answer(mut signal: SignalConn, setup: CallSetup) -> Running_ {
    let (cmd, cmd_rx) = mpsc::channel(16);
    let (ev_tx, events) = mpsc::channel(1024);
    cmd.try_send(Command::Accept).unwrap();
    let done = tokio::spawn(async move {
        let m = loop {
            match signal.recv().await.unwrap() {
                Some(ServerMsg::Incoming {
                    call_id,
                    from,
                    offer,
                    ..
                }) => {
                    break CallMachine::incoming(
                        call_id,
                        from.to_string(),
                        offer,
                        Instant::now(),
                        Timeouts::default(),
                    )
                }
                Some(_) => continue,
                None => panic!("signaling closed while waiting for a call"),
            }
        };
        let r = run_call(&mut signal, m, None, setup, cmd_rx, ev_tx).await;
        (r, signal)
    });
    Running_ { cmd, events, done }
}

pub fn wav(path: &Path) -> Vec<f32> {
    read_wav(path).0.remove(0)
}

/// For each 1 s chunk of speech in `needle`: where `needle` starts in `hay` judging by
/// that chunk alone (samples), and the chunk's correlation there. Each chunk is looked
/// for within 400 ms of where the first second puts it: chunks are aligned one by one
/// because the adaptive jitter buffer stretches and drops frames, as every real-time
/// receiver does, so the whole file never lines up sample for sample.
pub fn chunk_alignments(hay: &[f32], needle: &[f32]) -> Vec<(usize, f64)> {
    const CHUNK: usize = 48_000;
    const SLACK: usize = 19_200;
    let (start, _) = align(hay, &needle[..CHUNK.min(needle.len())]);
    let mut out = vec![];
    for (i, chunk) in needle.chunks(CHUNK).enumerate() {
        if chunk.len() < CHUNK / 2 || energy_db(chunk) < -45.0 {
            continue;
        }
        let centre = start + i * CHUNK;
        let lo = centre.saturating_sub(SLACK);
        let hi = (centre + SLACK + chunk.len()).min(hay.len());
        if hi <= lo + chunk.len() {
            out.push((start, 0.0));
            continue;
        }
        let (at, c) = align(&hay[lo..hi], chunk);
        out.push(((lo + at).saturating_sub(i * CHUNK), c));
    }
    out
}

/// Asserts the speech in `needle` is heard in `hay`: the median 1 s chunk correlates
/// above 0.8 and no part is missing: 90 % of the 250 ms chunks of speech are found
/// (above 0.5). A missing second fails the second test; one late packet does not (it
/// is concealed and shifts the rest by 20 ms, which ruins one whole second's
/// correlation but only one short chunk's).
///
/// Returns where `needle` starts in `hay`, samples: the median of the well-matched
/// seconds' alignments. (A whole-file alignment is not used: each time the jitter
/// buffer gives back depth to the sample the rest of the audio shifts, and after a
/// few shifts the whole file correlates nowhere.)
pub fn assert_heard(hay: &[f32], needle: &[f32], what: &str) -> usize {
    let a = chunk_alignments(hay, needle);
    let mut c: Vec<f64> = a.iter().map(|(_, c)| *c).collect();
    let mut offs: Vec<usize> = a
        .iter()
        .filter(|(_, c)| *c > 0.8)
        .map(|(o, _)| *o)
        .collect();
    offs.sort();
    eprintln!(
        "{what}: per second {c:.2?} at {:?} ms",
        a.iter()
            .map(|(o, _)| (*o as f64 / 48.0).round())
            .collect::<Vec<_>>()
    );
    assert!(c.len() >= 4, "{what}: too few speech chunks");
    c.sort_by(|a, b| a.total_cmp(b));
    let median = c[c.len() / 2];
    assert!(median > 0.8, "{what}: median chunk correlation {median:.3}");
    let short = heard_anywhere_in(hay, needle, 12_000);
    assert!(
        short[short.len() / 10] > 0.5,
        "{what}: speech is missing; per 250 ms (sorted) {short:.2?}"
    );
    offs[offs.len() / 2]
}

/// Correlation of each 1 s of speech in `src` with its best match *anywhere* in `hay`,
/// sorted ascending: for audio whose start is unknown (a looping fake microphone) or
/// that a device capture recorded with its own offset.
pub fn heard_anywhere(hay: &[f32], src: &[f32]) -> Vec<f64> {
    heard_anywhere_in(hay, src, 48_000)
}

/// As [`heard_anywhere`] with chunks of `chunk` samples. Short chunks (250 ms) judge
/// the playout itself: a jitter buffer giving back 20 ms of depth in a pause shifts
/// the rest of the audio, which ruins the correlation of a whole second around it but
/// of only one short chunk, while a glitch (concealment, a gap) shows in every chunk
/// it touches.
pub fn heard_anywhere_in(hay: &[f32], src: &[f32], chunk: usize) -> Vec<f64> {
    let mut c: Vec<f64> = src
        .chunks(chunk)
        .filter(|ch| ch.len() == chunk && energy_db(ch) > -45.0)
        .map(|ch| align(hay, ch).1)
        .collect();
    c.sort_by(|a, b| a.total_cmp(b));
    c
}

/// Headless Chromium (`/usr/bin/chromium`, or `CHROMIUM`), or `None` when absent and
/// SOFTPHONE_SKIP_BROWSER_TESTS=1 says to skip.
pub fn chromium() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if p.exists() {
        return Some(p);
    }
    if std::env::var("SOFTPHONE_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: no Chromium and SOFTPHONE_SKIP_BROWSER_TESTS=1");
        return None;
    }
    panic!(
        "{} missing: run scripts/setup-debian.sh (or set SOFTPHONE_SKIP_BROWSER_TESTS=1)",
        p.display()
    );
}

/// Waits up to 30 s for `guest` (a link's page) to come online on `signal`; its
/// presence entry.
pub async fn wait_for_guest(
    signal: &mut SignalConn,
    guest: Uuid,
) -> softphone_proto::signal::PresenceEntry {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match signal.recv().await.unwrap() {
                Some(ServerMsg::Presence(p)) if p.user_id == guest => break p,
                Some(_) => continue,
                None => panic!("signaling closed"),
            }
        }
    })
    .await
    .expect("the browser never joined")
}

/// Stops a Chromium started in its own process group: SIGTERM to the whole group, then
/// SIGKILL. The renderer and audio-service processes must not outlive the test (they
/// kept a core busy and played into the shared virtual speaker).
pub fn stop_chromium(child: &mut std::process::Child) {
    unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) };
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
}

/// The page's last `SOFTPHONE_STATS {json}` console line in Chromium's log.
pub fn last_browser_stats(log: &str) -> Option<serde_json::Value> {
    log.lines().rev().find_map(|l| {
        let i = l.find("SOFTPHONE_STATS ")?;
        let rest = &l[i + "SOFTPHONE_STATS ".len()..];
        let end = rest.rfind('}')?;
        serde_json::from_str(&rest[..=end].replace("\\\"", "\"")).ok()
    })
}

/// Starts Chromium's `page` command (from `softphone_testkit::chromium_peer`) in its own
/// process group (for [`stop_chromium`]), its console log going to `log`.
pub fn spawn_page(page: &mut std::process::Command, log: &Path) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    page.stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .process_group(0)
        .spawn()
        .unwrap()
}

/// Dials `guest` (a link's page) from `signal`, says alsa.wav for `secs` seconds of talk
/// and hangs up; the report and the WAV file of what the agent heard (`heard`).
pub async fn talk_to_guest(
    signal: SignalConn,
    guest: Uuid,
    heard: PathBuf,
    secs: u64,
) -> CallReport {
    let mut a = dial(
        signal,
        guest,
        loopback_setup(
            AudioIn::Wav(fixtures().join("alsa.wav")),
            AudioOut::Wav(heard),
            None,
        ),
    );
    a.connected().await;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    a.cmd.send(Command::Hangup).await.unwrap();
    a.report().await.0
}
