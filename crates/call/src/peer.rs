//! A thin wrapper over one webrtc 0.21 `PeerConnection` carrying one Opus audio track
//! (plus RFC 4733 telephone-event). Event handlers only forward into a channel (they run
//! on the crate's driver task, DESIGN.md).

use async_trait::async_trait;
use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::{configure_rtcp_reports, Registry};
use rtc::peer_connection::configuration::media_engine::{
    MediaEngine, MIME_TYPE_OPUS, MIME_TYPE_TELEPHONE_EVENT,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::{RTCConfigurationBuilder, RTCIceTransportPolicy};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{RTCIceCandidateInit, RTCIceServer};
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use softphone_proto::signal::IceCandidate;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::StatsSelector;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCPeerConnectionState,
};
use webrtc::runtime::{default_runtime, Runtime};

pub use rtc::rtp::packet::Packet as RtpPacket;

/// Payload type we offer for Opus (what Chromium uses too).
pub const OPUS_PT: u8 = 111;
/// Payload type we offer for telephone-event/48000.
pub const DTMF_PT: u8 = 101;

/// A STUN or TURN server (W3C `RTCIceServer`); the wire type of
/// `GET /api/v1/ice-servers`.
pub use softphone_proto::IceServer;

/// Peer settings.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// STUN/TURN servers (none needed on a LAN or loopback).
    pub ice_servers: Vec<IceServer>,
    /// Local UDP addresses to gather host candidates on, e.g. `0.0.0.0:0` (every
    /// interface) or `127.0.0.1:0`.
    pub udp_addrs: Vec<String>,
    /// W3C `iceTransportPolicy: "relay"`: gather and use relay candidates only, so media
    /// goes through a TURN server and the peer never learns this machine's addresses.
    /// Needs a `turn:`/`turns:` server in `ice_servers` ([`PeerError`] otherwise).
    pub relay_only: bool,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            ice_servers: vec![],
            udp_addrs: vec!["0.0.0.0:0".into()],
            relay_only: false,
        }
    }
}

/// What the peer reports.
#[derive(Debug)]
pub enum PeerEvent {
    /// A local ICE candidate to trickle to the other side.
    LocalIce(IceCandidate),
    /// ICE + DTLS are up.
    Connected,
    /// ICE failed or the connection closed under us.
    Failed(String),
    /// An RTP packet of the remote audio track and when it arrived: stamped as it is
    /// read from the track, so time the consumer spends elsewhere (opening devices,
    /// signaling) does not read as network jitter.
    Rtp(RtpPacket, std::time::Instant),
    /// RTCP reception reports: (reported SSRC, LSR, DLSR, fraction lost in 1/256),
    /// RFC 3550 §6.4. Those about our SSRC give the RTT and how much of our stream the
    /// peer lost.
    ReceptionReports(Vec<(u32, u32, u32, u8)>),
}

/// How a connected call's media travels: the selected ICE candidate pair, from the
/// W3C webrtc-stats `RTCTransportStats.selectedCandidatePairId`,
/// `RTCIceCandidatePairStats` and the two `RTCIceCandidateStats` it names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IceRoute {
    /// Our candidate's type (RFC 8445 §5.1.1): `host`, `srflx`, `prflx` or `relay`
    /// (through a TURN server).
    pub local_candidate_type: String,
    /// The peer's candidate's type, the same names; `None` when the stats do not
    /// describe it (webrtc 0.21 lists only the candidates the peer signalled, not a
    /// peer-reflexive one ICE learned from a connectivity check).
    pub remote_candidate_type: Option<String>,
    /// The transport of our candidate: `udp` or `tcp`.
    pub protocol: String,
}

/// Errors with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The remote SDP could not be parsed or applied.
    #[error("remote SDP rejected: {0}")]
    BadSdp(String),
    /// A remote ICE candidate could not be parsed or applied.
    #[error("remote ICE candidate rejected: {0}")]
    BadCandidate(String),
    /// webrtc failed.
    #[error("webrtc: {0}")]
    Webrtc(String),
    /// Relay-only ICE asked for without a `turn:`/`turns:` server to relay through.
    #[error("relay-only calls need a TURN server, and none is configured")]
    NoRelay,
}

