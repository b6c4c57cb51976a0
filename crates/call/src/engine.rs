//! The call engine: runs one [`CallMachine`] against the signaling connection, a
//! [`Peer`] and the audio threads, until the call ends.

use crate::audio::{
    AudioEvent, AudioIn, AudioOut, AudioSenders, AudioThreads, EncodedFrame, EncoderSettings,
    RecordSpec, ENCODED_QUEUE_FRAMES,
};
use crate::jitter::JitterBuffer;
use crate::machine::{CallMachine, CallState, EndReason, Input, MediaCmd, Output, Timeouts};
use crate::peer::{
    payload_type, IceRoute, Peer, PeerConfig, PeerEvent, RtpPacket, DTMF_PT, OPUS_PT,
};
use crate::quality::{ntp_mid32, rtt_from_report, QualitySample, QualityTracker};
use crate::red::RedEncoder;
use serde::Serialize;
use softphone_audio::MeterReading;
use softphone_client::SignalConn;
use softphone_proto::signal::{ClientMsg, IceCandidate, ServerMsg};
use softphone_proto::CallQuality;
use softphone_recorder::RecordingSummary;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use uuid::Uuid;

/// Everything a call needs besides the signaling connection.
#[derive(Debug, Clone)]
pub struct CallSetup {
    /// Microphone (or file, or silence).
    pub input: AudioIn,
    /// Speaker (or file, or nothing).
    pub output: AudioOut,
    /// Record both directions here, when set.
    pub record: Option<RecordSpec>,
    /// Opus encoder settings.
    pub encoder: EncoderSettings,
    /// ICE servers and local addresses.
    pub peer: PeerConfig,
    /// Ring, dial and no-media timeouts.
    pub timeouts: Timeouts,
    /// Rewrites or drops each remote ICE candidate before it is used (`None` keeps it
    /// as is): a policy hook, e.g. "no host candidates", or to steer media through a
    /// relay (the impairment tests use it).
    pub candidate_rewrite: Option<CandidateRewrite>,
}

/// See [`CallSetup::candidate_rewrite`]: returns the candidate to use, or `None` to
/// drop it.
#[derive(Clone)]
pub struct CandidateRewrite(
    pub std::sync::Arc<dyn Fn(IceCandidate) -> Option<IceCandidate> + Send + Sync>,
);

impl std::fmt::Debug for CandidateRewrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CandidateRewrite(..)")
    }
}

impl Default for CallSetup {
    fn default() -> Self {
        Self {
            input: AudioIn::Device(None),
            output: AudioOut::Device(None),
            record: None,
            encoder: EncoderSettings::default(),
            peer: PeerConfig::default(),
            timeouts: Timeouts::default(),
            candidate_rewrite: None,
        }
    }
}

/// What the agent (UI, CLI, test) can do during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Answer the ringing call.
    Accept,
    /// Decline the ringing call.
    Reject,
    /// Turn the ringing call away as busy (the agent is in another call): the caller
    /// ends with `busy`.
    RejectBusy,
    /// Hang up / cancel.
    Hangup,
    /// Mute or unmute.
    Mute(bool),
    /// Hold or resume.
    Hold(bool),
    /// Send a DTMF digit.
    Dtmf(char),
}

/// What the engine reports while a call runs.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallEvent {
    /// The call state changed.
    State {
        /// New state.
        state: CallState,
    },
    /// One quality sample (each second while connected).
    Quality(QualitySample),
    /// Microphone meter (what is sent: silent while muted or held).
    MicLevel(MeterReading),
    /// Remote meter (what is played).
    RemoteLevel(MeterReading),
    /// The microphone was muted or unmuted (the engine took the command).
    Muted {
        /// True while muted.
        muted: bool,
    },
    /// A DTMF digit from the peer (RFC 4733).
    DtmfReceived {
        /// 0-9, *, #, A-D.
        digit: char,
    },
    /// A command was refused or something non-fatal went wrong.
    Notice {
        /// Stable code, e.g. `call.refused`, `audio.device_lost`.
        code: String,
        /// Detail.
        message: String,
    },
}

