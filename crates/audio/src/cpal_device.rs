//! Real devices through cpal (PulseAudio host on Linux when a server runs, else ALSA;
//! CoreAudio on macOS; WASAPI on Windows).
//!
//! The data callbacks never block, lock or allocate: capture downmixes to mono and
//! pushes into an [`rtrb`] ring; playback pops from one and fans out to the device's
//! channels. Overruns and underruns are counted with atomics. Resampling to and from
//! 48 kHz happens on the caller's thread in [`CpalSource::read_frame`] /
//! [`CpalSink::write_frame`].

use crate::resample::{Framer, StreamResampler};
use crate::{AudioError, AudioSink, AudioSource, CaptureClock, Frame, SAMPLE_RATE};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long a live device may deliver (or take) nothing before it is declared stalled.
pub const STALL_TIMEOUT: Duration = Duration::from_millis(2000);
/// Device buffer asked for: ~10 ms (cpal's PulseAudio host otherwise defaults to 2 s).
const DEVICE_BUFFER_MS: u32 = 10;
/// Playback ring depth, in ms of audio; bounds the sink's added latency.
const PLAYBACK_RING_MS: u32 = 120;

/// Whether a listed device captures or plays.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceDirection {
    /// A microphone or other capture device.
    Input,
    /// A speaker, headset or other playback device.
    Output,
}

/// One device as listed by `softphone devices` and the device picker.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    /// Stable id (`host:device`, cpal's `DeviceId`) to pass back to open the device.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Capture or playback. A headset appears once per direction.
    pub direction: DeviceDirection,
    /// True for the system default in this direction.
    pub is_default: bool,
    /// Supported sample rates in Hz (common rates inside the supported ranges).
    pub sample_rates: Vec<u32>,
    /// Supported channel counts.
    pub channels: Vec<u16>,
}

/// The cpal host to use: `SOFTPHONE_AUDIO_HOST` (`pulseaudio`, `alsa`, `coreaudio`,
/// `wasapi`, …; cpal's lowercase host names) when set and available, else cpal's
/// default (on Linux: PulseAudio when a server runs, else ALSA).
pub fn host() -> cpal::Host {
    if let Ok(want) = std::env::var("SOFTPHONE_AUDIO_HOST") {
        for id in cpal::available_hosts() {
            if id.name().eq_ignore_ascii_case(&want) {
                if let Ok(h) = cpal::host_from_id(id) {
                    return h;
                }
            }
        }
        tracing::warn!(host = %want, "SOFTPHONE_AUDIO_HOST not available; using the default host");
    }
    cpal::default_host()
}

const COMMON_RATES: [u32; 11] = [
    8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 88_200, 96_000, 192_000,
];

