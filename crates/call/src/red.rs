//! RFC 2198 redundant audio (RED) for Opus, I/O-free.
//!
//! Each RED packet carries the current 20 ms Opus frame (the primary block) and a copy
//! of the previous [`RED_DISTANCE`] frames (redundant blocks), so a lost packet's frame
//! arrives, at full quality, in the next packet. In-band FEC (RFC 7587 §3.3) rebuilds one
//! lost frame at a lower bitrate; the two together recover two losses in a row, which
//! is what a 5 % random loss hits a few times a minute. Chromium negotiates the same
//! format (`a=rtpmap:63 red/48000/2`, `a=fmtp:63 111/111`).
//!
//! Wire format (RFC 2198 §3), one header per block, the primary's last:
//!
//! ```text
//! redundant: |1|  block PT (7) |  timestamp offset (14)  |  block length (10)  |
//! primary:   |0|  block PT (7) |
//! ```
//! followed by the blocks' data in the same order.

/// Payload type we offer for `red/48000/2` (what Chromium uses).
pub const RED_PT: u8 = 63;
/// Previous frames each packet repeats. One keeps the bitrate at twice Opus's; with the
/// frame's own in-band FEC the receiver still rebuilds two losses in a row.
pub const RED_DISTANCE: usize = 1;
/// Largest timestamp offset a redundant block header holds, RTP ticks (14 bits).
pub const MAX_TS_OFFSET: u32 = (1 << 14) - 1;
/// Largest redundant block a header holds, bytes (10 bits).
pub const MAX_BLOCK_LEN: usize = (1 << 10) - 1;

/// One block of a RED payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedBlock<'a> {
    /// The block's payload type (Opus's for everything we decode).
    pub payload_type: u8,
    /// How far before the packet's RTP timestamp this block's audio starts, ticks of
    /// the 48 kHz RTP clock (0 for the primary block).
    pub ts_offset: u32,
    /// The encoded frame (an Opus packet, RFC 6716), possibly empty.
    pub data: &'a [u8],
}

/// A RED payload that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedError {
    /// The headers end before the primary block's header.
    #[error("RED payload truncated in its block headers")]
    TruncatedHeader,
    /// The redundant blocks' lengths add up to more than the payload holds.
    #[error("RED block lengths ({need} bytes) exceed the payload ({have} bytes)")]
    TruncatedData {
        /// Bytes the headers announce.
        need: usize,
        /// Bytes after the headers.
        have: usize,
    },
}

/// Splits a RED payload into its blocks, oldest first, the primary block last.
///
/// Errors: [`RedError`] when the headers or lengths do not fit the payload; nothing
/// is read past its end.
pub fn parse(payload: &[u8]) -> Result<Vec<RedBlock<'_>>, RedError> {
    let mut headers = vec![];
    let mut pos = 0;
    loop {
        let &first = payload.get(pos).ok_or(RedError::TruncatedHeader)?;
        if first & 0x80 == 0 {
            headers.push((first & 0x7f, 0, None));
            pos += 1;
            break;
        }
        let h = payload.get(pos..pos + 4).ok_or(RedError::TruncatedHeader)?;
        let ts_offset = (u32::from(h[1]) << 6) | (u32::from(h[2]) >> 2);
        let len = (usize::from(h[2] & 0x03) << 8) | usize::from(h[3]);
        headers.push((first & 0x7f, ts_offset, Some(len)));
        pos += 4;
    }
    let have = payload.len() - pos;
    let need: usize = headers.iter().filter_map(|h| h.2).sum();
    if need > have {
        return Err(RedError::TruncatedData { need, have });
    }
    let mut blocks = Vec::with_capacity(headers.len());
    for (payload_type, ts_offset, len) in headers {
        let len = len.unwrap_or(payload.len() - pos);
        blocks.push(RedBlock {
            payload_type,
            ts_offset,
            data: &payload[pos..pos + len],
        });
        pos += len;
    }
    Ok(blocks)
}

/// Builds RED payloads from consecutive Opus frames: each carries the frame and the
/// last [`RED_DISTANCE`] frames before it.
#[derive(Debug)]
pub struct RedEncoder {
    opus_pt: u8,
    distance: usize,
    /// (RTP timestamp, Opus frame) of the frames sent last, oldest first.
    history: std::collections::VecDeque<(u32, Vec<u8>)>,
}

impl RedEncoder {
    /// An encoder for Opus frames of payload type `opus_pt` repeating `distance`
    /// previous frames.
    pub fn new(opus_pt: u8, distance: usize) -> Self {
        Self {
            opus_pt,
            distance,
            history: Default::default(),
        }
    }

    /// Previous frames each payload repeats.
    pub fn distance(&self) -> usize {
        self.distance
    }

