//! WAV file source and sink (hound), for tests, the CLI and offline processing.

use crate::resample::{Framer, StreamResampler};
use crate::{AudioError, AudioSink, AudioSource, Frame, SAMPLE_RATE};
use hound::{SampleFormat, WavReader, WavSpec, WavWriter};
use std::fs::File;
use std::io::{BufReader, BufWriter, Seek};
use std::path::{Path, PathBuf};

/// Reads a PCM or float WAV file of any rate and channel count as 48 kHz mono frames
/// (channels averaged, rate converted by [`StreamResampler`]). Not paced: frames come
/// as fast as they are read.
///
/// Errors at open: missing file, not a RIFF/WAVE file, unsupported encoding, or a data
/// chunk longer than the file (truncated), each as [`AudioError::Wav`].
pub struct WavSource {
    name: String,
    reader: WavReader<BufReader<File>>,
    channels: usize,
    format: (SampleFormat, u16),
    resampler: StreamResampler,
    framer: Framer,
    scratch: Vec<f32>,
    mono: Vec<f32>,
    eof: bool,
    /// Total input duration in 48 kHz samples (rounded).
    pub total_samples_48k: u64,
}

const READ_CHUNK_FRAMES: usize = 4800;

impl WavSource {
    /// Opens and validates `path`.
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let err = |reason: String| AudioError::Wav {
            path: path.display().to_string(),
            reason,
        };
        let file = File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
        let file_len = file.metadata().map_err(|e| err(e.to_string()))?.len();
        let reader = WavReader::new(BufReader::new(file))
            .map_err(|e| err(format!("not a readable WAV file: {e}")))?;
        let spec = reader.spec();
        if spec.channels == 0 || spec.sample_rate == 0 {
            return Err(err("header declares 0 channels or 0 Hz".into()));
        }
        let supported = matches!(
            (spec.sample_format, spec.bits_per_sample),
            (SampleFormat::Int, 8 | 16 | 24 | 32) | (SampleFormat::Float, 32)
        );
        if !supported {
            return Err(err(format!(
                "unsupported encoding {:?} {} bit",
                spec.sample_format, spec.bits_per_sample
            )));
        }
        let samples = u64::from(reader.len());
        let bytes_per_sample = u64::from(spec.bits_per_sample).div_ceil(8);
        let mut inner = reader.into_inner();
        let data_start = inner.stream_position().map_err(|e| err(e.to_string()))?;
        let declared_end = data_start + samples * bytes_per_sample;
        if declared_end > file_len {
            return Err(err(format!(
                "truncated: header declares {} bytes of audio but the file ends {} bytes early",
                samples * bytes_per_sample,
                declared_end - file_len
            )));
        }
        // Re-open for streaming: hound has no way to resume a reader from `into_inner`.
        let file = File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
        let reader = WavReader::new(BufReader::new(file)).map_err(|e| err(e.to_string()))?;
        let frames = samples / u64::from(spec.channels);
        let total_samples_48k =
            (frames as f64 * f64::from(SAMPLE_RATE) / f64::from(spec.sample_rate)).round() as u64;
        Ok(Self {
            name: path.display().to_string(),
            reader,
            channels: usize::from(spec.channels),
            format: (spec.sample_format, spec.bits_per_sample),
            resampler: StreamResampler::new(spec.sample_rate, SAMPLE_RATE)?,
            framer: Framer::default(),
            scratch: Vec::with_capacity(READ_CHUNK_FRAMES * usize::from(spec.channels)),
            mono: Vec::with_capacity(READ_CHUNK_FRAMES * 2),
            eof: false,
            total_samples_48k,
        })
    }

    fn fill(&mut self) -> Result<(), AudioError> {
        let want = READ_CHUNK_FRAMES * self.channels;
        self.scratch.clear();
        let path = &self.name;
        let err = |e: hound::Error| AudioError::Wav {
            path: path.clone(),
            reason: format!("read failed: {e}"),
        };
        match self.format {
            (SampleFormat::Float, _) => {
                for s in self.reader.samples::<f32>().take(want) {
                    self.scratch.push(s.map_err(err)?);
                }
            }
            (SampleFormat::Int, bits) => {
                let scale = 1.0 / (1u64 << (bits - 1)) as f32;
                for s in self.reader.samples::<i32>().take(want) {
                    self.scratch.push(s.map_err(err)? as f32 * scale);
                }
            }
        }
        self.mono.clear();
        let inv = 1.0 / self.channels as f32;
        for f in self.scratch.chunks_exact(self.channels) {
            self.mono.push(f.iter().sum::<f32>() * inv);
        }
        let mut out = Vec::with_capacity(self.mono.len() * 7);
        self.resampler.push(&self.mono, &mut out)?;
        if self.scratch.len() < want {
            self.resampler.flush(&mut out)?;
            self.eof = true;
        }
        self.framer.push(&out);
        Ok(())
    }
}