impl PeerError {
    /// `call.bad_sdp`, `call.bad_candidate`, `call.webrtc`, `call.no_relay`.
    pub fn code(&self) -> &'static str {
        match self {
            PeerError::NoRelay => "call.no_relay",
            PeerError::BadSdp(_) => "call.bad_sdp",
            PeerError::BadCandidate(_) => "call.bad_candidate",
            PeerError::Webrtc(_) => "call.webrtc",
        }
    }
}

fn w(e: impl std::fmt::Display) -> PeerError {
    PeerError::Webrtc(e.to_string())
}

/// Marks inbound RTCP for the application so the reception reports about our stream
/// reach us (the interceptors consume it otherwise).
#[derive(Default)]
struct DeliverRtcp {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl rtc::sansio::Protocol<TaggedPacket, TaggedPacket, ()> for DeliverRtcp {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = std::time::Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if matches!(msg.message.packet, Packet::Rtcp(_)) {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
    fn handle_timeout(&mut self, _now: std::time::Instant) -> Result<(), Self::Error> {
        Ok(())
    }
    fn poll_timeout(&mut self) -> Option<Self::Time> {
        None
    }
}

impl Interceptor for DeliverRtcp {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

fn reception_reports(packets: &[Box<dyn rtc::rtcp::Packet>]) -> Vec<(u32, u32, u32, u8)> {
    use rtc::rtcp::receiver_report::ReceiverReport;
    use rtc::rtcp::sender_report::SenderReport;
    let mut out = vec![];
    for p in packets {
        let any = p.as_any();
        let reports = if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
            &rr.reports
        } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
            &sr.reports
        } else {
            continue;
        };
        out.extend(
            reports
                .iter()
                .map(|r| (r.ssrc, r.last_sender_report, r.delay, r.fraction_lost)),
        );
    }
    out
}

struct Handler {
    tx: mpsc::Sender<PeerEvent>,
    runtime: Arc<dyn Runtime>,
}

#[async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(
        &self,
        event: rtc::peer_connection::event::RTCPeerConnectionIceEvent,
    ) {
        if let Ok(init) = event.candidate.to_json() {
            let _ = self
                .tx
                .send(PeerEvent::LocalIce(IceCandidate {
                    candidate: init.candidate,
                    sdp_mid: init.sdp_mid,
                    sdp_mline_index: init.sdp_mline_index,
                }))
                .await;
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let ev = match state {
            RTCPeerConnectionState::Connected => PeerEvent::Connected,
            RTCPeerConnectionState::Failed => PeerEvent::Failed("ice: connection failed".into()),
            _ => return,
        };
        let _ = self.tx.send(ev).await;
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let tx = self.tx.clone();
        self.runtime.spawn(Box::pin(async move {
            while let Some(evt) = track.poll().await {
                match evt {
                    TrackRemoteEvent::OnRtpPacket(p) => {
                        let at = std::time::Instant::now();
                        let sent = tx.send(PeerEvent::Rtp(p, at)).await;
                        if sent.is_err() {
                            break;
                        }
                    }
                    TrackRemoteEvent::OnRtcpPacket(packets) => {
                        let reports = reception_reports(&packets);
                        if !reports.is_empty() {
                            let _ = tx.send(PeerEvent::ReceptionReports(reports)).await;
                        }
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        }));
    }
}

/// One peer connection with one local audio track.
pub struct Peer {
    pc: Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    /// SSRC of our audio stream.
    pub ssrc: u32,
}

fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        // RFC 7587 §7: in-band FEC on, 20 ms frames; mono voice.
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

fn codecs() -> Vec<RTCRtpCodecParameters> {
    vec![
        RTCRtpCodecParameters {
            rtp_codec: opus_codec(),
            payload_type: OPUS_PT,
        },
        // After Opus: a peer that prefers the first codec (Chromium) keeps sending
        // plain Opus; we send RED to any peer that accepts it (RFC 2198 §5).
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: "audio/red".to_owned(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: format!("{OPUS_PT}/{OPUS_PT}"),
                rtcp_feedback: vec![],
            },
            payload_type: crate::red::RED_PT,
        },
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_TELEPHONE_EVENT.to_owned(),
                clock_rate: 48_000,
                channels: 1,
                sdp_fmtp_line: "0-16".to_owned(),
                rtcp_feedback: vec![],
            },
            payload_type: DTMF_PT,
        },
    ]
}

