//! Audio devices, framing and metering for Agent Softphone.
//!
//! Key design decision: everything downstream of this crate sees one format only,
//! **48 kHz mono `f32` in 20 ms frames of 960 samples** ([`FRAME_SAMPLES`]). Device
//! formats (rate, channel count, sample type) are converted at the edge: real-time
//! callbacks only downmix and push into a lock-free ring buffer ([`rtrb`]); the
//! asynchronous resampler ([`rubato`]) and framing run on the consumer's thread.
//! Real devices ([`cpal_device`]), WAV files ([`wav`]) and null devices ([`null`])
//! sit side by side behind the small [`AudioSource`] / [`AudioSink`] traits, the way
//! cpal's host traits and baresip's ausrc/auplay do.

pub mod cpal_device;
pub mod meter;
pub mod null;
pub mod resample;
pub mod sched;
pub mod wav;

pub use cpal_device::{list_devices, CpalSink, CpalSource, DeviceDirection, DeviceInfo};
pub use meter::{LevelMeter, MeterConfig, MeterReading};
pub use null::{NullSink, NullSource};
pub use wav::{WavSink, WavSource};

/// Internal sample rate of every frame, in Hz.
pub const SAMPLE_RATE: u32 = 48_000;
/// Frame duration in ms.
pub const FRAME_MS: u32 = 20;
/// Samples per 20 ms mono frame at 48 kHz.
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE / 1000 * FRAME_MS) as usize;

/// One 20 ms frame of 48 kHz mono audio, samples in `[-1.0, 1.0]`.
pub type Frame = [f32; FRAME_SAMPLES];

/// Errors from audio devices and files.
///
/// Each variant has a stable [`AudioError::code`] for the UI.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// No device with this id (see `softphone devices`).
    #[error("no audio device with id `{0}` (list them with `softphone devices`)")]
    DeviceNotFound(String),
    /// The system has no default device for this direction.
    #[error("no default {0} device")]
    NoDefaultDevice(&'static str),
    /// The device refused to open or to start.
    #[error("cannot open audio device `{device}`: {reason}")]
    DeviceOpen { device: String, reason: String },
    /// The device vanished or failed while streaming (unplugged headset, server restart).
    #[error("audio device `{device}` failed mid-stream: {reason}")]
    DeviceLost { device: String, reason: String },
    /// The device delivered no audio for longer than the stall timeout.
    #[error("audio device `{device}` delivered no audio for {ms} ms")]
    DeviceStalled { device: String, ms: u64 },
    /// A WAV file could not be read or written (missing, not WAV, truncated, unsupported).
    #[error("WAV file `{path}`: {reason}")]
    Wav { path: String, reason: String },
    /// Resampler construction or processing failed.
    #[error("resampler: {0}")]
    Resample(String),
    /// Other I/O failure.
    #[error("I/O error on `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl AudioError {
    /// Stable, machine-readable error code for the UI and the CLI's JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            AudioError::DeviceNotFound(_) => "audio.device_not_found",
            AudioError::NoDefaultDevice(_) => "audio.no_default_device",
            AudioError::DeviceOpen { .. } => "audio.device_open",
            AudioError::DeviceLost { .. } => "audio.device_lost",
            AudioError::DeviceStalled { .. } => "audio.device_stalled",
            AudioError::Wav { .. } => "audio.wav",
            AudioError::Resample(_) => "audio.resample",
            AudioError::Io { .. } => "audio.io",
        }
    }
}

/// A producer of 48 kHz mono 20 ms frames: a microphone, a WAV file, silence.
pub trait AudioSource {
    /// Fills `frame` with the next 20 ms and returns how many samples are real audio:
    /// [`FRAME_SAMPLES`] normally, fewer for the last, zero-padded frame of a file, and
    /// `0` at the end of the stream. Live sources block until a frame is ready.
    ///
    /// Errors: [`AudioError::DeviceLost`] / [`AudioError::DeviceStalled`] when a device
    /// vanishes mid-stream; the source is unusable afterwards.
    fn read_frame(&mut self, frame: &mut Frame) -> Result<usize, AudioError>;

