//! WebRTC calls for the softphone: the call engine, its state machine, jitter buffer and
//! quality metrics.
//!
//! Key design decision: everything that decides (the call state machine, the jitter
//! buffer, the quality metrics) is I/O-free and driven with explicit time, so it is
//! tested on a simulated clock; the webrtc crate (0.21, pinned) only moves packets, and
//! the audio devices stay on their own threads, talking to the async side through
//! bounded channels. See docs/adr/0008-calls.md.
//!
//! Feature `engine` (default) adds the agent side: audio devices, Opus codec, recorder
//! and [`run_call`]. Without it (the server's echo peer) only [`peer`] and the I/O-free
//! parts build, with no audio libraries.

pub mod jitter;
pub mod machine;
pub mod peer;
pub mod quality;
pub mod red;

#[cfg(feature = "engine")]
pub mod audio;
#[cfg(feature = "engine")]
pub mod engine;

pub use jitter::{JitterBuffer, Playout};
pub use machine::{CallMachine, CallState, EndReason, Input, MediaCmd, Output, Timeouts};
pub use peer::{IceRoute, IceServer, PeerConfig};
pub use quality::{QualityLevel, QualitySample, QualityTracker};

#[cfg(feature = "engine")]
pub use audio::{AudioIn, AudioOut, EncoderSettings, RecordSpec};
#[cfg(feature = "engine")]
pub use engine::{run_call, CallEvent, CallReport, CallSetup, CandidateRewrite, Command};
