//! Real-time scheduling for audio threads.
//!
//! Key design decision: every thread on the audio path (the call's capture and
//! playout threads and the device callbacks' threads) gets one real-time class, at a
//! priority *below* the sound server's. A client thread above the server preempts the
//! thread that feeds it: at priority 10 our call threads outranked PulseAudio's
//! null-sink threads (SCHED_RR 5) on the two-core test machine.

/// SCHED_FIFO priority of our audio threads (1-99): below the sound server's own
/// real-time threads, so our threads can never delay the server that feeds them.
/// PulseAudio's I/O threads run at 5 (`realtime-priority` in daemon.conf, what rtkit
/// grants by default); PipeWire's data loop asks for 88, capped at 20 by rtkit.
pub const REALTIME_PRIORITY: u8 = 4;

/// How an audio thread ended up scheduled, see [`promote_to_realtime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioScheduling {
    /// A real-time class (SCHED_FIFO on Linux; time-critical on Windows).
    Realtime,
    /// Not real-time, but a raised priority.
    Raised,
    /// Neither was allowed (no CAP_SYS_NICE or RLIMIT_RTPRIO): normal scheduling.
    Default,
}

/// Gives the calling audio thread a real-time priority where the OS allows it, so a
/// busy machine (a build, a browser, other calls) does not delay a 20 ms audio frame.
/// Audio threads do almost nothing per frame (~1 ms of Opus at most), so real-time
/// scheduling cannot starve the machine. Never fails: it reports what it got.
pub fn promote_to_realtime() -> AudioScheduling {
    use thread_priority::*;
    #[cfg(unix)]
    {
        let prio = ThreadPriorityValue::try_from(REALTIME_PRIORITY)
            .map(ThreadPriority::Crossplatform)
            .unwrap_or(ThreadPriority::Min);
        let fifo = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo);
        if set_thread_priority_and_policy(thread_native_id(), prio, fifo).is_ok() {
            return AudioScheduling::Realtime;
        }
    }
    if set_current_thread_priority(ThreadPriority::Max).is_ok() {
        return AudioScheduling::Raised;
    }
    AudioScheduling::Default
}
