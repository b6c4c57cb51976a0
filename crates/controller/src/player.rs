//! Call recordings in the app: a waveform per track and playback on an output device.
//!
//! Decoding is streamed packet by packet ([`softphone_recorder::decode_blocks`]), so a
//! long call never sits decoded in memory. Playback runs on its own thread, like a
//! capture session: the device is opened inside it (cpal streams are not `Send` on every
//! platform) and it reports its position through a channel.

use crate::ControllerError;
use serde::Serialize;
use softphone_audio::{AudioSink, CpalSink, Frame, FRAME_SAMPLES};
use softphone_recorder::{decode_blocks, read_file};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

/// Range the waveform's levels span: a peak at -60 dBFS or below draws as 0.
pub const WAVEFORM_FLOOR_DBFS: f32 = -60.0;

/// Peaks of each track of a recording, for drawing.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct Waveform {
    /// Playable length, ms.
    pub duration_ms: u64,
    /// Length each value covers, ms.
    pub bucket_ms: f64,
    /// One row per channel (a dual-track call: `[agent (left), remote (right)]`), each a
    /// peak level per bucket from 0 ([`WAVEFORM_FLOOR_DBFS`] or below) to 1 (0 dBFS),
    /// linear in dB so quiet speech stays visible.
    pub tracks: Vec<Vec<f32>>,
}

fn level(peak: f32) -> f32 {
    if peak <= 0.0 {
        return 0.0;
    }
    let db = 20.0 * peak.log10();
    ((db - WAVEFORM_FLOOR_DBFS) / -WAVEFORM_FLOOR_DBFS).clamp(0.0, 1.0)
}

/// Computes `buckets` peak levels per track of an Ogg Opus file (fewer when the file
/// holds fewer samples).
///
/// Errors: `recorder.io` (unreadable), `recorder.format` (not Ogg Opus, damaged in the
/// middle), `recorder.codec` (a corrupt packet), `controller.invalid` for 0 buckets.
pub fn waveform(path: &Path, buckets: usize) -> Result<Waveform, ControllerError> {
    if buckets == 0 {
        return Err(ControllerError::Invalid("a waveform needs buckets".into()));
    }
    let file = read_file(path)?;
    let ch = usize::from(file.head.channels);
    let total = file.playable_samples();
    let per_bucket = total.div_ceil(buckets as u64).max(1);
    let n = total.div_ceil(per_bucket) as usize;
    let mut peaks = vec![vec![0.0f32; n]; ch];
    let mut pos = 0u64;
    for block in decode_blocks(&file)? {
        for frame in block?.chunks_exact(ch) {
            let b = ((pos / per_bucket) as usize).min(n.saturating_sub(1));
            for (c, s) in frame.iter().enumerate() {
                let p = &mut peaks[c][b];
                *p = p.max(s.abs());
            }
            pos += 1;
        }
    }
    Ok(Waveform {
        duration_ms: total / 48,
        bucket_ms: per_bucket as f64 / 48.0,
        tracks: peaks
            .into_iter()
            .map(|t| t.into_iter().map(level).collect())
            .collect(),
    })
}

