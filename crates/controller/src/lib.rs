//! The softphone's controller: wires devices, the level meter and the recorder into
//! sessions, and is the one API that the Tauri shell, the `softphone` CLI and the
//! tests drive.
//!
//! Key design decision: a session runs on its own worker thread and talks to its
//! owner only through a stop flag and a channel of [`Event`]s, so the same code serves
//! a Tauri command (events forwarded to the webview), the CLI (printed) and tests
//! (asserted). Devices are opened *inside* the worker (cpal streams are not `Send`
//! on every platform). A device failure never loses the recording: the session
//! finishes the file with what it has and reports the failure as an event.

pub mod admin;
pub mod agent;
pub mod diagnostics;
pub mod line;
pub mod logs;
pub mod player;
pub mod updates;

use serde::Serialize;
use softphone_audio::{
    AudioError, AudioSource, CpalSource, Frame, LevelMeter, MeterReading, NullSource, WavSource,
    FRAME_SAMPLES,
};
use softphone_recorder::{
    DualTrackRecorder, RecorderConfig, RecorderError, RecordingMeta, RecordingSummary,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

pub use softphone_recorder::recover::RecoverResult;
pub use softphone_recorder::{recover_dir, RecoverOutcome, RecoverReport};

/// Errors surfaced to the UI and CLI, each with a stable [`ControllerError::code`].
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// Audio device or file failure.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// Recorder failure.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// Invalid request.
    #[error("{0}")]
    Invalid(String),
    /// The session thread panicked (a bug).
    #[error("session thread crashed: {0}")]
    Crashed(String),
}

impl ControllerError {
    /// Stable error code, e.g. `audio.device_not_found`, `recorder.exists`.
    pub fn code(&self) -> &'static str {
        match self {
            ControllerError::Audio(e) => e.code(),
            ControllerError::Recorder(e) => e.code(),
            ControllerError::Invalid(_) => "controller.invalid",
            ControllerError::Crashed(_) => "controller.crashed",
        }
    }
}

/// Where audio comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSpec {
    /// A capture device by id or name; `None` = system default.
    Device(Option<String>),
    /// A WAV file (any rate/channels), read faster than real time.
    Wav(PathBuf),
    /// Silence, paced at real time.
    Null,
}

impl InputSpec {
    fn open(&self) -> Result<Box<dyn AudioSource>, AudioError> {
        Ok(match self {
            InputSpec::Device(d) => Box::new(CpalSource::open(d.as_deref())?),
            InputSpec::Wav(p) => Box::new(WavSource::open(p)?),
            InputSpec::Null => Box::new(NullSource::new(true, None)),
        })
    }
}

/// What to record, when recording.
#[derive(Debug, Clone)]
pub struct RecordTarget {
    /// Output file (`.opus`); written as `….part` until finished.
    pub path: PathBuf,
    /// Encoder settings.
    pub config: RecorderConfig,
    /// Metadata for OpusTags.
    pub meta: RecordingMeta,
}

/// A capture session: meter always, recording optionally.
#[derive(Debug, Clone)]
pub struct CaptureRequest {
    /// The agent's audio (left track).
    pub input: InputSpec,
    /// The remote party's audio (right track); `None` records silence on the right.
    pub remote: Option<InputSpec>,
    /// Record to a file.
    pub record: Option<RecordTarget>,
    /// Stop after this much captured audio, ms; `None` runs until stopped.
    pub max_ms: Option<u64>,
}

/// Why a session ended.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum StopReason {
    /// [`SessionHandle::stop`] was called.
    Requested,
    /// `max_ms` of audio was captured.
    Duration,
    /// The input file ended.
    EndOfInput,
    /// The input device failed mid-stream; the recording was still finished.
    DeviceError { code: String, message: String },
}

/// Events from a running session.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// Capture started on this source.
    Started { input: String },
    /// A level-meter reading (at most 20 per second).
    Meter(MeterReading),
    /// A non-fatal problem, e.g. the remote file ended early.
    Warning { code: String, message: String },
    /// The input device failed; the session is finishing the recording.
    DeviceError { code: String, message: String },
}

/// The outcome of a finished session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionResult {
    /// Why it ended.
    pub stop: StopReason,
    /// Captured audio, ms.
    pub captured_ms: u64,
    /// The recording, when one was requested.
    pub recording: Option<RecordingSummary>,
}

/// Owner's side of a running session.
pub struct SessionHandle {
    stop: Arc<AtomicBool>,
    /// Events as they happen; the channel closes when the session ends.
    pub events: mpsc::Receiver<Event>,
    join: JoinHandle<Result<SessionResult, ControllerError>>,
}

