//! Real-device system tests through PulseAudio virtual devices
//! (tests/scripts/pulse-virtual.sh): speech is played into `micfeed` and captured from
//! the default source `vmic`; what we play to the default sink `speaker` is recorded
//! from `speaker.monitor`. Tests here share those devices, so they run one at a time.

mod common;
use common::*;
use softphone_audio::{AudioSink, AudioSource, CpalSink, CpalSource, WavSource, FRAME_SAMPLES};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static DEVICES: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    DEVICES.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn devices_lists_the_virtual_devices_with_defaults() {
    if !require_pulse() {
        return;
    }
    // Listing probes every device's configurations on the shared server; running it
    // beside a capture test glitched that capture (correlation 0.76 in one CI run).
    let _g = lock();
    let out = run_ok(softphone().args(["devices", "--json"]));
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let find = |dir: &str, name: &str| {
        v.iter()
            .find(|d| d["direction"] == dir && d["name"].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("{dir} {name} missing in {out}"))
            .clone()
    };
    let mic = find("input", "Virtual_Microphone");
    assert_eq!(mic["is_default"], true);
    assert!(mic["sample_rates"]
        .as_array()
        .unwrap()
        .contains(&48_000.into()));
    assert!(mic["id"].as_str().unwrap().contains(':'));
    assert_eq!(find("output", "Virtual_Speaker")["is_default"], true);
}

#[test]
fn captured_speech_correlates_with_the_source() {
    if !require_pulse() {
        return;
    }
    let _g = lock();
    let fx = fixtures();
    let (src, _) = read_wav(&fx.join("alsa.wav"));
    let mut cap = CpalSource::open(None).expect("open default input");
    let mut captured = Vec::new();
    let mut frame = [0.0f32; FRAME_SAMPLES];
    // Let the stream settle, then play speech into the virtual microphone.
    for _ in 0..10 {
        cap.read_frame(&mut frame).unwrap();
    }
    let mut player = Command::new("paplay")
        .args(["-d", "micfeed"])
        .arg(fx.join("alsa.wav"))
        .spawn()
        .unwrap();
    // Capture until paplay has finished plus 1 s, rather than a fixed length: on a
    // loaded machine paplay can take seconds to start, which cut the speech short.
    let limit = 3 * src[0].len() / FRAME_SAMPLES + 500;
    let mut tail: Option<usize> = None;
    let mut ok = None;
    for _ in 0..limit {
        let n = cap.read_frame(&mut frame).unwrap();
        captured.extend_from_slice(&frame[..n]);
        if tail.is_none() {
            if let Some(status) = player.try_wait().unwrap() {
                ok = Some(status.success());
                tail = Some(50);
            }
        }
        if let Some(t) = tail.as_mut() {
            if *t == 0 {
                break;
            }
            *t -= 1;
        }
    }
    let (format, overruns) = (cap.device_format(), cap.overruns());
    let latency = cap.device_latency_ms();
    let clock = cap.capture_clock();
    drop(cap);
    let latency = latency.expect("the host reports the capture latency");
    eprintln!("capture: device latency {latency:.1} ms");
    assert!(
        (0.0..500.0).contains(&latency),
        "capture latency {latency} ms"
    );
    // Everything read came from what the host delivered, and the host delivered what
    // its capture clock advanced (a healthy stream drops nothing before the callback).
    let clock = clock.expect("a started stream accounts for its audio");
    let read_ms = (captured.len() + 10 * FRAME_SAMPLES) as f64 / 48.0;
    eprintln!("capture: {clock:?}, {read_ms:.0} ms read");
    assert!(
        clock.delivered_ms + 30.0 >= read_ms,
        "{clock:?}, {read_ms} ms read"
    );
    assert!(
        (clock.delivered_ms - clock.device_clock_ms).abs() <= 50.0 + 0.1 * clock.delivered_ms,
        "{clock:?}"
    );
    let ok = match ok {
        Some(ok) => ok,
        None => player.wait().unwrap().success(),
    };
    assert!(ok, "paplay failed");
    let (offset, c) = align(&captured, &src[0]);
    let chunks = chunk_scores(&captured, &src[0], offset);
    eprintln!("capture: device {format:?}, offset {offset} samples, whole-file correlation {c:.5}, overruns {overruns}; per 250 ms (sorted) {chunks:.3?}");
    assert_eq!(overruns, 0, "the reader kept up, no samples were dropped");
    assert_speech_intact(&chunks, "captured");
}

