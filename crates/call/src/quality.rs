//! Call quality metrics, computed from the RTP and RTCP we see ourselves (I/O-free).
//!
//! webrtc 0.21 reports jitter in RTP timestamp units and RTT as 0 (DESIGN.md), so the
//! engine feeds every received RTP header and every RTCP receiver report here instead
//! of reading the crate's stats. Names follow W3C webrtc-stats; formulas are RFC 3550
//! (jitter, loss, RTT from LSR/DLSR) and the simplified E-model of DESIGN.md (MOS).

use serde::{Deserialize, Serialize};
use softphone_proto::CallQuality;

/// Opus RTP clock (RFC 7587: always 48 kHz), ticks per ms.
pub const TICKS_PER_MS: f64 = 48.0;

/// Seed 001 quality levels.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityLevel {
    /// jitter < 10 ms, loss < 1 %, RTT < 100 ms.
    Excellent,
    /// jitter < 20 ms, loss < 2 %, RTT < 200 ms.
    Good,
    /// jitter < 30 ms, loss < 5 %, RTT < 300 ms.
    Fair,
    /// Anything worse.
    Poor,
}

impl QualityLevel {
    /// The level for these figures: the worst of the three per-metric levels.
    pub fn classify(jitter_ms: f64, loss_pct: f64, rtt_ms: f64) -> Self {
        let by = |v: f64, limits: [f64; 3]| match limits.iter().position(|l| v < *l) {
            Some(0) => QualityLevel::Excellent,
            Some(1) => QualityLevel::Good,
            Some(2) => QualityLevel::Fair,
            _ => QualityLevel::Poor,
        };
        by(jitter_ms, [10.0, 20.0, 30.0])
            .max(by(loss_pct, [1.0, 2.0, 5.0]))
            .max(by(rtt_ms, [100.0, 200.0, 300.0]))
    }

    /// Lower-case name (`excellent` …), as stored in [`CallQuality::level`].
    pub fn as_str(self) -> &'static str {
        match self {
            QualityLevel::Excellent => "excellent",
            QualityLevel::Good => "good",
            QualityLevel::Fair => "fair",
            QualityLevel::Poor => "poor",
        }
    }
}

/// MOS estimate (1.0-4.5) from the simplified E-model in DESIGN.md:
/// EL = RTT + 2·jitter + 10 ms; R = 94.768 − EL/40 (EL < 160) else 94.768 − (EL−120)/10;
/// R −= 2.5·loss%; MOS = 1 + 0.035 R + 7·10⁻⁶ R (R−60)(100−R).
pub fn mos(rtt_ms: f64, jitter_ms: f64, loss_pct: f64) -> f64 {
    let el = rtt_ms + 2.0 * jitter_ms + 10.0;
    let mut r = if el < 160.0 {
        94.768 - el / 40.0
    } else {
        94.768 - (el - 120.0) / 10.0
    };
    r -= 2.5 * loss_pct;
    let r = r.clamp(0.0, 100.0);
    (1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)).clamp(1.0, 4.5)
}

/// RTT in ms from an RTCP reception report about our stream (RFC 3550 §6.4.1):
/// `A − LSR − DLSR`, all in 1/65536 s, where `A` is the middle 32 bits of our NTP clock
/// when the report arrived. `None` when the peer has not seen a sender report yet
/// (LSR = 0) or the result is negative (clock steps).
pub fn rtt_from_report(arrival_ntp_mid32: u32, lsr: u32, dlsr: u32) -> Option<f64> {
    if lsr == 0 {
        return None;
    }
    let rtt = arrival_ntp_mid32.wrapping_sub(lsr).wrapping_sub(dlsr);
    if rtt > 0x8000_0000 {
        return None;
    }
    Some(f64::from(rtt) * 1000.0 / 65536.0)
}

/// The middle 32 bits of an NTP timestamp for a Unix time in µs (RFC 3550 §4).
pub fn ntp_mid32(unix_us: u64) -> u32 {
    const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;
    let secs = unix_us / 1_000_000 + NTP_UNIX_OFFSET_S;
    let frac = ((unix_us % 1_000_000) << 32) / 1_000_000;
    (((secs << 32) | frac) >> 16) as u32
}