/// Runs `body` on a thread named `name` with `device` (id or name; `None` = the default
/// output) open on it, and a stop flag; returns once the device is open. cpal streams
/// are not `Send` everywhere, so the device is opened on the thread that writes to it.
///
/// Errors: `audio.device_not_found` / `audio.device_open`; `controller.crashed` when
/// the thread died before reporting.
fn spawn_output(
    name: &str,
    device: Option<String>,
    body: impl FnOnce(&mut dyn AudioSink, &AtomicBool) + Send + 'static,
) -> Result<(Arc<AtomicBool>, JoinHandle<()>), ControllerError> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || match CpalSink::open(device.as_deref()) {
            Ok(mut sink) => {
                let _ = ready_tx.send(Ok(()));
                body(&mut sink, &flag);
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| ControllerError::Invalid(format!("cannot start {name}: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok((stop, thread)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e.into())
        }
        Err(_) => {
            let _ = thread.join();
            Err(ControllerError::Crashed(format!("{name} thread")))
        }
    }
}

/// What a playback reports.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PlaybackEvent {
    /// Where playback is (handed to the device), every 100 ms.
    Position {
        /// ms from the start of the recording.
        position_ms: u64,
        /// Playable length, ms.
        duration_ms: u64,
    },
    /// Playback ended: at the end of the file, or `stopped` early.
    Finished {
        /// ms from the start of the recording.
        position_ms: u64,
        /// True when [`Playback::stop`] ended it.
        stopped: bool,
    },
    /// The device failed or a packet was corrupt; `Finished` follows.
    Error {
        /// Stable code, e.g. `audio.device_lost`, `recorder.codec`.
        code: String,
        /// Human-readable message.
        message: String,
    },
}

/// A recording playing on an output device: both tracks mixed to mono (in a dual-track
/// call only one side talks at a time, so the sum keeps both at their own level).
pub struct Playback {
    stop: Arc<AtomicBool>,
    events: Option<mpsc::Receiver<PlaybackEvent>>,
    thread: Option<JoinHandle<()>>,
}

impl Playback {
    /// Starts playing `path` on `device` (id or name; `None` = default output) from
    /// `from_ms`. Returns once the device is open.
    ///
    /// Errors: as [`waveform`] for the file; `audio.device_not_found` /
    /// `audio.device_open` for the device.
    pub fn start(
        path: &Path,
        device: Option<String>,
        from_ms: u64,
    ) -> Result<Playback, ControllerError> {
        let file = read_file(path)?;
        let (tx, rx) = mpsc::channel();
        let (stop, thread) = spawn_output("playback", device, move |sink, stop| {
            play(&file, sink, from_ms, stop, &tx)
        })?;
        Ok(Playback {
            stop,
            events: Some(rx),
            thread: Some(thread),
        })
    }

    /// The event channel (once; later calls return a closed channel).
    pub fn take_events(&mut self) -> mpsc::Receiver<PlaybackEvent> {
        self.events.take().unwrap_or_else(|| mpsc::channel().1)
    }

    /// Asks playback to stop at the next 20 ms frame.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Waits for the playback thread to end.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Playback {
    fn drop(&mut self) {
        self.stop();
    }
}

fn play(
    file: &softphone_recorder::OggOpusFile,
    sink: &mut dyn AudioSink,
    from_ms: u64,
    stop: &AtomicBool,
    tx: &mpsc::Sender<PlaybackEvent>,
) {
    let duration_ms = file.playable_samples() / 48;
    let fail = |code: &str, message: String| {
        let _ = tx.send(PlaybackEvent::Error {
            code: code.into(),
            message,
        });
    };
    let blocks = match decode_blocks(file) {
        Ok(b) => b,
        Err(e) => {
            fail(e.code(), e.to_string());
            let _ = tx.send(PlaybackEvent::Finished {
                position_ms: 0,
                stopped: false,
            });
            return;
        }
    };
    let ch = usize::from(file.head.channels);
    let skip = from_ms * 48;
    let mut decoded = 0u64; // samples per channel decoded so far
    let mut played = skip.min(file.playable_samples());
    let mut pending: Vec<f32> = Vec::with_capacity(2 * FRAME_SAMPLES);
    let mut frame: Frame = [0.0; FRAME_SAMPLES];
    let mut frames = 0u64;
    let mut stopped = false;
    let mut write = |pending: &mut Vec<f32>, n: usize, played: &mut u64| -> bool {
        frame[..n].copy_from_slice(&pending[..n]);
        frame[n..].fill(0.0);
        pending.drain(..n);
        if let Err(e) = sink.write_frame(&frame) {
            fail(e.code(), e.to_string());
            return false;
        }
        *played += n as u64;
        frames += 1;
        if frames.is_multiple_of(5) {
            let _ = tx.send(PlaybackEvent::Position {
                position_ms: *played / 48,
                duration_ms,
            });
        }
        true
    };
    'outer: for block in blocks {
        let block = match block {
            Ok(b) => b,
            Err(e) => {
                fail(e.code(), e.to_string());
                break;
            }
        };
        let len = (block.len() / ch) as u64;
        let start = skip.saturating_sub(decoded).min(len) as usize;
        decoded += len;
        pending.extend(
            block[start * ch..]
                .chunks_exact(ch)
                .map(|f| f.iter().sum::<f32>().clamp(-1.0, 1.0)),
        );
        while pending.len() >= FRAME_SAMPLES {
            if stop.load(Ordering::Acquire) {
                stopped = true;
                break 'outer;
            }
            if !write(&mut pending, FRAME_SAMPLES, &mut played) {
                break 'outer;
            }
        }
    }
    if !stopped && !pending.is_empty() {
        let n = pending.len();
        write(&mut pending, n, &mut played);
    }
    if !stopped {
        let _ = sink.finish();
    }
    let _ = tx.send(PlaybackEvent::Finished {
        position_ms: played / 48,
        stopped,
    });
}

