//! Shared helpers for the system tests: real speech fixtures, the `softphone`
//! binary, external tools (opusinfo, opusdec, sox, PESQ) and signal comparison.
#![allow(dead_code)]

pub mod relay;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn softphone() -> Command {
    Command::new(env!("CARGO_BIN_EXE_softphone"))
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A folder of speech fixtures, shared by every test binary and run (the files are
/// deterministic): made in a private folder, then renamed into place, so concurrent
/// binaries never see half-written files and nothing piles up in the temp dir.
/// - `alsa.wav`: the recorded human voices of alsa-utils (Front_Center, Front_Left,
///   Front_Right, Rear_Center, Rear_Left, Rear_Right), 48 kHz mono, ~8.6 s.
/// - `remote.wav`: the same voices in another order (Side_*, Rear_*, Front_*), ~8.7 s.
/// - `espeak.wav`: espeak-ng speech resampled to 48 kHz mono, ~8 s.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Bump the version when the recipe below changes.
        let done = std::env::temp_dir().join("softphone-fixtures-v1");
        if done.join("espeak.wav").exists() {
            return done;
        }
        let dir = std::env::temp_dir().join(format!("softphone-fixtures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        softphone_testkit::alsa_speech(&softphone_testkit::ALSA_VOICES, &dir.join("alsa.wav"), &[])
            .unwrap();
        softphone_testkit::alsa_speech(
            &[
                "Side_Left",
                "Side_Right",
                "Rear_Right",
                "Rear_Left",
                "Front_Right",
                "Front_Center",
            ],
            &dir.join("remote.wav"),
            &[],
        )
        .unwrap();
        let raw = dir.join("espeak-raw.wav");
        run_ok(Command::new("espeak-ng").args([
            "-w",
            raw.to_str().unwrap(),
            "Good morning, this is Alice from Agent Softphone. I am calling about your order \
             from last week. Do you have a minute to talk about the delivery date?",
        ]));
        run_ok(
            Command::new("sox")
                .arg(&raw)
                .args(["-r", "48000", "-c", "1", "-b", "16"])
                .arg(dir.join("espeak.wav")),
        );
        // Another binary may have won the race: then its copy is used and ours goes.
        if std::fs::rename(&dir, &done).is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        done
    })
}

pub fn read_wav(path: &Path) -> (Vec<Vec<f32>>, u32) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let ch = spec.channels as usize;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.unwrap() as f32 * scale)
                .collect()
        }
    };
    let chans = (0..ch)
        .map(|c| samples.iter().skip(c).step_by(ch).copied().collect())
        .collect();
    (chans, spec.sample_rate)
}

/// Decodes with `opusdec` (the reference tool) to a 48 kHz WAV and returns its channels.
pub fn opusdec(file: &Path) -> Vec<Vec<f32>> {
    let wav = file.with_extension("dec.wav");
    run_ok(
        Command::new("opusdec")
            .arg("--quiet")
            .arg("--rate")
            .arg("48000")
            .arg(file)
            .arg(&wav),
    );
    read_wav(&wav).0
}

/// `opusinfo` must exit 0 and report no warnings or errors.
pub fn assert_opusinfo_clean(file: &Path) -> String {
    let out = run(Command::new("opusinfo").arg(file));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "opusinfo failed on {}:\n{text}",
        file.display()
    );
    let lower = text.to_lowercase();
    assert!(
        !lower.contains("warning") && !lower.contains("error"),
        "opusinfo complains about {}:\n{text}",
        file.display()
    );
    text
}

pub fn pesq(reference: &Path, degraded: &Path, channel: Option<usize>) -> f64 {
    let script = repo_root().join("tests/scripts/pesq_score.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(reference).arg(degraded);
    if let Some(c) = channel {
        cmd.arg(c.to_string());
    }
    run_ok(&mut cmd).trim().parse().unwrap()
}

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use softphone_testkit::speech::{align, correlation, energy_db};

/// Correlations of each 250 ms chunk of speech in `needle` with `hay`, following the
/// audio from `offset` (where `needle` starts in `hay`): each chunk is searched within
/// ±60 ms of where the previous one ended (anywhere in `hay` when that finds no good
/// match), so a gap or a jump shifts the rest without ruining it.
/// Sorted ascending. For device tests: PulseAudio's null sink, late on a loaded 2-core
/// machine, sometimes catches up by pulling more than the playback ring holds, and
/// paplay feeding the virtual microphone can stall the same way; one such gap costs one
/// chunk here, while a garbled stream (resampling or framing bugs) fails every chunk.
pub fn chunk_scores(hay: &[f32], needle: &[f32], offset: usize) -> Vec<f64> {
    const CHUNK: usize = 12_000;
    const SLACK: usize = 2_880;
    let mut at = offset;
    let mut out = vec![];
    for chunk in needle.chunks(CHUNK) {
        if chunk.len() == CHUNK && energy_db(chunk) > -45.0 {
            let lo = at.saturating_sub(SLACK);
            let hi = (at + CHUNK + SLACK).min(hay.len());
            if hi < lo + CHUNK {
                out.push(0.0);
                at += CHUNK;
                continue;
            }
            let (mut found, mut c) = align(&hay[lo..hi], chunk);
            found += lo;
            if c < 0.9 {
                // A jump beyond the window (the monitor chain dropped or repeated a
                // block): look everywhere, and follow the audio from there.
                let (f, g) = align(hay, chunk);
                if g > c {
                    (found, c) = (f, g);
                }
            }
            out.push(c);
            if c > 0.5 {
                at = found;
            }
        }
        at += chunk.len();
    }
    out.sort_by(|a, b| a.total_cmp(b));
    out
}

/// Device tests need the PulseAudio virtual devices (tests/scripts/pulse-virtual.sh).
/// Without them the test fails, unless SOFTPHONE_SKIP_DEVICE_TESTS=1 says to skip.
pub fn require_pulse() -> bool {
    if std::env::var("SOFTPHONE_SKIP_DEVICE_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: SOFTPHONE_SKIP_DEVICE_TESTS=1");
        return false;
    }
    let ok = Command::new("pactl")
        .arg("info")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "no PulseAudio server: run `eval \"$(tests/scripts/pulse-virtual.sh start)\"` first"
    );
    true
}

/// Writes 48 kHz mono float samples as a 16-bit WAV.
pub fn write_wav(path: &Path, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}
