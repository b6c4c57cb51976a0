//! Microphone level meter.
//!
//! Scale (documented for agents and the UI): the RMS level in dBFS maps linearly onto
//! 0-100, with [`FLOOR_DBFS`] (-60 dBFS) at 0 and 0 dBFS at 100:
//! `level = clamp((rms_dbfs + 60) / 60 * 100, 0, 100)`. A full-scale sine reads 95,
//! normal speech into a headset (-35 to -15 dBFS RMS) reads 40-75, a quiet room reads
//! under 10. The displayed level rises fast (attack time constant 10 ms) and falls
//! slowly (release 300 ms), so syllables don't flicker.
//!
//! Flags: `low` is raised once the smoothed level has stayed under 10 for 3 s of
//! captured audio (seed 001's low-level warning) and cleared as soon as it reaches 10;
//! `clip` is raised when a sample reached [`CLIP_THRESHOLD`] within the last 500 ms.
//! Readings are emitted at most every 50 ms (20 per second).

use crate::{amplitude_to_dbfs, FRAME_MS};
use serde::Serialize;

/// dBFS used for digital silence (and the floor of every dBFS figure).
pub const SILENCE_DBFS: f32 = -120.0;
/// dBFS at the bottom of the 0-100 scale.
pub const FLOOR_DBFS: f32 = -60.0;
/// Absolute sample value counted as clipping (-0.009 dBFS; int16 full scale is 0.99997).
pub const CLIP_THRESHOLD: f32 = 0.999;

/// Meter tuning. Defaults are the documented behaviour.
#[derive(Debug, Clone)]
pub struct MeterConfig {
    /// Attack time constant, ms.
    pub attack_ms: f32,
    /// Release time constant, ms.
    pub release_ms: f32,
    /// Level (0-100) under which audio counts as too low.
    pub low_level: f32,
    /// How long the level must stay low before warning, ms.
    pub low_after_ms: u64,
    /// How long the clip flag stays raised after a clipped sample, ms.
    pub clip_hold_ms: u64,
    /// Minimum interval between readings, ms.
    pub report_interval_ms: u64,
}

impl Default for MeterConfig {
    fn default() -> Self {
        Self {
            attack_ms: 10.0,
            release_ms: 300.0,
            low_level: 10.0,
            low_after_ms: 3000,
            clip_hold_ms: 500,
            report_interval_ms: 50,
        }
    }
}

/// One meter update, as sent to the UI and printed by `softphone meter --json`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeterReading {
    /// Stream time at the end of the last frame included, ms since the meter started.
    pub time_ms: u64,
    /// Smoothed level on the 0-100 scale.
    pub level: f32,
    /// RMS over the frames since the previous reading, dBFS.
    pub rms_dbfs: f32,
    /// Highest absolute sample since the previous reading, dBFS.
    pub peak_dbfs: f32,
    /// Low-level warning.
    pub low: bool,
    /// Clipping flag.
    pub clip: bool,
}

/// Level meter fed with 20 ms frames (any length works; time advances by samples/48).
pub struct LevelMeter {
    cfg: MeterConfig,
    time_ms: u64,
    level: f32,
    low_since_ms: Option<u64>,
    last_clip_ms: Option<u64>,
    sum_sq: f64,
    count: u64,
    peak: f32,
    last_report_ms: Option<u64>,
}

/// Maps an RMS level in dBFS to the 0-100 scale (see the module docs).
pub fn dbfs_to_level(rms_dbfs: f32) -> f32 {
    ((rms_dbfs - FLOOR_DBFS) / -FLOOR_DBFS * 100.0).clamp(0.0, 100.0)
}

impl LevelMeter {
    /// Creates a meter with the given tuning.
    pub fn new(cfg: MeterConfig) -> Self {
        Self {
            cfg,
            time_ms: 0,
            level: 0.0,
            low_since_ms: Some(0),
            last_clip_ms: None,
            sum_sq: 0.0,
            count: 0,
            peak: 0.0,
            last_report_ms: None,
        }
    }

    /// Current smoothed level (0-100).
    pub fn level(&self) -> f32 {
        self.level
    }