/// Receive-side statistics of one RTP stream (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone, Default)]
pub struct ReceiveStats {
    started: bool,
    base_seq: u64,
    max_ext_seq: u64,
    cycles: u64,
    received: u64,
    bytes: u64,
    /// RFC 3550 interarrival jitter, RTP timestamp units (×16 fixed point avoided: f64).
    jitter_ticks: f64,
    last_transit: Option<f64>,
    prior_expected: u64,
    prior_received: u64,
    prior_bytes: u64,
}

impl ReceiveStats {
    /// Records one received packet: sequence number, RTP timestamp, payload size in bytes
    /// and arrival time in ms on any monotonic clock.
    pub fn on_packet(&mut self, seq: u16, timestamp: u32, payload_bytes: usize, arrival_ms: f64) {
        self.count(seq, payload_bytes);
        let transit = arrival_ms * TICKS_PER_MS - f64::from(timestamp);
        if let Some(last) = self.last_transit {
            let mut d = (transit - last).abs();
            // A timestamp wrap makes one transit jump by 2^32 ticks; ignore that sample.
            if d > f64::from(u32::MAX) / 2.0 {
                d = self.jitter_ticks;
            }
            self.jitter_ticks += (d - self.jitter_ticks) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// Records a packet of the same stream that carries no audio frame, such as an
    /// RFC 4733 telephone-event: it takes a sequence number (so it counts for loss) but
    /// its timestamp is the event's start, which says nothing about jitter.
    pub fn on_event_packet(&mut self, seq: u16, payload_bytes: usize) {
        self.count(seq, payload_bytes);
    }

    fn count(&mut self, seq: u16, payload_bytes: usize) {
        let seq = u64::from(seq);
        if !self.started {
            self.started = true;
            self.base_seq = seq;
            self.max_ext_seq = seq;
        } else {
            let max16 = self.max_ext_seq & 0xffff;
            let delta = (seq as i64 - max16 as i64 + 0x10000) % 0x10000;
            if delta < 0x8000 {
                if seq < max16 {
                    self.cycles += 0x10000;
                }
                self.max_ext_seq = self.cycles + seq;
            }
        }
        self.received += 1;
        self.bytes += payload_bytes as u64;
    }

    /// RFC 3550 interarrival jitter, ms (W3C `inbound-rtp.jitter`, in ms).
    pub fn jitter_ms(&self) -> f64 {
        self.jitter_ticks / TICKS_PER_MS
    }

    /// Packets expected so far (from the sequence number range).
    pub fn expected(&self) -> u64 {
        if self.started {
            self.max_ext_seq - self.base_seq + 1
        } else {
            0
        }
    }

    /// Packets received so far (duplicates included, as RFC 3550 counts them).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Cumulative packet loss, % (W3C `packetsLost` / expected); never negative.
    pub fn loss_pct_total(&self) -> f64 {
        let expected = self.expected();
        if expected == 0 {
            return 0.0;
        }
        (expected.saturating_sub(self.received) as f64) * 100.0 / expected as f64
    }

    /// Loss % and received payload bytes since the previous call (RFC 3550 A.3 interval
    /// fraction), then starts a new interval.
    pub fn take_interval(&mut self) -> (f64, u64) {
        let expected = self.expected();
        let exp_int = expected - self.prior_expected;
        let rec_int = self.received - self.prior_received;
        let bytes = self.bytes - self.prior_bytes;
        self.prior_expected = expected;
        self.prior_received = self.received;
        self.prior_bytes = self.bytes;
        let loss = if exp_int == 0 {
            0.0
        } else {
            exp_int.saturating_sub(rec_int) as f64 * 100.0 / exp_int as f64
        };
        (loss, bytes)
    }
}

/// One point of a call's quality time series (one per second).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualitySample {
    /// Seconds since the call connected.
    pub t_s: f64,
    /// Interarrival jitter, ms.
    pub jitter_ms: f64,
    /// Packet loss in the last interval, %.
    pub packet_loss_pct: f64,
    /// Packet loss since the call connected, %.
    pub packet_loss_total_pct: f64,
    /// Round-trip time from the latest receiver report, ms (`None` until one arrived).
    pub rtt_ms: Option<f64>,
    /// Sent audio bitrate (RTP payload), kbit/s.
    pub send_kbps: f64,
    /// Received audio bitrate (RTP payload), kbit/s.
    pub recv_kbps: f64,
    /// MOS estimate, 1-4.5.
    pub mos: f64,
    /// Seed 001 level.
    pub level: QualityLevel,
    /// Mean time the packets played in the last interval waited in the jitter buffer,
    /// ms (W3C webrtc-stats: Δ`jitterBufferDelay` / Δ`jitterBufferEmittedCount`).
    /// `None` when no packet was played in the interval, and in series recorded before
    /// this field existed.
    #[serde(default)]
    pub jitter_buffer_ms: Option<f64>,
    /// Share of the 20 ms slots played in the last interval that were concealed (PLC,
    /// including slots stretched to deepen the buffer): the loss that in-band FEC and
    /// RFC 2198 copies did not recover, % (W3C webrtc-stats: Δ`concealedSamples` /
    /// Δ`totalSamplesReceived`). `None` when nothing played in the interval, and in
    /// series recorded before this field existed.
    #[serde(default)]
    pub concealed_pct: Option<f64>,
}

/// Collects samples for one call and summarises them.
#[derive(Debug, Clone, Default)]
pub struct QualityTracker {
    /// Receive statistics of the remote audio stream.
    pub rx: ReceiveStats,
    rtt_ms: Option<f64>,
    rtt_sum: f64,
    rtt_n: u32,
    sent_bytes: u64,
    prior_sent_bytes: u64,
    last_sample_ms: Option<f64>,
    samples: Vec<QualitySample>,
    /// Jitter-buffer totals (sum ms, count): latest and at the last sample.
    jb_totals: (f64, u64),
    jb_prior: (f64, u64),
    /// Playout slots (concealed, all): latest and at the last sample.
    slots: (u64, u64),
    slots_prior: (u64, u64),
}

impl QualityTracker {
    /// Records payload bytes we sent.
    pub fn on_sent(&mut self, payload_bytes: usize) {
        self.sent_bytes += payload_bytes as u64;
    }

