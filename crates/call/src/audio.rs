//! The call's audio threads: capture → Opus encoder, and jitter buffer → Opus decoder →
//! playback, with the dual-track recorder tapping both directions.
//!
//! Devices are opened inside their threads (cpal streams are not `Send` everywhere).
//! A live microphone paces capture at its clock; files and silence are paced by a
//! 20 ms timer so a WAV file plays in real time, like a microphone. Playout keeps its
//! own 20 ms clock (see `playout_thread`).

use crate::jitter::{JitterBuffer, Playout};
use opus::{Application, Bitrate, Channels};
use softphone_audio::{
    AudioError, AudioSink, AudioSource, CpalSink, CpalSource, Frame, LevelMeter, MeterReading,
    NullSink, NullSource, WavSink, WavSource, FRAME_SAMPLES,
};
use softphone_recorder::{DualTrackRecorder, RecorderConfig, RecordingMeta, RecordingSummary};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where the agent's audio comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioIn {
    /// A capture device (`None` = the default input).
    Device(Option<String>),
    /// A WAV file played in real time, then silence.
    Wav(PathBuf),
    /// Digital silence.
    Silence,
}

/// Where the remote party's audio goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioOut {
    /// A playback device (`None` = the default output).
    Device(Option<String>),
    /// A WAV file (48 kHz mono float), written in real time.
    Wav(PathBuf),
    /// Nowhere.
    Discard,
}

/// What the audio threads report to the call engine.
#[derive(Debug)]
pub enum AudioEvent {
    /// One encoded 20 ms Opus packet of the agent's audio (silence while muted/held).
    Encoded(Vec<u8>),
    /// Microphone meter (what is being sent: silent while muted), ≤ 20 per second.
    MicLevel(MeterReading),
    /// Remote meter (what is being played), ≤ 20 per second.
    RemoteLevel(MeterReading),
    /// A device failed mid-call; the call goes on without it.
    DeviceError {
        /// `input` or `output`.
        side: &'static str,
        /// Stable code from [`AudioError::code`].
        code: &'static str,
        /// Human-readable detail.
        message: String,
    },
}

/// Shared switches between the engine and the audio threads.
#[derive(Debug, Default)]
pub struct AudioFlags {
    /// Stop both threads.
    pub stop: AtomicBool,
    /// Send silence instead of the microphone.
    pub muted: AtomicBool,
    /// Send silence and play nothing.
    pub held: AtomicBool,
}

/// Encoder settings for the sent stream.
#[derive(Debug, Clone, Copy)]
pub struct EncoderSettings {
    /// Target bitrate, bit/s (default 40 000; ≥ 24 000 so in-band FEC has room,
    /// DESIGN.md).
    pub bitrate_bps: i32,
    /// Expected loss % told to libopus (how much FEC it spends).
    pub expected_loss_pct: i32,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self {
            bitrate_bps: 40_000,
            expected_loss_pct: 20,
        }
    }
}

/// Running audio threads of one call.
pub struct AudioThreads {
    /// Shared switches.
    pub flags: Arc<AudioFlags>,
    capture: Option<JoinHandle<()>>,
    playout: Option<JoinHandle<Result<Option<RecordingSummary>, String>>>,
}

/// Recording request.
#[derive(Debug, Clone)]
pub struct RecordSpec {
    /// Final path of the `.opus` file.
    pub path: PathBuf,
    /// Tags.
    pub meta: RecordingMeta,
    /// Encoder settings (bitrate per channel …).
    pub config: RecorderConfig,
}

struct Pacer {
    next: Instant,
}

impl Pacer {
    fn new() -> Self {
        Self {
            next: Instant::now(),
        }
    }
    fn wait(&mut self) {
        self.next += Duration::from_millis(20);
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        } else if now - self.next > Duration::from_millis(200) {
            // Fell far behind (a stalled machine): resynchronise instead of bursting.
            self.next = now;
        }
    }
}

fn open_source(spec: &AudioIn) -> Result<(Box<dyn AudioSource>, bool), AudioError> {
    Ok(match spec {
        AudioIn::Device(name) => (Box::new(CpalSource::open(name.as_deref())?), true),
        AudioIn::Wav(p) => (Box::new(WavSource::open(p)?), false),
        AudioIn::Silence => (Box::new(NullSource::new(false, None)), false),
    })
}

fn open_sink(spec: &AudioOut) -> Result<(Box<dyn AudioSink>, bool), AudioError> {
    Ok(match spec {
        AudioOut::Device(name) => (Box::new(CpalSink::open(name.as_deref())?), true),
        AudioOut::Wav(p) => (Box::new(WavSink::create(p)?), false),
        AudioOut::Discard => (Box::new(NullSink::default()), false),
    })
}