    /// Processes one frame of 48 kHz samples; returns a reading when one is due.
    pub fn process(&mut self, frame: &[f32]) -> Option<MeterReading> {
        if frame.is_empty() {
            return None;
        }
        let frame_ms = frame.len() as f32 / 48.0;
        let mut sq = 0.0f64;
        let mut peak = 0.0f32;
        for &s in frame {
            sq += f64::from(s) * f64::from(s);
            peak = peak.max(s.abs());
        }
        self.sum_sq += sq;
        self.count += frame.len() as u64;
        self.peak = self.peak.max(peak);
        self.time_ms += (frame.len() as u64 * 1000) / 48_000;

        let frame_rms = (sq / frame.len() as f64).sqrt() as f32;
        let target = dbfs_to_level(amplitude_to_dbfs(frame_rms));
        let tau = if target > self.level {
            self.cfg.attack_ms
        } else {
            self.cfg.release_ms
        };
        let a = 1.0 - (-frame_ms / tau).exp();
        self.level += a * (target - self.level);

        if peak >= CLIP_THRESHOLD {
            self.last_clip_ms = Some(self.time_ms);
        }
        if self.level < self.cfg.low_level {
            // The low period starts at the first frame under the threshold.
            self.low_since_ms
                .get_or_insert(self.time_ms.saturating_sub(u64::from(FRAME_MS)));
        } else {
            self.low_since_ms = None;
        }

        let due = match self.last_report_ms {
            None => true,
            Some(t) => self.time_ms - t >= self.cfg.report_interval_ms,
        };
        if !due {
            return None;
        }
        self.last_report_ms = Some(self.time_ms);
        let rms = (self.sum_sq / self.count.max(1) as f64).sqrt() as f32;
        let reading = MeterReading {
            time_ms: self.time_ms,
            level: (self.level * 10.0).round() / 10.0,
            rms_dbfs: (amplitude_to_dbfs(rms) * 10.0).round() / 10.0,
            peak_dbfs: (amplitude_to_dbfs(self.peak) * 10.0).round() / 10.0,
            low: self
                .low_since_ms
                .is_some_and(|t| self.time_ms - t >= self.cfg.low_after_ms),
            clip: self
                .last_clip_ms
                .is_some_and(|t| self.time_ms - t < self.cfg.clip_hold_ms),
        };
        self.sum_sq = 0.0;
        self.count = 0;
        self.peak = 0.0;
        Some(reading)
    }
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self::new(MeterConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FRAME_SAMPLES;

    fn run(meter: &mut LevelMeter, secs: f32, f: impl Fn(usize) -> f32) -> Vec<MeterReading> {
        let frames = (secs * 50.0) as usize;
        let mut out = Vec::new();
        let mut n = 0usize;
        for _ in 0..frames {
            let frame: Vec<f32> = (0..FRAME_SAMPLES)
                .map(|_| {
                    n += 1;
                    f(n)
                })
                .collect();
            out.extend(meter.process(&frame));
        }
        out
    }

    fn sine(amp: f32) -> impl Fn(usize) -> f32 {
        move |n| amp * (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 48_000.0).sin()
    }

    #[test]
    fn known_sine_levels() {
        // RMS of a sine = amp / sqrt(2): amp 0.1 -> -23.0 dBFS -> level 61.7.
        let mut m = LevelMeter::default();
        let r = run(&mut m, 1.0, sine(0.1));
        let last = r.last().unwrap();
        assert!((last.rms_dbfs + 23.0).abs() < 0.1, "{last:?}");
        assert!((last.peak_dbfs + 20.0).abs() < 0.1, "{last:?}");
        assert!((last.level - 61.7).abs() < 0.5, "{last:?}");
        assert!(!last.low && !last.clip);

        // Full-scale sine: -3.0 dBFS RMS -> 95, and it clips.
        let mut m = LevelMeter::default();
        let r = run(&mut m, 0.5, sine(1.0));
        let last = r.last().unwrap();
        assert!((last.level - 95.0).abs() < 0.5, "{last:?}");
        assert!(last.clip);
    }

    #[test]
    fn silence_reads_zero_and_warns_after_three_seconds_only() {
        let mut m = LevelMeter::default();
        let r = run(&mut m, 5.0, |_| 0.0);
        assert!(r
            .iter()
            .all(|x| x.level == 0.0 && x.rms_dbfs == SILENCE_DBFS));
        assert!(r.iter().filter(|x| x.time_ms < 3000).all(|x| !x.low));
        assert!(r.iter().filter(|x| x.time_ms >= 3020).all(|x| x.low));
        assert!(r.iter().all(|x| !x.clip));
    }

    #[test]
    fn low_warning_clears_when_speech_returns_and_quiet_speech_does_not_warn() {
        let mut m = LevelMeter::default();
        let r = run(&mut m, 4.0, sine(0.0005)); // -69 dBFS: under the floor
        assert!(r.last().unwrap().low);
        let r = run(&mut m, 0.2, sine(0.05));
        assert!(!r.last().unwrap().low);
        // -45 dBFS RMS (level 25) for 5 s never warns.
        let mut m = LevelMeter::default();
        let r = run(&mut m, 5.0, sine(0.0079));
        assert!(r.iter().skip(2).all(|x| !x.low), "{:?}", r.last());
    }

    #[test]
    fn clip_flag_holds_then_clears() {
        let mut m = LevelMeter::default();
        run(&mut m, 0.1, sine(1.0));
        let r = run(&mut m, 1.0, sine(0.5));
        assert!(r.first().unwrap().clip);
        assert!(!r.last().unwrap().clip);
        // 0.5 amplitude peaks at -6 dBFS: never a clip.
        let mut m = LevelMeter::default();
        assert!(run(&mut m, 1.0, sine(0.5)).iter().all(|x| !x.clip));
    }

    #[test]
    fn at_most_twenty_readings_per_second_and_fast_attack_slow_release() {
        let mut m = LevelMeter::default();
        let r = run(&mut m, 2.0, sine(0.3));
        assert!(r.len() <= 41, "{} readings in 2 s", r.len());
        for w in r.windows(2) {
            assert!(w[1].time_ms - w[0].time_ms >= 50);
        }
        // 0.3 amplitude: -13.5 dBFS RMS, steady level 77.5.
        assert!(r[1].level > 75.0, "attack too slow: {:?}", r[1]);
        let r = run(&mut m, 0.1, |_| 0.0);
        let after_100ms = r.last().unwrap().level;
        assert!(after_100ms > 40.0, "release too fast: {after_100ms}");
    }
}