impl AudioSource for WavSource {
    fn read_frame(&mut self, frame: &mut Frame) -> Result<usize, AudioError> {
        while self.framer.len() < frame.len() && !self.eof {
            self.fill()?;
        }
        if self.framer.pop(frame) {
            return Ok(frame.len());
        }
        Ok(self.framer.pop_partial(frame))
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Writes 48 kHz mono 16-bit PCM WAV. The file is complete only after
/// [`AudioSink::finish`] (or drop) writes the header lengths.
pub struct WavSink {
    name: String,
    writer: Option<WavWriter<BufWriter<File>>>,
}

impl WavSink {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> Result<Self, AudioError> {
        let spec = WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let writer = WavWriter::create(path, spec).map_err(|e| AudioError::Wav {
            path: path.display().to_string(),
            reason: format!("cannot create: {e}"),
        })?;
        Ok(Self {
            name: path.display().to_string(),
            writer: Some(writer),
        })
    }

    /// Path being written.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.name)
    }
}

impl AudioSink for WavSink {
    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        let Some(w) = &mut self.writer else {
            return Err(AudioError::Wav {
                path: self.name.clone(),
                reason: "already finished".into(),
            });
        };
        for &s in samples {
            let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            w.write_sample(v).map_err(|e| AudioError::Wav {
                path: self.name.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        if let Some(w) = self.writer.take() {
            w.finalize().map_err(|e| AudioError::Wav {
                path: self.name.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(())
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Reads a whole WAV file as 48 kHz mono samples (convenience for tests and tools).
pub fn read_wav_48k_mono(path: &Path) -> Result<Vec<f32>, AudioError> {
    let mut src = WavSource::open(path)?;
    let mut out = Vec::with_capacity(src.total_samples_48k as usize);
    let mut frame = [0.0; crate::FRAME_SAMPLES];
    loop {
        let n = src.read_frame(&mut frame)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&frame[..n]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
        let spec = WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let mut w = WavWriter::create(path, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn stereo_44k1_becomes_48k_mono_of_same_duration() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        let n = 44_100;
        let mut s = Vec::new();
        for i in 0..n {
            let v = (8000.0 * (i as f32 * 0.05).sin()) as i16;
            s.push(v);
            s.push(v);
        }
        write_wav(&p, 44_100, 2, &s);
        let out = read_wav_48k_mono(&p).unwrap();
        assert_eq!(out.len(), 48_000);
    }

    #[test]
    fn non_wav_and_truncated_wav_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.wav");
        std::fs::write(&bad, b"this is not a wav file at all").unwrap();
        let e = WavSource::open(&bad).err().unwrap();
        assert!(e.to_string().contains("not a readable WAV"), "{e}");

        let good = dir.path().join("good.wav");
        write_wav(&good, 48_000, 1, &vec![100; 48_000]);
        let bytes = std::fs::read(&good).unwrap();
        let cut = dir.path().join("cut.wav");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let e = WavSource::open(&cut).err().unwrap();
        assert!(e.to_string().contains("truncated"), "{e}");
        assert_eq!(e.code(), "audio.wav");

        let missing = WavSource::open(&dir.path().join("none.wav")).err().unwrap();
        assert!(missing.to_string().contains("cannot open"), "{missing}");
    }

    #[test]
    fn last_frame_reports_its_real_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        write_wav(&p, 48_000, 1, &vec![1000; 2000]);
        let mut src = WavSource::open(&p).unwrap();
        let mut f = [0.0; crate::FRAME_SAMPLES];
        assert_eq!(src.read_frame(&mut f).unwrap(), 960);
        assert_eq!(src.read_frame(&mut f).unwrap(), 960);
        assert_eq!(src.read_frame(&mut f).unwrap(), 80);
        assert_eq!(src.read_frame(&mut f).unwrap(), 0);
    }
}
