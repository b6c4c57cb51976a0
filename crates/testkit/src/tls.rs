//! TLS in front of a test server, the way docs/server.md deploys it: a throwaway CA and
//! certificate made with `openssl`, and nginx (Debian's nginx-light) terminating TLS and
//! proxying HTTP and WebSocket upgrades to the server.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) -> io::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("openssl: {e} (apt install openssl)")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// A throwaway CA and a server certificate it signed, for `localhost` and `127.0.0.1`
/// (P-256, two days), made with `openssl` in a folder.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The CA certificate (PEM): point `SSL_CERT_FILE` at it to trust the server.
    pub ca: PathBuf,
    /// The server certificate (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM, PKCS#8).
    pub key: PathBuf,
    /// Base64 of the SHA-256 of the server certificate's public key, for Chromium's
    /// `--ignore-certificate-errors-spki-list`.
    pub spki_sha256: String,
}

impl Certificate {
    /// Makes the CA and the certificate in `dir` (`ca.pem`, `server.pem`,
    /// `server.key`).
    ///
    /// Errors: openssl missing or failing (its stderr in the message).
    pub fn make(dir: &Path) -> io::Result<Certificate> {
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut ca = vec![
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=Softphone test CA",
        ];
        ca.extend(ec);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        openssl(dir, &ca)?;
        let mut csr = vec!["req", "-subj", "/CN=localhost"];
        csr.extend(ec);
        csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
        openssl(dir, &csr)?;
        std::fs::write(
            dir.join("ext.cnf"),
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n\
             subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )?;
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                "server.pem",
            ],
        )?;
        openssl(
            dir,
            &[
                "pkey",
                "-in",
                "server.key",
                "-pubout",
                "-outform",
                "der",
                "-out",
                "spki.der",
            ],
        )?;
        openssl(
            dir,
            &[
                "dgst",
                "-sha256",
                "-binary",
                "-out",
                "spki.sha256",
                "spki.der",
            ],
        )?;
        openssl(
            dir,
            &["base64", "-A", "-in", "spki.sha256", "-out", "spki.b64"],
        )?;
        let spki_sha256 = std::fs::read_to_string(dir.join("spki.b64"))?
            .trim()
            .to_string();

        Ok(Certificate {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            spki_sha256,
        })
    }
}

/// nginx terminating TLS on `127.0.0.1:port` for `localhost` and `127.0.0.1`, with a
/// certificate signed by a CA made for it; stopped on drop.
pub struct TlsProxy {
    child: Child,
    /// The TLS port on 127.0.0.1.
    pub port: u16,
    /// The CA certificate (PEM): point `SSL_CERT_FILE` at it to trust the proxy.
    pub ca: PathBuf,
    /// Base64 of the SHA-256 of the server certificate's public key, for Chromium's
    /// `--ignore-certificate-errors-spki-list`.
    pub spki_sha256: String,
}

impl TlsProxy {
    /// Makes the CA and certificate in `dir`, writes an nginx site there and starts
    /// nginx in the foreground, proxying to `upstream` (HTTP/1.1, WebSocket upgrades,
    /// `Host`, `X-Forwarded-For` and `X-Forwarded-Proto` passed on). Waits until it
    /// listens (10 s at most).
    ///
    /// Errors: openssl or nginx missing or failing (nginx's error log in the message).
    pub fn start(dir: &Path, upstream: SocketAddr) -> io::Result<TlsProxy> {
        let cert = Certificate::make(dir)?;
        Self::start_with(dir, &cert, upstream)
    }

    /// [`TlsProxy::start`] with a certificate made before (shared with another server
    /// the same test trusts); nginx's files go in `dir`.
    pub fn start_with(
        dir: &Path,
        cert: &Certificate,
        upstream: SocketAddr,
    ) -> io::Result<TlsProxy> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let d = dir.display();
        let (cert_pem, key_pem) = (cert.cert.display(), cert.key.display());
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert_pem};
        ssl_certificate_key {key_pem};
        client_max_body_size 0;
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 1h;
            proxy_request_buffering off;
            proxy_buffering off;
        }}
    }}
}}
"#
        );
        std::fs::write(dir.join("nginx.conf"), conf)?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("nginx: {e} (apt install nginx-light)"))
            })?;
        let mut proxy = TlsProxy {
            child,
            port,
            ca: cert.ca.clone(),
            spki_sha256: cert.spki_sha256.clone(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || proxy.child.try_wait()?.is_some() {
                return Err(io::Error::other(format!(
                    "nginx did not listen: {}",
                    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(proxy)
    }

    /// `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
