//! OpusHead and OpusTags headers (RFC 7845 §5).

use crate::RecorderError;

/// Identification header (RFC 7845 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusHead {
    /// Output channel count.
    pub channels: u8,
    /// Samples at 48 kHz to discard from the decoder output at the start.
    pub pre_skip: u16,
    /// Sample rate of the original input, Hz (informational).
    pub input_rate: u32,
    /// Output gain, Q7.8 dB.
    pub output_gain: i16,
    /// Channel mapping family: 0 (mono/stereo) or 1 (Vorbis order, multistream).
    pub family: u8,
    /// Streams per packet (family 1).
    pub streams: u8,
    /// Of which coupled (stereo) streams.
    pub coupled: u8,
    /// Stream index per output channel (family 1).
    pub mapping: Vec<u8>,
}

impl OpusHead {
    /// Two uncoupled mono streams, left = stream 0, right = stream 1 (family 1).
    pub fn dual_mono(pre_skip: u16) -> Self {
        Self {
            channels: 2,
            pre_skip,
            input_rate: 48_000,
            output_gain: 0,
            family: 1,
            streams: 2,
            coupled: 0,
            mapping: vec![0, 1],
        }
    }

    /// Plain mono (family 0).
    pub fn mono(pre_skip: u16) -> Self {
        Self {
            channels: 1,
            pre_skip,
            input_rate: 48_000,
            output_gain: 0,
            family: 0,
            streams: 1,
            coupled: 0,
            mapping: vec![0],
        }
    }

    /// Serialises the header packet.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(21 + self.mapping.len());
        b.extend_from_slice(b"OpusHead");
        b.push(1);
        b.push(self.channels);
        b.extend_from_slice(&self.pre_skip.to_le_bytes());
        b.extend_from_slice(&self.input_rate.to_le_bytes());
        b.extend_from_slice(&self.output_gain.to_le_bytes());
        b.push(self.family);
        if self.family != 0 {
            b.push(self.streams);
            b.push(self.coupled);
            b.extend_from_slice(&self.mapping);
        }
        b
    }

    /// Parses and validates a header packet.
    pub fn parse(p: &[u8]) -> Result<Self, RecorderError> {
        let bad = |r: &str| RecorderError::Format(format!("OpusHead: {r}"));
        if p.len() < 19 || &p[..8] != b"OpusHead" {
            return Err(bad("missing identification header"));
        }
        if p[8] >> 4 != 0 {
            return Err(bad("unsupported major version"));
        }
        let channels = p[9];
        if channels == 0 {
            return Err(bad("zero channels"));
        }
        let family = p[18];
        let (streams, coupled, mapping) = if family == 0 {
            if channels > 2 {
                return Err(bad("family 0 allows at most 2 channels"));
            }
            (1, channels - 1, (0..channels).collect())
        } else {
            if p.len() < 21 + usize::from(channels) {
                return Err(bad("channel mapping table truncated"));
            }
            let (s, c) = (p[19], p[20]);
            if s == 0 || c > s {
                return Err(bad("invalid stream counts"));
            }
            (s, c, p[21..21 + usize::from(channels)].to_vec())
        };
        Ok(Self {
            channels,
            pre_skip: u16::from_le_bytes([p[10], p[11]]),
            input_rate: u32::from_le_bytes([p[12], p[13], p[14], p[15]]),
            output_gain: i16::from_le_bytes([p[16], p[17]]),
            family,
            streams,
            coupled,
            mapping,
        })
    }
}

/// Comment header (RFC 7845 §5.2): vendor string and `KEY=value` comments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpusTags {
    /// Encoder identification.
    pub vendor: String,
    /// Comments as (key, value); keys are ASCII, case-insensitive.
    pub comments: Vec<(String, String)>,
}

impl OpusTags {
    /// Serialises the header packet.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"OpusTags");
        b.extend_from_slice(&(self.vendor.len() as u32).to_le_bytes());
        b.extend_from_slice(self.vendor.as_bytes());
        b.extend_from_slice(&(self.comments.len() as u32).to_le_bytes());
        for (k, v) in &self.comments {
            let c = format!("{k}={v}");
            b.extend_from_slice(&(c.len() as u32).to_le_bytes());
            b.extend_from_slice(c.as_bytes());
        }
        b
    }

    /// Parses a comment header.
    pub fn parse(p: &[u8]) -> Result<Self, RecorderError> {
        let bad = || RecorderError::Format("OpusTags: malformed comment header".into());
        if p.len() < 16 || &p[..8] != b"OpusTags" {
            return Err(bad());
        }
        let mut off = 8;
        let mut take = |n: usize| -> Result<&[u8], RecorderError> {
            let s = p.get(off..off + n).ok_or_else(bad)?;
            off += n;
            Ok(s)
        };
        let u32le = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap()) as usize;
        let vlen = u32le(take(4)?);
        let vendor = String::from_utf8_lossy(take(vlen)?).into_owned();
        let count = u32le(take(4)?);
        let mut comments = Vec::new();
        for _ in 0..count {
            let len = u32le(take(4)?);
            let c = String::from_utf8_lossy(take(len)?).into_owned();
            if let Some((k, v)) = c.split_once('=') {
                comments.push((k.to_string(), v.to_string()));
            }
        }
        Ok(Self { vendor, comments })
    }

    /// First value for `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.comments
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_and_tags_round_trip() {
        let h = OpusHead::dual_mono(312);
        let b = h.to_bytes();
        assert_eq!(b.len(), 23);
        assert_eq!(OpusHead::parse(&b).unwrap(), h);
        assert_eq!(
            OpusHead::parse(&OpusHead::mono(312).to_bytes())
                .unwrap()
                .streams,
            1
        );
        let t = OpusTags {
            vendor: "x".into(),
            comments: vec![("CALL_ID".into(), "c1".into())],
        };
        assert_eq!(
            OpusTags::parse(&t.to_bytes()).unwrap().get("call_id"),
            Some("c1")
        );
        assert!(OpusHead::parse(b"OpusHeaX").is_err());
        assert!(OpusTags::parse(b"OpusTags\xff\xff\xff\xff").is_err());
    }
}
