//! Recorder round trips through our own reader and libopus decoder.
//! (The system tests in crates/cli/tests check the files with opusinfo/opusdec and PESQ.)

use softphone_recorder::*;
use std::path::Path;

fn tone(n: usize, hz: f32, amp: f32) -> Vec<f32> {
    (0..n)
        .map(|i| amp * (2.0 * std::f32::consts::PI * hz * i as f32 / 48_000.0).sin())
        .collect()
}

use softphone_testkit::speech::{correlation, energy_db};

/// Best correlation of `got[start+lag..]` with `want[start..]` for |lag| <= 10 samples
/// (libopus's SILK path delays ~3 samples less than its reported lookahead).
fn aligned_correlation(got: &[f32], want: &[f32], start: usize, len: usize) -> (f64, i64) {
    (-10i64..=10)
        .map(|lag| {
            let s = (start as i64 + lag) as usize;
            (
                correlation(&got[s..s + len], &want[start..start + len]),
                lag,
            )
        })
        .fold((f64::MIN, 0), |a, b| if b.0 > a.0 { b } else { a })
}

fn meta() -> RecordingMeta {
    RecordingMeta {
        call_id: "0190f5c2-0000-7000-8000-000000000001".into(),
        lead_id: Some("lead-42".into()),
        start_time: "2026-11-22T10:00:00Z".into(),
        left: "agent:alice".into(),
        right: "remote:lead-42".into(),
        extra: vec![],
    }
}

fn record(
    path: &Path,
    left: &[f32],
    right: Option<&[f32]>,
    cfg: &RecorderConfig,
) -> RecordingSummary {
    let mut r = DualTrackRecorder::create(path, &meta(), cfg).unwrap();
    for (i, l) in left.chunks(960).enumerate() {
        let rr = right.map(|r| &r[(i * 960).min(r.len())..((i + 1) * 960).min(r.len())]);
        r.push(l, rr).unwrap();
    }
    r.finish().unwrap()
}

#[test]
fn dual_track_round_trip_keeps_length_alignment_and_separation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.opus");
    let n = 48_000 * 3 + 123; // not a whole number of frames
    let left = tone(n, 440.0, 0.3);
    let summary = record(&path, &left, None, &RecorderConfig::default());
    assert!(!dir.path().join("call.opus.part").exists());
    assert_eq!(summary.duration_ms, n as u64 / 48);
    let (sha, bytes) = writer_sha(&path);
    assert_eq!(summary.sha256, sha);
    assert_eq!(summary.bytes, bytes);

    let file = read_file(&path).unwrap();
    assert!(file.complete);
    assert_eq!(file.head.channels, 2);
    assert_eq!(file.head.family, 1);
    assert_eq!((file.head.streams, file.head.coupled), (2, 0));
    assert_eq!(
        file.tags.get("CALL_ID"),
        Some("0190f5c2-0000-7000-8000-000000000001")
    );
    assert_eq!(file.tags.get("CHANNEL_LEFT"), Some("agent:alice"));
    assert_eq!(file.tags.get("LEAD_ID"), Some("lead-42"));
    let audio = decode_file(&file).unwrap();
    assert_eq!(
        audio.samples.len() / 2,
        n,
        "decoded length equals input length"
    );
    let (l, r) = (audio.channel(0), audio.channel(1));
    let (c, lag) = aligned_correlation(&l, &left, 960, n - 2000);
    assert!(c > 0.99 && lag.abs() <= 4, "corr {c} at lag {lag}");
    let leak = energy_db(&r) - energy_db(&l);
    assert!(leak <= -50.0, "right leaks {leak:.1} dB of left");
}

fn writer_sha(p: &Path) -> (String, u64) {
    use sha2::Digest;
    let b = std::fs::read(p).unwrap();
    (hex::encode(sha2::Sha256::digest(&b)), b.len() as u64)
}

#[test]
fn silent_remote_is_written_not_skipped_and_short_remote_is_padded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.opus");
    let left = tone(48_000, 300.0, 0.2);
    let right = tone(24_000, 700.0, 0.2); // remote stops half way
    record(&path, &left, Some(&right), &RecorderConfig::default());
    let audio = decode_file(&read_file(&path).unwrap()).unwrap();
    let r = audio.channel(1);
    assert_eq!(r.len(), 48_000);
    assert!(energy_db(&r[2_000..22_000]) > -25.0);
    assert!(energy_db(&r[26_000..]) < -60.0);
    // Alignment: the remote tone is where it was sent, not shifted.
    let (c, lag) = aligned_correlation(&r, &right, 960, 22_000);
    assert!(c > 0.99 && lag.abs() <= 4, "corr {c} at lag {lag}");
}