    /// Records an RTT measurement, ms.
    pub fn on_rtt(&mut self, rtt_ms: f64) {
        self.rtt_ms = Some(rtt_ms);
        self.rtt_sum += rtt_ms;
        self.rtt_n += 1;
    }

    /// Records the jitter buffer's running totals ([`crate::JitterBuffer::delay_totals`]).
    pub fn on_jitter_buffer(&mut self, totals: (f64, u64)) {
        self.jb_totals = totals;
    }

    /// Records the playout side's running slot counts, (concealed, all)
    /// ([`crate::jitter::JitterCounters::slots`]).
    pub fn on_playout_slots(&mut self, slots: (u64, u64)) {
        self.slots = slots;
    }

    /// Latest RTT, ms.
    pub fn rtt_ms(&self) -> Option<f64> {
        self.rtt_ms
    }

    /// Closes an interval at `now_ms` (ms since connect) and returns its sample.
    pub fn sample(&mut self, now_ms: f64) -> QualitySample {
        let span_s = ((now_ms - self.last_sample_ms.unwrap_or(0.0)) / 1000.0).max(1e-3);
        self.last_sample_ms = Some(now_ms);
        let (loss, rx_bytes) = self.rx.take_interval();
        let tx_bytes = self.sent_bytes - self.prior_sent_bytes;
        self.prior_sent_bytes = self.sent_bytes;
        let jitter = self.rx.jitter_ms();
        let rtt = self.rtt_ms;
        let loss_total = self.rx.loss_pct_total();
        let (sum, n) = self.jb_totals;
        let (prior_sum, prior_n) = std::mem::replace(&mut self.jb_prior, self.jb_totals);
        let jitter_buffer_ms = (n > prior_n).then(|| (sum - prior_sum) / (n - prior_n) as f64);
        let (concealed, all) = self.slots;
        let (prior_concealed, prior_all) = std::mem::replace(&mut self.slots_prior, self.slots);
        let concealed_pct = (all > prior_all).then(|| {
            concealed.saturating_sub(prior_concealed) as f64 * 100.0 / (all - prior_all) as f64
        });
        let s = QualitySample {
            t_s: now_ms / 1000.0,
            jitter_ms: jitter,
            packet_loss_pct: loss,
            packet_loss_total_pct: loss_total,
            rtt_ms: rtt,
            send_kbps: tx_bytes as f64 * 8.0 / 1000.0 / span_s,
            recv_kbps: rx_bytes as f64 * 8.0 / 1000.0 / span_s,
            mos: mos(rtt.unwrap_or(0.0), jitter, loss),
            level: QualityLevel::classify(jitter, loss, rtt.unwrap_or(0.0)),
            jitter_buffer_ms,
            concealed_pct,
        };
        self.samples.push(s.clone());
        s
    }