/// Ring cadence, 48 kHz samples: 2 s on, 4 s off (ITU-T E.180's most common cadence).
const RING_ON: u64 = 2 * 48_000;
const RING_PERIOD: u64 = 6 * 48_000;

/// Fills `frame` with the ringtone from sample `n0`: 440 Hz + 480 Hz at -20 dBFS peak
/// during the on part of the cadence, silence otherwise.
fn ring_frame(n0: u64, frame: &mut Frame) {
    for (i, s) in frame.iter_mut().enumerate() {
        let n = n0 + i as u64;
        *s = if n % RING_PERIOD < RING_ON {
            let t = n as f32 / 48_000.0;
            0.05 * ((std::f32::consts::TAU * 440.0 * t).sin()
                + (std::f32::consts::TAU * 480.0 * t).sin())
        } else {
            0.0
        };
    }
}

/// The ringtone of an incoming call on an output device, until [`Ringtone::stop`] or
/// drop.
pub struct Ringtone {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ringtone {
    /// Starts ringing on `device` (id or name; `None` = the default output).
    ///
    /// Errors: `audio.device_not_found` / `audio.device_open`.
    pub fn start(device: Option<String>) -> Result<Ringtone, ControllerError> {
        let (stop, thread) = spawn_output("ringtone", device, |sink, stop| {
            let mut frame: Frame = [0.0; FRAME_SAMPLES];
            let mut n = 0u64;
            while !stop.load(Ordering::Acquire) {
                ring_frame(n, &mut frame);
                if sink.write_frame(&frame).is_err() {
                    break;
                }
                n += FRAME_SAMPLES as u64;
            }
        })?;
        Ok(Ringtone {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops ringing within 20 ms and waits for the device to close.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Ringtone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Notes of the speaker test tone, Hz: C5, E5, G5 (a rising major chord, easy to tell
/// from the ringtone and from speech).
const TEST_TONE_NOTES: [f32; 3] = [523.25, 659.25, 783.99];
/// Length of each note, 48 kHz samples (400 ms).
const TEST_TONE_NOTE: u64 = 19_200;
/// Length of the whole test tone, 48 kHz samples (1.2 s).
pub const TEST_TONE_SAMPLES: u64 = TEST_TONE_NOTE * TEST_TONE_NOTES.len() as u64;

/// Fills `frame` with the test tone from sample `n0`: each note at -12 dBFS peak with
/// 10 ms raised-cosine fades (no clicks), silence after [`TEST_TONE_SAMPLES`].
fn test_tone_frame(n0: u64, frame: &mut Frame) {
    const FADE: u64 = 480;
    for (i, s) in frame.iter_mut().enumerate() {
        let n = n0 + i as u64;
        if n >= TEST_TONE_SAMPLES {
            *s = 0.0;
            continue;
        }
        let note = (n / TEST_TONE_NOTE) as usize;
        let k = n % TEST_TONE_NOTE;
        let edge = k.min(TEST_TONE_NOTE - 1 - k);
        let gain = if edge < FADE {
            0.5 - 0.5 * (std::f32::consts::PI * edge as f32 / FADE as f32).cos()
        } else {
            1.0
        };
        let t = n as f32 / 48_000.0;
        *s = 0.25 * gain * (std::f32::consts::TAU * TEST_TONE_NOTES[note] * t).sin();
    }
}

/// Plays the speaker test tone (1.2 s: C5, E5, G5) once on `device` (id or
/// name; `None` = the default output) and returns when it has been handed to the
/// device, so the settings can say "did you hear it?".
///
/// Errors: `audio.device_not_found` / `audio.device_open`; `audio.device_lost` when the
/// device fails while playing.
pub fn play_test_tone(device: Option<String>) -> Result<(), ControllerError> {
    let (result_tx, result_rx) = mpsc::sync_channel(1);
    let (_stop, thread) = spawn_output("test tone", device, move |sink, stop| {
        let mut frame: Frame = [0.0; FRAME_SAMPLES];
        let mut n = 0u64;
        let mut result = Ok(());
        while n < TEST_TONE_SAMPLES && !stop.load(Ordering::Acquire) {
            test_tone_frame(n, &mut frame);
            if let Err(e) = sink.write_frame(&frame) {
                result = Err(e);
                break;
            }
            n += FRAME_SAMPLES as u64;
        }
        let _ = sink.finish();
        let _ = result_tx.send(result);
    })?;
    let _ = thread.join();
    match result_rx.recv() {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(ControllerError::Crashed("test tone thread".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use softphone_audio::NullSink;
    use softphone_recorder::{DualTrackRecorder, RecorderConfig, RecordingMeta};

    /// A 1 s dual-track file: 440 Hz at -6 dBFS on the left for the first half, silence
    /// on the right except a 1 kHz tone at -20 dBFS in the second half.
    fn fixture(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("call.opus");
        let mut rec =
            DualTrackRecorder::create(&path, &RecordingMeta::default(), &RecorderConfig::default())
                .unwrap();
        for i in 0..50 {
            let mut l = [0.0f32; FRAME_SAMPLES];
            let mut r = [0.0f32; FRAME_SAMPLES];
            for (n, (a, b)) in l.iter_mut().zip(r.iter_mut()).enumerate() {
                let t = (i * FRAME_SAMPLES + n) as f32 / 48_000.0;
                if i < 25 {
                    *a = 0.5 * (std::f32::consts::TAU * 440.0 * t).sin();
                } else {
                    *b = 0.1 * (std::f32::consts::TAU * 1000.0 * t).sin();
                }
            }
            rec.push(&l, Some(&r)).unwrap();
        }
        rec.finish().unwrap();
        path
    }

    #[test]
    fn waveform_shows_who_talked_when() {
        let dir = tempfile::tempdir().unwrap();
        let w = waveform(&fixture(dir.path()), 10).unwrap();
        assert!((990..=1000).contains(&w.duration_ms), "{}", w.duration_ms);
        assert_eq!(w.tracks.len(), 2);
        assert_eq!(w.tracks[0].len(), 10);
        // -6 dBFS peak → (−6 + 60) / 60 = 0.9; -20 dBFS → 0.67.
        let (l, r) = (&w.tracks[0], &w.tracks[1]);
        for b in 1..4 {
            assert!((l[b] - 0.9).abs() < 0.05, "left {b}: {l:?}");
            assert!(r[b] < 0.2, "right {b}: {r:?}");
        }
        for b in 6..9 {
            assert!(l[b] < 0.2, "left {b}: {l:?}");
            assert!((r[b] - 0.67).abs() < 0.05, "right {b}: {r:?}");
        }
    }

    #[test]
    fn playback_plays_every_frame_and_reports_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let file = read_file(&fixture(dir.path())).unwrap();
        let (tx, rx) = mpsc::channel();
        let mut sink = NullSink::default();
        play(&file, &mut sink, 500, &AtomicBool::new(false), &tx);
        let events: Vec<_> = rx.try_iter().collect();
        let Some(PlaybackEvent::Finished {
            position_ms,
            stopped: false,
        }) = events.last()
        else {
            panic!("{events:?}")
        };
        assert!((990..=1000).contains(position_ms), "{events:?}");
        // From 500 ms: about 25 frames, a position report every 5.
        let positions = events
            .iter()
            .filter(|e| matches!(e, PlaybackEvent::Position { .. }))
            .count();
        assert_eq!(positions, 5, "{events:?}");
        assert_eq!(sink.frames, 25);
    }

    #[test]
    fn the_ringtone_rings_two_seconds_in_six() {
        let mut frame: Frame = [0.0; FRAME_SAMPLES];
        let rms = |n0: u64, frame: &mut Frame| {
            ring_frame(n0, frame);
            (frame.iter().map(|s| s * s).sum::<f32>() / FRAME_SAMPLES as f32).sqrt()
        };
        // Two tones of amplitude 0.05 each beat at 40 Hz: a 20 ms frame's RMS lies
        // between 0 and 0.1 depending on where the beat falls, never 0.
        for sec in [0.0, 0.5, 1.9, 6.0, 7.5] {
            let r = rms((sec * 48_000.0) as u64, &mut frame);
            assert!(r > 0.01 && r < 0.1, "at {sec} s: {r}");
        }
        for sec in [2.0, 3.0, 5.9, 8.1] {
            assert_eq!(rms((sec * 48_000.0) as u64, &mut frame), 0.0, "at {sec} s");
        }
        assert!(frame.iter().all(|s| s.abs() <= 0.1));
    }

    #[test]
    fn a_corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.opus");
        std::fs::write(&p, b"not an ogg file at all").unwrap();
        let e = waveform(&p, 10).unwrap_err();
        assert_eq!(e.code(), "recorder.format");
        assert!(Playback::start(&p, None, 0).is_err());
    }

    #[test]
    fn the_test_tone_plays_three_rising_notes_then_stops() {
        // Goertzel power of `f` Hz over one 20 ms frame.
        let power = |frame: &Frame, f: f32| {
            let w = std::f32::consts::TAU * f / 48_000.0;
            let (mut s1, mut s2) = (0.0f32, 0.0f32);
            for x in frame {
                let s0 = x + 2.0 * w.cos() * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2
        };
        let mut frame: Frame = [0.0; FRAME_SAMPLES];
        for (note, f) in TEST_TONE_NOTES.iter().enumerate() {
            // The middle of each note: its own pitch dominates the other two.
            test_tone_frame(note as u64 * TEST_TONE_NOTE + 9_600, &mut frame);
            let own = power(&frame, *f);
            for other in TEST_TONE_NOTES.iter().filter(|o| *o != f) {
                assert!(own > 20.0 * power(&frame, *other), "note {note}");
            }
            let peak = frame.iter().fold(0.0f32, |m, s| m.max(s.abs()));
            assert!((0.2..=0.25).contains(&peak), "note {note}: peak {peak}");
        }
        // Fades: the first sample and the one at each note boundary are near silent.
        test_tone_frame(0, &mut frame);
        assert!(frame[0].abs() < 1e-3);
        test_tone_frame(TEST_TONE_SAMPLES, &mut frame);
        assert!(frame.iter().all(|s| *s == 0.0));
    }

    #[test]
    fn the_test_tone_on_a_missing_device_is_a_clear_error() {
        let e = play_test_tone(Some("no such speaker 42".into())).unwrap_err();
        assert_eq!(e.code(), "audio.device_not_found", "{e}");
    }
}
