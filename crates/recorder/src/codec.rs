//! Safe wrappers over libopus's multistream encoder and decoder (via `opusic-sys`,
//! the bindings under the `opus` crate). `opus` 0.4.0 has `MSEncoder`/`MSDecoder`, but
//! the encoder there takes no `ctl`: no bitrate, complexity, in-band FEC, signal type,
//! reset or lookahead (the OpusHead pre-skip), all of which the recorder sets.
//!
//! One stream with mapping `[0]` produces ordinary single-stream Opus packets, so the
//! same wrapper encodes the mono WhatsApp export and the two-stream recording.

use crate::RecorderError;
use opusic_sys as ffi;
use std::ffi::CStr;

fn err(code: i32) -> RecorderError {
    // SAFETY: opus_strerror returns a pointer to a static NUL-terminated string.
    let msg = unsafe { CStr::from_ptr(ffi::opus_strerror(code)) };
    RecorderError::Codec(msg.to_string_lossy().into_owned())
}

/// libopus version string, e.g. "libopus 1.6.1".
pub fn libopus_version() -> String {
    // SAFETY: static NUL-terminated string.
    unsafe { CStr::from_ptr(ffi::opus_get_version_string()) }
        .to_string_lossy()
        .into_owned()
}

/// Coding intent passed to libopus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Application {
    /// Best for speech intelligibility (`OPUS_APPLICATION_VOIP`).
    Voip,
    /// Best fidelity for any signal (`OPUS_APPLICATION_AUDIO`, what opusenc uses).
    Audio,
}

/// Multistream Opus encoder at 48 kHz (RFC 7845 §5.1.1 channel mapping).
pub struct MsEncoder {
    st: *mut ffi::OpusMSEncoder,
    channels: usize,
}

// SAFETY: the encoder state is only touched through &mut self.
unsafe impl Send for MsEncoder {}

impl MsEncoder {
    /// Creates an encoder for `channels` interleaved input channels coded as `streams`
    /// streams of which `coupled` are stereo, routed by `mapping` (one byte per channel).
    pub fn new(
        channels: u8,
        streams: u8,
        coupled: u8,
        mapping: &[u8],
        application: Application,
    ) -> Result<Self, RecorderError> {
        if mapping.len() != usize::from(channels) {
            return Err(RecorderError::InvalidInput(
                "channel mapping length must equal the channel count".into(),
            ));
        }
        let app = match application {
            Application::Voip => ffi::OPUS_APPLICATION_VOIP,
            Application::Audio => ffi::OPUS_APPLICATION_AUDIO,
        };
        let mut e = 0;
        // SAFETY: mapping has `channels` bytes; libopus copies it.
        let st = unsafe {
            ffi::opus_multistream_encoder_create(
                48_000,
                i32::from(channels),
                i32::from(streams),
                i32::from(coupled),
                mapping.as_ptr(),
                app,
                &mut e,
            )
        };
        if e != ffi::OPUS_OK || st.is_null() {
            return Err(err(e));
        }
        let mut enc = Self {
            st,
            channels: usize::from(channels),
        };
        enc.ctl(ffi::OPUS_SET_SIGNAL_REQUEST, ffi::OPUS_SIGNAL_VOICE)?;
        Ok(enc)
    }

    fn ctl(&mut self, request: i32, value: i32) -> Result<(), RecorderError> {
        // SAFETY: every request used here takes one opus_int32 argument.
        let r = unsafe { ffi::opus_multistream_encoder_ctl(self.st, request, value) };
        if r != ffi::OPUS_OK {
            return Err(err(r));
        }
        Ok(())
    }

    /// Total bitrate over all streams, bits per second (libopus splits it evenly
    /// between uncoupled mono streams).
    pub fn set_bitrate(&mut self, bps: i32) -> Result<(), RecorderError> {
        self.ctl(ffi::OPUS_SET_BITRATE_REQUEST, bps)
    }

    /// Encoder complexity 0-10 (10 = best quality, libopus default).
    pub fn set_complexity(&mut self, c: i32) -> Result<(), RecorderError> {
        self.ctl(ffi::OPUS_SET_COMPLEXITY_REQUEST, c)
    }

    /// In-band forward error correction (RFC 6716 §2.1.7) and the loss it plans for, %.
    pub fn set_inband_fec(
        &mut self,
        on: bool,
        expected_loss_pct: i32,
    ) -> Result<(), RecorderError> {
        self.ctl(ffi::OPUS_SET_INBAND_FEC_REQUEST, i32::from(on))?;
        self.ctl(ffi::OPUS_SET_PACKET_LOSS_PERC_REQUEST, expected_loss_pct)
    }

    /// Forgets the encoder's history (`OPUS_RESET_STATE`), so the next packet starts
    /// from silence rather than from whatever was encoded last.
    pub fn reset(&mut self) -> Result<(), RecorderError> {
        // SAFETY: OPUS_RESET_STATE takes no argument.
        let r = unsafe { ffi::opus_multistream_encoder_ctl(self.st, ffi::OPUS_RESET_STATE) };
        if r != ffi::OPUS_OK {
            return Err(err(r));
        }
        Ok(())
    }

    /// Encoder lookahead in 48 kHz samples: the pre-skip to write in OpusHead.
    pub fn lookahead(&mut self) -> Result<u16, RecorderError> {
        let mut v: i32 = 0;
        // SAFETY: GET_LOOKAHEAD writes one opus_int32 through the pointer.
        let r = unsafe {
            ffi::opus_multistream_encoder_ctl(
                self.st,
                ffi::OPUS_GET_LOOKAHEAD_REQUEST,
                &mut v as *mut i32,
            )
        };
        if r != ffi::OPUS_OK {
            return Err(err(r));
        }
        u16::try_from(v).map_err(|_| RecorderError::Codec(format!("lookahead {v} out of range")))
    }

