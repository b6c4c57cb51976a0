//! Null devices: a source of silence and a sink that discards.

use crate::{AudioError, AudioSink, AudioSource, Frame, FRAME_MS, FRAME_SAMPLES};
use std::time::{Duration, Instant};

/// A source of digital silence. With `paced`, frames come at the real-time rate
/// (one per 20 ms), like a live device; otherwise as fast as they are read.
/// `limit_frames` ends the stream after that many frames.
pub struct NullSource {
    paced: bool,
    started: Option<Instant>,
    produced: u64,
    limit_frames: Option<u64>,
}

impl NullSource {
    /// Creates a null source; `limit_frames = None` never ends.
    pub fn new(paced: bool, limit_frames: Option<u64>) -> Self {
        Self {
            paced,
            started: None,
            produced: 0,
            limit_frames,
        }
    }
}

impl AudioSource for NullSource {
    fn read_frame(&mut self, frame: &mut Frame) -> Result<usize, AudioError> {
        if self.limit_frames.is_some_and(|l| self.produced >= l) {
            return Ok(0);
        }
        if self.paced {
            let start = *self.started.get_or_insert_with(Instant::now);
            let due = start + Duration::from_millis(self.produced * u64::from(FRAME_MS));
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        frame.fill(0.0);
        self.produced += 1;
        Ok(FRAME_SAMPLES)
    }

    fn name(&self) -> &str {
        "null"
    }
}

/// A sink that discards what it is given and counts the writes.
#[derive(Default)]
pub struct NullSink {
    /// Writes so far (whole frames, or parts of one).
    pub frames: u64,
}

impl AudioSink for NullSink {
    fn write(&mut self, _samples: &[f32]) -> Result<(), AudioError> {
        self.frames += 1;
        Ok(())
    }

    fn name(&self) -> &str {
        "null"
    }
}
