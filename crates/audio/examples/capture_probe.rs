//! Prints capture progress every 200 ms: samples read vs wall time, and overruns.
//! `cargo run -p softphone-audio --example capture_probe [SECONDS]`
use softphone_audio::{AudioSource, CpalSource, FRAME_SAMPLES};
use std::time::Instant;

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let t0 = Instant::now();
    let mut src = CpalSource::open(None).expect("open default input");
    println!(
        "opened in {:?}, device {:?}",
        t0.elapsed(),
        src.device_format()
    );
    let t0 = Instant::now();
    let mut frame = [0.0; FRAME_SAMPLES];
    let mut read = 0u64;
    let mut next = 0.2;
    while t0.elapsed().as_secs_f64() < secs {
        read += src.read_frame(&mut frame).unwrap() as u64;
        if t0.elapsed().as_secs_f64() >= next {
            println!(
                "{:>6.2} s wall  {:>8.3} s audio  overruns {}",
                t0.elapsed().as_secs_f64(),
                read as f64 / 48_000.0,
                src.overruns()
            );
            next += 0.2;
        }
    }
}
