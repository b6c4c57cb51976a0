//! The call state machine (I/O-free, in the style of str0m's `poll_output`).
//!
//! Feed it user commands, signaling frames and media events with the current time
//! ([`CallMachine::handle`]), drain what it wants done ([`CallMachine::poll_output`]),
//! and wake it at [`CallMachine::poll_timeout`]. It never touches a socket, a device or
//! the clock, so every path (ring timeout, no media for N seconds, glare of hang-ups)
//! is unit-tested on a simulated clock.

use serde::{Deserialize, Serialize};
use softphone_proto::signal::{ClientMsg, IceCandidate, SdpKind, ServerMsg};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Why a call ended. `as_str` values are what the call record's `end_reason` holds.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
pub enum EndReason {
    /// The agent hung up a connected call.
    LocalHangup,
    /// The other side hung up.
    RemoteHangup,
    /// The caller gave up before an answer.
    Cancelled,
    /// The callee declined.
    Rejected,
    /// Nobody answered within the ring timeout.
    NoAnswer,
    /// The callee is busy or in wrap-up.
    Busy,
    /// The callee is not signed in.
    Offline,
    /// No such callee.
    NotFound,
    /// Another device of the callee took (or declined) the call.
    AnsweredElsewhere,
    /// ICE failed, or no media arrived for the media timeout, or the peer's signaling
    /// connection dropped.
    NetworkLost,
    /// Something broke (malformed SDP, media setup error); the detail says what.
    Failed(String),
}

impl EndReason {
    /// Stable snake_case name, e.g. `remote_hangup`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EndReason::LocalHangup => "local_hangup",
            EndReason::RemoteHangup => "remote_hangup",
            EndReason::Cancelled => "cancelled",
            EndReason::Rejected => "rejected",
            EndReason::NoAnswer => "no_answer",
            EndReason::Busy => "busy",
            EndReason::Offline => "offline",
            EndReason::NotFound => "not_found",
            EndReason::AnsweredElsewhere => "answered_elsewhere",
            EndReason::NetworkLost => "network_lost",
            EndReason::Failed(_) => "failed",
        }
    }
}

/// Where a call is.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum CallState {
    /// Nothing yet.
    Idle,
    /// Outgoing: preparing the SDP offer / waiting for the server.
    Dialing,
    /// Outgoing: the callee's device is alerting.
    RingingOut,
    /// Incoming: our device is alerting.
    RingingIn,
    /// Media may flow.
    Connected,
    /// Connected, but we stopped sending and playing.
    OnHold,
    /// Over.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

/// Media-side commands the engine carries out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCmd {
    /// Build the peer and produce an SDP offer ([`Input::LocalOffer`]).
    CreateOffer,
    /// Apply the remote offer and produce an SDP answer ([`Input::LocalAnswer`]).
    CreateAnswer(String),
    /// Apply the remote answer.
    ApplyAnswer(String),
    /// Add a remote trickled ICE candidate.
    AddIce(IceCandidate),
    /// Stop (true) or resume (false) sending captured audio.
    Mute(bool),
    /// Hold (true) or resume (false): stop playing the peer and send encoded silence
    /// instead of the microphone (the silence keeps the peer's no-media timer alive).
    Hold(bool),
    /// Send one RFC 4733 telephone-event digit.
    Dtmf(char),
    /// Tear the media down and release the devices.
    Stop,
}

/// Everything the machine reacts to.
#[derive(Debug, Clone)]
pub enum Input {
    /// The agent dials `to` (a user id, `echo`, or a browser link id).
    Dial {
        /// Callee.
        to: String,
    },
    /// The agent answers the ringing call.
    Accept,
    /// The agent declines the ringing call.
    Reject,
    /// The line turns the ringing call away because the agent is in another call: the
    /// caller ends with [`EndReason::Busy`] (reason `busy` on the wire), not a decline.
    RejectBusy,
    /// The agent hangs up (or cancels a call still ringing).
    Hangup,
    /// Mute or unmute.
    Mute(bool),
    /// Hold or resume.
    Hold(bool),
    /// Send a DTMF digit (0-9, *, #, A-D).
    Dtmf(char),
    /// A frame from the signaling server.
    Signal(ServerMsg),
    /// The media layer produced our offer.
    LocalOffer(String),
    /// The media layer produced our answer.
    LocalAnswer(String),
    /// The media layer gathered a local ICE candidate.
    LocalIce(IceCandidate),
    /// ICE/DTLS connected.
    MediaConnected,
    /// An RTP packet arrived.
    MediaReceived,
    /// The media layer failed (ICE failed, bad remote SDP, device error).
    MediaFailed(String),
    /// The signaling connection dropped.
    SignalLost,
}

