//! WebRTC calls between two real call engines through the real server on 127.0.0.1:0:
//! speech both ways (checked by correlation with what the other side sent), the
//! dual-track recording (agent left, remote right), DTMF, mute, hold, hang-up from
//! either side, a vanished network, and malformed SDP.

mod common;

use common::*;
use softphone_call::machine::{CallMachine, Timeouts};
use softphone_call::{
    run_call, AudioIn, AudioOut, CallEvent, CallReport, CallSetup, Command, EndReason, PeerConfig,
    RecordSpec,
};
use softphone_client::{Client, SignalConn};
use softphone_proto::signal::ServerMsg;
use softphone_proto::Role;
use softphone_server::{add_user, db, start, Config, Running};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

struct World {
    dir: tempfile::TempDir,
    server: Running,
    url: String,
}

async fn world() -> World {
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
    let server = start(&cfg).await.unwrap();
    let url = format!("http://{}", server.addr);
    World { dir, server, url }
}

impl World {
    async fn agent(&self, name: &str) -> (Client, SignalConn, Uuid) {
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

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn loopback_setup(input: AudioIn, output: AudioOut, record: Option<PathBuf>) -> CallSetup {
    CallSetup {
        input,
        output,
        record: record.map(|path| RecordSpec {
            path,
            meta: Default::default(),
            config: Default::default(),
        }),
        peer: PeerConfig {
            ice_servers: vec![],
            udp_addrs: vec!["127.0.0.1:0".into()],
        },
        ..Default::default()
    }
}

/// A running engine: send it commands, read its events, await its report.
struct Running_ {
    cmd: mpsc::Sender<Command>,
    events: mpsc::Receiver<CallEvent>,
    done: tokio::task::JoinHandle<(CallReport, SignalConn)>,
}

impl Running_ {
    /// Waits for an event matching `f` (other events are dropped), up to `secs`.
    async fn wait_for(&mut self, secs: u64, f: impl Fn(&CallEvent) -> bool) -> CallEvent {
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

    async fn connected(&mut self) {
        self.wait_for(20, |e| {
            matches!(e, CallEvent::State { state } if *state == softphone_call::CallState::Connected)
        })
        .await;
    }

    async fn report(self) -> (CallReport, SignalConn) {
        tokio::time::timeout(Duration::from_secs(20), self.done)
            .await
            .expect("call did not end")
            .unwrap()
    }
}

fn dial(mut signal: SignalConn, to: impl ToString, setup: CallSetup) -> Running_ {
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
fn answer(mut signal: SignalConn, setup: CallSetup) -> Running_ {
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

fn wav(path: &Path) -> Vec<f32> {
    read_wav(path).0.remove(0)
}

/// Correlations of each 1 s chunk of `needle` (speech that was sent) with its best match
/// in `hay` (what was received), searched within ±400 ms of where it should be. Chunks
/// are aligned one by one because the adaptive jitter buffer stretches and drops frames,
/// as every real-time receiver does, so the whole file never lines up sample for sample.
fn chunk_correlations(hay: &[f32], needle: &[f32]) -> Vec<f64> {
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
            out.push(0.0);
            continue;
        }
        out.push(align(&hay[lo..hi], chunk).1);
    }
    out
}

/// Asserts the speech in `needle` is heard in `hay`: the median 1 s chunk correlates
/// above 0.8 and no chunk is missing (below 0.5).
fn assert_heard(hay: &[f32], needle: &[f32], what: &str) -> usize {
    let (off, whole) = align(hay, needle);
    let mut c = chunk_correlations(hay, needle);
    eprintln!(
        "{what}: whole-file correlation {whole:.3} at {:.0} ms; per second {c:.2?}",
        off as f64 / 48.0
    );
    assert!(c.len() >= 4, "{what}: too few speech chunks");
    c.sort_by(|a, b| a.total_cmp(b));
    let median = c[c.len() / 2];
    assert!(median > 0.8, "{what}: median chunk correlation {median:.3}");
    assert!(
        c[0] > 0.5,
        "{what}: a second of speech is missing ({:.3})",
        c[0]
    );
    off
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_talk_record_and_exchange_dtmf() {
    let fx = fixtures();
    let w = world().await;
    let (_ca, sa, _alice) = w.agent("alice").await;
    let (_cb, sb, bob) = w.agent("bob").await;
    let rec = w.path("alice-call.opus");
    let mut b = answer(
        sb,
        loopback_setup(
            AudioIn::Wav(fx.join("remote.wav")),
            AudioOut::Wav(w.path("bob-heard.wav")),
            None,
        ),
    );
    let mut a = dial(
        sa,
        bob,
        loopback_setup(
            AudioIn::Wav(fx.join("alsa.wav")),
            AudioOut::Wav(w.path("alice-heard.wav")),
            Some(rec.clone()),
        ),
    );
    a.connected().await;
    b.connected().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for d in ['1', '#', '9'] {
        a.cmd.send(Command::Dtmf(d)).await.unwrap();
    }
    for d in ['1', '#', '9'] {
        let got = b
            .wait_for(10, |e| matches!(e, CallEvent::DtmfReceived { .. }))
            .await;
        assert!(
            matches!(got, CallEvent::DtmfReceived { digit } if digit == d),
            "{got:?}"
        );
    }
    // Let both files play out.
    tokio::time::sleep(Duration::from_secs(9)).await;
    a.cmd.send(Command::Hangup).await.unwrap();
    let (ra, _) = a.report().await;
    let (rb, _) = b.report().await;
    eprintln!("alice: {}", serde_json::to_string(&ra).unwrap());
    assert_eq!(ra.end_reason, EndReason::LocalHangup);
    assert_eq!(rb.end_reason, EndReason::RemoteHangup);
    assert!(ra.duration_ms > 10_000, "{}", ra.duration_ms);
    assert_eq!(rb.dtmf_received, "1#9");

    // Each side heard the other's speech.
    assert_heard(
        &wav(&w.path("bob-heard.wav")),
        &wav(&fx.join("alsa.wav")),
        "bob hears alice",
    );
    assert_heard(
        &wav(&w.path("alice-heard.wav")),
        &wav(&fx.join("remote.wav")),
        "alice hears bob",
    );

    // The recording: agent left, remote right, a clean Ogg Opus file.
    let summary = ra.recording.clone().expect("recording");
    assert_eq!(summary.path, rec);
    assert_opusinfo_clean(&rec);
    let chans = opusdec(&rec);
    assert_eq!(chans.len(), 2);
    let l = assert_heard(
        &chans[0],
        &wav(&fx.join("alsa.wav")),
        "recording left = alice",
    );
    let r = assert_heard(
        &chans[1],
        &wav(&fx.join("remote.wav")),
        "recording right = bob",
    );
    // And each talker is absent from the other track.
    let alsa = wav(&fx.join("alsa.wav"));
    let c = correlation(&chans[1][l..l + alsa.len()], &alsa);
    assert!(c.abs() < 0.3, "alice leaks into the right track: {c:.3}");
    let _ = r;

    // Quality figures on a clean loopback.
    let q = ra.quality.clone().expect("quality summary");
    assert!(q.packet_loss_pct < 1.0, "{q:?}");
    assert!(q.mos > 4.0, "{q:?}");
    assert!(ra.series.len() >= 9, "{}", ra.series.len());
    assert!(
        ra.series.iter().any(|s| s.rtt_ms.is_some()),
        "no RTT measured: {:?}",
        ra.series
    );
    // While speech flowed (the first seconds) both directions ran at voice bitrate.
    let s = &ra.series[2];
    assert!(s.recv_kbps > 16.0 && s.send_kbps > 16.0, "{s:?}");
    assert!(ra.setup_ms.unwrap() < 5_000);
    w.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_test_plays_the_caller_back_after_half_a_second() {
    let fx = fixtures();
    let w = world().await;
    let (_ca, sa, _alice) = w.agent("alice").await;
    let heard = w.path("echo-heard.wav");
    let mut a = dial(
        sa,
        "echo",
        loopback_setup(
            AudioIn::Wav(fx.join("alsa.wav")),
            AudioOut::Wav(heard.clone()),
            None,
        ),
    );
    a.connected().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    a.cmd.send(Command::Hangup).await.unwrap();
    let (r, _) = a.report().await;
    assert_eq!(r.end_reason, EndReason::LocalHangup);
    let off = assert_heard(&wav(&heard), &wav(&fx.join("alsa.wav")), "echo");
    let delay_ms = off as f64 / 48.0;
    assert!(
        (480.0..900.0).contains(&delay_ms),
        "echo delay {delay_ms} ms"
    );
    let q = r.quality.expect("quality");
    assert!(q.packet_loss_pct < 1.0, "{q:?}");
    w.server.stop().await.unwrap();
}