impl SessionHandle {
    /// Asks the session to stop after the current frame.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Takes the event stream (e.g. to forward it from another thread); afterwards
    /// [`SessionHandle::events`] is an empty, closed channel.
    pub fn take_events(&mut self) -> mpsc::Receiver<Event> {
        let (_, closed) = mpsc::channel();
        std::mem::replace(&mut self.events, closed)
    }

    /// A clone of the stop flag (for signal handlers).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Waits for the session to end.
    pub fn join(self) -> Result<SessionResult, ControllerError> {
        self.join.join().map_err(|p| {
            ControllerError::Crashed(
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
            )
        })?
    }
}

/// Starts a capture session. Opening errors (missing device, bad WAV, unwritable
/// output, existing file) are returned here, before the session runs.
pub fn start_capture(req: CaptureRequest) -> Result<SessionHandle, ControllerError> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), ControllerError>>();
    let stop2 = Arc::clone(&stop);
    let join = std::thread::Builder::new()
        .name("capture-session".into())
        .spawn(move || run_session(req, stop2, tx, ready_tx))
        .map_err(|e| ControllerError::Crashed(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(SessionHandle {
            stop,
            events: rx,
            join,
        }),
        Ok(Err(e)) => {
            let _ = join.join();
            Err(e)
        }
        Err(_) => Err(match join.join() {
            Ok(Err(e)) => e,
            _ => ControllerError::Crashed("session ended before starting".into()),
        }),
    }
}

fn run_session(
    req: CaptureRequest,
    stop: Arc<AtomicBool>,
    tx: mpsc::Sender<Event>,
    ready: mpsc::Sender<Result<(), ControllerError>>,
) -> Result<SessionResult, ControllerError> {
    let opened = (|| -> Result<_, ControllerError> {
        let input = req.input.open()?;
        let remote = req.remote.as_ref().map(InputSpec::open).transpose()?;
        let recorder = match &req.record {
            Some(t) => Some(DualTrackRecorder::create(&t.path, &t.meta, &t.config)?),
            None => None,
        };
        Ok((input, remote, recorder))
    })();
    let (mut input, mut remote, mut recorder) = match opened {
        Ok(x) => {
            let _ = ready.send(Ok(()));
            x
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return Err(ControllerError::Invalid("failed to start".into()));
        }
    };
    let _ = tx.send(Event::Started {
        input: input.name().to_string(),
    });
    let mut meter = LevelMeter::default();
    let mut frame: Frame = [0.0; FRAME_SAMPLES];
    let mut rframe: Frame = [0.0; FRAME_SAMPLES];
    let mut captured: u64 = 0;
    let max_samples = req.max_ms.map(|ms| ms * 48);
    let stop_reason = loop {
        if stop.load(Ordering::SeqCst) {
            break StopReason::Requested;
        }
        if max_samples.is_some_and(|m| captured >= m) {
            break StopReason::Duration;
        }
        let mut n = match input.read_frame(&mut frame) {
            Ok(0) => break StopReason::EndOfInput,
            Ok(n) => n,
            Err(e) => {
                let (code, message) = (e.code().to_string(), e.to_string());
                tracing::warn!(%code, %message, "input failed mid-stream");
                let _ = tx.send(Event::DeviceError {
                    code: code.clone(),
                    message: message.clone(),
                });
                break StopReason::DeviceError { code, message };
            }
        };
        if let Some(m) = max_samples {
            n = n.min((m - captured) as usize);
        }
        if let Some(r) = meter.process(&frame[..n]) {
            let _ = tx.send(Event::Meter(r));
        }
        let rn = match remote.as_mut() {
            Some(src) => match src.read_frame(&mut rframe) {
                Ok(k) => k,
                Err(e) => {
                    let _ = tx.send(Event::Warning {
                        code: e.code().into(),
                        message: format!("remote audio stopped: {e}"),
                    });
                    remote = None;
                    0
                }
            },
            None => 0,
        };
        if let Some(rec) = recorder.as_mut() {
            // Remote ended early or is absent: that part of the right track is silence.
            rframe[rn..].fill(0.0);
            rec.push(&frame[..n], Some(&rframe[..n]))?;
        }
        captured += n as u64;
        if n < FRAME_SAMPLES {
            break StopReason::EndOfInput;
        }
    };
    let recording = recorder.take().map(DualTrackRecorder::finish).transpose()?;
    Ok(SessionResult {
        stop: stop_reason,
        captured_ms: captured / 48,
        recording,
    })
}

