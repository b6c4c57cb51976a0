//! Mono sample-rate conversion between a device rate and 48 kHz.
//!
//! Uses rubato's asynchronous sinc resampler: the ratio can be nudged at run time
//! ([`StreamResampler::set_ratio_relative`]) to follow a drifting device clock. When the
//! rates match, samples pass through untouched (bit-exact), which is the common case
//! for PulseAudio devices at 48 kHz.

use crate::AudioError;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Indexing, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

/// Input chunk the resampler consumes per call, in input frames (10 ms at 48 kHz).
const CHUNK: usize = 480;

/// Streaming mono resampler: push any number of input samples, get the output samples
/// produced so far. The resampler's own delay is trimmed from the start of the output,
/// and [`StreamResampler::flush`] emits the tail, so a file keeps its length
/// (`out_len ≈ in_len * to/from`).
pub struct StreamResampler {
    inner: Option<Inner>,
}

struct Inner {
    resampler: Async<f32>,
    pending: Vec<f32>,
    out: Vec<f32>,
    to_trim: usize,
    consumed: u64,
    produced: u64,
    ratio: f64,
}

impl StreamResampler {
    /// Creates a resampler from `from_hz` to `to_hz`. Errors if either rate is 0 or
    /// rubato refuses the ratio.
    pub fn new(from_hz: u32, to_hz: u32) -> Result<Self, AudioError> {
        if from_hz == 0 || to_hz == 0 {
            return Err(AudioError::Resample(format!(
                "invalid sample rates {from_hz} Hz -> {to_hz} Hz"
            )));
        }
        if from_hz == to_hz {
            return Ok(Self { inner: None });
        }
        let ratio = f64::from(to_hz) / f64::from(from_hz);
        let params = SincInterpolationParameters {
            sinc_len: 128,
            f_cutoff: Some(0.925),
            oversampling_factor: 128,
            interpolation: SincInterpolationType::Cubic,
            window: WindowFunction::BlackmanHarris2,
        };
        let resampler = Async::<f32>::new_sinc(ratio, 1.1, &params, CHUNK, 1, FixedAsync::Input)
            .map_err(|e| AudioError::Resample(e.to_string()))?;
        let to_trim = resampler.output_delay();
        let out = vec![0.0; resampler.output_frames_max()];
        Ok(Self {
            inner: Some(Inner {
                resampler,
                pending: Vec::with_capacity(CHUNK * 4),
                out,
                to_trim,
                consumed: 0,
                produced: 0,
                ratio,
            }),
        })
    }

    /// True when the rates match and samples pass through unchanged.
    pub fn is_passthrough(&self) -> bool {
        self.inner.is_none()
    }