#[test]
fn refuses_to_overwrite_and_reports_unwritable_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.opus");
    std::fs::write(&path, b"precious").unwrap();
    let e = DualTrackRecorder::create(&path, &meta(), &RecorderConfig::default())
        .err()
        .unwrap();
    assert_eq!(e.code(), "recorder.exists");
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    let e = DualTrackRecorder::create(
        &dir.path().join("no/such/dir/y.opus"),
        &meta(),
        &RecorderConfig::default(),
    )
    .err()
    .unwrap();
    assert_eq!(e.code(), "recorder.io");
    let bad = RecorderConfig {
        bitrate_per_channel: 1000,
        ..Default::default()
    };
    assert!(DualTrackRecorder::create(&dir.path().join("z.opus"), &meta(), &bad).is_err());
}

#[test]
fn unfinished_part_file_is_repaired_to_within_one_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.opus");
    let left = tone(48_000 * 4, 500.0, 0.3);
    let mut r = DualTrackRecorder::create(&path, &meta(), &RecorderConfig::default()).unwrap();
    for l in left.chunks(960) {
        r.push(l, None).unwrap();
    }
    // Simulate a kill mid-write: leak the recorder (no finish, no Drop flush) and
    // append half a page of garbage as a torn write would.
    let part = r.part_path().to_path_buf();
    std::mem::forget(r);
    let mut bytes = std::fs::read(&part).unwrap();
    bytes.extend_from_slice(b"OggS\0\0\x01\x02\x03");
    std::fs::write(&part, &bytes).unwrap();

    let outcome = recover_dir(dir.path()).unwrap();
    assert_eq!(outcome.len(), 1);
    let report = outcome[0].1.as_ref().unwrap();
    assert_eq!(report.outcome, RecoverOutcome::Repaired);
    assert_eq!(report.dropped_bytes, 9);
    assert!(path.exists() && !part.exists());
    let file = read_file(&path).unwrap();
    assert!(file.complete);
    let audio = decode_file(&file).unwrap();
    let got_ms = audio.samples.len() as u64 / 2 / 48;
    assert!(got_ms + 1000 >= 4000, "kept {got_ms} ms of 4000");
    // Running again finds nothing to do.
    assert!(recover_dir(dir.path()).unwrap().is_empty());
}

#[test]
fn corrupt_inputs_are_clear_errors_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.opus");
    std::fs::write(&junk, b"definitely not ogg").unwrap();
    let e = repair_file(&junk).err().unwrap();
    assert_eq!(e.code(), "recorder.format");
    assert_eq!(std::fs::read(&junk).unwrap(), b"definitely not ogg");

    // Damage in the middle: refuse rather than silently drop the later audio.
    let good = dir.path().join("good.opus");
    record(
        &good,
        &tone(48_000 * 3, 400.0, 0.2),
        None,
        &RecorderConfig::default(),
    );
    let mut bytes = std::fs::read(&good).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    let mid_bad = dir.path().join("mid.opus.part");
    std::fs::write(&mid_bad, &bytes).unwrap();
    let e = repair_file(&mid_bad).err().unwrap();
    assert_eq!(e.code(), "recorder.unrecoverable", "{e}");
    assert_eq!(std::fs::read(&mid_bad).unwrap(), bytes);

    // A header-only file (killed in the first page) is reported, not destroyed.
    let head_only = dir.path().join("h.opus.part");
    std::fs::write(&head_only, &std::fs::read(&good).unwrap()[..200]).unwrap();
    let before = std::fs::read(&head_only).unwrap();
    assert!(repair_file(&head_only).is_err());
    assert_eq!(std::fs::read(&head_only).unwrap(), before);
}

#[test]
fn voice_export_is_mono_small_and_carries_both_talkers() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("call.opus");
    let n = 48_000 * 4;
    let left: Vec<f32> = tone(n, 300.0, 0.25)
        .iter()
        .enumerate()
        .map(|(i, v)| if i < n / 2 { *v } else { 0.0 })
        .collect();
    let right: Vec<f32> = tone(n, 600.0, 0.25)
        .iter()
        .enumerate()
        .map(|(i, v)| if i >= n / 2 { *v } else { 0.0 })
        .collect();
    record(&rec, &left, Some(&right), &RecorderConfig::default());
    let out = dir.path().join("voice.ogg");
    let s = export_voice(&rec, &out, &ExportOptions::default()).unwrap();
    assert_eq!(s.bitrate, 24_000);
    assert!(s.fits_play_button);
    assert_eq!(s.recording.duration_ms, 4000);
    let f = read_file(&out).unwrap();
    assert_eq!(f.head.channels, 1);
    assert_eq!(f.head.family, 0);
    assert_eq!(
        f.tags.get("CALL_ID"),
        Some("0190f5c2-0000-7000-8000-000000000001")
    );
    let mono = decode_file(&f).unwrap().samples;
    assert_eq!(mono.len(), n);
    let mixed: Vec<f32> = left.iter().zip(&right).map(|(a, b)| a + b).collect();
    let (c, lag) = aligned_correlation(&mono, &mixed, 960, n - 2000);
    // Two generations of coding, the second VoIP-tuned: offsets add up (< 0.25 ms).
    assert!(c > 0.97 && lag.abs() <= 10, "corr {c} at lag {lag}");
    assert_eq!(
        export_voice(&rec, &out, &ExportOptions::default())
            .err()
            .unwrap()
            .code(),
        "recorder.exists"
    );
}
