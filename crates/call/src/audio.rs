//! The call's audio threads: capture → Opus encoder, and jitter buffer → Opus decoder →
//! playback, with the dual-track recorder tapping both directions.
//!
//! Devices are opened inside their threads (cpal streams are not `Send` everywhere).
//! A live microphone paces capture at its clock; files and silence are paced by a
//! 20 ms timer so a WAV file plays in real time, like a microphone. A live speaker
//! paces playout, which keeps only a small, adaptive margin queued ahead of it
//! ([`PlayoutMargin`]); files and null sinks run on the timer.

use crate::jitter::{JitterBuffer, Playout};
use opus::{Application, Bitrate, Channels};
use softphone_audio::{
    AudioError, AudioSink, AudioSource, CpalSink, CpalSource, Frame, LevelMeter, MeterReading,
    NullSink, NullSource, WavSink, WavSource, FRAME_SAMPLES, SAMPLE_RATE,
};
use softphone_recorder::{
    DualTrackRecorder, RecorderConfig, RecordingMeta, RecordingSummary, TrackFrame,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
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

/// One encoded 20 ms Opus packet of the agent's audio (silence while muted/held).
///
/// Encoded frames travel on their own bounded channel ([`ENCODED_QUEUE_FRAMES`]), so
/// meter events never crowd them out. When the engine falls that far behind, the
/// capture thread drops the newest frame; `index` keeps the gap, and the engine keeps
/// it in the RTP timestamp, so the peer conceals it as loss instead of splicing the
/// speech on either side of it together.
#[derive(Debug)]
pub struct EncodedFrame {
    /// Frame number since capture started (one per 20 ms, from 1).
    pub index: u64,
    /// The Opus packet (RFC 7587 RTP payload).
    pub opus: Vec<u8>,
}

/// Encoded frames the engine may fall behind by before the capture thread drops
/// frames (100 × 20 ms = 2 s; older speech is no use to a live call).
pub const ENCODED_QUEUE_FRAMES: usize = 100;

/// Where the audio threads send what they produce.
#[derive(Debug, Clone)]
pub struct AudioSenders {
    /// Meter readings and device errors.
    pub events: tokio::sync::mpsc::Sender<AudioEvent>,
    /// The encoded microphone frames (a channel [`ENCODED_QUEUE_FRAMES`] deep).
    pub encoded: tokio::sync::mpsc::Sender<EncodedFrame>,
}

/// What the audio threads report to the call engine.
#[derive(Debug)]
pub enum AudioEvent {
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
    /// Expected loss % told to the encoder (see [`FecProtection`]); the capture thread
    /// applies a change before its next frame.
    pub expected_loss_pct: AtomicI32,
}

/// Encoder settings for the sent stream.
#[derive(Debug, Clone, Copy)]
pub struct EncoderSettings {
    /// Target bitrate, bit/s (default 40 000; ≥ 24 000 so in-band FEC has room,
    /// DESIGN.md).
    pub bitrate_bps: i32,
    /// Expected loss % told to libopus (how much of the bitrate goes to in-band FEC)
    /// while the peer reports loss; 0 on a clean network ([`FecProtection`]); at most
    /// [`FecProtection::RED_PCT`] when the peer takes RFC 2198 copies.
    pub expected_loss_pct: i32,
    /// Previous frames each packet repeats when the peer accepts RFC 2198 redundancy
    /// (`red/48000/2`); 0 sends plain Opus. Default [`crate::red::RED_DISTANCE`].
    pub red_distance: usize,
    /// libopus complexity, 0-10 (default [`SEND_COMPLEXITY`]).
    pub complexity: i32,
}

/// The send encoder's libopus complexity: 9, libopus's own default and what Chromium
/// uses on desktops. 6 (the recorder's live setting) skips the tonality analysis and
/// part of SILK's search; it cut the caller's CPU by 4 % in one run of
/// `ALT_COMPLEXITY=6 DEVICES=1 benches/calls-vs-baresip.sh 3 20` (14.56 -> 14.00 % of a
/// core, within this machine's noise; docs/benchmarks.md), too little to risk the call's
/// sound for. `SOFTPHONE_OPUS_COMPLEXITY` (0-10) overrides it, read by
/// [`EncoderSettings::default`], so a benchmark can compare both in one run.
pub const SEND_COMPLEXITY: i32 = 9;

impl Default for EncoderSettings {
    fn default() -> Self {
        Self {
            bitrate_bps: 40_000,
            expected_loss_pct: 20,
            red_distance: crate::red::RED_DISTANCE,
            complexity: std::env::var("SOFTPHONE_OPUS_COMPLEXITY")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|c| (0..=10).contains(c))
                .unwrap_or(SEND_COMPLEXITY),
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

const _: () = assert!(crate::jitter::FRAME_SAMPLES == FRAME_SAMPLES);

struct Pacer {
    next: Instant,
}

impl Pacer {
    fn new() -> Self {
        Self {
            next: Instant::now(),
        }
    }
    /// Waits until `samples` (48 kHz) after the previous wait.
    fn wait(&mut self, samples: usize) {
        self.next += Duration::from_micros(samples as u64 * 1_000_000 / u64::from(SAMPLE_RATE));
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
    /// Opens the devices and starts both threads. `epoch` is the clock of the arrival
    /// times pushed into `jitter` (ms since `epoch`). Errors when a device or file cannot
    /// be opened (nothing is left running then) or the recording cannot be created.
    pub fn start(
        input: AudioIn,
        output: AudioOut,
        record: Option<RecordSpec>,
        encoder: EncoderSettings,
        jitter: Arc<Mutex<JitterBuffer>>,
        epoch: Instant,
        senders: AudioSenders,
    ) -> Result<Self, String> {
        let events = senders.events.clone();
        let flags = Arc::new(AudioFlags::default());
        flags
            .expected_loss_pct
            .store(encoder.expected_loss_pct, Ordering::Relaxed);
        // The recorder lives with the playout thread; captured frames reach it here.
        // Room for a playout thread stalled until its speaker is declared stalled
        // (STALL_TIMEOUT, 2 s): the agent's audio must not be lost meanwhile.
        let (tap_tx, tap_rx) = mpsc::sync_channel::<TrackFrame>(TAP_FRAMES);
        let tap_tx = record.is_some().then_some(tap_tx);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();

        let f = flags.clone();
        let ready = ready_tx.clone();
        let capture = std::thread::Builder::new()
            .name("call-capture".into())
            .spawn(move || capture_thread(input, encoder, f, senders, tap_tx, ready))
            .map_err(|e| e.to_string())?;
        let f = flags.clone();
        let playout = std::thread::Builder::new()
            .name("call-playout".into())
            .spawn(move || {
                playout_thread(output, record, (jitter, epoch), f, events, tap_rx, ready_tx)
            })
            .map_err(|e| e.to_string())?;
        let opening = Instant::now();
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
        tracing::debug!(
            ms = opening.elapsed().as_millis() as u64,
            "audio devices opened"
        );
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
    AudioSenders { events, encoded }: AudioSenders,
    tap: Option<mpsc::SyncSender<TrackFrame>>,
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
            enc.set_complexity(settings.complexity)?;
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
    let mut loss_pct = settings.expected_loss_pct;
    let mut frames = 0u64;
    while !flags.stop.load(Ordering::Relaxed) {
        frames += 1;
        if live && traced(frames) {
            tracing::debug!(
                frames,
                device_latency_ms = src.device_latency_ms(),
                queued_ms = src.queued_ms(),
                clock = ?src.capture_clock(),
                "capture"
            );
        }
        let want = flags.expected_loss_pct.load(Ordering::Relaxed);
        if want != loss_pct && enc.set_packet_loss_perc(want).is_ok() {
            loss_pct = want;
        }
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
            p.wait(FRAME_SAMPLES);
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
        match enc.encode_float(sent, &mut packet) {
            Ok(n) => {
                let opus = packet[..n].to_vec();
                // The recording's left track is the very packet sent (ADR 0014).
                if let Some(tap) = &tap {
                    let _ = tap.try_send(TrackFrame::Opus(opus.clone()));
                }
                let f = EncodedFrame {
                    index: frames,
                    opus,
                };
                if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) = encoded.try_send(f)
                {
                    break;
                }
            }
            Err(e) => {
                if let Some(tap) = &tap {
                    let _ = tap.try_send(TrackFrame::Pcm(Box::new(*sent)));
                }
                tracing::warn!("opus encode failed: {e}");
            }
        }
    }
}

fn playout_thread(
    output: AudioOut,
    record: Option<RecordSpec>,
    (jitter, epoch): (Arc<Mutex<JitterBuffer>>, Instant),
    flags: Arc<AudioFlags>,
    events: tokio::sync::mpsc::Sender<AudioEvent>,
    tap: mpsc::Receiver<TrackFrame>,
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
    let mut recorder = match rec.map(RecorderThread::start).transpose() {
        Ok(r) => r,
        Err(e) => return Err(format!("recorder thread: {e}")),
    };
    let realtime = promote_to_realtime();
    tracing::debug!(?realtime, "playout thread scheduling");
    // A live speaker paces playout: the next slot is taken from the jitter buffer only
    // when the device has drained its queue to the playout margin, so a frame waits in
    // the jitter buffer (where it can still be reordered, recovered or dropped at a
    // pause), never in a device queue. Files and null sinks run on a 20 ms timer.
    let mut pacer = (!live).then(Pacer::new);
    let mut margin = PlayoutMargin::new();
    let started = Instant::now();
    let mut meter = LevelMeter::new(Default::default());
    let mut out: Frame = [0.0; FRAME_SAMPLES];
    let silence: Frame = [0.0; FRAME_SAMPLES];
    let mut sink_ok = true;
    let mut decoding = false;
    let mut pairing = TrackPairing::new(TrackFrame::Silence);
    let mut slots = 0u64;
    let pop = || {
        let now_ms = epoch.elapsed().as_secs_f64() * 1000.0;
        jitter
            .lock()
            .map(|mut j| j.pop(now_ms))
            .unwrap_or(Playout::Idle)
    };
    while !flags.stop.load(Ordering::Relaxed) {
        if live && sink_ok {
            let now_ms = started.elapsed().as_secs_f64() * 1000.0;
            let target = margin.update(sink.underruns(), now_ms);
            if let Err(e) = sink.wait_queued_below(target) {
                let _ = events.blocking_send(device_error("output", &e));
                sink_ok = false;
                pacer = Some(Pacer::new());
            }
            slots += 1;
            if traced(slots) {
                let (depth, jb_target, spread, (sum, n), counters, safety) = jitter
                    .lock()
                    .map(|j| {
                        (
                            j.depth(),
                            j.target_frames(),
                            j.spread_p95_ms(),
                            j.delay_totals(),
                            j.counters().clone(),
                            j.safety_ms(),
                        )
                    })
                    .unwrap_or_default();
                tracing::debug!(
                    slots,
                    elapsed_ms = now_ms as u64,
                    margin_ms = target,
                    device_latency_ms = sink.device_latency_ms(),
                    underruns = sink.underruns(),
                    jitter_depth = depth,
                    jitter_target = jb_target,
                    spread_p95_ms = spread,
                    jitter_buffer_mean_ms = sum / n.max(1) as f64,
                    ?counters,
                    safety_ms = safety,
                    "playout"
                );
            }
        }
        let mut slot = pop();
        let mut was_decoding = decoding;
        let mut decoded = decode_slot(&mut dec, &slot, decoding, &mut out);
        // A pause while playout is later than it needs to be: leave out part of it, or
        // all of it (decoded all the same, so the decoder's state follows the stream)
        // and play the next slot instead.
        let mut trim = 0;
        if matches!(slot, Playout::Packet(_))
            && matches!(decoded, Ok(FRAME_SAMPLES))
            && rms_dbfs(&out) < QUIET_DBFS
        {
            trim = jitter.lock().map_or(0, |mut j| j.trim_at_quiet_frame());
            if trim >= FRAME_SAMPLES {
                trim = 0;
                slot = pop();
                was_decoding = true;
                decoded = decode_slot(&mut dec, &slot, true, &mut out);
            }
        }
        decoding = !matches!(slot, Playout::Idle);
        match decoded {
            Ok(n) if n == FRAME_SAMPLES => {}
            Ok(n) => {
                // A peer sending 10/40/60 ms frames: keep what fits, pad with silence.
                out[n.min(FRAME_SAMPLES)..].fill(0.0);
            }
            Err(ref e) => {
                tracing::debug!("opus decode: {e}");
                out = silence;
            }
        }
        let held = flags.held.load(Ordering::Relaxed);
        if held {
            out = silence;
        }
        if let Some(r) = meter.process(&out) {
            let _ = events.try_send(AudioEvent::RemoteLevel(r));
        }
        if sink_ok {
            if let Err(e) = sink.write(&out[..FRAME_SAMPLES - trim]) {
                let _ = events.blocking_send(device_error("output", &e));
                sink_ok = false;
                // A vanished speaker keeps the call (and its recording) going on the timer.
                pacer.get_or_insert_with(Pacer::new);
            }
        }
        if let Some(p) = pacer.as_mut() {
            p.wait(FRAME_SAMPLES - trim);
        }
        if let Some(r) = recorder.as_mut() {
            while let Ok(f) = tap.try_recv() {
                pairing.captured(f);
            }
            let heard = heard_track(slot, &decoded, was_decoding, held, &out);
            pairing.played(heard, |left, right| r.push(left, right));
        }
    }
    if sink_ok {
        let _ = sink.finish();
    }
    drop(sink);
    if let Some(r) = recorder.as_mut() {
        while let Ok(f) = tap.try_recv() {
            pairing.captured(f);
        }
        pairing.finish(|left, right| r.push(left, right));
    }
    match recorder {
        Some(r) => r.finish().map(Some),
        None => Ok(None),
    }
}

/// How much of the send bitrate goes to Opus in-band FEC (RFC 7587 §3.3), from the
/// peer's RTCP receiver reports about our stream (fraction lost, RFC 3550 §6.4.1).
/// I/O-free; fed each report's fraction lost and a clock.
///
/// FEC costs clean-network quality: telling libopus 20 % expected loss on a clean
/// path measured WB-PESQ 4.21-4.28 against 4.42 at 0 % (calls test, trimming off).
/// So a call starts protected ([`EncoderSettings::expected_loss_pct`]), since no
/// report comes in its first second, and the encoder is told 0 % once reports have
/// shown no loss for [`Self::CALM_MS`]; the first report with loss protects again.
/// (Starting at 0 % and protecting on the first lossy report measured WB-PESQ 3.63
/// and 3.82 at 5 % loss against 3.83-4.05 protected from the start; with RFC 2198
/// copies it is the better choice, [`Self::with_redundancy`].)
#[derive(Debug, Clone)]
pub struct FecProtection {
    configured_pct: i32,
    last_loss_ms: Option<f64>,
}

impl FecProtection {
    /// Time without reported loss after which FEC is switched off, ms.
    pub const CALM_MS: f64 = 10_000.0;

    /// Protection for an encoder configured with `configured_pct` expected loss, for a
    /// call whose clock starts at 0 ms: protected until reports show a calm path.
    pub fn new(configured_pct: i32) -> Self {
        Self {
            configured_pct,
            last_loss_ms: Some(0.0),
        }
    }

    /// Expected loss % told to the encoder on a lossy path when the peer also gets
    /// RFC 2198 copies ([`Self::with_redundancy`]).
    pub const RED_PCT: i32 = 5;

    /// Protection when each packet also carries a copy of the frame before it (RFC
    /// 2198, ADR 0013): the copy brings a single lost frame back at full quality, so
    /// in-band FEC is left only the copy's own loss (two in a row). The encoder keeps
    /// its configured value until the first report, is told 0 % from a report without
    /// loss and [`Self::RED_PCT`] after one with loss. Calls test, one run each (WB-PESQ
    /// at 0 / 5 / 10 % loss): 20 % from the start 4.24 / 4.05 / 4.22; this 4.45 / 4.14 /
    /// 4.28.
    pub fn with_redundancy(&mut self) {
        self.configured_pct = self.configured_pct.min(Self::RED_PCT);
        self.last_loss_ms = None;
    }

    /// A receiver report about our stream at `now_ms` with `fraction_lost` (in 1/256):
    /// the expected loss % to tell the encoder.
    pub fn on_report(&mut self, fraction_lost: u8, now_ms: f64) -> i32 {
        if fraction_lost > 0 {
            self.last_loss_ms = Some(now_ms);
        }
        match self.last_loss_ms {
            Some(t) if now_ms - t < Self::CALM_MS => self.configured_pct,
            _ => 0,
        }
    }
}

/// How much audio the playout thread keeps queued ahead of a live speaker, ms: the
/// room the device has against a late wake-up of the playout thread. Every ms of it is
/// a ms of mouth-to-ear delay, so it starts small and grows only when the device
/// actually ran dry. I/O-free; fed the sink's underrun counter and a clock.
#[derive(Debug, Clone)]
pub struct PlayoutMargin {
    ms: f64,
    underruns: u64,
    calm_since_ms: f64,
}

impl PlayoutMargin {
    /// Smallest margin, ms. The device takes one ~10 ms period at a time; 20 ms leaves
    /// the playout thread a whole period to write the next frame after one is taken.
    pub const MIN_MS: f64 = 20.0;
    /// Largest margin, ms (the device ring holds 120 ms; a frame must still fit).
    pub const MAX_MS: f64 = 100.0;
    /// Added after each underrun, ms.
    pub const STEP_MS: f64 = 10.0;
    /// Underrun-free time after which the margin steps back down, ms.
    pub const CALM_MS: f64 = 20_000.0;

    /// A margin of [`Self::MIN_MS`].
    pub fn new() -> Self {
        Self {
            ms: Self::MIN_MS,
            underruns: 0,
            calm_since_ms: 0.0,
        }
    }

    /// The margin to keep now, given the sink's underrun counter (samples, only ever
    /// growing) and a monotonic clock in ms.
    pub fn update(&mut self, underruns: u64, now_ms: f64) -> f64 {
        if underruns > self.underruns {
            self.underruns = underruns;
            self.ms = (self.ms + Self::STEP_MS).min(Self::MAX_MS);
            self.calm_since_ms = now_ms;
        } else if now_ms - self.calm_since_ms >= Self::CALM_MS {
            self.ms = (self.ms - Self::STEP_MS).max(Self::MIN_MS);
            self.calm_since_ms = now_ms;
        }
        self.ms
    }
}

impl Default for PlayoutMargin {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether the audio threads trace their state at this frame count: each second for
/// the first five (where start-up trouble shows), then every five seconds.
fn traced(frames: u64) -> bool {
    if frames <= 250 {
        frames.is_multiple_of(50)
    } else {
        frames.is_multiple_of(250)
    }
}

/// Captured frames the playout thread can fall behind by before the capture thread
/// drops any (3 s, above the 2 s after which a speaker is declared stalled).
const TAP_FRAMES: usize = 150;

/// Pairs the agent's captured frames (left track) with the frames played to the
/// agent (right track) for the dual-track recorder. I/O-free.
///
/// The playout thread drives the recording, one stereo frame per played slot, so the
/// speaker's clock sets the pace. When the speaker runs slow or stalls, captured
/// frames pile up; they are never dropped (the agent's voice is the half of the
/// recording that matters most). Instead, a captured frame with nothing played
/// beside it gets silence on the right, which is what the agent heard meanwhile:
/// - at once, for everything beyond [`Self::MAX_BACKLOG`];
/// - one frame per [`Self::WINDOW_SLOTS`] while the backlog never fell to
///   [`Self::SLACK_FRAMES`] during that window (a smaller stall, or a capture clock a
///   little faster than the speaker's), so the tracks come back into line.
///
/// A capture thread that hands over a burst after a late wake-up is drained by the
/// next slots, so short bursts add no silence. When capture runs slow, a played slot
/// with no captured frame gets silence on the left.
#[derive(Debug)]
struct TrackPairing<T> {
    captured: std::collections::VecDeque<T>,
    silence: T,
    slots: u32,
    min_backlog: usize,
}

impl<T: Clone> TrackPairing<T> {
    /// Captured frames kept waiting for a played slot (500 ms) before the excess is
    /// paired with silence.
    const MAX_BACKLOG: usize = 25;
    /// Played slots over which the smallest backlog is watched (1 s).
    const WINDOW_SLOTS: u32 = 50;
    /// A backlog that stays above this through a window is a lag, not a burst.
    const SLACK_FRAMES: usize = 2;

    /// A pairing that records `silence` beside a frame with no partner.
    fn new(silence: T) -> Self {
        Self {
            captured: std::collections::VecDeque::with_capacity(Self::MAX_BACKLOG + 8),
            silence,
            slots: 0,
            min_backlog: usize::MAX,
        }
    }

    /// One frame from the capture thread, in capture order.
    fn captured(&mut self, frame: T) {
        self.captured.push_back(frame);
    }

    /// One played slot: calls `emit(left, right)` for each stereo frame to record, in
    /// order (once, or more when captured frames had nothing played beside them).
    fn played(&mut self, out: T, mut emit: impl FnMut(T, T)) {
        while self.captured.len() > Self::MAX_BACKLOG {
            if let Some(f) = self.captured.pop_front() {
                emit(f, self.silence.clone());
            }
        }
        self.min_backlog = self.min_backlog.min(self.captured.len());
        self.slots += 1;
        if self.slots == Self::WINDOW_SLOTS {
            if self.min_backlog > Self::SLACK_FRAMES {
                if let Some(f) = self.captured.pop_front() {
                    emit(f, self.silence.clone());
                }
            }
            self.slots = 0;
            self.min_backlog = usize::MAX;
        }
        let left = self
            .captured
            .pop_front()
            .unwrap_or_else(|| self.silence.clone());
        emit(left, out);
    }

    /// The end of the call: what was captured and never played beside anything is
    /// recorded with silence on the right.
    fn finish(mut self, mut emit: impl FnMut(T, T)) {
        while let Some(f) = self.captured.pop_front() {
            emit(f, self.silence.clone());
        }
    }
}

/// The recording's right track for one played slot (ADR 0014): the packet played,
/// as received; a concealed slot as lost, so a player conceals it from the same
/// packets the live decoder had; silence where silence was played (on hold, before
/// the first packet, after a decoder error); the decoded samples otherwise (audio
/// rebuilt from in-band FEC, a peer's 10/40/60 ms packets).
fn heard_track(
    slot: Playout,
    decoded: &Result<usize, opus::Error>,
    was_decoding: bool,
    held: bool,
    out: &Frame,
) -> TrackFrame {
    match (slot, decoded) {
        _ if held => TrackFrame::Silence,
        (_, Err(_)) | (Playout::Idle, _) => TrackFrame::Silence,
        (Playout::Conceal, _) if !was_decoding => TrackFrame::Silence,
        (Playout::Conceal, _) => TrackFrame::Lost,
        (Playout::Packet(p), Ok(FRAME_SAMPLES)) => TrackFrame::Opus(p),
        _ => TrackFrame::Pcm(Box::new(*out)),
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

/// The dual-track recorder on its own thread: its periodic `fdatasync` can block for a
/// long time on a busy disk, and on the playout thread that stalled the speaker. The
/// channel is unbounded so a stalled disk costs memory (packets: ~20 KB per second of
/// stall), never audio. Frames go over in batches of [`RECORDER_BATCH`]: each
/// hand-over wakes the thread, and a wake-up costs more than the copying on a virtual
/// machine (the recorder writes a page only every 500 ms anyway).
struct RecorderThread {
    tx: mpsc::Sender<Vec<(TrackFrame, TrackFrame)>>,
    batch: Vec<(TrackFrame, TrackFrame)>,
    handle: JoinHandle<Result<RecordingSummary, String>>,
}

/// Stereo frames handed to the recorder thread at once (100 ms).
const RECORDER_BATCH: usize = 5;

impl RecorderThread {
    fn start(mut rec: DualTrackRecorder) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Vec<(TrackFrame, TrackFrame)>>();
        let handle = std::thread::Builder::new()
            .name("call-recorder".into())
            .spawn(move || {
                let mut error = None;
                for (left, right) in rx.into_iter().flatten() {
                    if error.is_some() {
                        continue;
                    }
                    if let Err(e) = rec.push_tracks(&left, &right) {
                        tracing::error!("recording stopped: {e}");
                        error = Some(e.to_string());
                    }
                }
                if let Some(e) = error {
                    return Err(format!("recording failed: {e}"));
                }
                rec.finish().map_err(|e| e.to_string())
            })?;
        Ok(Self {
            tx,
            batch: Vec::with_capacity(RECORDER_BATCH),
            handle,
        })
    }

    /// Queues one stereo frame: the agent (left) and the remote party (right).
    fn push(&mut self, left: TrackFrame, right: TrackFrame) {
        self.batch.push((left, right));
        if self.batch.len() >= RECORDER_BATCH {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(RECORDER_BATCH));
            let _ = self.tx.send(full);
        }
    }

    /// Hands over what is queued, waits for it to be written and finishes the file.
    fn finish(self) -> Result<RecordingSummary, String> {
        if !self.batch.is_empty() {
            let _ = self.tx.send(self.batch);
        }
        drop(self.tx);
        self.handle
            .join()
            .map_err(|_| "recorder thread panicked".to_string())?
    }
}

pub use softphone_audio::sched::{promote_to_realtime, AudioScheduling};

/// Decoded frames quieter than this (RMS, dBFS) are a pause in speech.
const QUIET_DBFS: f32 = -45.0;

/// RMS level of a frame, dBFS.
fn rms_dbfs(frame: &Frame) -> f32 {
    let ms = frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32;
    softphone_audio::amplitude_to_dbfs(ms.sqrt())
}

#[cfg(test)]
mod tests {
    use super::{FecProtection, PlayoutMargin, TrackPairing};
    use softphone_audio::{Frame, FRAME_SAMPLES};

    /// A frame that carries its number in every sample (0 is silence).
    fn numbered(n: u32) -> Frame {
        [n as f32; FRAME_SAMPLES]
    }

    /// Runs `script` through a pairing: `c` is one captured frame, `p` one played slot.
    /// Returns the (left, right) frame numbers recorded.
    fn record(script: &str) -> Vec<(u32, u32)> {
        let mut pairing = TrackPairing::new(numbered(0));
        let (mut captured, mut played) = (0, 0);
        let mut out = Vec::new();
        for step in script.chars() {
            match step {
                'c' => {
                    captured += 1;
                    pairing.captured(numbered(captured));
                }
                'p' => {
                    played += 1;
                    pairing.played(numbered(played), |l, r| {
                        out.push((l[0] as u32, r[0] as u32));
                    });
                }
                _ => {}
            }
        }
        pairing.finish(|l, r| out.push((l[0] as u32, r[0] as u32)));
        out
    }

    fn left(rec: &[(u32, u32)]) -> Vec<u32> {
        rec.iter().map(|p| p.0).filter(|&n| n > 0).collect()
    }

    fn right(rec: &[(u32, u32)]) -> Vec<u32> {
        rec.iter().map(|p| p.1).filter(|&n| n > 0).collect()
    }

    #[test]
    fn a_stalled_speaker_costs_the_recording_none_of_the_agents_voice() {
        // 10 s steady, a 1.5 s speaker stall, then 30 s steady.
        let script = "cp".repeat(500) + &"c".repeat(75) + &"cp".repeat(1500);
        let rec = record(&script);
        assert_eq!(
            left(&rec),
            (1..=2075).collect::<Vec<_>>(),
            "every captured frame, in order"
        );
        assert_eq!(
            right(&rec),
            (1..=2000).collect::<Vec<_>>(),
            "every played frame, in order"
        );
        // The stall shows as silence beside the agent's voice, and the tracks are back
        // in line afterwards: the last frames captured and played are recorded together.
        let silent_right = rec.iter().filter(|p| p.1 == 0).count();
        assert_eq!(silent_right, 75);
        let last = rec.iter().rev().find(|p| p.1 > 0).unwrap();
        assert_eq!(last.1, 2000);
        assert!(
            last.0 + TrackPairing::<Frame>::SLACK_FRAMES as u32 >= 2075,
            "the left track lags by at most a few frames: {last:?}"
        );
    }

    #[test]
    fn bursts_from_a_late_capture_thread_add_no_silence() {
        // The capture thread wakes late and hands over 5 frames at once, every 100 ms.
        let script = ("ppppp".to_string() + "ccccc").repeat(600);
        let rec = record(&script);
        assert_eq!(left(&rec), (1..=3000).collect::<Vec<_>>());
        assert_eq!(right(&rec), (1..=3000).collect::<Vec<_>>());
        assert_eq!(
            rec.iter().filter(|p| p.1 == 0).count(),
            5,
            "no silence on the right but beside the last burst, recorded as the call ends"
        );
    }

    #[test]
    fn a_slow_capture_clock_gets_silence_on_the_left() {
        // The microphone delivers 49 frames for every 50 the speaker takes.
        let script = ("cp".repeat(49) + "p").repeat(20);
        let rec = record(&script);
        assert_eq!(left(&rec), (1..=980).collect::<Vec<_>>());
        assert_eq!(right(&rec), (1..=1000).collect::<Vec<_>>());
        assert_eq!(rec.len(), 1000, "one stereo frame per played slot");
    }

    #[test]
    fn a_fast_capture_clock_is_kept_in_line() {
        // The microphone delivers 51 frames for every 50 the speaker takes, for 60 s.
        let script = ("cp".repeat(50) + "c").repeat(60);
        let rec = record(&script);
        assert_eq!(left(&rec).len(), 3060, "nothing captured is lost");
        assert_eq!(right(&rec), (1..=3000).collect::<Vec<_>>());
        let last = rec.iter().rev().find(|p| p.1 > 0).unwrap();
        assert!(
            last.0 + TrackPairing::<Frame>::SLACK_FRAMES as u32 >= 3060,
            "the left track lags by at most a few frames: {last:?}"
        );
    }

    #[test]
    fn fec_is_spent_only_while_the_peer_reports_loss() {
        let mut r = FecProtection::new(20);
        r.with_redundancy();
        assert_eq!(r.on_report(0, 1_000.0), 0);
        assert_eq!(r.on_report(3, 2_000.0), FecProtection::RED_PCT);
        assert_eq!(r.on_report(0, 2_000.0 + FecProtection::CALM_MS), 0);
        let mut p = FecProtection::new(20);
        // Protected from the start, until a calm spell.
        assert_eq!(p.on_report(0, 1_000.0), 20);
        assert_eq!(p.on_report(0, FecProtection::CALM_MS - 1.0), 20);
        assert_eq!(p.on_report(0, FecProtection::CALM_MS), 0);
        // 5 % lost (13/256): protect at once, and through reports without loss.
        assert_eq!(p.on_report(13, 13_000.0), 20);
        assert_eq!(p.on_report(0, 4_000.0), 20);
        assert_eq!(p.on_report(0, 13_000.0 + FecProtection::CALM_MS - 1.0), 20);
        assert_eq!(p.on_report(0, 13_000.0 + FecProtection::CALM_MS), 0);
        assert_eq!(p.on_report(1, 40_000.0), 20);
    }

    #[test]
    fn the_margin_grows_on_underruns_and_shrinks_after_a_calm_spell() {
        let mut m = PlayoutMargin::new();
        assert_eq!(m.update(0, 0.0), PlayoutMargin::MIN_MS);
        // Two underruns a second apart: two steps up.
        assert_eq!(m.update(480, 1_000.0), 30.0);
        assert_eq!(
            m.update(480, 1_500.0),
            30.0,
            "the same count is not a new underrun"
        );
        assert_eq!(m.update(960, 2_000.0), 40.0);
        // Calm: one step down per CALM_MS, counted from the last underrun.
        assert_eq!(m.update(960, 2_000.0 + PlayoutMargin::CALM_MS - 1.0), 40.0);
        assert_eq!(m.update(960, 2_000.0 + PlayoutMargin::CALM_MS), 30.0);
        assert_eq!(m.update(960, 2_000.0 + 2.0 * PlayoutMargin::CALM_MS), 20.0);
        assert_eq!(
            m.update(960, 2_000.0 + 5.0 * PlayoutMargin::CALM_MS),
            PlayoutMargin::MIN_MS,
            "never below the minimum"
        );
    }

    #[test]
    fn the_margin_is_capped_below_the_device_ring() {
        let mut m = PlayoutMargin::new();
        let mut last = 0.0;
        for i in 1..=50u64 {
            last = m.update(i * 100, i as f64 * 100.0);
        }
        assert_eq!(last, PlayoutMargin::MAX_MS);
    }
}