/// The outcome of a call.
#[derive(Debug, Clone, Serialize)]
pub struct CallReport {
    /// Call id (UUIDv7).
    pub call_id: Uuid,
    /// True for calls we placed.
    pub outgoing: bool,
    /// The other party.
    pub remote: String,
    /// Dial or ring start, Unix ms.
    pub started_at_ms: i64,
    /// Answer, Unix ms.
    pub answered_at_ms: Option<i64>,
    /// End, Unix ms.
    pub ended_at_ms: i64,
    /// Talk time, ms.
    pub duration_ms: i64,
    /// Why it ended.
    pub end_reason: EndReason,
    /// Dial to media connected, ms (outgoing calls that connected).
    pub setup_ms: Option<u64>,
    /// Quality summary (none when no media arrived).
    pub quality: Option<CallQuality>,
    /// One sample per second.
    pub series: Vec<QualitySample>,
    /// The recording, when one was made and finished.
    pub recording: Option<RecordingSummary>,
    /// The recording's failure, when it failed.
    pub recording_error: Option<String>,
    /// DTMF digits received, in order.
    pub dtmf_received: String,
    /// Jitter buffer counters.
    pub jitter: JitterSummary,
    /// Captured 20 ms frames dropped before sending because the engine fell more than
    /// [`ENCODED_QUEUE_FRAMES`] behind the microphone; the peer sees them as lost packets.
    pub frames_dropped_before_send: u64,
    /// Previous frames each packet we sent repeated (RFC 2198 RED); 0 when the peer
    /// took plain Opus.
    pub red_distance_sent: usize,
    /// RFC 2198 RED packets received from the peer (0 when it sent plain Opus).
    pub red_packets_received: u64,
    /// The ICE candidate pair the media took when the call ended (`None` when it never
    /// connected): `relay` on our side means it went through TURN.
    pub route: Option<IceRoute>,
}

/// Jitter buffer figures for the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JitterSummary {
    /// Frames played from their own packet.
    pub played: u64,
    /// Frames rebuilt from in-band FEC.
    pub fec: u64,
    /// Frames played from an RFC 2198 redundant copy after their packet was lost.
    pub red: u64,
    /// RED packets from the peer that did not parse (dropped).
    pub malformed_red: u64,
    /// Frames concealed (PLC).
    pub concealed: u64,
    /// Packets that came after their slot.
    pub late: u64,
    /// Frames dropped in pauses (or, rarely, in speech) to shrink the buffer.
    pub shrunk: u64,
    /// Slots concealed on purpose to build depth after the target grew.
    pub stretched: u64,
    /// Final target depth, ms.
    pub target_ms: f64,
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RTP timestamp ticks of one 20 ms Opus frame (the RTP clock is 48 kHz, RFC 7587).
const OPUS_FRAME_TICKS: u32 = 960;

fn dtmf_code(d: char) -> Option<u8> {
    Some(match d {
        '0'..='9' => d as u8 - b'0',
        '*' => 10,
        '#' => 11,
        'A'..='D' => 12 + (d as u8 - b'A'),
        _ => return None,
    })
}

fn dtmf_char(code: u8) -> Option<char> {
    Some(match code {
        0..=9 => (b'0' + code) as char,
        10 => '*',
        11 => '#',
        12..=15 => (b'A' + code - 12) as char,
        _ => return None,
    })
}

/// RFC 4733 §2.3 payload: event, E|R|volume, duration (timestamp units).
fn dtmf_payload(code: u8, end: bool, duration: u16) -> Vec<u8> {
    let d = duration.to_be_bytes();
    vec![code, if end { 0x80 | 10 } else { 10 }, d[0], d[1]]
}