/// Builds recording metadata with a fresh UUIDv7 call id and the current UTC time.
pub fn new_meta(
    call_id: Option<String>,
    lead_id: Option<String>,
    left: &str,
    right: &str,
) -> RecordingMeta {
    RecordingMeta {
        call_id: call_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
        lead_id,
        start_time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        left: left.to_string(),
        right: right.to_string(),
        extra: vec![],
    }
}

/// Repairs every unfinished recording in `dir` (run at start-up and by
/// `softphone recover`). See [`softphone_recorder::recover_dir`].
pub fn recover_recordings(dir: &Path) -> Result<Vec<RecoverResult>, ControllerError> {
    Ok(recover_dir(dir)?)
}

/// Makes the allocator return what calls freed; call once, first thing in `main`
/// (it limits arenas created from then on).
///
/// Each call runs on fresh threads (capture, playout, recorder, the device streams'
/// own), and glibc's malloc gives threads their own arenas (up to eight per core) and
/// keeps what they freed for reuse. heaptrack found 14 KB leaked over 30 echo calls,
/// yet the process kept growing. Over 60 echo calls on the virtual devices
/// (`examples/echo_calls.rs`, two runs each, RSS growth after the first call):
///
/// | allocator | after 30 calls | after 60 calls |
/// | --- | --- | --- |
/// | glibc defaults | +4.2, +4.4 MiB | +4.5, +4.6 MiB |
/// | `malloc_trim` after each call | +2.0, +2.2 MiB | +2.5, +3.6 MiB |
/// | at most two arenas | +2.6, +2.6 MiB | +2.6, +2.6 MiB |
/// | both (what this sets up) | +1.4, +1.3 MiB | +0.8, +1.5 MiB |
///
/// Two arenas suit the few threads that allocate at all (the audio threads' hot paths
/// reuse their buffers). A no-op off glibc. See also [`release_freed_memory`].
/// `MALLOC_ARENA_MAX` in the environment wins (glibc reads it itself).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets a glibc malloc parameter; M_ARENA_MAX takes any
        // count.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

/// Hands memory that the threads of a finished call freed back to the OS
/// (`malloc_trim`; see [`tune_allocator`] for what it saves). [`agent::LiveCall::finish`]
/// calls it. A no-op off glibc.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(path: &Path, secs: f32, hz: f32) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..(16_000.0 * secs) as usize {
            w.write_sample(
                (8000.0 * (i as f32 * hz / 16_000.0 * std::f32::consts::TAU).sin()) as i16,
            )
            .unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn wav_session_records_both_tracks_and_meters() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
        wav(&a, 2.0, 300.0);
        wav(&b, 1.0, 500.0);
        let out = dir.path().join("r.opus");
        let h = start_capture(CaptureRequest {
            input: InputSpec::Wav(a),
            remote: Some(InputSpec::Wav(b)),
            record: Some(RecordTarget {
                path: out.clone(),
                config: RecorderConfig::default(),
                meta: new_meta(None, None, "agent:test", "remote:test"),
            }),
            max_ms: None,
        })
        .unwrap();
        let r = h.join().unwrap();
        assert_eq!(r.stop, StopReason::EndOfInput);
        assert_eq!(r.captured_ms, 2000);
        assert_eq!(r.recording.unwrap().duration_ms, 2000);
    }

    #[test]
    fn opening_errors_come_back_before_the_session_runs() {
        let dir = tempfile::tempdir().unwrap();
        let e = start_capture(CaptureRequest {
            input: InputSpec::Wav(dir.path().join("missing.wav")),
            remote: None,
            record: None,
            max_ms: None,
        })
        .err()
        .unwrap();
        assert_eq!(e.code(), "audio.wav");
    }

    #[test]
    fn duration_limit_and_stop_request() {
        let h = start_capture(CaptureRequest {
            input: InputSpec::Null,
            remote: None,
            record: None,
            max_ms: Some(200),
        })
        .unwrap();
        let events: Vec<Event> = h.events.iter().collect();
        assert!(events.iter().any(|e| matches!(e, Event::Meter(_))));
        let h2 = start_capture(CaptureRequest {
            input: InputSpec::Null,
            remote: None,
            record: None,
            max_ms: None,
        })
        .unwrap();
        h2.stop();
        assert_eq!(h2.join().unwrap().stop, StopReason::Requested);
        // The first handle's channel closed, so its thread has ended.
        drop(events);
    }
}