    /// Adjusts the ratio relative to nominal (e.g. `1.0005` = 500 ppm faster), to follow
    /// clock drift between two devices. Limited to ±10 %. No-op in passthrough mode.
    pub fn set_ratio_relative(&mut self, rel: f64) -> Result<(), AudioError> {
        if let Some(inner) = &mut self.inner {
            if let Some(adj) = inner.resampler.as_adjustable() {
                adj.set_resample_ratio_relative(rel, true)
                    .map_err(|e| AudioError::Resample(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Feeds `input` and appends every output sample now available to `output`.
    pub fn push(&mut self, input: &[f32], output: &mut Vec<f32>) -> Result<(), AudioError> {
        let Some(inner) = &mut self.inner else {
            output.extend_from_slice(input);
            return Ok(());
        };
        inner.pending.extend_from_slice(input);
        loop {
            let need = inner.resampler.input_frames_next();
            if inner.pending.len() < need {
                break;
            }
            inner.run(need, None, output)?;
            inner.pending.drain(..need);
        }
        Ok(())
    }

    /// Emits the remaining samples (the tail still inside the filter), so the total
    /// output length matches the input length times the ratio.
    pub fn flush(&mut self, output: &mut Vec<f32>) -> Result<(), AudioError> {
        let Some(inner) = &mut self.inner else {
            return Ok(());
        };
        let expected = (inner.consumed as f64 + inner.pending.len() as f64) * inner.ratio;
        let expected = expected.round() as u64;
        if !inner.pending.is_empty() {
            let need = inner.resampler.input_frames_next();
            let have = inner.pending.len();
            inner.pending.resize(need, 0.0);
            inner.run(need, Some(have), output)?;
            inner.pending.clear();
        }
        while inner.produced < expected {
            let need = inner.resampler.input_frames_next();
            inner.pending.resize(need, 0.0);
            let before = output.len();
            inner.run(need, Some(0), output)?;
            inner.pending.clear();
            if output.len() == before && inner.to_trim == 0 {
                break;
            }
        }
        let excess = inner.produced.saturating_sub(expected) as usize;
        output.truncate(output.len().saturating_sub(excess));
        inner.produced -= excess as u64;
        Ok(())
    }
}

impl Inner {
    fn run(
        &mut self,
        need: usize,
        partial: Option<usize>,
        output: &mut Vec<f32>,
    ) -> Result<(), AudioError> {
        let input = InterleavedSlice::new(&self.pending[..need], 1, need)
            .map_err(|e| AudioError::Resample(e.to_string()))?;
        let cap = self.out.len();
        let mut out = InterleavedSlice::new_mut(&mut self.out[..], 1, cap)
            .map_err(|e| AudioError::Resample(e.to_string()))?;
        let indexing = partial.map(|p| Indexing::new().partial_len(p));
        let (_read, written) = self
            .resampler
            .process_into_buffer(&input, &mut out, indexing.as_ref())
            .map_err(|e| AudioError::Resample(e.to_string()))?;
        self.consumed += partial.unwrap_or(need) as u64;
        let skip = self.to_trim.min(written);
        self.to_trim -= skip;
        output.extend_from_slice(&self.out[skip..written]);
        self.produced += (written - skip) as u64;
        Ok(())
    }
}

/// Collects samples into 20 ms frames.
#[derive(Default)]
pub struct Framer {
    buf: Vec<f32>,
}

impl Framer {
    /// Appends samples.
    pub fn push(&mut self, samples: &[f32]) {
        self.buf.extend_from_slice(samples);
    }

    /// Number of buffered samples.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Moves the next whole frame into `frame`; false if fewer than 960 samples are buffered.
    pub fn pop(&mut self, frame: &mut crate::Frame) -> bool {
        let n = frame.len();
        if self.buf.len() < n {
            return false;
        }
        frame.copy_from_slice(&self.buf[..n]);
        self.buf.drain(..n);
        true
    }

    /// Moves out the final partial frame, zero-padded; returns the count of real samples.
    pub fn pop_partial(&mut self, frame: &mut crate::Frame) -> usize {
        let n = self.buf.len().min(frame.len());
        frame[..n].copy_from_slice(&self.buf[..n]);
        frame[n..].fill(0.0);
        self.buf.drain(..n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, secs: f32) -> Vec<f32> {
        let n = (rate as f32 * secs) as usize;
        (0..n)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn passthrough_is_bit_exact() {
        let mut r = StreamResampler::new(48_000, 48_000).unwrap();
        assert!(r.is_passthrough());
        let input = sine(48_000, 440.0, 0.1);
        let mut out = Vec::new();
        r.push(&input, &mut out).unwrap();
        r.flush(&mut out).unwrap();
        assert_eq!(out, input);
    }

    #[test]
    fn resampling_keeps_length_frequency_and_alignment() {
        for from in [44_100u32, 16_000, 8_000] {
            let mut r = StreamResampler::new(from, 48_000).unwrap();
            let input = sine(from, 440.0, 1.0);
            let mut out = Vec::new();
            for chunk in input.chunks(333) {
                r.push(chunk, &mut out).unwrap();
            }
            r.flush(&mut out).unwrap();
            let expected = (input.len() as f64 * 48_000.0 / from as f64).round() as usize;
            assert_eq!(out.len(), expected, "length for {from} Hz");
            // Delay trimmed: output matches an ideal 440 Hz sine at 48 kHz.
            let ideal = sine(48_000, 440.0, 1.0);
            let (a, b) = (&out[2000..40_000], &ideal[2000..40_000]);
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
            let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!(
                dot / (na * nb) > 0.99,
                "correlation for {from} Hz: {}",
                dot / (na * nb)
            );
        }
    }

    #[test]
    fn framer_emits_whole_frames_then_partial() {
        let mut f = Framer::default();
        f.push(&vec![0.25; 2000]);
        let mut frame = [0.0; crate::FRAME_SAMPLES];
        assert!(f.pop(&mut frame));
        assert!(f.pop(&mut frame));
        assert!(!f.pop(&mut frame));
        assert_eq!(f.pop_partial(&mut frame), 80);
        assert_eq!(frame[79], 0.25);
        assert_eq!(frame[80], 0.0);
    }
}
