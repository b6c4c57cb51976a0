//! Property tests standing in for fuzzing (cargo-fuzz needs a nightly toolchain, which
//! CI here does not have): the Ogg Opus reader and crash repair get a valid recording
//! with random bytes changed, random tails cut off and random garbage appended, and
//! must answer Ok or a clear error, never panic, and a repair that succeeds must leave
//! a complete recording.

use proptest::prelude::*;
use softphone_recorder::{
    read_file, repair_file, DualTrackRecorder, RecorderConfig, RecordingMeta,
};
use std::sync::OnceLock;

/// A 2 s dual-track recording, made once.
fn valid() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.opus");
        let meta = RecordingMeta {
            call_id: "0190f5c2-0000-7000-8000-000000000002".into(),
            lead_id: None,
            start_time: "2026-12-04T10:00:00Z".into(),
            left: "agent".into(),
            right: "remote".into(),
            extra: vec![],
        };
        let mut r = DualTrackRecorder::create(&path, &meta, &RecorderConfig::default()).unwrap();
        let tone: Vec<f32> = (0..96_000).map(|i| (i as f32 * 0.06).sin() * 0.3).collect();
        for l in tone.chunks(960) {
            r.push(l, Some(l)).unwrap();
        }
        r.finish().unwrap();
        std::fs::read(&path).unwrap()
    })
}

fn damaged() -> impl Strategy<Value = Vec<u8>> {
    let len = valid().len();
    (
        proptest::collection::vec((0..len, any::<u8>()), 0..8),
        0..=len,
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(flips, cut, tail)| {
            let mut b = valid().to_vec();
            for (i, v) in flips {
                b[i] = v;
            }
            b.truncate(cut);
            b.extend(tail);
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn a_damaged_recording_reads_or_fails_clearly_and_repair_leaves_it_complete(bytes in damaged()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.opus");
        std::fs::write(&path, &bytes).unwrap();
        let _ = read_file(&path);
        match repair_file(&path) {
            Ok(report) => {
                let after = read_file(&report.summary.path).expect("a repaired file reads");
                prop_assert!(after.complete, "repaired but not complete");
            }
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                // Left untouched.
                prop_assert_eq!(std::fs::read(&path).unwrap(), bytes);
            }
        }
    }

    #[test]
    fn random_bytes_are_refused_not_panicked_on(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.opus");
        std::fs::write(&path, &bytes).unwrap();
        let _ = read_file(&path);
        let _ = repair_file(&path);
    }
}
