//! TLS for every connection the client makes: HTTPS (reqwest) and the signaling WSS
//! (tokio-tungstenite) share one rustls configuration.
//!
//! Trust comes from the operating system's store through `rustls-native-certs`, so a
//! corporate CA that IT installed on the machine works; on Linux `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` replace the system bundle when set (the usual OpenSSL convention).
//! The crypto provider (ring) is given to the configuration explicitly rather than
//! taken from a process-wide default, because both ring and aws-lc-rs are compiled
//! into the app and rustls refuses to guess between them.

use std::sync::{Arc, OnceLock};

static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();

/// The process's TLS client configuration, built once: TLS 1.2 and 1.3, ring, the OS
/// trust store. A machine with no readable CA certificate gets an empty store (logged):
/// plain loopback HTTP still works and every HTTPS server is refused as untrusted.
pub fn config() -> Arc<rustls::ClientConfig> {
    CONFIG
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(error = %e, "a CA certificate could not be loaded");
            }
            let mut roots = rustls::RootCertStore::empty();
            let (added, ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::error!(
                    "no trusted CA certificates found: HTTPS servers will be refused \
                     (install ca-certificates or set SSL_CERT_FILE)"
                );
            } else {
                tracing::debug!(added, ignored, "trusted CA certificates loaded");
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// True for URLs whose host is this machine (`localhost`, 127.0.0.0/8, `::1`): the
/// only place plain `http://` is accepted without the admin's permission.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
