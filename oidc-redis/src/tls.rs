//! The rustls (ring) client configuration of `rediss://`. rustls with ring, as the
//! module's HTTP client already uses: nginx links its own OpenSSL, and a second libssl
//! in one process is asking for trouble.

use std::sync::Arc;

use fred::types::config::TlsConfig;
use rustls::RootCertStore;
use rustls_pki_types::{pem::PemObject, CertificateDer};

/// `trusted_pem` (the provider's `ssl_trusted_certificate`) or, without it, the system
/// roots. Every certificate of the bundle must parse: a half-read bundle would fail
/// later, at the first connection, with a less clear error.
pub(crate) fn tls_config(trusted_pem: Option<&[u8]>) -> Result<TlsConfig, String> {
    let mut roots = RootCertStore::empty();
    match trusted_pem {
        Some(pem) => {
            let mut n = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("redis TLS trusted certificates: bad PEM ({e})"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("redis TLS trusted certificates: unusable certificate ({e})"))?;
                n += 1;
            }
            if n == 0 {
                return Err("redis TLS trusted certificates: no certificate in the PEM bundle".into());
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // Like every TLS client: a system root rustls cannot use is skipped.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err("redis TLS: no system root certificate found (set ssl_trusted_certificate)".into());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("redis TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConfig::from(config))
}