impl Peer {
    /// Builds the connection and its send track; events go to `tx`.
    ///
    /// Errors: [`PeerError::NoRelay`] for `relay_only` without a TURN server (checked
    /// here so the agent gets that reason, not webrtc's), [`PeerError::Webrtc`].
    pub async fn new(cfg: &PeerConfig, tx: mpsc::Sender<PeerEvent>) -> Result<Self, PeerError> {
        if cfg.relay_only && !cfg.ice_servers.iter().any(IceServer::is_turn) {
            return Err(PeerError::NoRelay);
        }
        let runtime = default_runtime().ok_or_else(|| w("no async runtime"))?;
        let mut me = MediaEngine::default();
        for c in codecs() {
            me.register_codec(c, RtpCodecKind::Audio).map_err(w)?;
        }
        // RTCP sender/receiver reports only: the defaults add NACK (video only) and a
        // transport-wide congestion control receiver that sends feedback every 100 ms,
        // which an audio call at a fixed bitrate has no use for (ADR 0008).
        let registry = configure_rtcp_reports(Registry::new())
            .with(Slot::from(14_000), DeliverRtcp::default());
        let config = RTCConfigurationBuilder::new()
            .with_ice_servers(
                cfg.ice_servers
                    .iter()
                    .map(|s| RTCIceServer {
                        urls: s.urls.clone(),
                        username: s.username.clone(),
                        credential: s.credential.clone(),
                    })
                    .collect(),
            )
            .with_ice_transport_policy(if cfg.relay_only {
                RTCIceTransportPolicy::Relay
            } else {
                RTCIceTransportPolicy::All
            })
            .build();
        // ICE waits 2 s before nominating a pair over a relay candidate, in case a direct
        // one succeeds (RFC 8445 §8.1.1 leaves the wait to the agent). A relay-only call
        // has nothing more direct coming, so the wait would only delay the call's audio
        // (measured on loopback through coturn: 3.2 s from dial to media with it, 1.4-1.6
        // s without).
        let settings = SettingEngineBuilder::new()
            .with_relay_acceptance_min_wait(cfg.relay_only.then_some(Duration::ZERO))
            .build();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(config)
            .with_setting_engine(settings)
            .with_media_engine(me)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler {
                tx: tx.clone(),
                runtime: runtime.clone(),
            }))
            .with_runtime(runtime.clone())
            .with_udp_addrs(cfg.udp_addrs.clone())
            .build()
            .await
            .map_err(w)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let ssrc = rand::random::<u32>();
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "softphone".to_owned(),
            "softphone-audio".to_owned(),
            "agent microphone".to_owned(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: opus_codec(),
                ..Default::default()
            }],
        )));
        pc.add_track(track.clone() as Arc<dyn TrackLocal>)
            .await
            .map_err(w)?;
        // The transceiver would offer only the track's codec; telephone-event must be
        // listed too or RFC 4733 events cannot be sent.
        for t in pc.get_transceivers().await {
            t.set_codec_preferences(codecs()).await.map_err(w)?;
        }
        // Reception reports about our stream arrive on the local track.
        let poll = track.clone();
        runtime.spawn(Box::pin(async move {
            while let Some(evt) = poll.poll().await {
                if let TrackLocalEvent::OnRtcpPacket(packets) = evt {
                    let reports = reception_reports(&packets);
                    if !reports.is_empty()
                        && tx.send(PeerEvent::ReceptionReports(reports)).await.is_err()
                    {
                        break;
                    }
                }
            }
        }));
        Ok(Self { pc, track, ssrc })
    }

    /// Creates our SDP offer and applies it locally (candidates then trickle).
    pub async fn create_offer(&self) -> Result<String, PeerError> {
        let offer = self.pc.create_offer(None).await.map_err(w)?;
        self.pc
            .set_local_description(offer.clone())
            .await
            .map_err(w)?;
        Ok(offer.sdp)
    }

    /// Applies the remote offer, creates and applies our answer.
    pub async fn create_answer(&self, offer: &str) -> Result<String, PeerError> {
        let desc = RTCSessionDescription::offer(offer.to_owned())
            .map_err(|e| PeerError::BadSdp(e.to_string()))?;
        check_audio(offer)?;
        self.pc
            .set_remote_description(desc)
            .await
            .map_err(|e| PeerError::BadSdp(e.to_string()))?;
        let answer = self.pc.create_answer(None).await.map_err(w)?;
        self.pc
            .set_local_description(answer.clone())
            .await
            .map_err(w)?;
        Ok(answer.sdp)
    }

    /// Applies the remote answer.
    pub async fn apply_answer(&self, answer: &str) -> Result<(), PeerError> {
        let desc = RTCSessionDescription::answer(answer.to_owned())
            .map_err(|e| PeerError::BadSdp(e.to_string()))?;
        check_audio(answer)?;
        self.pc
            .set_remote_description(desc)
            .await
            .map_err(|e| PeerError::BadSdp(e.to_string()))
    }

    /// Adds a trickled remote candidate (an empty candidate means end of candidates).
    pub async fn add_ice(&self, c: &IceCandidate) -> Result<(), PeerError> {
        if c.candidate.is_empty() {
            return Ok(());
        }
        if !c.candidate.trim_start_matches("candidate:").contains(' ') {
            return Err(PeerError::BadCandidate(format!(
                "not a candidate line: {:?}",
                c.candidate
            )));
        }
        self.pc
            .add_ice_candidate(RTCIceCandidateInit {
                candidate: c.candidate.clone(),
                sdp_mid: c.sdp_mid.clone(),
                sdp_mline_index: c.sdp_mline_index,
                ..Default::default()
            })
            .await
            .map_err(|e| PeerError::BadCandidate(e.to_string()))
    }

    /// Sends one RTP packet on our track.
    pub async fn send_rtp(&self, p: RtpPacket) -> Result<(), PeerError> {
        self.track.write_rtp(p).await.map_err(w)
    }

    /// The selected candidate pair, once ICE has chosen one (`None` before).
    pub async fn route(&self) -> Option<IceRoute> {
        use rtc::statistics::report::RTCStatsReportEntry as Entry;
        let report = self
            .pc
            .get_stats(std::time::Instant::now(), StatsSelector::None)
            .await;
        let pair_id = report.transport()?.selected_candidate_pair_id.clone();
        let pair = report.candidate_pairs().find(|p| p.stats.id == pair_id)?;
        // webrtc 0.21 names a pair's candidates by their bare ids, and their own entries
        // with a prefix.
        let local =
            match report.get(&format!("RTCLocalIceCandidate_{}", pair.local_candidate_id))? {
                Entry::LocalCandidate(c) => c,
                _ => return None,
            };
        let remote = match report.get(&format!(
            "RTCRemoteIceCandidate_{}",
            pair.remote_candidate_id
        )) {
            Some(Entry::RemoteCandidate(c)) => Some(c.candidate_type.to_string()),
            _ => None,
        };
        Some(IceRoute {
            local_candidate_type: local.candidate_type.to_string(),
            remote_candidate_type: remote,
            protocol: local.protocol.clone(),
        })
    }

    /// Closes the connection (idempotent).
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