#[test]
fn played_speech_correlates_with_the_source() {
    if !require_pulse() {
        return;
    }
    let _g = lock();
    let fx = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("played.raw");
    let mut rec = Command::new("parecord")
        .args([
            "-d",
            "speaker.monitor",
            "--raw",
            "--format=float32le",
            "--rate=48000",
            "--channels=1",
            // A small record fragment keeps the monitored null sink at a low latency:
            // with parecord's default (up to 2 s) the sink renders far ahead and its
            // rewinds reach the monitor as lost and repeated blocks.
            "--latency-msec=20",
        ])
        .arg(&raw)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Write as the app's playout thread does: with real-time priority where allowed.
    let scheduling = softphone_call::audio::promote_to_realtime();
    eprintln!("writer scheduling: {scheduling:?}");
    let mut sink = CpalSink::open(None).expect("open default output");
    let mut wav = WavSource::open(&fx.join("alsa.wav")).unwrap();
    let mut frame = [0.0f32; FRAME_SAMPLES];
    // 300 ms of silence first, as a call's playout starts with silence: PulseAudio sizes
    // a new stream's first pulls to its whole target buffer, more than the ring holds.
    for _ in 0..15 {
        sink.write_frame(&frame).unwrap();
    }
    while wav.read_frame(&mut frame).unwrap() > 0 {
        sink.write_frame(&frame).unwrap();
    }
    let latency = sink.device_latency_ms();
    sink.finish().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(rec.id() as i32, libc::SIGINT) };
    rec.wait().unwrap();
    // Asserted only now: a panic with parecord still running left it holding the test
    // harness's stdout, and CI's `cargo test | tee` waited for it forever.
    let latency = latency.expect("the host reports the playback latency");
    eprintln!("playback: device latency {latency:.1} ms");
    // cpal's PulseAudio host interpolates between its latency polls and saturates at
    // 0 when a poll is late, so 0 is a possible reading (seen once in CI).
    assert!(
        (0.0..500.0).contains(&latency),
        "playback latency {latency} ms"
    );
    let bytes = std::fs::read(&raw).unwrap();
    let played: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let (src, _) = read_wav(&fx.join("alsa.wav"));
    let (offset, c) = align(&played, &src[0]);
    let chunks = chunk_scores(&played, &src[0], offset);
    let underruns = sink.underruns();
    eprintln!(
        "playback: offset {offset} samples, whole-file correlation {c:.5}, underruns {underruns}; per 250 ms (sorted) {chunks:.3?}"
    );
    assert_speech_intact(&chunks, "played");
    // One late pull of the null sink at most (50 ms beyond the ring).
    assert!(
        underruns <= 2_400,
        "{underruns} samples of silence inserted"
    );
}

/// The speech came through: the median 250 ms chunk correlates at 0.85 or better and
/// the lower quartile at 0.6 or better (the bar of the call device test). Not 0.99: on
/// this 2-core machine the null sink's monitor, as parecord captures it, sometimes
/// loses and repeats blocks shorter than a chunk while our ring reports no underrun
/// (three runs of the same code: 0.25 / 0.33 / 0.70 whole-file); a garbled stream
/// (resampling, framing, channel bugs) still fails every chunk.
fn assert_speech_intact(sorted: &[f64], what: &str) {
    assert!(
        sorted.len() >= 20,
        "{what}: only {} speech chunks",
        sorted.len()
    );
    let median = sorted[sorted.len() / 2];
    let q1 = sorted[sorted.len() / 4];
    assert!(
        median >= 0.85 && q1 >= 0.6,
        "{what} speech: median chunk {median:.4}, lower quartile {q1:.4}"
    );
}

#[test]
fn live_meter_warns_on_a_silent_microphone() {
    if !require_pulse() {
        return;
    }
    let _g = lock();
    let out = run_ok(softphone().args(["meter", "--seconds", "4", "--json"]));
    let readings: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at = |ms: u64| {
        readings
            .iter()
            .rfind(|r| r["time_ms"].as_u64().unwrap() <= ms)
            .unwrap()
    };
    assert_eq!(at(2500)["low"], false, "no warning before 3 s");
    assert_eq!(
        readings.last().unwrap()["low"],
        true,
        "warning after 3 s of silence"
    );
}