    /// For a live device: its own latency at the last callback, ms: from the instant
    /// the hardware captured a sample to the callback that handed it over, as the host
    /// reports it (cpal's `InputCallbackInfo` timestamps). Not counted: the ring and
    /// framing after the callback. `None` for files and silence, and before the first
    /// callback.
    fn device_latency_ms(&self) -> Option<f64> {
        None
    }

    /// For a live device: audio captured and not yet read, ms (the backlog a late
    /// reader has to catch up on; every ms of it is a ms of delay). 0 for files and
    /// silence.
    fn queued_ms(&self) -> f64 {
        0.0
    }

    /// For a live device: what the host delivered against its own capture clock (see
    /// [`CaptureClock`]). `None` for files and silence, and before the first callback.
    fn capture_clock(&self) -> Option<CaptureClock> {
        None
    }

    /// Human-readable name of what this source reads from (device name or file path).
    fn name(&self) -> &str;
}

/// A live capture stream's account of its audio since it started, ms. A device that
/// keeps time delivers what its clock advanced (`delivered_ms` ≈ `device_clock_ms`,
/// give or take one callback) and both follow the wall clock. Delivered audio behind
/// the device clock means the host dropped audio before the callback; a device clock
/// behind the wall clock means the device (or a sound server's timer-driven virtual
/// device) runs slow. Either way the far end receives packets slower than their
/// timestamps say, which its jitter buffer sees as growing lateness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaptureClock {
    /// Audio the host has handed to the callbacks, ms.
    pub delivered_ms: f64,
    /// The host's capture timestamps' advance from the first callback to the last, ms.
    pub device_clock_ms: f64,
    /// Audio dropped because the reader fell behind (the ring after the callback was
    /// full), ms.
    pub dropped_ms: f64,
}

/// A consumer of 48 kHz mono 20 ms frames: a speaker, a WAV file, nothing.
pub trait AudioSink {
    /// Queues 48 kHz mono samples for output: a frame, or part of one when a player
    /// shortens a pause to catch up. Live sinks block while their buffer is full,
    /// which paces the caller at the device's clock.
    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError>;

    /// Queues one whole 20 ms frame, as [`write`](Self::write).
    fn write_frame(&mut self, frame: &Frame) -> Result<(), AudioError> {
        self.write(frame)
    }

    /// Flushes buffered audio (drains the device buffer, finalises a file).
    fn finish(&mut self) -> Result<(), AudioError> {
        Ok(())
    }

    /// For a sink drained by a device clock: blocks until at most `ms` of audio is
    /// queued ahead of the device, so a frame written next plays about `ms` from now
    /// (plus the device's own buffer). This is how a caller lets the device pace it
    /// without queueing more than it must: every ms queued is a ms of delay. Sinks
    /// without a device clock (files, null) return at once.
    ///
    /// Errors: [`AudioError::DeviceLost`]; [`AudioError::DeviceStalled`] when the device
    /// takes nothing for [`cpal_device::STALL_TIMEOUT`].
    fn wait_queued_below(&mut self, ms: f64) -> Result<(), AudioError> {
        let _ = ms;
        Ok(())
    }

    /// For a sink drained by a device clock: samples of silence (at the device rate) the
    /// device played so far because nothing was queued in time (underruns). Always 0
    /// for files and null sinks.
    fn underruns(&self) -> u64 {
        0
    }

    /// For a live device: its own latency at the last callback, ms: from the callback
    /// that took samples to the instant the hardware plays them, as the host reports it
    /// (cpal's `OutputCallbackInfo` timestamps; on PulseAudio the sink's latency plus
    /// the stream's server-side buffer, interpolated between the host's polls, so one
    /// reading may be 0 when a poll is late). Not counted: what waits in the sink's own
    /// queue ([`Self::wait_queued_below`]). `None` for files and null sinks, and
    /// before the first callback.
    fn device_latency_ms(&self) -> Option<f64> {
        None
    }

    /// Human-readable name of what this sink writes to.
    fn name(&self) -> &str;
}

/// Converts a linear amplitude to dBFS, with silence floored at [`meter::SILENCE_DBFS`].
pub fn amplitude_to_dbfs(amplitude: f32) -> f32 {
    if amplitude <= 0.0 {
        return meter::SILENCE_DBFS;
    }
    (20.0 * amplitude.log10()).max(meter::SILENCE_DBFS)
}