/// What the machine asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this to the signaling server.
    Signal(ClientMsg),
    /// Do this on the media side.
    Media(MediaCmd),
    /// The state changed.
    State(CallState),
    /// A command that does not apply in this state (e.g. DTMF while ringing); nothing
    /// changed. The text says why.
    Refused(String),
}

/// Timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// No answer after this while ringing (default 60 s).
    pub ring: Duration,
    /// No server reply to the invite after this (default 10 s).
    pub dial: Duration,
    /// Connected but no media for this long: network lost (default 8 s).
    pub no_media: Duration,
    /// Accepted but ICE not connected after this (default 15 s).
    pub connect: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            ring: Duration::from_secs(60),
            dial: Duration::from_secs(10),
            no_media: Duration::from_secs(8),
            connect: Duration::from_secs(15),
        }
    }
}

/// One call.
#[derive(Debug)]
pub struct CallMachine {
    /// The call id (UUIDv7, also the call record's id).
    pub call_id: Uuid,
    state: CallState,
    outgoing: bool,
    remote: String,
    timeouts: Timeouts,
    state_since: Instant,
    answered_at: Option<Instant>,
    ended_at: Option<Instant>,
    media_up: bool,
    last_media: Option<Instant>,
    muted: bool,
    remote_offer: Option<String>,
    out: VecDeque<Output>,
}

impl CallMachine {
    /// A machine for an outgoing call; feed it [`Input::Dial`].
    pub fn outgoing(call_id: Uuid, now: Instant, timeouts: Timeouts) -> Self {
        Self::new(call_id, true, String::new(), None, now, timeouts)
    }

    /// A machine for a call announced by `incoming`; it starts in
    /// [`CallState::RingingIn`] and has already queued the `ringing` frame.
    pub fn incoming(
        call_id: Uuid,
        from: String,
        offer: Option<String>,
        now: Instant,
        timeouts: Timeouts,
    ) -> Self {
        let mut m = Self::new(call_id, false, from, offer, now, timeouts);
        m.out
            .push_back(Output::Signal(ClientMsg::Ringing { call_id }));
        m.set(CallState::RingingIn, now);
        m
    }

    fn new(
        call_id: Uuid,
        outgoing: bool,
        remote: String,
        remote_offer: Option<String>,
        now: Instant,
        timeouts: Timeouts,
    ) -> Self {
        Self {
            call_id,
            state: CallState::Idle,
            outgoing,
            remote,
            timeouts,
            state_since: now,
            answered_at: None,
            ended_at: None,
            media_up: false,
            last_media: None,
            muted: false,
            remote_offer,
            out: VecDeque::new(),
        }
    }

    /// Current state.
    pub fn state(&self) -> &CallState {
        &self.state
    }

    /// True for calls we placed.
    pub fn is_outgoing(&self) -> bool {
        self.outgoing
    }

    /// The other party (callee we dialed, or caller id).
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// True while muted.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    /// When the call was answered.
    pub fn answered_at(&self) -> Option<Instant> {
        self.answered_at
    }

    /// Talk time so far (or in total once ended).
    pub fn talk_time(&self, now: Instant) -> Duration {
        match self.answered_at {
            Some(a) => self.ended_at.unwrap_or(now).saturating_duration_since(a),
            None => Duration::ZERO,
        }
    }

