//! A user-space network impairment relay (this kernel has no netem; DESIGN.md).
//!
//! Every remote host candidate a call engine is given is rewritten (through
//! `CallSetup::candidate_rewrite`) to a relay socket on 127.0.0.1 that forwards to the
//! real candidate; packets from the target go back to whoever last sent to the socket.
//! So every path between the peers crosses the relay, in both directions.
//!
//! Each direction gets `one_way_delay_ms` of delay, and RTP packets (not STUN, DTLS or
//! RTCP, so the figures the engines report can be compared with what was applied) are
//! dropped at random positions, exactly `loss_pct` per 100 packets. `blackhole` drops
//! everything, as a vanished network.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use softphone_call::CandidateRewrite;
use softphone_proto::signal::IceCandidate;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Counters {
    pub rtp_forwarded: AtomicU64,
    pub rtp_dropped: AtomicU64,
}

pub struct Relay {
    loss_pct: u32,
    delay: Duration,
    pub blackhole: Arc<AtomicBool>,
    pub counters: Arc<Counters>,
    seed: AtomicU64,
}

fn is_rtp(b: &[u8]) -> bool {
    b.len() >= 12 && b[0] & 0xC0 == 0x80 && !(72..=76).contains(&(b[1] & 0x7f))
}

/// Drop decisions: for each block of 100 RTP packets, exactly `pct` at random places.
struct LossPattern {
    pct: u32,
    block: Vec<bool>,
    rng: rand::rngs::StdRng,
}

impl LossPattern {
    fn drop_next(&mut self) -> bool {
        if self.block.is_empty() {
            let mut b: Vec<bool> = (0..100).map(|i| i < self.pct).collect();
            b.shuffle(&mut self.rng);
            self.block = b;
        }
        self.block.pop().unwrap_or(false)
    }
}

impl Relay {
    pub fn new(loss_pct: u32, one_way_delay_ms: u64) -> Arc<Self> {
        Arc::new(Self {
            loss_pct,
            delay: Duration::from_millis(one_way_delay_ms),
            blackhole: Arc::new(AtomicBool::new(false)),
            counters: Arc::new(Counters::default()),
            seed: AtomicU64::new(7),
        })
    }

    /// A forwarder socket in front of `target`; returns its address.
    fn forwarder(&self, target: SocketAddr) -> SocketAddr {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let out = sock.try_clone().unwrap();
        let (tx, rx) = mpsc::channel::<(Instant, SocketAddr, Vec<u8>)>();
        // Sender: holds each packet until its due time (constant delay keeps order).
        std::thread::spawn(move || {
            while let Ok((due, to, buf)) = rx.recv() {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let _ = out.send_to(&buf, to);
            }
        });
        let delay = self.delay;
        let blackhole = self.blackhole.clone();
        let counters = self.counters.clone();
        let seed = self.seed.fetch_add(1, Ordering::SeqCst);
        let mut patterns = [0u64, 1].map(|d| LossPattern {
            pct: self.loss_pct,
            block: vec![],
            rng: rand::rngs::StdRng::seed_from_u64(seed * 2 + d),
        });
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 2048];
            let idle_limit = Duration::from_secs(120);
            let mut last = Instant::now();
            loop {
                let (n, from) = match sock.recv_from(&mut buf) {
                    Ok(v) => v,
                    Err(_) => {
                        if last.elapsed() > idle_limit {
                            return;
                        }
                        continue;
                    }
                };
                last = Instant::now();
                let (to, dir) = if from == target {
                    match *client.lock().unwrap() {
                        Some(c) => (c, 1),
                        None => continue,
                    }
                } else {
                    *client.lock().unwrap() = Some(from);
                    (target, 0)
                };
                if blackhole.load(Ordering::Relaxed) {
                    continue;
                }
                let pkt = &buf[..n];
                if is_rtp(pkt) {
                    if patterns[dir].drop_next() {
                        counters.rtp_dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    counters.rtp_forwarded.fetch_add(1, Ordering::Relaxed);
                }
                if tx.send((Instant::now() + delay, to, pkt.to_vec())).is_err() {
                    return;
                }
            }
        });
        addr
    }

    /// The engine hook: every UDP candidate is replaced by a forwarder in front of it.
    pub fn rewrite(self: &Arc<Self>) -> CandidateRewrite {
        let me = self.clone();
        CandidateRewrite(Arc::new(move |c: IceCandidate| {
            // candidate:<foundation> <component> <udp> <priority> <ip> <port> typ <type> …
            let mut f: Vec<String> = c.candidate.split(' ').map(str::to_owned).collect();
            if f.len() < 8 || !f[2].eq_ignore_ascii_case("udp") {
                return None;
            }
            let target: SocketAddr = format!("{}:{}", f[4], f[5]).parse().ok()?;
            let via = me.forwarder(target);
            f[4] = via.ip().to_string();
            f[5] = via.port().to_string();
            Some(IceCandidate {
                candidate: f.join(" "),
                ..c
            })
        }))
    }
}
