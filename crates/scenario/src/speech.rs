//! Speech comparison for the scenario's checks: was this speech heard in that audio?
//! The correlation search is testkit's (`softphone_testkit::speech`), shared with the
//! CLI's and the recorder's tests; this module adds the scenario's chunked judgement.

use std::path::Path;

/// Samples per second of everything compared here.
pub const RATE: usize = 48_000;

use softphone_testkit::speech::align;
pub use softphone_testkit::speech::energy_db;

/// The best correlation of `needle` anywhere in `hay` (0 when `hay` is shorter).
pub fn best_match(hay: &[f32], needle: &[f32]) -> f64 {
    if hay.len() < needle.len() || needle.is_empty() {
        return 0.0;
    }
    align(hay, needle).1
}

/// Chunk length of [`heard`]: 250 ms. A receiver's jitter buffer drops or adds 20 ms
/// in pauses, which shifts the rest of the audio; that ruins a whole second's
/// correlation but only one short chunk's, while a real glitch shows in every chunk it
/// touches.
pub const CHUNK: usize = RATE / 4;

/// For each 250 ms of speech in `src` (quiet chunks skipped), its best correlation
/// anywhere in `hay`, sorted ascending. Sources that loop (a fake microphone, a
/// repeated file) are found wherever they landed.
pub fn heard(hay: &[f32], src: &[f32]) -> Vec<f64> {
    let mut c: Vec<f64> = src
        .chunks(CHUNK)
        .filter(|ch| ch.len() == CHUNK && energy_db(ch) > -45.0)
        .map(|ch| best_match(hay, ch))
        .collect();
    c.sort_by(|a, b| a.total_cmp(b));
    c
}

/// Median of sorted values (0 when empty).
pub fn median(sorted: &[f64]) -> f64 {
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// The longest run of 20 ms frames quieter than `db` dBFS, in ms.
pub fn longest_silence_ms(x: &[f32], db: f64) -> u64 {
    let (mut best, mut run) = (0u64, 0u64);
    for f in x.chunks(960) {
        if energy_db(f) < db {
            run += 20;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// The channels of a WAV file as floats in [-1, 1], with its sample rate.
pub fn read_wav(path: &Path) -> anyhow::Result<(Vec<Vec<f32>>, u32)> {
    let mut r = hound::WavReader::open(path)?;
    let spec = r.spec();
    let ch = usize::from(spec.channels);
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    let chans = (0..ch)
        .map(|c| samples.iter().skip(c).step_by(ch).copied().collect())
        .collect();
    Ok((chans, spec.sample_rate))
}

/// Raw 32-bit float little-endian mono samples (what `parecord --raw` writes).
pub fn read_f32_raw(path: &Path) -> anyhow::Result<Vec<f32>> {
    Ok(std::fs::read(path)?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    #[test]
    fn finds_shifted_speech_and_not_other_speech() {
        let src = noise(2 * RATE, 1);
        let mut hay = noise(RATE / 3, 2);
        hay.extend(&src);
        hay.extend(noise(RATE / 2, 3));
        let c = heard(&hay, &src);
        assert_eq!(c.len(), 8);
        assert!(c[0] > 0.99, "{c:?}");
        let other = heard(&noise(3 * RATE, 4), &src);
        assert!(median(&other) < 0.2, "{other:?}");
    }

    #[test]
    fn measures_the_longest_silence() {
        let mut x = noise(RATE, 5);
        x.extend(vec![0.0; RATE * 3 / 2]);
        x.extend(noise(RATE, 6));
        x.extend(vec![0.0; RATE / 2]);
        assert_eq!(longest_silence_ms(&x, -60.0), 1500);
    }
}