/// Sender state of our RTP stream.
struct RtpOut {
    ssrc: u32,
    seq: u16,
    ts: u32,
    opus_pt: u8,
    dtmf_pt: Option<u8>,
    /// RFC 2198 payload type and packer, when the peer accepts redundancy.
    red: Option<(u8, RedEncoder)>,
    first: bool,
    /// Pending DTMF digits and the packet index of the one in progress.
    dtmf: VecDeque<(u8, u32)>,
    /// Capture index of the last frame sent.
    last_index: Option<u64>,
    /// Frames missing between the captured frames sent (dropped before sending).
    dropped: u64,
}

impl RtpOut {
    fn packet(&mut self, pt: u8, ts: u32, marker: bool, payload: Vec<u8>) -> RtpPacket {
        let p = RtpPacket {
            header: rtc::rtp::header::Header {
                version: 2,
                marker,
                payload_type: pt,
                sequence_number: self.seq,
                timestamp: ts,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload: bytes::Bytes::from(payload),
        };
        self.seq = self.seq.wrapping_add(1);
        p
    }

    /// The packets to send for one 20 ms audio frame (plus a DTMF packet while a digit
    /// is being sent: 100 ms tone, end packet sent three times, RFC 4733 §2.5.1.4).
    ///
    /// The RTP timestamp follows the capture index, so frames dropped before sending
    /// leave a timestamp gap the receiver conceals (the sequence numbers stay
    /// contiguous: those packets were never sent, RFC 3550 §5.1).
    fn frame(&mut self, f: EncodedFrame) -> Vec<RtpPacket> {
        if let Some(last) = self.last_index {
            let gap = f.index.saturating_sub(last + 1);
            if gap > 0 {
                tracing::warn!(frames = gap, "captured audio dropped before sending");
                self.dropped += gap;
                self.ts = self
                    .ts
                    .wrapping_add((gap as u32).wrapping_mul(OPUS_FRAME_TICKS));
            }
        }
        self.last_index = Some(f.index);
        let opus = f.opus;
        let mut out = vec![];
        let ts = self.ts;
        let marker = std::mem::take(&mut self.first);
        let p = match &mut self.red {
            Some((pt, red)) => {
                let pt = *pt;
                let payload = red.payload(ts, opus);
                self.packet(pt, ts, marker, payload)
            }
            None => self.packet(self.opus_pt, ts, marker, opus),
        };
        out.push(p);
        if let (Some(pt), Some(&(code, idx))) = (self.dtmf_pt, self.dtmf.front()) {
            let start_ts = ts.wrapping_sub(idx * OPUS_FRAME_TICKS);
            let end = idx >= 5;
            let dur = ((idx.min(5) + 1) * OPUS_FRAME_TICKS) as u16;
            let p = self.packet(pt, start_ts, idx == 0, dtmf_payload(code, end, dur));
            out.push(p);
            if idx >= 7 {
                self.dtmf.pop_front();
            } else if let Some(front) = self.dtmf.front_mut() {
                front.1 += 1;
            }
        }
        self.ts = self.ts.wrapping_add(OPUS_FRAME_TICKS);
        out
    }
}

/// Runs one call to its end. `machine` is a fresh outgoing machine (then `dial_to` is
/// the callee) or an incoming one (from [`CallMachine::incoming`]).
///
/// The signaling connection is only borrowed: frames for other calls are ignored
/// and the connection stays usable afterwards (unless it dropped).
pub async fn run_call(
    signal: &mut SignalConn,
    mut machine: CallMachine,
    dial_to: Option<String>,
    setup: CallSetup,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<CallEvent>,
) -> CallReport {
    let started = SystemTime::now();
    let t0 = Instant::now();
    let (peer_tx, mut peer_rx) = mpsc::channel::<PeerEvent>(256);
    let (audio_tx, mut audio_rx) = mpsc::channel::<AudioEvent>(64);
    let (encoded_tx, mut encoded_rx) = mpsc::channel::<EncodedFrame>(ENCODED_QUEUE_FRAMES);
    let jitter = Arc::new(Mutex::new(JitterBuffer::with_start_floor()));
    let mut peer: Option<Peer> = None;
    let mut audio: Option<AudioThreads> = None;
    let mut opening: Option<tokio::task::JoinHandle<Result<AudioThreads, String>>> = None;
    let mut rtp_out: Option<RtpOut> = None;
    let mut quality = QualityTracker::default();
    let mut fec = crate::audio::FecProtection::new(setup.encoder.expected_loss_pct);
    let mut connected_at: Option<Instant> = None;
    let mut setup_ms = None;
    let mut route = None;
    let mut remote_sdp = String::new();
    let mut dtmf_rx_pt: Option<u8> = None;
    let mut red_rx_pt: Option<u8> = None;
    let mut opus_rx_pt = OPUS_PT;
    let mut malformed_red = 0u64;
    let mut red_packets_received = 0u64;
    let mut rx_ts0: Option<u32> = None;
    let mut last_dtmf_ts: Option<u32> = None;
    let mut dtmf_received = String::new();
    let mut recording: Option<RecordingSummary> = None;
    let mut recording_error = None;
    let mut signal_up = true;
    let mut stats_tick = tokio::time::interval(Duration::from_secs(1));
    stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    if let Some(to) = dial_to {
        machine.handle(Input::Dial { to }, Instant::now());
    }

    macro_rules! emit {
        ($e:expr) => {{
            let _ = events.try_send($e);
        }};
    }

    loop {
        // Carry out everything the machine asked for.
        while let Some(out) = machine.poll_output() {
            let now = Instant::now();
            match out {
                Output::Signal(msg) => {
                    if signal_up && signal.send(&msg).await.is_err() {
                        signal_up = false;
                        machine.handle(Input::SignalLost, now);
                    }
                }
                Output::State(state) => {
                    emit!(CallEvent::State { state });
                }
                Output::Refused(why) => {
                    emit!(CallEvent::Notice {
                        code: "call.refused".into(),
                        message: why,
                    });
                }
                Output::Media(cmd) => {
                    let r: Result<(), crate::peer::PeerError> = async {
                        match cmd {
                            MediaCmd::CreateOffer => {
                                let p = Peer::new(&setup.peer, peer_tx.clone()).await?;
                                let sdp = p.create_offer().await?;
                                peer = Some(p);
                                machine.handle(Input::LocalOffer(sdp), Instant::now());
                            }
                            MediaCmd::CreateAnswer(offer) => {
                                let p = Peer::new(&setup.peer, peer_tx.clone()).await?;
                                let sdp = p.create_answer(&offer).await;
                                let sdp = match sdp {
                                    Ok(s) => s,
                                    Err(e) => {
                                        p.close().await;
                                        return Err(e);
                                    }
                                };
                                remote_sdp = offer;
                                peer = Some(p);
                                machine.handle(Input::LocalAnswer(sdp), Instant::now());
                            }
                            MediaCmd::ApplyAnswer(sdp) => {
                                if let Some(p) = &peer {
                                    p.apply_answer(&sdp).await?;
                                    remote_sdp = sdp;
                                }
                            }
                            MediaCmd::AddIce(c) => {
                                let c = match &setup.candidate_rewrite {
                                    Some(f) => (f.0)(c),
                                    None => Some(c),
                                };
                                if let (Some(p), Some(c)) = (&peer, c) {
                                    p.add_ice(&c).await?;
                                }
                            }
                            MediaCmd::Mute(m) => {
                                if let Some(a) = &audio {
                                    a.flags.muted.store(m, std::sync::atomic::Ordering::SeqCst);
                                }
                                emit!(CallEvent::Muted { muted: m });
                            }
                            MediaCmd::Hold(h) => {
                                if let Some(a) = &audio {
                                    a.flags.held.store(h, std::sync::atomic::Ordering::SeqCst);
                                }
                            }
                            MediaCmd::Dtmf(d) => match (rtp_out.as_mut(), dtmf_code(d)) {
                                (Some(o), Some(code)) if o.dtmf_pt.is_some() => {
                                    o.dtmf.push_back((code, 0))
                                }
                                _ => emit!(CallEvent::Notice {
                                    code: "call.dtmf_unavailable".into(),
                                    message:
                                        "the peer did not negotiate telephone-event (RFC 4733)"
                                            .into(),
                                }),
                            },
                            MediaCmd::Stop => {
                                if let Some(mut a) = audio.take() {
                                    match tokio::task::spawn_blocking(move || a.stop()).await {
                                        Ok(Ok(r)) => recording = r,
                                        Ok(Err(e)) => recording_error = Some(e),
                                        Err(e) => recording_error = Some(e.to_string()),
                                    }
                                }
                                if let Some(p) = peer.take() {
                                    if connected_at.is_some() {
                                        route = p.route().await;
                                    }
                                    p.close().await;
                                }
                            }
                        }
                        Ok(())
                    }
                    .await;
                    if let Err(e) = r {
                        tracing::warn!(code = e.code(), "{e}");
                        emit!(CallEvent::Notice {
                            code: e.code().into(),
                            message: e.to_string(),
                        });
                        // A bad trickled candidate is not fatal (others may work); bad SDP is.
                        if !matches!(e, crate::peer::PeerError::BadCandidate(_)) {
                            machine.handle(Input::MediaFailed(e.to_string()), Instant::now());
                        }
                    }
                }
            }
        }
        if machine.is_ended() && audio.is_none() && opening.is_none() && peer.is_none() {
            break;
        }
        // Devices open once the call is answered *and* media is up, so no speech is
        // captured into the void while ICE and DTLS finish. They open on a blocking
        // thread (a device can take seconds), so signaling, RTP and stats go on.
        if audio.is_none()
            && opening.is_none()
            && connected_at.is_some()
            && *machine.state() == CallState::Connected
        {
            let (input, output, record) = (
                setup.input.clone(),
                setup.output.clone(),
                setup.record.clone(),
            );
            let (encoder, jitter) = (setup.encoder, jitter.clone());
            let senders = AudioSenders {
                events: audio_tx.clone(),
                encoded: encoded_tx.clone(),
            };
            opening = Some(tokio::task::spawn_blocking(move || {
                AudioThreads::start(input, output, record, encoder, jitter, t0, senders)
            }));
        }
        let timeout = machine
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));

