//! The dual-track call recorder: agent on the left, remote on the right.

use crate::codec::{libopus_version, Application, MsEncoder};
use crate::head::{OpusHead, OpusTags};
use crate::writer::{OggOpusWriter, RecordingSummary, WriterOptions};
use crate::RecorderError;
use std::path::Path;

/// Samples per 20 ms frame at 48 kHz.
pub const FRAME: usize = 960;
/// Largest packet we let libopus produce (two streams at up to 510 kbit/s for 20 ms).
const MAX_PACKET: usize = 4000;

/// Call metadata written into OpusTags, so a file explains itself.
#[derive(Debug, Clone, Default)]
pub struct RecordingMeta {
    /// Call id (UUID).
    pub call_id: String,
    /// Lead id, when the call belongs to a lead.
    pub lead_id: Option<String>,
    /// Call start, RFC 3339 UTC.
    pub start_time: String,
    /// Who is on the left channel (the agent), e.g. `agent:alice@example.com`.
    pub left: String,
    /// Who is on the right channel (the remote party), e.g. `lead:+1******1234`.
    pub right: String,
    /// Extra `KEY=value` comments.
    pub extra: Vec<(String, String)>,
}

/// Encoder settings.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// Bitrate per channel, bits per second (default 32 000).
    pub bitrate_per_channel: i32,
    /// libopus complexity 0-10 (default 10).
    pub complexity: i32,
    /// In-band FEC (default off: a file has no packet loss).
    pub inband_fec: bool,
    /// Coding intent (default [`Application::Audio`], what opusenc uses).
    pub application: Application,
    /// Page and fsync intervals.
    pub writer: WriterOptions,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            bitrate_per_channel: 32_000,
            complexity: 10,
            inband_fec: false,
            application: Application::Audio,
            writer: WriterOptions::default(),
        }
    }
}

impl RecorderConfig {
    /// The settings for recording a live call: [`Default`] at complexity 6 instead of
    /// 10. Measured on real speech (docs/benchmarks.md, "Complexity vs CPU and
    /// quality"): 23 % less encode CPU at the same WB-PESQ (4.436 / 4.388 against
    /// 4.419 / 4.434), and a call runs two of these encoders beside its own.
    pub fn live_call() -> Self {
        Self {
            complexity: 6,
            ..Self::default()
        }
    }
}

/// Records two time-aligned mono tracks into one Ogg Opus file (family 1, two
/// uncoupled streams). Feed it one 20 ms frame per track per call to
/// [`DualTrackRecorder::push`]; a missing remote frame is recorded as silence, so the
/// tracks stay aligned sample for sample.
pub struct DualTrackRecorder {
    enc: MsEncoder,
    writer: OggOpusWriter,
    interleaved: Vec<f32>,
    packet: Vec<u8>,
    pre_skip: u16,
    real_samples: u64,
    ended_partial: bool,
}

impl DualTrackRecorder {
    /// Starts a recording at `path` (written as `path.part` until finished).
    ///
    /// Errors: [`RecorderError::InvalidInput`] for a bitrate outside 6-256 kbit/s or a
    /// complexity outside 0-10; [`RecorderError::Exists`] / [`RecorderError::Io`] from
    /// [`OggOpusWriter::create`].
    pub fn create(
        path: &Path,
        meta: &RecordingMeta,
        cfg: &RecorderConfig,
    ) -> Result<Self, RecorderError> {
        if !(6_000..=256_000).contains(&cfg.bitrate_per_channel) {
            return Err(RecorderError::InvalidInput(format!(
                "bitrate {} bit/s per channel outside 6000-256000",
                cfg.bitrate_per_channel
            )));
        }
        if !(0..=10).contains(&cfg.complexity) {
            return Err(RecorderError::InvalidInput(
                "complexity must be 0-10".into(),
            ));
        }
        let mut enc = MsEncoder::new(2, 2, 0, &[0, 1], cfg.application)?;
        enc.set_bitrate(cfg.bitrate_per_channel * 2)?;
        enc.set_complexity(cfg.complexity)?;
        enc.set_inband_fec(cfg.inband_fec, if cfg.inband_fec { 5 } else { 0 })?;
        let pre_skip = enc.lookahead()?;
        let head = OpusHead::dual_mono(pre_skip);
        let tags = tags_for(meta, cfg);
        let writer = OggOpusWriter::create(path, &head, &tags, &cfg.writer)?;
        Ok(Self {
            enc,
            writer,
            interleaved: vec![0.0; FRAME * 2],
            packet: vec![0; MAX_PACKET],
            pre_skip,
            real_samples: 0,
            ended_partial: false,
        })
    }