impl AudioThreads {
    /// Opens the devices and starts both threads. Errors when a device or file cannot
    /// be opened (nothing is left running then) or the recording cannot be created.
    pub fn start(
        input: AudioIn,
        output: AudioOut,
        record: Option<RecordSpec>,
        encoder: EncoderSettings,
        jitter: Arc<Mutex<JitterBuffer>>,
        events: tokio::sync::mpsc::Sender<AudioEvent>,
    ) -> Result<Self, String> {
        let flags = Arc::new(AudioFlags::default());
        // The recorder lives with the playout thread; captured frames reach it here.
        let (tap_tx, tap_rx) = mpsc::sync_channel::<Frame>(64);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();

        let f = flags.clone();
        let ev = events.clone();
        let ready = ready_tx.clone();
        let capture = std::thread::Builder::new()
            .name("call-capture".into())
            .spawn(move || capture_thread(input, encoder, f, ev, tap_tx, ready))
            .map_err(|e| e.to_string())?;
        let f = flags.clone();
        let playout = std::thread::Builder::new()
            .name("call-playout".into())
            .spawn(move || playout_thread(output, record, jitter, f, events, tap_rx, ready_tx))
            .map_err(|e| e.to_string())?;
        let mut threads = Self {
            flags,
            capture: Some(capture),
            playout: Some(playout),
        };
        for _ in 0..2 {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let _ = threads.stop();
                    return Err(e);
                }
                Err(_) => {
                    let _ = threads.stop();
                    return Err("audio thread exited during start".into());
                }
            }
        }
        Ok(threads)
    }

    /// Stops both threads, releases the devices and finishes the recording.
    pub fn stop(&mut self) -> Result<Option<RecordingSummary>, String> {
        self.flags.stop.store(true, Ordering::SeqCst);
        if let Some(c) = self.capture.take() {
            let _ = c.join();
        }
        match self.playout.take() {
            Some(p) => p
                .join()
                .map_err(|_| "playout thread panicked".to_string())?,
            None => Ok(None),
        }
    }
}

