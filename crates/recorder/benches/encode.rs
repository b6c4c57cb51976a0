//! Criterion benchmark: dual-track recorder encode of 10 s (500 frames per track).
//! `cargo bench -p softphone-recorder`
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use softphone_recorder::{DualTrackRecorder, RecorderConfig, RecordingMeta};

fn speechlike(n: usize, seed: f32) -> Vec<f32> {
    // Voiced bursts: a 120-180 Hz buzz with harmonics under a 4 Hz syllable envelope.
    (0..n)
        .map(|i| {
            let t = i as f32 / 48_000.0;
            let f0 = 140.0 + 40.0 * (t * 0.7 + seed).sin();
            let env = (t * 4.0 * std::f32::consts::TAU).sin().max(0.0);
            let buzz: f32 = (1..8)
                .map(|h| (t * f0 * h as f32 * std::f32::consts::TAU).sin() / h as f32)
                .sum();
            0.2 * env * buzz
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let left = speechlike(480_000, 0.0);
    let right = speechlike(480_000, 1.3);
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("recorder");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10)); // seconds of call audio per iteration
    let mut i = 0;
    g.bench_function("dual_track_10s_32kbps", |b| {
        b.iter(|| {
            i += 1;
            let path = dir.path().join(format!("b{i}.opus"));
            let mut r = DualTrackRecorder::create(
                &path,
                &RecordingMeta::default(),
                &RecorderConfig::default(),
            )
            .unwrap();
            for (l, rr) in left.chunks(960).zip(right.chunks(960)) {
                r.push(l, Some(rr)).unwrap();
            }
            r.finish().unwrap();
            std::fs::remove_file(&path).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
