//! The dual-track call recorder: agent on the left, remote on the right.

use crate::codec::{
    append_self_delimited, libopus_version, packet_samples, Application, MsEncoder,
};
use crate::head::{OpusHead, OpusTags};
use crate::writer::{OggOpusWriter, RecordingSummary, WriterOptions};
use crate::RecorderError;
use std::path::Path;

/// Samples per 20 ms frame at 48 kHz.
pub const FRAME: usize = 960;
/// Room for one multistream packet: two streams of at most 1275 bytes per 20 ms frame
/// (RFC 6716 §3.4 R2) plus their framing.
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
    /// 4.419 / 4.434). In a call these encoders run only for the frames that come as
    /// samples ([`TrackFrame`]); the packets are stored as they are.
    pub fn live_call() -> Self {
        Self {
            complexity: 6,
            ..Self::default()
        }
    }
}

/// One 20 ms frame of one track, as [`DualTrackRecorder::push_tracks`] takes it.
///
/// A call already has both tracks as Opus: the packets its send encoder made of the
/// agent's voice, and the packets received from the peer. Those are written as they
/// are (ADR 0014), so a call's recording costs no encoder and holds exactly what was
/// sent and heard; the other variants cover the slots that have no such packet.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackFrame {
    /// An Opus packet (RFC 6716) of exactly 20 ms (960 samples at 48 kHz), written
    /// unchanged. Any other duration, or a packet libopus cannot parse, is written as
    /// [`TrackFrame::Lost`] and counted in [`DualTrackRecorder::replaced_packets`].
    Opus(Vec<u8>),
    /// A lost packet: written as a TOC-only packet (a zero-length frame, RFC 6716
    /// §3.2.1), which players conceal from the packets before it, as the live decoder
    /// did.
    Lost,
    /// 960 samples (48 kHz, -1.0..=1.0) to encode, e.g. audio rebuilt from in-band FEC.
    Pcm(Box<[f32; FRAME]>),
    /// 20 ms of silence (encoded).
    Silence,
}

/// Records two time-aligned mono tracks into one Ogg Opus file (family 1, two
/// uncoupled streams). Feed it one 20 ms frame per track at a time, as samples
/// ([`DualTrackRecorder::push`]) or as packets ([`DualTrackRecorder::push_tracks`]);
/// a missing remote frame is recorded as silence, so the tracks stay aligned sample
/// for sample. Each Ogg packet is a multistream packet: the left stream's packet in
/// self-delimiting framing, then the right stream's (RFC 7845 §5.1.1).
pub struct DualTrackRecorder {
    /// One mono encoder per track, for the frames that come as samples.
    enc: [MsEncoder; 2],
    /// Whether each track's encoder encoded that track's previous frame (its history
    /// is the track's own audio).
    enc_continuous: [bool; 2],
    /// The TOC byte of each track's last 20 ms one-frame packet, for lost packets.
    last_toc: [u8; 2],
    writer: OggOpusWriter,
    pcm: [f32; FRAME],
    track_packet: Vec<u8>,
    packet: Vec<u8>,
    pre_skip: u16,
    real_samples: u64,
    ended_partial: bool,
    replaced: u64,
}

