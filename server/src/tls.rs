//! Optional TLS termination on the API listener (`tls_cert`/`tls_key`), for small
//! installs without a proxy (docs/adr/0023). One rustls stack, the ring provider passed
//! explicitly (as in the client, ADR 0015), ALPN `http/1.1` only: signaling is a
//! WebSocket upgrade, which browsers and tungstenite make over HTTP/1.1.

use anyhow::Context;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// The rustls server configuration for the PEM certificate chain `cert` (leaf first)
/// and its PEM private key `key` (PKCS#8, PKCS#1 or SEC1).
///
/// Errors name the file and the fault: unreadable, not PEM, no certificate in it, no
/// key in it, or a key that does not match the certificate.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("tls_cert {}: cannot read a PEM certificate", cert.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "tls_cert {} holds no certificate",
        cert.display()
    );
    let private = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("tls_key {}: cannot read a PEM private key", key.display()))?;
    let mut cfg =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(certs, private)
            .with_context(|| {
                format!(
                    "tls_key {} does not fit tls_cert {}",
                    key.display(),
                    cert.display()
                )
            })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
