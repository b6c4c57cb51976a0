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

/// Decodes every packet of a parsed file into memory (about 384 KiB per minute and
/// channel: for long files prefer [`decode_blocks`]).
pub fn decode_file(file: &OggOpusFile) -> Result<DecodedAudio, RecorderError> {
    let ch = usize::from(file.head.channels);
    let mut samples = Vec::with_capacity(file.playable_samples() as usize * ch);
    for block in decode_blocks(file)? {
        samples.extend_from_slice(&block?);
    }
    Ok(DecodedAudio {
        channels: ch,
        samples,
    })
}

/// Decodes a file packet by packet, so playback and waveforms of long calls never hold
/// the whole decoded file: each item is one packet's interleaved 48 kHz samples, with the
/// pre-skip removed from the start and the end trimmed to the last granule position
/// (RFC 7845 §4.2, §4.4). Blocks that fall entirely into the pre-skip are not yielded.
///
/// Errors: [`RecorderError::Codec`] from libopus for a corrupt packet (the
/// iterator yields the error; the caller decides whether to stop).
pub fn decode_blocks(file: &OggOpusFile) -> Result<Blocks<'_>, RecorderError> {
    let h = &file.head;
    Ok(Blocks {
        file,
        dec: MsDecoder::new(h.channels, h.streams, h.coupled, &h.mapping)?,
        channels: usize::from(h.channels),
        next: 0,
        skip: usize::from(h.pre_skip),
        left: file.playable_samples(),
        buf: vec![0.0; 5760 * usize::from(h.channels)],
    })
}

/// Iterator returned by [`decode_blocks`].
pub struct Blocks<'a> {
    file: &'a OggOpusFile,
    dec: MsDecoder,
    channels: usize,
    next: usize,
    /// Samples per channel of pre-skip still to drop.
    skip: usize,
    /// Playable samples per channel still to yield.
    left: u64,
    buf: Vec<f32>,
}

impl Iterator for Blocks<'_> {
    type Item = Result<Vec<f32>, RecorderError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.left > 0 {
            let packet = self.file.packets.get(self.next)?;
            self.next += 1;
            let n = match self.dec.decode(packet, &mut self.buf) {
                Ok(n) => n,
                Err(e) => return Some(Err(e)),
            };
            let drop = self.skip.min(n);
            self.skip -= drop;
            let keep = ((n - drop) as u64).min(self.left) as usize;
            if keep == 0 {
                continue;
            }
            self.left -= keep as u64;
            let ch = self.channels;
            return Some(Ok(self.buf[drop * ch..(drop + keep) * ch].to_vec()));
        }
        None
    }
}