/// Lists input and output devices of the default host.
///
/// Errors: [`AudioError::DeviceOpen`] when the host cannot enumerate devices.
pub fn list_devices() -> Result<Vec<DeviceInfo>, AudioError> {
    let host = host();
    let default_in = host.default_input_device().and_then(|d| d.id().ok());
    let default_out = host.default_output_device().and_then(|d| d.id().ok());
    let devices = host.devices().map_err(|e| AudioError::DeviceOpen {
        device: "(enumeration)".into(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for device in devices {
        let Ok(id) = device.id() else { continue };
        let name = device
            .description()
            .map(|d| d.name().to_string())
            .unwrap_or_else(|_| id.to_string());
        if let Ok(configs) = device.supported_input_configs() {
            let configs: Vec<_> = configs.collect();
            if !configs.is_empty() {
                out.push(info(
                    &id,
                    &name,
                    DeviceDirection::Input,
                    &default_in,
                    &configs,
                ));
            }
        }
        if let Ok(configs) = device.supported_output_configs() {
            let configs: Vec<_> = configs.collect();
            if !configs.is_empty() {
                out.push(info(
                    &id,
                    &name,
                    DeviceDirection::Output,
                    &default_out,
                    &configs,
                ));
            }
        }
    }
    Ok(out)
}

fn info(
    id: &cpal::DeviceId,
    name: &str,
    direction: DeviceDirection,
    default: &Option<cpal::DeviceId>,
    configs: &[cpal::SupportedStreamConfigRange],
) -> DeviceInfo {
    let mut rates = Vec::new();
    let mut channels = Vec::new();
    for c in configs {
        let (lo, hi) = (c.min_sample_rate(), c.max_sample_rate());
        rates.extend(
            COMMON_RATES
                .iter()
                .copied()
                .filter(|r| (lo..=hi).contains(r)),
        );
        if !COMMON_RATES.contains(&lo) && lo >= 8_000 {
            rates.push(lo);
        }
        channels.push(c.channels());
    }
    rates.sort_unstable();
    rates.dedup();
    channels.sort_unstable();
    channels.dedup();
    DeviceInfo {
        id: id.to_string(),
        name: name.to_string(),
        direction,
        is_default: default.as_ref() == Some(id),
        sample_rates: rates,
        channels,
    }
}

/// Finds a device by id (`host:device`) or exact name; `None` picks the default.
fn find_device(
    host: &cpal::Host,
    wanted: Option<&str>,
    direction: DeviceDirection,
) -> Result<cpal::Device, AudioError> {
    let Some(wanted) = wanted else {
        let d = match direction {
            DeviceDirection::Input => host.default_input_device(),
            DeviceDirection::Output => host.default_output_device(),
        };
        return d.ok_or(AudioError::NoDefaultDevice(match direction {
            DeviceDirection::Input => "input",
            DeviceDirection::Output => "output",
        }));
    };
    if let Ok(id) = wanted.parse::<cpal::DeviceId>() {
        if let Some(d) = host.device_by_id(&id) {
            return Ok(d);
        }
    }
    let devices = host.devices().map_err(|e| AudioError::DeviceOpen {
        device: wanted.into(),
        reason: e.to_string(),
    })?;
    for d in devices {
        let name_matches = d.description().map(|x| x.name() == wanted).unwrap_or(false);
        let id_matches = d.id().map(|i| i.to_string() == wanted).unwrap_or(false);
        if name_matches || id_matches {
            return Ok(d);
        }
    }
    Err(AudioError::DeviceNotFound(wanted.into()))
}

fn device_label(d: &cpal::Device) -> String {
    d.description()
        .map(|x| x.name().to_string())
        .or_else(|_| d.id().map(|i| i.to_string()))
        .unwrap_or_else(|_| "unknown device".into())
}

fn stream_config(supported: &cpal::SupportedStreamConfig) -> cpal::StreamConfig {
    let want = supported.sample_rate() * DEVICE_BUFFER_MS / 1000;
    let buffer_size = match supported.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } => {
            cpal::BufferSize::Fixed(want.clamp(*min, *max))
        }
        cpal::SupportedBufferSize::Unknown => cpal::BufferSize::Fixed(want),
    };
    cpal::StreamConfig {
        channels: supported.channels(),
        sample_rate: supported.sample_rate(),
        buffer_size,
    }
}

/// Raises the thread that runs a stream's callbacks to the call threads' real-time
/// class (see [`crate::sched`]), as cpal's ALSA, WASAPI and PipeWire hosts do for
/// theirs; its PulseAudio host does not. Runs once, on the first callback: the system
/// call and the log line are not for every period.
fn promote_callback_thread(direction: &str) {
    let scheduling = crate::sched::promote_to_realtime();
    tracing::debug!(direction, ?scheduling, "device callback thread scheduling");
}

/// Shared between a stream's callbacks and its owner.
struct StreamState {
    failed: AtomicBool,
    error: OnceLock<String>,
    /// Capture: samples dropped because the ring was full. Playback: samples of silence
    /// inserted because the ring was empty.
    xruns: AtomicU64,
    started: AtomicBool,
    /// The device's own latency at the last callback, µs ([`LATENCY_UNKNOWN`] before
    /// the first): capture instant to callback, or callback to playback instant, as the
    /// host reports them (PulseAudio: the sink or source latency plus the stream's
    /// server-side buffer).
    latency_us: AtomicU64,
    /// Capture: frames the host has delivered, and its capture clock's advance from
    /// the first callback to the last, µs.
    delivered: AtomicU64,
    clock_span_us: AtomicU64,
    /// The thread that waits for the callbacks (the first to wait); a callback
    /// unparks it once the ring reaches `wake_level`, so it wakes once per frame it can
    /// use instead of polling (or once per device period).
    waiter: OnceLock<std::thread::Thread>,
    /// Ring samples (device rate, one per frame of channels) the waiter waits for.
    /// Capture: wake when the ring holds at least this many. Playback: wake when it
    /// holds fewer.
    wake_level: AtomicU64,
}

const LATENCY_UNKNOWN: u64 = u64::MAX;

impl Default for StreamState {
    fn default() -> Self {
        Self {
            failed: AtomicBool::new(false),
            error: OnceLock::new(),
            xruns: AtomicU64::new(0),
            started: AtomicBool::new(false),
            latency_us: AtomicU64::new(LATENCY_UNKNOWN),
            delivered: AtomicU64::new(0),
            clock_span_us: AtomicU64::new(0),
            waiter: OnceLock::new(),
            wake_level: AtomicU64::new(0),
        }
    }
}

impl StreamState {
    fn latency_ms(&self) -> Option<f64> {
        match self.latency_us.load(Ordering::Relaxed) {
            LATENCY_UNKNOWN => None,
            us => Some(us as f64 / 1000.0),
        }
    }

    /// Blocks the calling thread until a callback finds the ring at `level` (see
    /// [`Self::wake_at`]) or `timeout` passes, unless `ready()` already holds. `ready`
    /// runs after the level is published, so a callback that ran before saw the old
    /// level but its data is seen here. Only the first thread that waits is woken by
    /// callbacks; any other sleeps `timeout`.
    fn wait_for_level(&self, level: u64, ready: impl FnOnce() -> bool, timeout: Duration) {
        self.wake_level.store(level, Ordering::Relaxed);
        // Pairs with the fence in `wake_at`: either this thread sees the callback's
        // data, or the callback sees this level.
        std::sync::atomic::fence(Ordering::SeqCst);
        if ready() {
            return;
        }
        let waiter = self.waiter.get_or_init(std::thread::current);
        if waiter.id() == std::thread::current().id() {
            std::thread::park_timeout(timeout);
        } else {
            std::thread::sleep(timeout);
        }
    }

    /// Called by the callbacks after moving data: wakes the waiting thread (a futex
    /// wake only when it is parked) if `reached(wake_level)` holds for the ring now.
    fn wake_at(&self, reached: impl FnOnce(u64) -> bool) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if reached(self.wake_level.load(Ordering::Relaxed)) {
            if let Some(t) = self.waiter.get() {
                t.unpark();
            }
        }
    }

    fn on_error(&self, e: cpal::Error) {
        // The error callback is not the real-time data path; allocating here is fine.
        let _ = self.error.set(e.to_string());
        self.failed.store(true, Ordering::Release);
    }
}

