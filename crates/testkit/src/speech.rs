//! Was this speech heard in that audio? Normalised cross-correlation of 48 kHz mono
//! `f32` signals, searched coarsely on 8x decimated signals and then exactly, because
//! every real-time receiver stretches and shifts audio a little. Shared by the CLI's
//! tests, the recorder's tests and the headless scenario.

/// Mean power of `x`, dBFS (−200 for silence).
pub fn energy_db(x: &[f32]) -> f64 {
    let e = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * (e + 1e-20).log10()
}

/// Normalised cross-correlation of `a` and `b` at lag 0 over the shorter one's length:
/// 1.0 for the same waveform at any gain, about 0 for unrelated audio.
pub fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(1e-20)
}

/// Where `needle` starts inside `hay` and the correlation there over `needle`'s length:
/// a coarse search on 8x decimated signals, then an exact one within ±16 samples.
///
/// Panics when `hay` is shorter than `needle` (a test captured too little).
pub fn align(hay: &[f32], needle: &[f32]) -> (usize, f64) {
    assert!(
        hay.len() >= needle.len(),
        "captured {} samples, need at least {}",
        hay.len(),
        needle.len()
    );
    let dec =
        |x: &[f32]| -> Vec<f32> { x.chunks(8).map(|c| c.iter().sum::<f32>() / 8.0).collect() };
    let (h, n) = (dec(hay), dec(needle));
    let mut best = (0usize, f64::MIN);
    for off in 0..=(h.len() - n.len()) {
        let c = correlation(&h[off..off + n.len()], &n);
        if c > best.1 {
            best = (off, c);
        }
    }
    let centre = best.0 * 8;
    let mut fine = (centre, f64::MIN);
    for off in centre.saturating_sub(16)..=(centre + 16).min(hay.len() - needle.len()) {
        let c = correlation(&hay[off..off + needle.len()], needle);
        if c > fine.1 {
            fine = (off, c);
        }
    }
    fine
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_quieter_copy_is_found_where_it_is() {
        // A chirp-like signal, placed 1234 samples into silence at half the gain.
        let needle: Vec<f32> = (0..4800)
            .map(|i| ((i as f32 * 0.002).powi(2)).sin() * 0.5)
            .collect();
        let mut hay = vec![0.0f32; 10_000];
        for (i, v) in needle.iter().enumerate() {
            hay[1234 + i] = v * 0.5;
        }
        let (at, c) = align(&hay, &needle);
        assert_eq!(at, 1234);
        assert!(c > 0.999, "{c}");
        assert!(energy_db(&[0.0; 10]) < -190.0);
        assert!((energy_db(&[1.0, -1.0]) - 0.0).abs() < 1e-9);
    }
}