    /// Path of the file being written (`….part`).
    pub fn part_path(&self) -> &Path {
        self.writer.part_path()
    }

    /// Audio recorded so far, ms.
    pub fn duration_ms(&self) -> u64 {
        self.real_samples / 48
    }

    /// Records one 20 ms frame: `left` is the agent, `right` the remote party (`None` =
    /// silence). Either slice may be shorter than 960 samples only for the very last
    /// frame; the missing samples are zero and not counted in the duration.
    pub fn push(&mut self, left: &[f32], right: Option<&[f32]>) -> Result<(), RecorderError> {
        let right = right.unwrap_or(&[]);
        if left.len() > FRAME || right.len() > FRAME {
            return Err(RecorderError::InvalidInput(
                "frames are at most 960 samples".into(),
            ));
        }
        if self.ended_partial {
            return Err(RecorderError::InvalidInput(
                "only the last frame may be shorter than 960 samples".into(),
            ));
        }
        let real = left.len().max(right.len());
        for i in 0..FRAME {
            self.interleaved[2 * i] = left.get(i).copied().unwrap_or(0.0);
            self.interleaved[2 * i + 1] = right.get(i).copied().unwrap_or(0.0);
        }
        self.encode_current()?;
        self.real_samples += real as u64;
        self.ended_partial = real < FRAME;
        Ok(())
    }

    fn encode_current(&mut self) -> Result<(), RecorderError> {
        let n = self.enc.encode(&self.interleaved, &mut self.packet)?;
        self.writer.write_packet(&self.packet[..n], FRAME as u32)
    }

    /// Flushes the encoder's lookahead, writes the end-of-stream page, fsyncs and
    /// renames the file to its final name.
    pub fn finish(mut self) -> Result<RecordingSummary, RecorderError> {
        let target = i64::from(self.pre_skip) + self.real_samples as i64;
        self.interleaved.fill(0.0);
        while self.writer.granule() < target || self.writer.granule() == 0 {
            self.encode_current()?;
        }
        self.writer.finish(target)
    }
}

fn tags_for(meta: &RecordingMeta, cfg: &RecorderConfig) -> OpusTags {
    let mut comments = vec![
        (
            "ENCODER".to_string(),
            format!(
                "agent-softphone {} ({})",
                env!("CARGO_PKG_VERSION"),
                libopus_version()
            ),
        ),
        (
            "ENCODER_OPTIONS".into(),
            format!(
                "bitrate_per_channel={} complexity={} fec={}",
                cfg.bitrate_per_channel, cfg.complexity, cfg.inband_fec
            ),
        ),
        ("CALL_ID".into(), meta.call_id.clone()),
        ("START_TIME".into(), meta.start_time.clone()),
        ("CHANNEL_LEFT".into(), meta.left.clone()),
        ("CHANNEL_RIGHT".into(), meta.right.clone()),
    ];
    if let Some(lead) = &meta.lead_id {
        comments.push(("LEAD_ID".into(), lead.clone()));
    }
    comments.extend(meta.extra.iter().cloned());
    OpusTags {
        vendor: libopus_version(),
        comments,
    }
}
