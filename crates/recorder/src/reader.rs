//! Reading Ogg Opus files back: packets, headers, decoding.

use crate::codec::MsDecoder;
use crate::head::{OpusHead, OpusTags};
use crate::ogg::{self, FLAG_BOS, FLAG_EOS};
use crate::RecorderError;
use std::path::Path;

/// A parsed Ogg Opus file (one logical stream).
#[derive(Debug, Clone)]
pub struct OggOpusFile {
    /// Identification header.
    pub head: OpusHead,
    /// Comment header.
    pub tags: OpusTags,
    /// Audio packets in order.
    pub packets: Vec<Vec<u8>>,
    /// Granule position of the last page with a completed packet.
    pub last_granule: i64,
    /// True when the stream ends with an end-of-stream page and no trailing bytes.
    pub complete: bool,
}

impl OggOpusFile {
    /// Playable length in 48 kHz samples per channel.
    pub fn playable_samples(&self) -> u64 {
        (self.last_granule - i64::from(self.head.pre_skip)).max(0) as u64
    }
}

/// Parses an Ogg Opus file. A damaged tail (what a crash leaves) is tolerated and
/// reported through `complete = false`.
///
/// Errors: [`RecorderError::Format`] when the file is not Ogg Opus, holds several
/// streams, or is damaged in the middle.
pub fn read_file(path: &Path) -> Result<OggOpusFile, RecorderError> {
    let bytes = std::fs::read(path).map_err(|e| RecorderError::io(path, e))?;
    parse(&bytes)
}

pub(crate) fn parse(bytes: &[u8]) -> Result<OggOpusFile, RecorderError> {
    let scan = ogg::scan(bytes);
    let Some((_, first)) = scan.pages.first() else {
        return Err(RecorderError::Format(
            "no Ogg page at the start of the file".into(),
        ));
    };
    if first.flags & FLAG_BOS == 0 {
        return Err(RecorderError::Format(
            "first page is not a beginning-of-stream page".into(),
        ));
    }
    let serial = first.serial;
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut last_granule = -1;
    let mut eos = false;
    for (off, p) in &scan.pages {
        if p.serial != serial {
            return Err(RecorderError::Format(format!(
                "second logical stream at byte {off}: multiplexed files are not recordings"
            )));
        }
        for (piece, ends) in &p.pieces {
            partial.extend_from_slice(piece);
            if *ends {
                packets.push(std::mem::take(&mut partial));
            }
        }
        if p.granule >= 0 && packets.len() > 2 {
            last_granule = p.granule;
        }
        eos |= p.flags & FLAG_EOS != 0;
    }
    if packets.len() < 2 {
        return Err(RecorderError::Format("missing OpusHead or OpusTags".into()));
    }
    let head = OpusHead::parse(&packets[0])?;
    let tags = OpusTags::parse(&packets[1])?;
    packets.drain(..2);
    Ok(OggOpusFile {
        head,
        tags,
        packets,
        last_granule,
        complete: eos && scan.stopped.is_none(),
    })
}

/// Decoded audio: interleaved `f32` at 48 kHz.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// Channel count.
    pub channels: usize,
    /// Interleaved samples, pre-skip removed and end trimmed to the granule position.
    pub samples: Vec<f32>,
}

impl DecodedAudio {
    /// One channel's samples.
    pub fn channel(&self, c: usize) -> Vec<f32> {
        self.samples
            .iter()
            .skip(c)
            .step_by(self.channels)
            .copied()
            .collect()
    }
}

/// Decodes every packet of a parsed file.
pub fn decode_file(file: &OggOpusFile) -> Result<DecodedAudio, RecorderError> {
    let h = &file.head;
    let mut dec = MsDecoder::new(h.channels, h.streams, h.coupled, &h.mapping)?;
    let ch = usize::from(h.channels);
    let mut buf = vec![0.0f32; 5760 * ch];
    let mut out = Vec::with_capacity(file.packets.len() * 960 * ch);
    for p in &file.packets {
        let n = dec.decode(p, &mut buf)?;
        out.extend_from_slice(&buf[..n * ch]);
    }
    let skip = usize::from(h.pre_skip) * ch;
    let keep = file.playable_samples() as usize * ch;
    let end = (skip + keep).min(out.len());
    Ok(DecodedAudio {
        channels: ch,
        samples: out[skip.min(end)..end].to_vec(),
    })
}
