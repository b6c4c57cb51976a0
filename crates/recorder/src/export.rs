//! WhatsApp voice-message export: a mono Ogg Opus downmix of a recording.
//!
//! Meta's Cloud API accepts `audio/ogg` with the Opus codec, mono only, up to 16 MB
//! (a voice note shows its play button only up to 512 KB). The export mixes agent and
//! remote (sum, limited to full scale: the talkers rarely overlap, and halving would
//! make each 6 dB quieter), encodes 20 ms VoIP-tuned frames at a voice bitrate, and
//! lowers the bitrate for very long calls so the file always fits.

use crate::codec::{libopus_version, Application, MsEncoder};
use crate::head::{OpusHead, OpusTags};
use crate::reader::{decode_file, read_file};
use crate::writer::{OggOpusWriter, RecordingSummary, WriterOptions};
use crate::RecorderError;
use serde::Serialize;
use std::path::Path;

/// WhatsApp's limit for audio messages, bytes (Meta docs: 16 MB).
pub const WHATSAPP_AUDIO_LIMIT: u64 = 16 * 1024 * 1024;
/// Size up to which WhatsApp shows a voice note's play button, bytes.
pub const WHATSAPP_PLAY_BUTTON_LIMIT: u64 = 512 * 1024;
/// Lowest bitrate we accept to make a long call fit, bits per second.
const MIN_BITRATE: i32 = 6_000;

/// Export settings.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Target bitrate, bits per second (default 24 000).
    pub bitrate: i32,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self { bitrate: 24_000 }
    }
}

/// Result of an export.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// The written file.
    #[serde(flatten)]
    pub recording: RecordingSummary,
    /// Bitrate actually used, bits per second.
    pub bitrate: i32,
    /// True when WhatsApp will show it with a play button (<= 512 KB).
    pub fits_play_button: bool,
}

/// Exports `input` (any Ogg Opus recording) to `output` as a mono voice message.
///
/// Errors: reading or decoding `input` ([`RecorderError::Format`], I/O); `output`
/// exists ([`RecorderError::Exists`]); [`RecorderError::TooLarge`] when even 6 kbit/s
/// would exceed 16 MB (about 5.8 hours).
pub fn export_voice(
    input: &Path,
    output: &Path,
    opts: &ExportOptions,
) -> Result<ExportSummary, RecorderError> {
    let file = read_file(input)?;
    let audio = decode_file(&file)?;
    let ch = audio.channels;
    let mono: Vec<f32> = audio
        .samples
        .chunks_exact(ch)
        .map(|f| f.iter().sum::<f32>().clamp(-1.0, 1.0))
        .collect();
    let secs = (mono.len() as f64 / 48_000.0).max(0.02);
    // 3 % headroom for Ogg framing and VBR overshoot.
    let fit = (WHATSAPP_AUDIO_LIMIT as f64 * 8.0 * 0.97 / secs) as i64;
    let bitrate = i64::from(opts.bitrate).min(fit) as i32;
    if bitrate < MIN_BITRATE {
        return Err(RecorderError::TooLarge {
            limit: WHATSAPP_AUDIO_LIMIT,
        });
    }
    let mut enc = MsEncoder::new(1, 1, 0, &[0], Application::Voip)?;
    enc.set_bitrate(bitrate)?;
    let pre_skip = enc.lookahead()?;
    let mut comments = vec![(
        "ENCODER".to_string(),
        format!("agent-softphone voice export ({})", libopus_version()),
    )];
    for key in ["CALL_ID", "LEAD_ID", "START_TIME"] {
        if let Some(v) = file.tags.get(key) {
            comments.push((key.to_string(), v.to_string()));
        }
    }
    let tags = OpusTags {
        vendor: libopus_version(),
        comments,
    };
    let opts = WriterOptions {
        page_ms: 1000,
        fsync_ms: u32::MAX,
    };
    let mut w = OggOpusWriter::create(output, &OpusHead::mono(pre_skip), &tags, &opts)?;
    let mut packet = vec![0u8; 1500];
    let mut frame = [0f32; 960];
    let target = i64::from(pre_skip) + mono.len() as i64;
    let mut pos = 0;
    while w.granule() < target || w.granule() == 0 {
        let n = mono.len().saturating_sub(pos).min(960);
        frame[..n].copy_from_slice(&mono[pos..pos + n]);
        frame[n..].fill(0.0);
        pos += n;
        let len = enc.encode(&frame, &mut packet)?;
        w.write_packet(&packet[..len], 960)?;
    }
    let recording = w.finish(target)?;
    if recording.bytes > WHATSAPP_AUDIO_LIMIT {
        let _ = std::fs::remove_file(&recording.path);
        return Err(RecorderError::TooLarge {
            limit: WHATSAPP_AUDIO_LIMIT,
        });
    }
    Ok(ExportSummary {
        fits_play_button: recording.bytes <= WHATSAPP_PLAY_BUTTON_LIMIT,
        recording,
        bitrate,
    })
}