/// Refuses an SDP without an Opus audio section with a clear reason (webrtc would
/// otherwise connect a call that can never carry audio).
fn check_audio(sdp: &str) -> Result<(), PeerError> {
    if !sdp.lines().any(|l| l.starts_with("m=audio")) {
        return Err(PeerError::BadSdp("no audio media section (m=audio)".into()));
    }
    if payload_type(sdp, "opus/48000").is_none() {
        return Err(PeerError::BadSdp("the peer does not offer Opus".into()));
    }
    Ok(())
}

/// The payload type an SDP maps to `encoding` (e.g. `opus/48000`,
/// `telephone-event/48000`), from its `a=rtpmap` lines.
pub fn payload_type(sdp: &str, encoding: &str) -> Option<u8> {
    sdp.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("a=rtpmap:")?;
        let (pt, enc) = rest.split_once(' ')?;
        enc.to_ascii_lowercase()
            .starts_with(&encoding.to_ascii_lowercase())
            .then(|| pt.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn relay_only_without_a_turn_server_is_refused_with_its_reason() {
        let stun = IceServer {
            urls: vec!["stun:127.0.0.1:3478".into()],
            ..Default::default()
        };
        for ice_servers in [vec![], vec![stun]] {
            let (tx, _rx) = mpsc::channel(8);
            let cfg = PeerConfig {
                ice_servers,
                udp_addrs: vec!["127.0.0.1:0".into()],
                relay_only: true,
            };
            let e = Peer::new(&cfg, tx).await.err().expect("refused");
            assert_eq!(e.code(), "call.no_relay");
        }
        let (tx, _rx) = mpsc::channel(8);
        let turn = PeerConfig {
            ice_servers: vec![IceServer {
                urls: vec!["TURN:127.0.0.1:3478?transport=udp".into()],
                username: "u".into(),
                credential: "c".into(),
            }],
            udp_addrs: vec!["127.0.0.1:0".into()],
            relay_only: true,
        };
        Peer::new(&turn, tx).await.unwrap().close().await;
    }

    #[test]
    fn payload_types_from_rtpmap() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 101\r\na=rtpmap:109 opus/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n";
        assert_eq!(payload_type(sdp, "opus/48000"), Some(109));
        assert_eq!(payload_type(sdp, "telephone-event/48000"), Some(101));
        assert_eq!(payload_type(sdp, "telephone-event/8000"), None);
        assert!(check_audio(sdp).is_ok());
        assert!(check_audio("v=0\r\nm=video 9 RTP/AVP 96\r\n").is_err());
    }

    /// An offer as Chromium sends it (audio only, trimmed to what matters here).
    const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic: WMS\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 63 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\na=fingerprint:sha-256 12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0:12:34:56:78:9A:BC:DE:F0\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\na=rtpmap:126 telephone-event/8000\r\n";

    /// The offer with random lines dropped, duplicated or replaced by garbage.
    fn mangled() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let lines: Vec<&'static str> = OFFER.split("\r\n").collect();
        let n = lines.len();
        proptest::collection::vec((0..n, 0u8..4, any::<String>()), 0..6).prop_map(move |edits| {
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            for (i, op, junk) in edits {
                let i = i % l.len().max(1);
                match op {
                    0 if !l.is_empty() => {
                        l.remove(i);
                    }
                    1 if !l.is_empty() => {
                        let d = l[i].clone();
                        l.insert(i, d);
                    }
                    2 if !l.is_empty() => l[i] = junk,
                    _ => l.push(junk),
                }
            }
            l.join("\r\n")
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        // A stand-in for fuzzing the SDP the call engine is handed (no nightly toolchain
        // here): any mangled offer is answered or refused with an error, within 5 s.
        #[test]
        fn any_mangled_offer_is_answered_or_refused(sdp in mangled()) {
            let _ = payload_type(&sdp, "opus/48000");
            let _ = check_audio(&sdp);
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let done = rt.block_on(async {
                let (tx, _rx) = mpsc::channel(64);
                let cfg = PeerConfig { udp_addrs: vec!["127.0.0.1:0".into()], ..Default::default() };
                let peer = Peer::new(&cfg, tx).await.unwrap();
                let r = tokio::time::timeout(std::time::Duration::from_secs(5), peer.create_answer(&sdp)).await;
                peer.close().await;
                r.is_ok()
            });
            proptest::prop_assert!(done, "create_answer hung on:\n{}", sdp);
        }
    }
}