/// Microphone capture as 48 kHz mono 20 ms frames.
pub struct CpalSource {
    name: String,
    _stream: cpal::Stream,
    consumer: rtrb::Consumer<f32>,
    state: Arc<StreamState>,
    resampler: StreamResampler,
    framer: Framer,
    scratch: Vec<f32>,
    resampled: Vec<f32>,
    last_data: Instant,
    device_rate: u32,
    device_channels: u16,
}

impl CpalSource {
    /// Opens `device` (id or name; `None` = system default) at its native configuration
    /// and starts capturing.
    ///
    /// Errors: [`AudioError::DeviceNotFound`], [`AudioError::NoDefaultDevice`],
    /// [`AudioError::DeviceOpen`].
    pub fn open(device: Option<&str>) -> Result<Self, AudioError> {
        let host = host();
        let dev = find_device(&host, device, DeviceDirection::Input)?;
        let name = device_label(&dev);
        let open_err = |reason: String| AudioError::DeviceOpen {
            device: name.clone(),
            reason,
        };
        let supported = dev
            .default_input_config()
            .map_err(|e| open_err(e.to_string()))?;
        let rate = supported.sample_rate();
        let (producer, consumer) = rtrb::RingBuffer::new(rate as usize * 2);
        let state = Arc::new(StreamState::default());
        let config = stream_config(&supported);
        let stream = match build_input(&dev, &config, supported.sample_format(), producer, &state) {
            Ok(s) => s,
            Err(e) => return Err(open_err(e)),
        };
        stream.play().map_err(|e| open_err(e.to_string()))?;
        tracing::info!(device = %name, rate, channels = config.channels, "capture started");
        Ok(Self {
            name,
            _stream: stream,
            consumer,
            state,
            resampler: StreamResampler::new(rate, SAMPLE_RATE)?,
            framer: Framer::default(),
            scratch: vec![0.0; rate as usize / 10],
            resampled: Vec::with_capacity(SAMPLE_RATE as usize / 10),
            last_data: Instant::now(),
            device_rate: rate,
            device_channels: config.channels,
        })
    }