    /// The time series so far.
    pub fn samples(&self) -> &[QualitySample] {
        &self.samples
    }

    /// Call summary: mean jitter and RTT, cumulative loss, MOS and level from those.
    /// `None` when no media was received.
    pub fn summary(&self) -> Option<CallQuality> {
        if self.rx.received() == 0 {
            return None;
        }
        let n = self.samples.len().max(1) as f64;
        let jitter = if self.samples.is_empty() {
            self.rx.jitter_ms()
        } else {
            self.samples.iter().map(|s| s.jitter_ms).sum::<f64>() / n
        };
        let rtt = if self.rtt_n > 0 {
            self.rtt_sum / f64::from(self.rtt_n)
        } else {
            0.0
        };
        let loss = self.rx.loss_pct_total();
        Some(CallQuality {
            mos: (mos(rtt, jitter, loss) * 100.0).round() / 100.0,
            jitter_ms: (jitter * 10.0).round() / 10.0,
            packet_loss_pct: (loss * 100.0).round() / 100.0,
            rtt_ms: (rtt * 10.0).round() / 10.0,
            level: QualityLevel::classify(jitter, loss, rtt).as_str().into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_seed_001_thresholds() {
        assert_eq!(
            QualityLevel::classify(5.0, 0.5, 50.0),
            QualityLevel::Excellent
        );
        assert_eq!(QualityLevel::classify(15.0, 0.5, 50.0), QualityLevel::Good);
        assert_eq!(QualityLevel::classify(5.0, 3.0, 50.0), QualityLevel::Fair);
        assert_eq!(QualityLevel::classify(5.0, 0.0, 300.0), QualityLevel::Poor);
        assert_eq!(QualityLevel::classify(10.0, 0.0, 0.0), QualityLevel::Good);
    }

    #[test]
    fn mos_matches_the_e_model() {
        // EL = 10 ms → R = 94.518 → MOS ≈ 4.43.
        let clean = mos(0.0, 0.0, 0.0);
        assert!((clean - 4.433).abs() < 0.005, "{clean}");
        assert!(mos(0.0, 0.0, 5.0) < clean - 0.3);
        assert!(mos(400.0, 0.0, 0.0) < 3.7);
        assert_eq!(mos(0.0, 0.0, 100.0), 1.0);
    }

    #[test]
    fn rtt_from_lsr_and_dlsr() {
        // Sent at t, peer held it 100 ms, arrived at t + 150 ms → RTT 50 ms.
        let t = 5_000_000_000u64;
        let lsr = ntp_mid32(t);
        let dlsr = (0.1 * 65536.0) as u32;
        let a = ntp_mid32(t + 150_000);
        let rtt = rtt_from_report(a, lsr, dlsr).unwrap();
        assert!((rtt - 50.0).abs() < 0.1, "{rtt}");
        assert_eq!(rtt_from_report(a, 0, dlsr), None);
        assert_eq!(rtt_from_report(lsr, a, 0), None, "negative RTT is refused");
    }

    #[test]
    fn jitter_loss_and_wraparound() {
        let mut s = ReceiveStats::default();
        // 200 packets, 20 ms apart, seq wrapping past 65535, every 10th lost, arrival
        // alternating ±4 ms around the ideal time.
        let mut n = 0;
        for i in 0..200u32 {
            let seq = (65_500 + i) as u16;
            if i % 10 == 5 {
                continue;
            }
            let skew = if i % 2 == 0 { 4.0 } else { -4.0 };
            s.on_packet(seq, i * 960, 80, f64::from(i) * 20.0 + skew);
            n += 1;
        }
        assert_eq!(s.expected(), 200);
        assert_eq!(s.received(), n);
        assert!((s.loss_pct_total() - 10.0).abs() < 0.01);
        // |D| is 8 ms for each consecutive pair; the estimator converges toward it.
        assert!(
            s.jitter_ms() > 6.0 && s.jitter_ms() <= 8.0,
            "{}",
            s.jitter_ms()
        );
        let (loss, bytes) = s.take_interval();
        assert!((loss - 10.0).abs() < 0.01);
        assert_eq!(bytes, 80 * n);
        assert_eq!(s.take_interval(), (0.0, 0));
    }

    #[test]
    fn telephone_events_count_for_loss_not_for_jitter() {
        // Audio every 20 ms on time; an RFC 4733 event packet (timestamp = the event's
        // start) after each of frames 10..18 takes the next sequence number.
        let mut s = ReceiveStats::default();
        let mut seq = 0u16;
        for i in 0..50u32 {
            s.on_packet(seq, i * 960, 80, f64::from(i) * 20.0);
            seq += 1;
            if (10..18).contains(&i) {
                s.on_event_packet(seq, 4);
                seq += 1;
            }
        }
        assert_eq!(s.expected(), 58);
        assert_eq!(s.loss_pct_total(), 0.0);
        assert!(s.jitter_ms() < 0.01, "{}", s.jitter_ms());
    }

    #[test]
    fn tracker_series_and_summary() {
        let mut q = QualityTracker::default();
        assert!(q.summary().is_none());
        for i in 0..100u32 {
            q.rx.on_packet(i as u16, i * 960, 100, f64::from(i) * 20.0);
            q.on_sent(100);
        }
        q.on_rtt(40.0);
        let s = q.sample(2000.0);
        assert!((s.recv_kbps - 40.0).abs() < 0.1, "{}", s.recv_kbps);
        assert!((s.send_kbps - 40.0).abs() < 0.1);
        assert_eq!(s.level, QualityLevel::Excellent);
        let sum = q.summary().unwrap();
        assert_eq!(sum.level, "excellent");
        assert_eq!(sum.rtt_ms, 40.0);
        assert_eq!(q.samples().len(), 1);
    }
}

#[cfg(test)]
mod jitter_buffer_delay {
    use super::QualityTracker;

    #[test]
    fn each_sample_holds_the_intervals_mean_wait() {
        let mut q = QualityTracker::default();
        q.on_jitter_buffer((0.0, 0));
        assert_eq!(
            q.sample(1000.0).jitter_buffer_ms,
            None,
            "nothing played yet"
        );
        q.on_jitter_buffer((50.0 * 30.0, 50));
        assert_eq!(q.sample(2000.0).jitter_buffer_ms, Some(30.0));
        // The next 50 packets waited 50 ms each: the interval's mean, not the call's.
        q.on_jitter_buffer((50.0 * 30.0 + 50.0 * 50.0, 100));
        assert_eq!(q.sample(3000.0).jitter_buffer_ms, Some(50.0));
        assert_eq!(
            q.sample(4000.0).jitter_buffer_ms,
            None,
            "a second without playout"
        );
    }

    #[test]
    fn each_sample_holds_the_share_of_slots_concealed_in_its_interval() {
        let mut q = QualityTracker::default();
        assert_eq!(q.sample(1000.0).concealed_pct, None, "nothing played yet");
        q.on_playout_slots((1, 50));
        assert_eq!(q.sample(2000.0).concealed_pct, Some(2.0));
        // 5 % of packets lost, all but one recovered from copies and FEC.
        q.on_playout_slots((2, 100));
        assert_eq!(q.sample(3000.0).concealed_pct, Some(2.0));
        q.on_playout_slots((2, 150));
        assert_eq!(q.sample(4000.0).concealed_pct, Some(0.0));
        assert_eq!(
            q.sample(5000.0).concealed_pct,
            None,
            "a second without playout"
        );
    }
}
