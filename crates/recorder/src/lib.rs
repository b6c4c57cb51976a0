//! Crash-safe dual-track Ogg Opus call recorder.
//!
//! Key design decision: a recording is an ordinary Ogg Opus file (RFC 7845) with
//! channel mapping family 1 and **two uncoupled mono streams** (left = agent, right =
//! remote), so the talkers never leak into each other (coupled stereo leaks at low
//! bitrates) while every player still plays it as left/right. The file is written
//! as `NAME.opus.part` in whole, CRC-protected pages (one `write(2)` per page, one page
//! per 500 ms of audio, `fsync` at a bounded interval) and renamed to `NAME.opus` only
//! when finished with an end-of-stream page. A `.part` file therefore *is* the
//! "unfinished" marker; [`recover`] keeps its valid page prefix, marks the last page
//! end-of-stream and renames it, so a killed recording plays to within one page
//! (500 ms) of the kill.

pub mod codec;
pub mod export;
pub mod head;
pub mod ogg;
pub mod reader;
pub mod recorder;
pub mod recover;
pub mod writer;

pub use export::{export_voice, ExportOptions, ExportSummary};
pub use head::{OpusHead, OpusTags};
pub use reader::{decode_blocks, decode_file, read_file, Blocks, DecodedAudio, OggOpusFile};
pub use recorder::{DualTrackRecorder, RecorderConfig, RecordingMeta, TrackFrame};
pub use recover::{recover_dir, repair_file, RecoverOutcome, RecoverReport};
pub use writer::{OggOpusWriter, RecordingSummary, WriterOptions, PART_SUFFIX};

use std::path::Path;

/// Errors from recording, reading, repairing and exporting.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// File-system failure.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Refused to overwrite an existing recording (or an unfinished `.part` of it).
    #[error("{0} already exists; refusing to overwrite a recording")]
    Exists(String),
    /// libopus reported an error.
    #[error("opus codec: {0}")]
    Codec(String),
    /// The input is not a (valid) Ogg Opus file.
    #[error("not a valid Ogg Opus file: {0}")]
    Format(String),
    /// A damaged file that cannot be repaired without losing data; left untouched.
    #[error("{path}: cannot repair: {reason} (file left untouched)")]
    Unrecoverable { path: String, reason: String },
    /// The export cannot meet WhatsApp's size limit.
    #[error("voice export would exceed {limit} bytes even at the lowest bitrate")]
    TooLarge { limit: u64 },
    /// A caller passed an invalid argument.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl RecorderError {
    /// Stable, machine-readable error code for the UI and the CLI's JSON output.
    pub fn code(&self) -> &'static str {
        match self {
            RecorderError::Io { .. } => "recorder.io",
            RecorderError::Exists(_) => "recorder.exists",
            RecorderError::Codec(_) => "recorder.codec",
            RecorderError::Format(_) => "recorder.format",
            RecorderError::Unrecoverable { .. } => "recorder.unrecoverable",
            RecorderError::TooLarge { .. } => "recorder.too_large",
            RecorderError::InvalidInput(_) => "recorder.invalid_input",
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        RecorderError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