    /// Device rate in Hz and channel count as opened.
    pub fn device_format(&self) -> (u32, u16) {
        (self.device_rate, self.device_channels)
    }

    /// Samples dropped so far because the reader fell behind (ring overruns).
    pub fn overruns(&self) -> u64 {
        self.state.xruns.load(Ordering::Relaxed)
    }
}

fn build_input(
    dev: &cpal::Device,
    config: &cpal::StreamConfig,
    format: cpal::SampleFormat,
    producer: rtrb::Producer<f32>,
    state: &Arc<StreamState>,
) -> Result<cpal::Stream, String> {
    use cpal::SampleFormat as F;
    match format {
        F::F32 => input_stream::<f32>(dev, config, producer, state),
        F::I16 => input_stream::<i16>(dev, config, producer, state),
        F::I32 => input_stream::<i32>(dev, config, producer, state),
        F::U16 => input_stream::<u16>(dev, config, producer, state),
        F::U8 => input_stream::<u8>(dev, config, producer, state),
        F::F64 => input_stream::<f64>(dev, config, producer, state),
        other => Err(format!("unsupported sample format {other}")),
    }
}

fn input_stream<T>(
    dev: &cpal::Device,
    config: &cpal::StreamConfig,
    mut producer: rtrb::Producer<f32>,
    state: &Arc<StreamState>,
) -> Result<cpal::Stream, String>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let ch = usize::from(config.channels.max(1));
    let inv = 1.0 / ch as f32;
    let cb_state = Arc::clone(state);
    let err_state = Arc::clone(state);
    let mut promoted = false;
    let mut first_capture = None;
    dev.build_input_stream::<T, _, _>(
        *config,
        move |data: &[T], info: &cpal::InputCallbackInfo| {
            if !promoted {
                promoted = true;
                promote_callback_thread("input");
            }
            let t = info.timestamp();
            let latency = t.callback.duration_since(t.capture).as_micros() as u64;
            cb_state.latency_us.store(latency, Ordering::Relaxed);
            let first = *first_capture.get_or_insert(t.capture);
            cb_state.clock_span_us.store(
                t.capture.duration_since(first).as_micros() as u64,
                Ordering::Relaxed,
            );
            let frames = data.len() / ch;
            cb_state
                .delivered
                .fetch_add(frames as u64, Ordering::Relaxed);
            let n = frames.min(producer.slots());
            if n < frames {
                cb_state
                    .xruns
                    .fetch_add((frames - n) as u64, Ordering::Relaxed);
            }
            if let Ok(chunk) = producer.write_chunk_uninit(n) {
                chunk.fill_from_iter(
                    data.chunks_exact(ch)
                        .map(|f| f.iter().map(|&s| s.to_sample::<f32>()).sum::<f32>() * inv),
                );
            }
            let held = (producer.buffer().capacity() - producer.slots()) as u64;
            cb_state.wake_at(|level| held >= level);
        },
        move |e| err_state.on_error(e),
        None,
    )
    .map_err(|e| e.to_string())
}

impl AudioSource for CpalSource {
    fn read_frame(&mut self, frame: &mut Frame) -> Result<usize, AudioError> {
        loop {
            if self.framer.pop(frame) {
                return Ok(frame.len());
            }
            if self.state.failed.load(Ordering::Acquire) {
                return Err(AudioError::DeviceLost {
                    device: self.name.clone(),
                    reason: self.state.error.get().cloned().unwrap_or_default(),
                });
            }
            let n = self.consumer.pop_partial_slice(&mut self.scratch).0.len();
            if n > 0 {
                self.last_data = Instant::now();
                self.resampled.clear();
                self.resampler
                    .push(&self.scratch[..n], &mut self.resampled)?;
                self.framer.push(&self.resampled);
                continue;
            }
            if self.last_data.elapsed() > STALL_TIMEOUT {
                return Err(AudioError::DeviceStalled {
                    device: self.name.clone(),
                    ms: self.last_data.elapsed().as_millis() as u64,
                });
            }
            // Woken by the callback that completes the frame rather than polling or
            // waking per device period. 90 %: the resampler's output lags its input
            // a little, and waking one period early costs less than waking late.
            let missing = (frame.len() - self.framer.len()) as u64;
            let level =
                ((missing * u64::from(self.device_rate) / u64::from(SAMPLE_RATE)) * 9 / 10).max(1);
            let due_us = missing * 1_000_000 / u64::from(SAMPLE_RATE);
            let consumer = &self.consumer;
            self.state.wait_for_level(
                level,
                || consumer.slots() as u64 >= level,
                Duration::from_micros(due_us.clamp(5_000, 20_000) + 10_000),
            );
        }
    }