/// A recording process killed with SIGKILL at random moments is repaired by
/// `softphone recover`, passes opusinfo, and holds the audio up to at most 1 s before
/// the kill.
#[test]
fn killed_recordings_are_repaired_to_within_one_second() {
    if !require_pulse() {
        return;
    }
    let _g = lock();
    let fx = fixtures();
    let dir = tempfile::tempdir().unwrap();
    // Speech on the microphone throughout, looping.
    let feeder = std::thread::spawn({
        let wav = fx.join("alsa.wav");
        move || {
            for _ in 0..8 {
                let _ = Command::new("paplay")
                    .args(["-d", "micfeed"])
                    .arg(&wav)
                    .status();
            }
        }
    });
    let runs = std::env::var("SOFTPHONE_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut cases = Vec::new();
    for i in 0..runs {
        let out = dir.path().join(format!("kill{i}.opus"));
        let part = dir.path().join(format!("kill{i}.opus.part"));
        let mut child = softphone()
            .args(["record", "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t0 = Instant::now();
        while !part.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "recording never started"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let started = Instant::now();
        let wait_ms = rand::random_range(700..3500u64);
        std::thread::sleep(Duration::from_millis(wait_ms));
        let alive_ms = started.elapsed().as_millis() as u64;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(!out.exists(), "a killed recording cannot have finished");
        cases.push((out, alive_ms));
    }
    let report = run_ok(softphone().arg("recover").arg("--json").arg(dir.path()));
    assert_eq!(report.lines().count(), runs, "{report}");
    for (out, alive_ms) in &cases {
        assert!(out.exists(), "{} not repaired", out.display());
        assert_opusinfo_clean(out);
        let dec = opusdec(out);
        let kept_ms = dec[0].len() as u64 / 48;
        eprintln!("{}: alive {alive_ms} ms, kept {kept_ms} ms", out.display());
        assert!(
            kept_ms + 1000 >= *alive_ms,
            "{}: kept {kept_ms} ms of {alive_ms} ms",
            out.display()
        );
        assert!(kept_ms <= alive_ms + 100, "more audio than time alive?");
    }
    feeder.join().unwrap();
}

/// The audio device vanishes mid-recording: here the whole sound server goes away (a
/// PulseAudio crash or restart). The CLI reports the failure in one line with exit
/// status 1, and the recording up to that point is finished, not lost.
///
/// (Unloading a single PulseAudio source is no test of this: PulseAudio moves the stream
/// to the default source and capture carries on.)
#[test]
fn a_device_that_vanishes_mid_recording_is_an_error_and_the_recording_is_kept() {
    if !require_pulse() {
        return;
    }
    let _g = lock();
    let server_dir = tempfile::tempdir().unwrap();
    let script = repo_root().join("tests/scripts/pulse-virtual.sh");
    let start = run_ok(
        Command::new("bash")
            .arg(&script)
            .arg("start")
            .env("PULSE_VIRTUAL_DIR", server_dir.path()),
    );
    let server = start
        .trim()
        .trim_start_matches("export PULSE_SERVER=")
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("unplugged.opus");
    let child = softphone()
        .args(["record", "--seconds", "20", "--out"])
        .arg(&out)
        .env("PULSE_SERVER", &server)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let part = dir.path().join("unplugged.opus.part");
    let t0 = Instant::now();
    while !part.exists() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(1500));
    run_ok(
        Command::new("bash")
            .arg(&script)
            .arg("stop")
            .env("PULSE_VIRTUAL_DIR", server_dir.path()),
    );
    let result = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    eprintln!("stderr: {stderr}");
    assert_eq!(
        result.status.code(),
        Some(1),
        "exit status; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: recording saved, but the input failed"),
        "{stderr}"
    );
    assert!(out.exists() && !part.exists(), "the recording was finished");
    assert_opusinfo_clean(&out);
    let kept_ms = opusdec(&out)[0].len() as u64 / 48;
    assert!((1000..15_000).contains(&kept_ms), "kept {kept_ms} ms");
}

/// Ctrl-C (SIGINT) or SIGTERM ends a live recording cleanly: exit 0, finished file.
#[test]
fn interrupting_a_live_recording_finishes_the_file() {
    if !require_pulse() {
        return;
    }
    let _g = lock();
    let dir = tempfile::tempdir().unwrap();
    for (sig, name) in [(libc::SIGINT, "int"), (libc::SIGTERM, "term")] {
        let out = dir.path().join(format!("{name}.opus"));
        let child = softphone()
            .args(["record", "--json", "--out"])
            .arg(&out)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let part = dir.path().join(format!("{name}.opus.part"));
        let t0 = Instant::now();
        while !part.exists() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(1200));
        unsafe { libc::kill(child.id() as i32, sig) };
        let result = child.wait_with_output().unwrap();
        assert!(result.status.success(), "{name}: {:?}", result.status);
        let v: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
        assert_eq!(v["stop"]["reason"], "requested");
        assert!(out.exists() && !part.exists());
        assert_opusinfo_clean(&out);
        assert!(v["recording"]["duration_ms"].as_u64().unwrap() >= 1100);
    }
}