    /// Encodes one frame of interleaved `f32` samples (`pcm.len() / channels` samples
    /// per channel, a legal Opus frame size) into `out`; returns the packet length.
    pub fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<usize, RecorderError> {
        let frame = (pcm.len() / self.channels) as i32;
        // SAFETY: pcm holds frame*channels samples, out is writable for out.len() bytes.
        let n = unsafe {
            ffi::opus_multistream_encode_float(
                self.st,
                pcm.as_ptr(),
                frame,
                out.as_mut_ptr(),
                out.len() as i32,
            )
        };
        if n < 0 {
            return Err(err(n));
        }
        Ok(n as usize)
    }
}

impl Drop for MsEncoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_multistream_encoder_create, destroyed once.
        unsafe { ffi::opus_multistream_encoder_destroy(self.st) }
    }
}

/// Samples per channel at 48 kHz in one Opus packet (RFC 6716 §3.1 TOC byte and
/// §3.2 frame count).
///
/// Errors: [`RecorderError::Codec`] for an empty packet or a bad frame count.
pub fn packet_samples(packet: &[u8]) -> Result<usize, RecorderError> {
    if packet.is_empty() {
        return Err(RecorderError::Codec("empty Opus packet".into()));
    }
    opus::packet::get_nb_samples(packet, 48_000).map_err(|e| RecorderError::Codec(e.to_string()))
}

/// Appends `packet` to `out` re-framed with self-delimiting framing (RFC 6716
/// Appendix B), as every stream but the last is framed inside a multistream packet
/// (RFC 7845 §5.1.1). The frames are copied unchanged: a one-frame packet becomes
/// code 0 with its frame length after the TOC byte, a packet of several frames
/// becomes code 3 VBR with every frame length given (padding is dropped).
///
/// Errors: [`RecorderError::Codec`] when libopus cannot parse the packet
/// (`opus_packet_parse`); `out` is unchanged then.
pub fn append_self_delimited(packet: &[u8], out: &mut Vec<u8>) -> Result<(), RecorderError> {
    if packet.is_empty() {
        return Err(RecorderError::Codec("empty Opus packet".into()));
    }
    let parsed = opus::packet::parse(packet).map_err(|e| RecorderError::Codec(e.to_string()))?;
    let frames = &parsed.frames;
    let push_len = |out: &mut Vec<u8>, len: usize| {
        // RFC 6716 §3.2.1: one byte below 252, else 252 + (len & 3) and (len - that) / 4.
        if len < 252 {
            out.push(len as u8);
        } else {
            let first = 252 + (len & 3);
            out.push(first as u8);
            out.push(((len - first) / 4) as u8);
        }
    };
    match frames.len() {
        0 => return Err(RecorderError::Codec("Opus packet without frames".into())),
        1 => {
            out.push(parsed.toc & 0xFC);
            push_len(out, frames[0].len());
        }
        n => {
            out.push((parsed.toc & 0xFC) | 3);
            out.push(0x80 | n as u8);
            for f in frames {
                push_len(out, f.len());
            }
        }
    }
    for f in frames {
        out.extend_from_slice(f);
    }
    Ok(())
}

/// Multistream Opus decoder at 48 kHz.
pub struct MsDecoder {
    st: *mut ffi::OpusMSDecoder,
    channels: usize,
}

// SAFETY: the decoder state is only touched through &mut self.
unsafe impl Send for MsDecoder {}

impl MsDecoder {
    /// Creates a decoder for the layout given in an OpusHead.
    pub fn new(
        channels: u8,
        streams: u8,
        coupled: u8,
        mapping: &[u8],
    ) -> Result<Self, RecorderError> {
        if mapping.len() != usize::from(channels) {
            return Err(RecorderError::InvalidInput(
                "channel mapping length must equal the channel count".into(),
            ));
        }
        let mut e = 0;
        // SAFETY: mapping has `channels` bytes.
        let st = unsafe {
            ffi::opus_multistream_decoder_create(
                48_000,
                i32::from(channels),
                i32::from(streams),
                i32::from(coupled),
                mapping.as_ptr(),
                &mut e,
            )
        };
        if e != ffi::OPUS_OK || st.is_null() {
            return Err(err(e));
        }
        Ok(Self {
            st,
            channels: usize::from(channels),
        })
    }

    /// Decodes one packet into interleaved `out` (room for 120 ms = 5760 samples per
    /// channel is always enough); returns samples per channel. An empty `packet` runs
    /// packet loss concealment for `out.len() / channels` samples.
    pub fn decode(&mut self, packet: &[u8], out: &mut [f32]) -> Result<usize, RecorderError> {
        let frame = (out.len() / self.channels) as i32;
        let (ptr, len) = if packet.is_empty() {
            (std::ptr::null(), 0)
        } else {
            (packet.as_ptr(), packet.len() as i32)
        };
        // SAFETY: out has frame*channels floats; packet is valid for len bytes or null.
        let n = unsafe {
            ffi::opus_multistream_decode_float(self.st, ptr, len, out.as_mut_ptr(), frame, 0)
        };
        if n < 0 {
            return Err(err(n));
        }
        Ok(n as usize)
    }
}

impl Drop for MsDecoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_multistream_decoder_create, destroyed once.
        unsafe { ffi::opus_multistream_decoder_destroy(self.st) }
    }
}