/// TOC byte of a 20 ms SILK wideband one-frame mono packet (RFC 6716 §3.1, config 9).
const SILK_WB_20MS_TOC: u8 = 9 << 3;

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
        let mono = || -> Result<MsEncoder, RecorderError> {
            let mut enc = MsEncoder::new(1, 1, 0, &[0], cfg.application)?;
            enc.set_bitrate(cfg.bitrate_per_channel)?;
            enc.set_complexity(cfg.complexity)?;
            enc.set_inband_fec(cfg.inband_fec, if cfg.inband_fec { 5 } else { 0 })?;
            Ok(enc)
        };
        let mut enc = [mono()?, mono()?];
        // libopus's lookahead at 48 kHz is 312 samples for both VOIP and AUDIO, so
        // packets from a call's encoders share this pre-skip.
        let pre_skip = enc[0].lookahead()?;
        let head = OpusHead::dual_mono(pre_skip);
        let tags = tags_for(meta, cfg);
        let writer = OggOpusWriter::create(path, &head, &tags, &cfg.writer)?;
        Ok(Self {
            enc,
            enc_continuous: [true; 2],
            last_toc: [SILK_WB_20MS_TOC; 2],
            writer,
            pcm: [0.0; FRAME],
            track_packet: vec![0; MAX_PACKET],
            packet: Vec::with_capacity(MAX_PACKET),
            pre_skip,
            real_samples: 0,
            ended_partial: false,
            replaced: 0,
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

    /// [`TrackFrame::Opus`] packets that were not 20 ms Opus and were written as lost.
    pub fn replaced_packets(&self) -> u64 {
        self.replaced
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
        self.check_not_ended()?;
        let real = left.len().max(right.len());
        self.packet.clear();
        self.add_samples(0, left)?;
        self.add_samples(1, right)?;
        self.write_current()?;
        self.real_samples += real as u64;
        self.ended_partial = real < FRAME;
        Ok(())
    }

    /// Records one 20 ms frame of each track: `left` is the agent, `right` the remote
    /// party. Opus packets are written unchanged (see [`TrackFrame`]).
    ///
    /// Errors: [`RecorderError::InvalidInput`] after a short last frame;
    /// [`RecorderError::Codec`] / [`RecorderError::Io`] from encoding and writing.
    pub fn push_tracks(
        &mut self,
        left: &TrackFrame,
        right: &TrackFrame,
    ) -> Result<(), RecorderError> {
        self.check_not_ended()?;
        self.write_tracks(left, right)?;
        self.real_samples += FRAME as u64;
        Ok(())
    }

    fn write_tracks(&mut self, left: &TrackFrame, right: &TrackFrame) -> Result<(), RecorderError> {
        self.packet.clear();
        self.add_track(0, left)?;
        self.add_track(1, right)?;
        self.write_current()
    }

    fn check_not_ended(&self) -> Result<(), RecorderError> {
        if self.ended_partial {
            return Err(RecorderError::InvalidInput(
                "only the last frame may be shorter than 960 samples".into(),
            ));
        }
        Ok(())
    }

    fn add_track(&mut self, track: usize, frame: &TrackFrame) -> Result<(), RecorderError> {
        match frame {
            TrackFrame::Opus(p) => match packet_samples(p) {
                Ok(FRAME) => {
                    if append_stream(track, p, &mut self.packet).is_err() {
                        return self.add_lost(track, true);
                    }
                    if p[0] & 3 == 0 {
                        self.last_toc[track] = p[0];
                    }
                    self.enc_continuous[track] = false;
                    Ok(())
                }
                _ => self.add_lost(track, true),
            },
            TrackFrame::Lost => self.add_lost(track, false),
            TrackFrame::Pcm(samples) => {
                self.pcm = **samples;
                self.encode_pcm(track)
            }
            TrackFrame::Silence => {
                self.pcm.fill(0.0);
                self.encode_pcm(track)
            }
        }
    }

    fn add_lost(&mut self, track: usize, replaced: bool) -> Result<(), RecorderError> {
        if replaced {
            if self.replaced == 0 {
                tracing::warn!(
                    track,
                    "a packet that is not 20 ms of Opus was recorded as lost"
                );
            }
            self.replaced += 1;
        }
        self.packet.push(self.last_toc[track]);
        if track == 0 {
            self.packet.push(0);
        }
        self.enc_continuous[track] = false;
        Ok(())
    }

    fn add_samples(&mut self, track: usize, samples: &[f32]) -> Result<(), RecorderError> {
        let n = samples.len().min(FRAME);
        self.pcm[..n].copy_from_slice(&samples[..n]);
        self.pcm[n..].fill(0.0);
        self.encode_pcm(track)
    }

    fn encode_pcm(&mut self, track: usize) -> Result<(), RecorderError> {
        if !self.enc_continuous[track] {
            // Its history is some earlier stretch of the track: start it from silence
            // rather than replay 6.5 ms (its lookahead) of that.
            self.enc[track].reset()?;
            self.enc_continuous[track] = true;
        }
        let n = self.enc[track].encode(&self.pcm, &mut self.track_packet)?;
        append_stream(track, &self.track_packet[..n], &mut self.packet)
    }

    fn write_current(&mut self) -> Result<(), RecorderError> {
        self.writer.write_packet(&self.packet, FRAME as u32)
    }

    /// Writes silence to cover the encoders' lookahead, then the end-of-stream page,
    /// fsyncs and renames the file to its final name.
    pub fn finish(mut self) -> Result<RecordingSummary, RecorderError> {
        let target = i64::from(self.pre_skip) + self.real_samples as i64;
        while self.writer.granule() < target || self.writer.granule() == 0 {
            // Not counted in the duration: the granule position trims it (RFC 7845 §4.4).
            self.write_tracks(&TrackFrame::Silence, &TrackFrame::Silence)?;
        }
        self.writer.finish(target)
    }
}

/// Appends one stream's packet to a multistream packet: the left stream (0)
/// self-delimited, the right (last) stream as is (RFC 7845 §5.1.1). Leaves `out`
/// unchanged on error.
fn append_stream(track: usize, packet: &[u8], out: &mut Vec<u8>) -> Result<(), RecorderError> {
    if track == 0 {
        append_self_delimited(packet, out)
    } else {
        out.extend_from_slice(packet);
        Ok(())
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