    /// True once ended.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, CallState::Ended { .. })
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call [`CallMachine::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = &self.timeouts;
        match self.state {
            CallState::Dialing => Some(self.state_since + t.dial),
            CallState::RingingOut | CallState::RingingIn => Some(self.state_since + t.ring),
            CallState::Connected if !self.media_up => Some(self.state_since + t.connect),
            CallState::Connected => Some(self.last_media.unwrap_or(self.state_since) + t.no_media),
            _ => None,
        }
    }

    /// Applies timeouts due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(due) = self.poll_timeout() else {
            return;
        };
        if now < due {
            return;
        }
        match self.state {
            CallState::Dialing => {
                self.end_with_hangup(EndReason::Failed("signaling_timeout".into()), now)
            }
            CallState::RingingOut => self.end_with_hangup(EndReason::NoAnswer, now),
            CallState::RingingIn => self.end(EndReason::NoAnswer, now),
            CallState::Connected => self.end_with_hangup(EndReason::NetworkLost, now),
            _ => {}
        }
    }

    fn set(&mut self, s: CallState, now: Instant) {
        if self.state != s {
            self.state = s.clone();
            self.state_since = now;
            self.out.push_back(Output::State(s));
        }
    }

    fn signal(&mut self, m: ClientMsg) {
        self.out.push_back(Output::Signal(m));
    }

    fn media(&mut self, c: MediaCmd) {
        self.out.push_back(Output::Media(c));
    }

    fn end(&mut self, reason: EndReason, now: Instant) {
        if self.is_ended() {
            return;
        }
        self.ended_at = Some(now);
        self.media(MediaCmd::Stop);
        self.set(CallState::Ended { reason }, now);
    }

    fn end_with_hangup(&mut self, reason: EndReason, now: Instant) {
        if self.is_ended() {
            return;
        }
        let wire = match &reason {
            EndReason::LocalHangup => "normal",
            EndReason::Cancelled => "cancelled",
            other => other.as_str(),
        };
        self.signal(ClientMsg::Hangup {
            call_id: self.call_id,
            reason: wire.into(),
        });
        self.end(reason, now);
    }

    fn connected(&mut self, now: Instant) {
        self.answered_at = Some(now);
        self.set(CallState::Connected, now);
    }

    fn refuse(&mut self, why: &str) {
        self.out.push_back(Output::Refused(why.into()));
    }

    /// Feeds one input at `now`.
    pub fn handle(&mut self, input: Input, now: Instant) {
        use CallState as S;
        let id = self.call_id;
        match (self.state.clone(), input) {
            (S::Ended { .. }, Input::Signal(_) | Input::MediaReceived | Input::LocalIce(_)) => {}
            (S::Idle, Input::Dial { to }) if self.outgoing => {
                self.remote = to;
                self.set(S::Dialing, now);
                self.media(MediaCmd::CreateOffer);
            }
            (S::Dialing, Input::LocalOffer(sdp)) => self.signal(ClientMsg::Invite {
                call_id: id,
                to: self.remote.clone(),
                offer: Some(sdp),
            }),
            (S::Dialing | S::RingingOut, Input::Signal(ServerMsg::Ringing { call_id }))
                if call_id == id =>
            {
                self.set(S::RingingOut, now)
            }
            (
                S::Dialing | S::RingingOut,
                Input::Signal(ServerMsg::Accepted { call_id, answer }),
            ) if call_id == id => match answer {
                Some(sdp) => {
                    self.media(MediaCmd::ApplyAnswer(sdp));
                    self.connected(now);
                }
                None => self.end_with_hangup(
                    EndReason::Failed("accepted without an SDP answer".into()),
                    now,
                ),
            },
            (
                S::Dialing | S::RingingOut,
                Input::Signal(ServerMsg::Rejected { call_id, reason }),
            ) if call_id == id => self.end(
                if reason == "busy" {
                    EndReason::Busy
                } else {
                    EndReason::Rejected
                },
                now,
            ),
            (_, Input::Signal(ServerMsg::CallFailed { call_id, reason })) if call_id == id => {
                let r = match reason.as_str() {
                    "busy" => EndReason::Busy,
                    "offline" => EndReason::Offline,
                    "not_found" | "self" => EndReason::NotFound,
                    other => EndReason::Failed(other.into()),
                };
                self.end(r, now)
            }
            (S::RingingIn, Input::Accept) => match self.remote_offer.take() {
                Some(offer) => self.media(MediaCmd::CreateAnswer(offer)),
                None => self.end_with_hangup(
                    EndReason::Failed("incoming call without an SDP offer".into()),
                    now,
                ),
            },
            (S::RingingIn, Input::LocalAnswer(sdp)) => {
                self.signal(ClientMsg::Accept {
                    call_id: id,
                    answer: Some(sdp),
                });
                self.connected(now);
            }
            (S::RingingIn, Input::Reject) => {
                self.signal(ClientMsg::Reject {
                    call_id: id,
                    reason: "declined".into(),
                });
                self.end(EndReason::Rejected, now);
            }
            (S::RingingIn, Input::RejectBusy) => {
                self.signal(ClientMsg::Reject {
                    call_id: id,
                    reason: "busy".into(),
                });
                self.end(EndReason::Busy, now);
            }
            (S::Dialing | S::RingingOut, Input::Hangup) => {
                self.end_with_hangup(EndReason::Cancelled, now)
            }
            (S::RingingIn, Input::Hangup) => {
                self.signal(ClientMsg::Reject {
                    call_id: id,
                    reason: "declined".into(),
                });
                self.end(EndReason::Rejected, now);
            }
            (S::Connected | S::OnHold, Input::Hangup) => {
                self.end_with_hangup(EndReason::LocalHangup, now)
            }
            (_, Input::Signal(ServerMsg::Hangup { call_id, reason })) if call_id == id => {
                let r = match reason.as_str() {
                    "answered_elsewhere" | "rejected_elsewhere" => EndReason::AnsweredElsewhere,
                    "peer_disconnected" | "network_lost" => EndReason::NetworkLost,
                    "no_answer" => EndReason::NoAnswer,
                    _ if matches!(self.state, S::RingingIn) => EndReason::Cancelled,
                    _ if !matches!(self.state, S::Connected | S::OnHold) => EndReason::Cancelled,
                    _ => EndReason::RemoteHangup,
                };
                self.end(r, now)
            }
            (_, Input::Signal(ServerMsg::Sdp { call_id, kind, sdp })) if call_id == id => {
                match kind {
                    SdpKind::Answer => self.media(MediaCmd::ApplyAnswer(sdp)),
                    SdpKind::Offer => {
                        self.refuse("re-offers from the peer are not supported; media unchanged")
                    }
                }
            }
            (_, Input::Signal(ServerMsg::Ice { call_id, candidate })) if call_id == id => {
                self.media(MediaCmd::AddIce(candidate))
            }
            (_, Input::LocalIce(candidate)) => self.signal(ClientMsg::Ice {
                call_id: id,
                candidate,
            }),
            (S::Connected | S::OnHold, Input::MediaConnected) => {
                self.media_up = true;
                self.last_media = Some(now);
            }
            (_, Input::MediaConnected) => self.media_up = true,
            (S::Connected | S::OnHold, Input::MediaReceived) => self.last_media = Some(now),
            (_, Input::MediaReceived) => {}
            (S::Connected | S::OnHold, Input::Mute(m)) => {
                if self.muted != m {
                    self.muted = m;
                    self.media(MediaCmd::Mute(m));
                }
            }
            (S::Connected, Input::Hold(true)) => {
                self.media(MediaCmd::Hold(true));
                self.set(S::OnHold, now);
            }
            (S::OnHold, Input::Hold(false)) => {
                self.media(MediaCmd::Hold(false));
                // Media may have been quiet on purpose; restart the no-media clock.
                self.last_media = Some(now);
                self.set(S::Connected, now);
            }
            (S::Connected, Input::Dtmf(d)) => {
                if d.is_ascii_digit() || matches!(d, '*' | '#' | 'A'..='D') {
                    self.media(MediaCmd::Dtmf(d));
                } else {
                    self.refuse("DTMF digits are 0-9, *, #, A-D");
                }
            }
            (S::Ended { .. }, _) => {}
            (_, Input::MediaFailed(why)) => {
                let r = if why.starts_with("ice") {
                    EndReason::NetworkLost
                } else {
                    EndReason::Failed(why)
                };
                self.end_with_hangup(r, now)
            }
            (_, Input::SignalLost) => {
                if matches!(self.state, S::Connected | S::OnHold) {
                    // Media is peer to peer: a signaling blip does not end a live call.
                    return;
                }
                self.end(EndReason::NetworkLost, now)
            }
            (_, Input::Signal(_)) => {}
            (state, input) => self.refuse(&format!("{input:?} is not possible while {state:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sim {
        m: CallMachine,
        now: Instant,
        out: Vec<Output>,
    }

    impl Sim {
        fn outgoing() -> Self {
            let now = Instant::now();
            Sim {
                m: CallMachine::outgoing(Uuid::now_v7(), now, Timeouts::default()),
                now,
                out: vec![],
            }
        }
        fn incoming(offer: Option<&str>) -> Self {
            let now = Instant::now();
            let mut s = Sim {
                m: CallMachine::incoming(
                    Uuid::now_v7(),
                    "bob".into(),
                    offer.map(Into::into),
                    now,
                    Timeouts::default(),
                ),
                now,
                out: vec![],
            };
            s.drain();
            s
        }
        fn feed(&mut self, i: Input) -> &mut Self {
            self.m.handle(i, self.now);
            self.drain();
            self
        }
        fn advance(&mut self, d: Duration) -> &mut Self {
            let end = self.now + d;
            // Step the clock the way the engine does: to each due timeout, then to `end`.
            while let Some(t) = self.m.poll_timeout() {
                if t > end {
                    break;
                }
                self.now = t;
                self.m.handle_timeout(t);
                self.drain();
            }
            self.now = end;
            self
        }
        fn drain(&mut self) {
            while let Some(o) = self.m.poll_output() {
                self.out.push(o);
            }
        }
        fn id(&self) -> Uuid {
            self.m.call_id
        }
        fn sent(&self) -> Vec<&ClientMsg> {
            self.out
                .iter()
                .filter_map(|o| match o {
                    Output::Signal(m) => Some(m),
                    _ => None,
                })
                .collect()
        }
        fn media(&self) -> Vec<&MediaCmd> {
            self.out
                .iter()
                .filter_map(|o| match o {
                    Output::Media(m) => Some(m),
                    _ => None,
                })
                .collect()
        }
        fn ended(&self) -> Option<EndReason> {
            match self.m.state() {
                CallState::Ended { reason } => Some(reason.clone()),
                _ => None,
            }
        }
        fn connect_outgoing(&mut self) -> &mut Self {
            let id = self.id();
            self.feed(Input::Dial { to: "u2".into() })
                .feed(Input::LocalOffer("offer".into()))
                .feed(Input::Signal(ServerMsg::Ringing { call_id: id }))
                .feed(Input::Signal(ServerMsg::Accepted {
                    call_id: id,
                    answer: Some("answer".into()),
                }))
                .feed(Input::MediaConnected)
        }
    }

    #[test]
    fn outgoing_call_connects_and_hangs_up() {
        let mut s = Sim::outgoing();
        s.connect_outgoing();
        assert_eq!(s.m.state(), &CallState::Connected);
        assert!(matches!(s.sent()[0], ClientMsg::Invite { offer: Some(o), .. } if o == "offer"));
        assert_eq!(s.media()[0], &MediaCmd::CreateOffer);
        assert_eq!(s.media()[1], &MediaCmd::ApplyAnswer("answer".into()));
        s.advance(Duration::from_secs(1)).feed(Input::MediaReceived);
        s.advance(Duration::from_secs(2)).feed(Input::Hangup);
        assert_eq!(s.ended(), Some(EndReason::LocalHangup));
        assert!(
            matches!(s.sent().last().unwrap(), ClientMsg::Hangup { reason, .. } if reason == "normal")
        );
        assert_eq!(s.media().last().unwrap(), &&MediaCmd::Stop);
        assert_eq!(
            s.m.talk_time(s.now + Duration::from_secs(9)),
            Duration::from_secs(3)
        );
    }

    #[test]
    fn incoming_call_accept_reject_and_cancel() {
        let mut s = Sim::incoming(Some("offer"));
        assert!(matches!(s.sent()[0], ClientMsg::Ringing { .. }));
        assert_eq!(s.m.state(), &CallState::RingingIn);
        s.feed(Input::Accept);
        assert_eq!(s.media()[0], &MediaCmd::CreateAnswer("offer".into()));
        s.feed(Input::LocalAnswer("answer".into()));
        assert_eq!(s.m.state(), &CallState::Connected);
        assert!(matches!(s.sent()[1], ClientMsg::Accept { answer: Some(a), .. } if a == "answer"));
        let id = s.id();
        s.feed(Input::Signal(ServerMsg::Hangup {
            call_id: id,
            reason: "normal".into(),
        }));
        assert_eq!(s.ended(), Some(EndReason::RemoteHangup));

        let mut r = Sim::incoming(Some("offer"));
        r.feed(Input::Reject);
        assert_eq!(r.ended(), Some(EndReason::Rejected));
        assert!(matches!(r.sent()[1], ClientMsg::Reject { .. }));

        let mut c = Sim::incoming(Some("offer"));
        let id = c.id();
        c.feed(Input::Signal(ServerMsg::Hangup {
            call_id: id,
            reason: "cancelled".into(),
        }));
        assert_eq!(c.ended(), Some(EndReason::Cancelled));

        let mut e = Sim::incoming(Some("offer"));
        let id = e.id();
        e.feed(Input::Signal(ServerMsg::Hangup {
            call_id: id,
            reason: "answered_elsewhere".into(),
        }));
        assert_eq!(e.ended(), Some(EndReason::AnsweredElsewhere));
    }

    #[test]
    fn failures_map_to_end_reasons() {
        for (wire, want) in [
            ("busy", EndReason::Busy),
            ("offline", EndReason::Offline),
            ("not_found", EndReason::NotFound),
            (
                "duplicate_call_id",
                EndReason::Failed("duplicate_call_id".into()),
            ),
        ] {
            let mut s = Sim::outgoing();
            let id = s.id();
            s.feed(Input::Dial { to: "x".into() })
                .feed(Input::LocalOffer("o".into()));
            s.feed(Input::Signal(ServerMsg::CallFailed {
                call_id: id,
                reason: wire.into(),
            }));
            assert_eq!(s.ended(), Some(want));
        }
        // A decline, and a callee in another call turning it away: busy, for both sides.
        for (wire, want) in [("declined", EndReason::Rejected), ("busy", EndReason::Busy)] {
            let mut s = Sim::outgoing();
            let id = s.id();
            s.feed(Input::Dial { to: "x".into() })
                .feed(Input::LocalOffer("o".into()));
            s.feed(Input::Signal(ServerMsg::Rejected {
                call_id: id,
                reason: wire.into(),
            }));
            assert_eq!(s.ended(), Some(want));
        }
        let mut r = Sim::incoming(Some("offer"));
        r.feed(Input::RejectBusy);
        assert_eq!(r.ended(), Some(EndReason::Busy));
        assert!(matches!(&r.sent()[1], ClientMsg::Reject { reason, .. } if reason == "busy"));
    }

    #[test]
    fn timeouts_on_a_simulated_clock() {
        // Ringing for 60 s: no answer, and the caller tells the server.
        let mut s = Sim::outgoing();
        let id = s.id();
        s.feed(Input::Dial { to: "x".into() })
            .feed(Input::LocalOffer("o".into()));
        s.feed(Input::Signal(ServerMsg::Ringing { call_id: id }));
        s.advance(Duration::from_secs(59));
        assert_eq!(s.ended(), None);
        s.advance(Duration::from_secs(2));
        assert_eq!(s.ended(), Some(EndReason::NoAnswer));
        assert!(
            matches!(s.sent().last().unwrap(), ClientMsg::Hangup { reason, .. } if reason == "no_answer")
        );

        // Server never answers the invite.
        let mut d = Sim::outgoing();
        d.feed(Input::Dial { to: "x".into() })
            .advance(Duration::from_secs(11));
        assert_eq!(
            d.ended(),
            Some(EndReason::Failed("signaling_timeout".into()))
        );

        // Media stops for 8 s while connected: network lost.
        let mut n = Sim::outgoing();
        n.connect_outgoing();
        for _ in 0..100 {
            n.advance(Duration::from_millis(20))
                .feed(Input::MediaReceived);
        }
        n.advance(Duration::from_secs(7));
        assert_eq!(n.ended(), None);
        n.advance(Duration::from_millis(1100));
        assert_eq!(n.ended(), Some(EndReason::NetworkLost));
        assert_eq!(n.media().last().unwrap(), &&MediaCmd::Stop);

        // Accepted but ICE never connects.
        let mut i = Sim::outgoing();
        let id = i.id();
        i.feed(Input::Dial { to: "x".into() })
            .feed(Input::LocalOffer("o".into()))
            .feed(Input::Signal(ServerMsg::Accepted {
                call_id: id,
                answer: Some("a".into()),
            }));
        i.advance(Duration::from_secs(16));
        assert_eq!(i.ended(), Some(EndReason::NetworkLost));
    }

    #[test]
    fn mute_hold_resume_and_dtmf() {
        let mut s = Sim::outgoing();
        s.connect_outgoing();
        s.feed(Input::Mute(true)).feed(Input::Mute(true));
        assert!(s.m.is_muted());
        assert_eq!(
            s.media()
                .iter()
                .filter(|m| ***m == MediaCmd::Mute(true))
                .count(),
            1
        );
        s.feed(Input::Hold(true));
        assert_eq!(s.m.state(), &CallState::OnHold);
        // On hold we play nothing, so a quiet peer is not a dead line.
        assert_eq!(s.m.poll_timeout(), None);
        s.feed(Input::Dtmf('5'));
        assert!(
            matches!(s.out.last().unwrap(), Output::Refused(_)),
            "no DTMF on hold"
        );
        s.feed(Input::Hold(false));
        assert_eq!(s.m.state(), &CallState::Connected);
        s.feed(Input::Dtmf('#')).feed(Input::Dtmf('x'));
        assert!(s.media().contains(&&MediaCmd::Dtmf('#')));
        assert!(matches!(s.out.last().unwrap(), Output::Refused(_)));
        s.feed(Input::Mute(false));
        assert!(!s.m.is_muted());
    }

    #[test]
    fn media_failures_and_signal_loss() {
        let mut s = Sim::outgoing();
        s.connect_outgoing();
        s.feed(Input::MediaFailed("ice: failed".into()));
        assert_eq!(s.ended(), Some(EndReason::NetworkLost));

        let mut b = Sim::incoming(Some("garbage"));
        b.feed(Input::Accept)
            .feed(Input::MediaFailed("remote SDP offer: parse error".into()));
        assert_eq!(
            b.ended(),
            Some(EndReason::Failed("remote SDP offer: parse error".into()))
        );
        assert!(
            matches!(b.sent().last().unwrap(), ClientMsg::Hangup { reason, .. } if reason == "failed")
        );

        // Signaling drops mid-call: media carries on.
        let mut c = Sim::outgoing();
        c.connect_outgoing().feed(Input::SignalLost);
        assert_eq!(c.m.state(), &CallState::Connected);
        // … but not while still ringing.
        let mut r = Sim::incoming(Some("o"));
        r.feed(Input::SignalLost);
        assert_eq!(r.ended(), Some(EndReason::NetworkLost));

        let mut n = Sim::incoming(None);
        n.feed(Input::Accept);
        assert!(matches!(n.ended(), Some(EndReason::Failed(_))));
    }

    #[test]
    fn late_frames_after_the_end_are_ignored_and_other_calls_do_not_interfere() {
        let mut s = Sim::outgoing();
        s.connect_outgoing().feed(Input::Hangup);
        let n = s.out.len();
        let id = s.id();
        s.feed(Input::Signal(ServerMsg::Hangup {
            call_id: id,
            reason: "normal".into(),
        }))
        .feed(Input::MediaReceived);
        assert_eq!(s.out.len(), n);
        assert_eq!(s.ended(), Some(EndReason::LocalHangup));

        let mut o = Sim::outgoing();
        o.connect_outgoing();
        o.feed(Input::Signal(ServerMsg::Hangup {
            call_id: Uuid::now_v7(),
            reason: "normal".into(),
        }));
        assert_eq!(o.m.state(), &CallState::Connected);
    }
}