impl Drop for AudioThreads {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn device_error(side: &'static str, e: &AudioError) -> AudioEvent {
    AudioEvent::DeviceError {
        side,
        code: e.code(),
        message: e.to_string(),
    }
}

fn capture_thread(
    input: AudioIn,
    settings: EncoderSettings,
    flags: Arc<AudioFlags>,
    events: tokio::sync::mpsc::Sender<AudioEvent>,
    tap: mpsc::SyncSender<Frame>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let setup = || -> Result<_, String> {
        let (src, live) = open_source(&input).map_err(|e| format!("{}: {e}", e.code()))?;
        let mut enc = opus::Encoder::new(48_000, Channels::Mono, Application::Voip)
            .map_err(|e| format!("opus encoder: {e}"))?;
        let mut cfg = || -> Result<(), opus::Error> {
            enc.set_bitrate(Bitrate::Bits(settings.bitrate_bps))?;
            enc.set_inband_fec(true)?;
            enc.set_packet_loss_perc(settings.expected_loss_pct)?;
            Ok(())
        };
        cfg().map_err(|e| format!("opus encoder settings: {e}"))?;
        Ok((src, live, enc))
    };
    let (mut src, live, mut enc) = match setup() {
        Ok(v) => {
            let _ = ready.send(Ok(()));
            v
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let realtime = promote_to_realtime();
    tracing::debug!(?realtime, "capture thread scheduling");
    let mut pacer = (!live).then(Pacer::new);
    let mut meter = LevelMeter::new(Default::default());
    let mut frame: Frame = [0.0; FRAME_SAMPLES];
    let silence: Frame = [0.0; FRAME_SAMPLES];
    let mut packet = vec![0u8; 1500];
    let mut source_ok = true;
    while !flags.stop.load(Ordering::Relaxed) {
        if source_ok {
            match src.read_frame(&mut frame) {
                Ok(0) => {
                    // End of a file: carry on with silence so the call stays up.
                    frame = silence;
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = events.blocking_send(device_error("input", &e));
                    source_ok = false;
                    frame = silence;
                    // A vanished microphone keeps the call up, paced by the timer.
                    pacer.get_or_insert_with(Pacer::new);
                }
            }
        }
        if let Some(p) = pacer.as_mut() {
            p.wait();
        }
        let quiet = flags.muted.load(Ordering::Relaxed) || flags.held.load(Ordering::Relaxed);
        let sent: &Frame = if quiet || !source_ok {
            &silence
        } else {
            &frame
        };
        if let Some(r) = meter.process(sent) {
            let _ = events.try_send(AudioEvent::MicLevel(r));
        }
        let _ = tap.try_send(*sent);
        match enc.encode_float(sent, &mut packet) {
            Ok(n) => {
                if events
                    .try_send(AudioEvent::Encoded(packet[..n].to_vec()))
                    .is_err()
                    && events.is_closed()
                {
                    break;
                }
            }
            Err(e) => tracing::warn!("opus encode failed: {e}"),
        }
    }
}

fn playout_thread(
    output: AudioOut,
    record: Option<RecordSpec>,
    jitter: Arc<Mutex<JitterBuffer>>,
    flags: Arc<AudioFlags>,
    events: tokio::sync::mpsc::Sender<AudioEvent>,
    tap: mpsc::Receiver<Frame>,
    ready: mpsc::Sender<Result<(), String>>,
) -> Result<Option<RecordingSummary>, String> {
    let setup = || -> Result<_, String> {
        let (sink, live) = open_sink(&output).map_err(|e| format!("{}: {e}", e.code()))?;
        let dec =
            opus::Decoder::new(48_000, Channels::Mono).map_err(|e| format!("opus decoder: {e}"))?;
        let rec = match &record {
            Some(r) => Some(
                DualTrackRecorder::create(&r.path, &r.meta, &r.config)
                    .map_err(|e| format!("{}: {e}", e.code()))?,
            ),
            None => None,
        };
        Ok((sink, live, dec, rec))
    };
    let (mut sink, live, mut dec, rec) = match setup() {
        Ok(v) => {
            let _ = ready.send(Ok(()));
            v
        }
        Err(e) => {
            let _ = ready.send(Err(e.clone()));
            return Err(e);
        }
    };
    let recorder = match rec.map(RecorderThread::start).transpose() {
        Ok(r) => r,
        Err(e) => return Err(format!("recorder thread: {e}")),
    };
    let realtime = promote_to_realtime();
    tracing::debug!(?realtime, "playout thread scheduling");
    // Playout runs on its own 20 ms clock even for a live device: a device that paced
    // us by blocking would first pull frames as fast as its ring buffer fills (120 ms),
    // draining the jitter buffer into concealment at the start of every call. Three
    // frames of silence up front (60 ms) are the device's margin against a late wake-up
    // of this thread. A device that then pulls less than real time blocks the write.
    let mut pacer = Pacer::new();
    let mut meter = LevelMeter::new(Default::default());
    let mut out: Frame = [0.0; FRAME_SAMPLES];
    if live {
        for _ in 0..3 {
            let _ = sink.write_frame(&[0.0; FRAME_SAMPLES]);
        }
    }
    let silence: Frame = [0.0; FRAME_SAMPLES];
    let mut sink_ok = true;
    let mut decoding = false;
    let mut captured = std::collections::VecDeque::<Frame>::with_capacity(32);
    let pop = || jitter.lock().map(|mut j| j.pop()).unwrap_or(Playout::Idle);
    while !flags.stop.load(Ordering::Relaxed) {
        let mut slot = pop();
        let mut decoded = decode_slot(&mut dec, &slot, decoding, &mut out);
        // A pause while the buffer is deeper than needed: drop it (decoded all the same,
        // so the decoder's state follows the stream) and play the next slot instead.
        if matches!(slot, Playout::Packet(_))
            && matches!(decoded, Ok(FRAME_SAMPLES))
            && rms_dbfs(&out) < QUIET_DBFS
            && jitter.lock().is_ok_and(|mut j| j.shrink_at_quiet_frame())
        {
            slot = pop();
            decoded = decode_slot(&mut dec, &slot, true, &mut out);
        }
        decoding = !matches!(slot, Playout::Idle);
        match decoded {
            Ok(n) if n == FRAME_SAMPLES => {}
            Ok(n) => {
                // A peer sending 10/40/60 ms frames: keep what fits, pad with silence.
                out[n.min(FRAME_SAMPLES)..].fill(0.0);
            }
            Err(e) => {
                tracing::debug!("opus decode: {e}");
                out = silence;
            }
        }
        if flags.held.load(Ordering::Relaxed) {
            out = silence;
        }
        if let Some(r) = meter.process(&out) {
            let _ = events.try_send(AudioEvent::RemoteLevel(r));
        }
        if sink_ok {
            if let Err(e) = sink.write_frame(&out) {
                let _ = events.blocking_send(device_error("output", &e));
                sink_ok = false;
            }
        }
        pacer.wait();
        // One captured frame per played frame. A capture thread that was descheduled
        // hands over a burst; the two clocks also drift a little. Past 500 ms of
        // backlog, drop the oldest so the tracks stay aligned.
        while let Ok(f) = tap.try_recv() {
            captured.push_back(f);
        }
        while captured.len() > 25 {
            captured.pop_front();
        }
        let left = captured.pop_front();
        if let Some(r) = recorder.as_ref() {
            r.push(left.unwrap_or(silence), out);
        }
    }
    if sink_ok {
        let _ = sink.finish();
    }
    drop(sink);
    match recorder {
        Some(r) => r.finish().map(Some),
        None => Ok(None),
    }
}

/// Decodes what the jitter buffer gave for one slot into `out`: the packet, the next
/// packet's in-band FEC, or packet loss concealment (silence before the first packet,
/// `decoding` false, and while idle). Returns the samples written, as libopus does.
fn decode_slot(
    dec: &mut opus::Decoder,
    slot: &Playout,
    decoding: bool,
    out: &mut Frame,
) -> Result<usize, opus::Error> {
    match slot {
        Playout::Packet(p) => dec.decode_float(p, out, false),
        Playout::Fec(next) => dec.decode_float(next, out, true),
        Playout::Conceal if decoding => dec.decode_float(&[], out, false),
        Playout::Conceal | Playout::Idle => {
            out.fill(0.0);
            Ok(FRAME_SAMPLES)
        }
    }
}

/// The dual-track recorder on its own thread. Encoding two Opus streams and, above all,
/// the recorder's periodic `fdatasync` can block for a long time on a busy disk; on the
/// playout thread that stalled the speaker. The channel is unbounded so a stalled disk
/// costs memory (384 KB per second of stall), never audio.
struct RecorderThread {
    tx: mpsc::Sender<(Frame, Frame)>,
    handle: JoinHandle<Result<RecordingSummary, String>>,
}

impl RecorderThread {
    fn start(mut rec: DualTrackRecorder) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<(Frame, Frame)>();
        let handle = std::thread::Builder::new()
            .name("call-recorder".into())
            .spawn(move || {
                let mut error = None;
                for (left, right) in rx {
                    if error.is_some() {
                        continue;
                    }
                    if let Err(e) = rec.push(&left, Some(&right)) {
                        tracing::error!("recording stopped: {e}");
                        error = Some(e.to_string());
                    }
                }
                if let Some(e) = error {
                    return Err(format!("recording failed: {e}"));
                }
                rec.finish().map_err(|e| e.to_string())
            })?;
        Ok(Self { tx, handle })
    }

    /// Queues one stereo frame: the agent (left) and the remote party (right).
    fn push(&self, left: Frame, right: Frame) {
        let _ = self.tx.send((left, right));
    }

    /// Waits for the queue to be written and finishes the file.
    fn finish(self) -> Result<RecordingSummary, String> {
        drop(self.tx);
        self.handle
            .join()
            .map_err(|_| "recorder thread panicked".to_string())?
    }
}

/// Decoded frames quieter than this (RMS, dBFS) are a pause in speech.
const QUIET_DBFS: f32 = -45.0;

/// RMS level of a frame, dBFS.
fn rms_dbfs(frame: &Frame) -> f32 {
    let ms = frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32;
    softphone_audio::amplitude_to_dbfs(ms.sqrt())
}

/// How an audio thread ended up scheduled, see [`promote_to_realtime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioScheduling {
    /// A real-time class (SCHED_FIFO on Linux; time-critical on Windows).
    Realtime,
    /// Not real-time, but a raised priority.
    Raised,
    /// Neither was allowed (no CAP_SYS_NICE or RLIMIT_RTPRIO): normal scheduling.
    Default,
}

/// Gives the calling audio thread a real-time priority where the OS allows it, so a
/// busy machine (a build, a browser, other calls) does not delay a 20 ms audio frame.
/// Both call threads do almost nothing per frame (~1 ms of Opus), so real-time
/// scheduling cannot starve the machine. Never fails: it reports what it got.
pub fn promote_to_realtime() -> AudioScheduling {
    use thread_priority::*;
    #[cfg(unix)]
    {
        let prio = ThreadPriorityValue::try_from(10u8)
            .map(ThreadPriority::Crossplatform)
            .unwrap_or(ThreadPriority::Min);
        let fifo = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo);
        if set_thread_priority_and_policy(thread_native_id(), prio, fifo).is_ok() {
            return AudioScheduling::Realtime;
        }
    }
    if set_current_thread_priority(ThreadPriority::Max).is_ok() {
        return AudioScheduling::Raised;
    }
    AudioScheduling::Default
}