    /// The RED payload for the Opus frame `opus` at RTP timestamp `ts` (kept for the
    /// packets after it). A previous frame is left out when it is too old for the
    /// 14-bit offset (a gap in capture) or too long for the 10-bit length.
    pub fn payload(&mut self, ts: u32, opus: Vec<u8>) -> Vec<u8> {
        let redundant: Vec<&(u32, Vec<u8>)> = self
            .history
            .iter()
            .filter(|(t, d)| {
                let off = ts.wrapping_sub(*t);
                off > 0 && off <= MAX_TS_OFFSET && d.len() <= MAX_BLOCK_LEN
            })
            .collect();
        let data_len: usize = redundant.iter().map(|(_, d)| d.len()).sum();
        let mut out = Vec::with_capacity(redundant.len() * 4 + 1 + data_len + opus.len());
        for (t, d) in &redundant {
            let off = ts.wrapping_sub(*t);
            out.push(0x80 | self.opus_pt);
            out.push((off >> 6) as u8);
            out.push((((off & 0x3f) << 2) as u8) | ((d.len() >> 8) as u8));
            out.push(d.len() as u8);
        }
        out.push(self.opus_pt & 0x7f);
        for (_, d) in &redundant {
            out.extend_from_slice(d);
        }
        out.extend_from_slice(&opus);
        if self.distance > 0 {
            if self.history.len() == self.distance {
                self.history.pop_front();
            }
            self.history.push_back((ts, opus));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_carries_the_previous_frame_before_its_own() {
        let mut e = RedEncoder::new(111, 1);
        let first = e.payload(1000, b"one".to_vec());
        assert_eq!(first, [111, b'o', b'n', b'e']);
        let second = e.payload(1960, b"two!".to_vec());
        let blocks = parse(&second).unwrap();
        assert_eq!(
            blocks,
            vec![
                RedBlock {
                    payload_type: 111,
                    ts_offset: 960,
                    data: b"one"
                },
                RedBlock {
                    payload_type: 111,
                    ts_offset: 0,
                    data: b"two!"
                },
            ]
        );
    }

    #[test]
    fn distance_two_repeats_two_frames_oldest_first() {
        let mut e = RedEncoder::new(109, 2);
        for (i, f) in [&b"a"[..], b"bb", b"ccc"].iter().enumerate() {
            e.payload(960 * i as u32, f.to_vec());
        }
        let p = e.payload(960 * 3, b"dddd".to_vec());
        let blocks = parse(&p).unwrap();
        let got: Vec<(u32, &[u8])> = blocks.iter().map(|b| (b.ts_offset, b.data)).collect();
        assert_eq!(got, vec![(1920, &b"bb"[..]), (960, b"ccc"), (0, b"dddd")]);
        assert!(blocks.iter().all(|b| b.payload_type == 109));
    }

    #[test]
    fn offsets_and_lengths_use_all_their_bits() {
        let mut e = RedEncoder::new(111, 1);
        let long = vec![7u8; MAX_BLOCK_LEN];
        e.payload(u32::MAX - 100, long.clone());
        // Wraps the 32-bit timestamp; the offset needs all 14 bits.
        let ts = (u32::MAX - 100).wrapping_add(MAX_TS_OFFSET);
        let p = e.payload(ts, b"x".to_vec());
        let blocks = parse(&p).unwrap();
        assert_eq!(blocks[0].ts_offset, MAX_TS_OFFSET);
        assert_eq!(blocks[0].data.len(), MAX_BLOCK_LEN);
        assert_eq!(blocks[1].data, b"x");
    }

    #[test]
    fn frames_too_old_or_too_long_are_left_out() {
        let mut e = RedEncoder::new(111, 1);
        e.payload(0, b"old".to_vec());
        assert_eq!(
            parse(&e.payload(MAX_TS_OFFSET + 1, b"new".to_vec()))
                .unwrap()
                .len(),
            1
        );
        e.payload(100_000, vec![0u8; MAX_BLOCK_LEN + 1]);
        assert_eq!(parse(&e.payload(100_960, b"y".to_vec())).unwrap().len(), 1);
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        assert_eq!(parse(&[]), Err(RedError::TruncatedHeader));
        assert_eq!(parse(&[0x80 | 111, 0, 0]), Err(RedError::TruncatedHeader));
        // One redundant block of 5 bytes announced, 2 present after the headers.
        assert_eq!(
            parse(&[0x80 | 111, 15, 0, 5, 111, 1, 2]),
            Err(RedError::TruncatedData { need: 5, have: 2 })
        );
        // A primary block may be empty.
        assert_eq!(parse(&[111]).unwrap()[0].data, b"");
        // Every byte string either parses into blocks that tile it or is an error.
        for len in 0..12 {
            for seed in 0..64u8 {
                let p: Vec<u8> = (0..len)
                    .map(|i| {
                        seed.wrapping_mul(37)
                            .wrapping_add((i as u8).wrapping_mul(101))
                    })
                    .collect();
                if let Ok(blocks) = parse(&p) {
                    let data: usize = blocks.iter().map(|b| b.data.len()).sum();
                    assert_eq!(data + 4 * (blocks.len() - 1) + 1, p.len());
                }
            }
        }
    }
}