        tokio::select! {
            opened = async { opening.as_mut().expect("guarded").await }, if opening.is_some() => {
                opening = None;
                match opened.map_err(|e| e.to_string()).and_then(|r| r) {
                    // The call may have moved on while the devices opened.
                    Ok(mut a) if machine.is_ended() => {
                        match tokio::task::spawn_blocking(move || a.stop()).await {
                            Ok(Ok(r)) => recording = r,
                            Ok(Err(e)) => recording_error = Some(e),
                            Err(e) => recording_error = Some(e.to_string()),
                        }
                    }
                    Ok(a) => {
                        let held = *machine.state() == CallState::OnHold;
                        a.flags.held.store(held, std::sync::atomic::Ordering::SeqCst);
                        a.flags.muted.store(machine.is_muted(), std::sync::atomic::Ordering::SeqCst);
                        audio = Some(a);
                    }
                    Err(e) => {
                        emit!(CallEvent::Notice {
                            code: "audio.start_failed".into(),
                            message: e.clone(),
                        });
                        machine.handle(Input::MediaFailed(format!("audio: {e}")), Instant::now());
                    }
                }
            }
            msg = signal.recv(), if signal_up => {
                let now = Instant::now();
                match msg {
                    Ok(Some(m)) => {
                        let ours = match &m {
                            ServerMsg::Incoming { call_id, .. } => {
                                if *call_id != machine.call_id {
                                    // One call at a time: decline others as busy.
                                    let _ = signal.send(&ClientMsg::Reject { call_id: *call_id, reason: "busy".into() }).await;
                                }
                                false
                            }
                            ServerMsg::Error { code, message } => {
                                emit!(CallEvent::Notice { code: code.clone(), message: message.clone() });
                                false
                            }
                            _ => true,
                        };
                        if ours {
                            machine.handle(Input::Signal(m), now);
                        }
                    }
                    Ok(None) | Err(_) => {
                        signal_up = false;
                        machine.handle(Input::SignalLost, now);
                    }
                }
            }
            ev = peer_rx.recv() => {
                let now = Instant::now();
                match ev {
                    Some(PeerEvent::LocalIce(c)) => machine.handle(Input::LocalIce(c), now),
                    Some(PeerEvent::Connected) => {
                        if connected_at.is_none() {
                            connected_at = Some(now);
                            setup_ms = Some(now.duration_since(t0).as_millis() as u64);
                            opus_rx_pt = payload_type(&remote_sdp, "opus/48000").unwrap_or(OPUS_PT);
                            red_rx_pt = payload_type(&remote_sdp, "red/48000");
                            let red_tx = red_rx_pt.filter(|_| setup.encoder.red_distance > 0);
                            if red_tx.is_some() {
                                fec.with_redundancy();
                            }
                            if let Some(p) = &peer {
                                rtp_out = Some(RtpOut {
                                    ssrc: p.ssrc,
                                    seq: rand::random(),
                                    ts: rand::random(),
                                    opus_pt: opus_rx_pt,
                                    dtmf_pt: payload_type(&remote_sdp, "telephone-event/48000"),
                                    red: red_tx.map(|pt| (pt, RedEncoder::new(opus_rx_pt, setup.encoder.red_distance))),
                                    first: true,
                                    dtmf: VecDeque::new(),
                                    last_index: None,
                                    dropped: 0,
                                });
                            }
                            dtmf_rx_pt = payload_type(&remote_sdp, "telephone-event/48000").or(Some(DTMF_PT));
                        }
                        machine.handle(Input::MediaConnected, now);
                    }
                    Some(PeerEvent::Failed(why)) => machine.handle(Input::MediaFailed(why), now),
                    Some(PeerEvent::Rtp(p, at)) => {
                        let arrival_ms = at.duration_since(t0).as_secs_f64() * 1000.0;
                        if Some(p.header.payload_type) == dtmf_rx_pt {
                            quality.rx.on_event_packet(p.header.sequence_number, p.payload.len());
                            // RFC 4733: report a digit once, at its first end packet.
                            if p.payload.len() >= 4 && p.payload[1] & 0x80 != 0 && last_dtmf_ts != Some(p.header.timestamp) {
                                last_dtmf_ts = Some(p.header.timestamp);
                                if let Some(d) = dtmf_char(p.payload[0]) {
                                    dtmf_received.push(d);
                                    emit!(CallEvent::DtmfReceived { digit: d });
                                }
                            }
                        } else {
                            quality.rx.on_packet(p.header.sequence_number, p.header.timestamp, p.payload.len(), arrival_ms);
                            // Frames are indexed by RTP timestamp, not sequence number:
                            // telephone-events share the sequence space (RFC 4733), and
                            // their numbers would look like lost audio frames.
                            let ts0 = *rx_ts0.get_or_insert(p.header.timestamp);
                            let frame = |ts: u32| (ts.wrapping_sub(ts0) as i32).div_euclid(OPUS_FRAME_TICKS as i32) as u16;
                            let mut carried_audio = true;
                            if Some(p.header.payload_type) == red_rx_pt {
                                red_packets_received += 1;
                                match crate::red::parse(&p.payload) {
                                    Ok(blocks) => {
                                        if let Ok(mut jb) = jitter.lock() {
                                            // The primary block (last) first: the copies fill only gaps behind it.
                                            for b in blocks.iter().rev().filter(|b| b.payload_type == opus_rx_pt && !b.data.is_empty()) {
                                                let f = frame(p.header.timestamp.wrapping_sub(b.ts_offset));
                                                if b.ts_offset == 0 {
                                                    jb.push(f, b.data.to_vec(), arrival_ms);
                                                } else {
                                                    jb.push_redundant(f, b.data.to_vec(), arrival_ms);
                                                }
                                            }
                                        }
                                    }
                                    Err(e) => {
                                        carried_audio = false;
                                        malformed_red += 1;
                                        if malformed_red == 1 {
                                            tracing::warn!("dropping malformed RED packets from the peer: {e}");
                                        }
                                    }
                                }
                            } else if let Ok(mut jb) = jitter.lock() {
                                jb.push(frame(p.header.timestamp), p.payload.to_vec(), arrival_ms);
                            }
                            // Only packets that carried audio reset the no-media timer: a
                            // peer sending nothing but malformed RED is as silent as one
                            // sending nothing.
                            if carried_audio {
                                machine.handle(Input::MediaReceived, now);
                            }
                        }
                    }
                    Some(PeerEvent::ReceptionReports(reports)) => {
                        let a = ntp_mid32(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0));
                        let ours = peer.as_ref().map(|p| p.ssrc);
                        for (ssrc, lsr, dlsr, fraction_lost) in reports {
                            if Some(ssrc) != ours {
                                continue;
                            }
                            let pct = fec.on_report(fraction_lost, now.duration_since(t0).as_secs_f64() * 1000.0);
                            if let Some(au) = &audio {
                                au.flags.expected_loss_pct.store(pct, std::sync::atomic::Ordering::Relaxed);
                            }
                            if let Some(rtt) = rtt_from_report(a, lsr, dlsr) {
                                quality.on_rtt(rtt);
                            }
                        }
                    }
                    None => {}
                }
            }
            Some(f) = encoded_rx.recv() => {
                if let (Some(o), Some(p)) = (rtp_out.as_mut(), peer.as_ref()) {
                    for pkt in o.frame(f) {
                        let n = pkt.payload.len();
                        if p.send_rtp(pkt).await.is_ok() {
                            quality.on_sent(n);
                        }
                    }
                }
            }
            ev = audio_rx.recv() => {
                match ev {
                    Some(AudioEvent::MicLevel(r)) => { emit!(CallEvent::MicLevel(r)); }
                    Some(AudioEvent::RemoteLevel(r)) => { emit!(CallEvent::RemoteLevel(r)); }
                    Some(AudioEvent::DeviceError { side, code, message }) => {
                        emit!(CallEvent::Notice { code: code.into(), message: format!("{side} device: {message}; the call continues without it") });
                    }
                    None => {}
                }
            }
            cmd = commands.recv() => {
                let now = Instant::now();
                let input = match cmd {
                    Some(Command::Accept) => Input::Accept,
                    Some(Command::Reject) => Input::Reject,
                    Some(Command::RejectBusy) => Input::RejectBusy,
                    Some(Command::Hangup) | None => Input::Hangup,
                    Some(Command::Mute(m)) => Input::Mute(m),
                    Some(Command::Hold(h)) => Input::Hold(h),
                    Some(Command::Dtmf(d)) => Input::Dtmf(d),
                };
                machine.handle(input, now);
            }
            _ = stats_tick.tick() => {
                if let Some(c) = connected_at {
                    if matches!(machine.state(), CallState::Connected | CallState::OnHold) {
                        if let Ok(jb) = jitter.lock() {
                            quality.on_jitter_buffer(jb.delay_totals());
                            quality.on_playout_slots(jb.counters().slots());
                        }
                        let s = quality.sample(c.elapsed().as_secs_f64() * 1000.0);
                        emit!(CallEvent::Quality(s));
                    }
                }
            }
            _ = tokio::time::sleep_until(timeout) => {
                machine.handle_timeout(Instant::now());
            }
        }
    }

    let end_reason = match machine.state() {
        CallState::Ended { reason } => reason.clone(),
        _ => EndReason::Failed("engine stopped".into()),
    };
    let now = Instant::now();
    let ended = SystemTime::now();
    let answered_at_ms = machine
        .answered_at()
        .map(|a| unix_ms(ended) - now.duration_since(a).as_millis() as i64);
    let counters = jitter
        .lock()
        .map(|j| (j.counters().clone(), j.target_ms()))
        .ok();
    let jitter = counters
        .map(|(c, t)| JitterSummary {
            played: c.played,
            fec: c.fec,
            red: c.red,
            malformed_red,
            concealed: c.concealed,
            late: c.late,
            shrunk: c.shrunk,
            stretched: c.stretched,
            target_ms: t,
        })
        .unwrap_or_default();
    CallReport {
        call_id: machine.call_id,
        outgoing: machine.is_outgoing(),
        remote: machine.remote().to_owned(),
        started_at_ms: unix_ms(started),
        answered_at_ms,
        ended_at_ms: unix_ms(ended),
        duration_ms: machine.talk_time(now).as_millis() as i64,
        end_reason,
        setup_ms,
        quality: quality.summary(),
        series: quality.samples().to_vec(),
        recording,
        recording_error,
        dtmf_received,
        jitter,
        red_distance_sent: rtp_out
            .as_ref()
            .and_then(|o| o.red.as_ref())
            .map_or(0, |(_, r)| r.distance()),
        red_packets_received,
        frames_dropped_before_send: rtp_out.map_or(0, |o| o.dropped),
        route,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out() -> RtpOut {
        RtpOut {
            ssrc: 7,
            seq: 65_535,
            ts: u32::MAX - 960,
            opus_pt: OPUS_PT,
            dtmf_pt: None,
            red: None,
            first: true,
            dtmf: VecDeque::new(),
            last_index: None,
            dropped: 0,
        }
    }

    fn send(o: &mut RtpOut, index: u64) -> RtpPacket {
        let mut p = o.frame(EncodedFrame {
            index,
            opus: vec![1, 2, 3],
        });
        assert_eq!(p.len(), 1);
        p.remove(0)
    }

    #[test]
    fn frames_dropped_before_sending_leave_a_timestamp_gap_not_a_sequence_gap() {
        let mut o = out();
        let a = send(&mut o, 5);
        let b = send(&mut o, 6);
        let c = send(&mut o, 9);
        assert!(a.header.marker && !b.header.marker && !c.header.marker);
        assert_eq!(
            [
                a.header.sequence_number,
                b.header.sequence_number,
                c.header.sequence_number
            ],
            [65_535, 0, 1]
        );
        assert_eq!(b.header.timestamp.wrapping_sub(a.header.timestamp), 960);
        assert_eq!(c.header.timestamp.wrapping_sub(b.header.timestamp), 3 * 960);
        assert_eq!(o.dropped, 2);
    }

    #[test]
    fn with_red_each_packet_repeats_the_frame_before_it_even_across_a_drop() {
        let mut o = out();
        o.red = Some((crate::red::RED_PT, RedEncoder::new(OPUS_PT, 1)));
        let mut sent = vec![];
        for index in [0, 1, 3] {
            let mut p = o.frame(EncodedFrame {
                index,
                opus: vec![index as u8; 3],
            });
            sent.push(p.remove(0));
        }
        assert!(sent
            .iter()
            .all(|p| p.header.payload_type == crate::red::RED_PT));
        let blocks: Vec<Vec<(u32, Vec<u8>)>> = sent
            .iter()
            .map(|p| {
                crate::red::parse(&p.payload)
                    .unwrap()
                    .into_iter()
                    .map(|b| (b.ts_offset, b.data.to_vec()))
                    .collect()
            })
            .collect();
        assert_eq!(blocks[0], vec![(0, vec![0; 3])]);
        assert_eq!(blocks[1], vec![(960, vec![0; 3]), (0, vec![1; 3])]);
        // Frame 2 was dropped before sending: frame 1's copy is two frames back.
        assert_eq!(blocks[2], vec![(1920, vec![1; 3]), (0, vec![3; 3])]);
    }
}
