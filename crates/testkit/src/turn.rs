//! coturn (Debian's `coturn`) on 127.0.0.1 as a TURN server with the REST API's shared
//! secret (`use-auth-secret`), the way docs/admin.md deploys it, with loopback peers
//! allowed so a relay can reach a test server's media on 127.0.0.1.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `turnserver`; stopped on drop.
pub struct Coturn {
    child: Child,
    /// Its UDP listening address on 127.0.0.1.
    pub addr: SocketAddr,
    /// Its log, verbose: each request with its user name and outcome (`ALLOCATE
    /// processed, success`, `CHANNEL_BIND …`), usage when a session closes.
    pub log: PathBuf,
}

/// True when a STUN Binding request (RFC 5389 §6: type 0x0001, the magic cookie) to
/// `addr` gets a Binding success response within 300 ms.
fn answers_stun(addr: SocketAddr) -> bool {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(300)));
    let mut req = [0u8; 20];
    req[..2].copy_from_slice(&0x0001u16.to_be_bytes());
    req[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
    req[8..20].copy_from_slice(b"softphone-tk");
    if sock.send_to(&req, addr).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    matches!(sock.recv_from(&mut buf), Ok((n, _)) if n >= 20 && buf[..2] == [0x01, 0x01])
}

impl Coturn {
    /// Starts `turnserver` with no configuration file, realm `softphone.test`, the
    /// REST API `secret`, on a free UDP port of 127.0.0.1, logging to `dir/turn.log`,
    /// and waits until it answers STUN (10 s at most).
    ///
    /// Errors: turnserver missing (apt install coturn) or not answering, with its log.
    pub fn start(dir: &Path, secret: &str) -> io::Result<Coturn> {
        // A free port: bind, read it, release (turnserver binds it a moment later).
        let port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = dir.join("turn.log");
        let child = Command::new("turnserver")
            .args([
                "-n",
                "-v",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--no-stdout-log",
            ])
            .args(["--simple-log", "--log-file"])
            .arg(&log)
            .args(["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"])
            .args(["--listening-port", &port.to_string()])
            .args(["--realm", "softphone.test", "--use-auth-secret"])
            .arg(format!("--static-auth-secret={secret}"))
            .args(["--allow-loopback-peers", "--no-software-attribute"])
            .arg("--pidfile")
            .arg(dir.join("turn.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("turnserver: {e} (apt install coturn)"))
            })?;
        let mut turn = Coturn { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers_stun(addr) {
            if Instant::now() > deadline || turn.child.try_wait()?.is_some() {
                return Err(io::Error::other(format!(
                    "turnserver did not answer on {addr}: {}",
                    turn.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(turn)
    }

    /// `turn:127.0.0.1:PORT?transport=udp`.
    pub fn url(&self) -> String {
        format!("turn:{}?transport=udp", self.addr)
    }

    /// The log so far (empty when unreadable).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