    fn queued_ms(&self) -> f64 {
        self.consumer.slots() as f64 * 1000.0 / f64::from(self.device_rate)
            + self.framer.len() as f64 * 1000.0 / f64::from(SAMPLE_RATE)
    }

    fn capture_clock(&self) -> Option<CaptureClock> {
        let delivered = self.state.delivered.load(Ordering::Relaxed);
        if delivered == 0 {
            return None;
        }
        let rate = f64::from(self.device_rate);
        Some(CaptureClock {
            delivered_ms: delivered as f64 * 1000.0 / rate,
            device_clock_ms: self.state.clock_span_us.load(Ordering::Relaxed) as f64 / 1000.0,
            dropped_ms: self.state.xruns.load(Ordering::Relaxed) as f64 * 1000.0 / rate,
        })
    }

    fn device_latency_ms(&self) -> Option<f64> {
        self.state.latency_ms()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Playback of 48 kHz mono frames to a device, fanned out to all its channels.
pub struct CpalSink {
    name: String,
    _stream: cpal::Stream,
    producer: rtrb::Producer<f32>,
    capacity: usize,
    state: Arc<StreamState>,
    resampler: StreamResampler,
    resampled: Vec<f32>,
    device_rate: u32,
}

impl CpalSink {
    /// Opens `device` (id or name; `None` = system default) at its native configuration.
    ///
    /// Errors: as [`CpalSource::open`].
    pub fn open(device: Option<&str>) -> Result<Self, AudioError> {
        let host = host();
        let dev = find_device(&host, device, DeviceDirection::Output)?;
        let name = device_label(&dev);
        let open_err = |reason: String| AudioError::DeviceOpen {
            device: name.clone(),
            reason,
        };
        let supported = dev
            .default_output_config()
            .map_err(|e| open_err(e.to_string()))?;
        let rate = supported.sample_rate();
        let capacity = (rate * PLAYBACK_RING_MS / 1000) as usize;
        let (producer, consumer) = rtrb::RingBuffer::new(capacity);
        let state = Arc::new(StreamState::default());
        state.wake_level.store(u64::MAX, Ordering::Relaxed);
        let config = stream_config(&supported);
        let stream = build_output(&dev, &config, supported.sample_format(), consumer, &state)
            .map_err(&open_err)?;
        stream.play().map_err(|e| open_err(e.to_string()))?;
        tracing::info!(device = %name, rate, channels = config.channels, "playback started");
        Ok(Self {
            name,
            _stream: stream,
            producer,
            capacity,
            state,
            resampler: StreamResampler::new(SAMPLE_RATE, rate)?,
            resampled: Vec::with_capacity(capacity),
            device_rate: rate,
        })
    }

    /// Audio queued in the ring and not yet taken by the device, ms.
    pub fn queued_ms(&self) -> f64 {
        (self.capacity - self.producer.slots()) as f64 * 1000.0 / f64::from(self.device_rate)
    }

    fn check(&self) -> Result<(), AudioError> {
        if self.state.failed.load(Ordering::Acquire) {
            return Err(AudioError::DeviceLost {
                device: self.name.clone(),
                reason: self.state.error.get().cloned().unwrap_or_default(),
            });
        }
        Ok(())
    }
}

fn build_output(
    dev: &cpal::Device,
    config: &cpal::StreamConfig,
    format: cpal::SampleFormat,
    consumer: rtrb::Consumer<f32>,
    state: &Arc<StreamState>,
) -> Result<cpal::Stream, String> {
    use cpal::SampleFormat as F;
    match format {
        F::F32 => output_stream::<f32>(dev, config, consumer, state),
        F::I16 => output_stream::<i16>(dev, config, consumer, state),
        F::I32 => output_stream::<i32>(dev, config, consumer, state),
        F::U16 => output_stream::<u16>(dev, config, consumer, state),
        F::U8 => output_stream::<u8>(dev, config, consumer, state),
        F::F64 => output_stream::<f64>(dev, config, consumer, state),
        other => Err(format!("unsupported sample format {other}")),
    }
}

fn output_stream<T>(
    dev: &cpal::Device,
    config: &cpal::StreamConfig,
    mut consumer: rtrb::Consumer<f32>,
    state: &Arc<StreamState>,
) -> Result<cpal::Stream, String>
where
    T: SizedSample + FromSample<f32>,
{
    let ch = usize::from(config.channels.max(1));
    let cb_state = Arc::clone(state);
    let err_state = Arc::clone(state);
    let mut promoted = false;
    dev.build_output_stream::<T, _, _>(
        *config,
        move |data: &mut [T], info: &cpal::OutputCallbackInfo| {
            if !promoted {
                promoted = true;
                promote_callback_thread("output");
            }
            let t = info.timestamp();
            let latency = t.playback.duration_since(t.callback).as_micros() as u64;
            cb_state.latency_us.store(latency, Ordering::Relaxed);
            let started = cb_state.started.load(Ordering::Relaxed);
            let mut missing = 0u64;
            for f in data.chunks_exact_mut(ch) {
                let v = match consumer.pop() {
                    Ok(v) => v,
                    Err(_) => {
                        missing += 1;
                        0.0
                    }
                };
                let s = T::from_sample(v);
                f.iter_mut().for_each(|x| *x = s);
            }
            if started && missing > 0 {
                cb_state.xruns.fetch_add(missing, Ordering::Relaxed);
            }
            let queued = consumer.slots() as u64;
            cb_state.wake_at(|level| queued < level);
        },
        move |e| err_state.on_error(e),
        None,
    )
    .map_err(|e| e.to_string())
}

impl AudioSink for CpalSink {
    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.check()?;
        self.resampled.clear();
        self.resampler.push(samples, &mut self.resampled)?;
        let mut rest: &[f32] = &self.resampled;
        let mut waiting_since = None;
        while !rest.is_empty() {
            let (done, _) = self.producer.push_partial_slice(rest);
            rest = &rest[done.len()..];
            if rest.is_empty() {
                break;
            }
            self.check()?;
            let since = *waiting_since.get_or_insert_with(Instant::now);
            if since.elapsed() > STALL_TIMEOUT {
                return Err(AudioError::DeviceStalled {
                    device: self.name.clone(),
                    ms: since.elapsed().as_millis() as u64,
                });
            }
            // Woken once the device has taken enough to make room for the rest.
            let room = rest.len().min(self.capacity);
            let producer = &self.producer;
            self.state.wait_for_level(
                (self.capacity - room + 1) as u64,
                || producer.slots() >= room,
                Duration::from_millis(20),
            );
        }
        self.state.started.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn wait_queued_below(&mut self, ms: f64) -> Result<(), AudioError> {
        let since = Instant::now();
        loop {
            self.check()?;
            let over = self.queued_ms() - ms;
            if over < 0.0 {
                return Ok(());
            }
            if since.elapsed() > STALL_TIMEOUT {
                return Err(AudioError::DeviceStalled {
                    device: self.name.clone(),
                    ms: since.elapsed().as_millis() as u64,
                });
            }
            // The device takes whole periods (~10 ms) at once; the callback that takes
            // the queue below `ms` wakes this thread, instead of polling every few ms
            // or waking every period. The timeout only matters if the callbacks stop.
            let level = (ms.max(0.0) * f64::from(self.device_rate) / 1000.0).ceil() as u64;
            self.state.wait_for_level(
                level,
                || self.queued_ms() < ms,
                Duration::from_secs_f64((over + 10.0).clamp(5.0, 50.0) / 1000.0),
            );
        }
    }

    fn underruns(&self) -> u64 {
        self.state.xruns.load(Ordering::Relaxed)
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        let since = Instant::now();
        while self.producer.slots() < self.capacity {
            self.check()?;
            if since.elapsed() > STALL_TIMEOUT {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Everything queued was handed to the device: stop counting underruns before
        // letting it play out its own ~10 ms buffer (the silence it pulls meanwhile
        // is the end of the stream, not a gap; counting it reported 40-50 ms of
        // underruns after every clean playback).
        self.state.started.store(false, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
        Ok(())
    }

    fn device_latency_ms(&self) -> Option<f64> {
        self.state.latency_ms()
    }

    fn name(&self) -> &str {
        &self.name
    }
}
