//! TLS: the certificate and key, re-read on SIGHUP and when the files change
//! (new connections get the new pair; a pair that does not load is logged and
//! the old one kept), and the cipher preference of the CPU at hand.
//!
//! restic (Go) lists AES-GCM first. A CPU with AES instructions runs it
//! fastest, and the client's order is kept. Without them (the Raspberry Pi 4's
//! Cortex-A72 as Broadcom builds it) ChaCha20-Poly1305 is several times faster,
//! so the server's order, ChaCha20 first, decides, as Go's own TLS server does.

use super::Tls;
use anyhow::{anyhow, Context, Result};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::CipherSuite;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

/// How often the files' mtimes and sizes are looked at.
pub const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether this CPU has AES instructions.
pub fn cpu_has_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("aes");
    #[cfg(target_arch = "aarch64")]
    return std::arch::is_aarch64_feature_detected!("aes");
    #[allow(unreachable_code)]
    false
}

fn is_chacha(s: &rustls::SupportedCipherSuite) -> bool {
    matches!(
        s.suite(),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

/// The certificate and key in force, and what tells that the files changed.
#[derive(Debug)]
pub struct Certs {
    tls: Tls,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    watch: Mutex<(Stamps, Instant)>,
}

type Stamps = [Option<(SystemTime, u64)>; 2];

fn stamps(t: &Tls) -> Stamps {
    let one = |p: &Path| std::fs::metadata(p).ok().and_then(|m| Some((m.modified().ok()?, m.len())));
    [one(&t.cert), one(&t.key)]
}

/// Read and check a certificate chain and its key.
fn load(t: &Tls, provider: &CryptoProvider) -> Result<CertifiedKey> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&t.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow!("reading TLS certificate {}: {e:?}", t.cert.display()))?;
    if certs.is_empty() {
        return Err(anyhow!("TLS certificate {}: no certificate in it", t.cert.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&t.key).map_err(|e| anyhow!("reading TLS key {}: {e:?}", t.key.display()))?;
    CertifiedKey::from_der(certs, key, provider).context("TLS certificate and key do not fit")
}

impl Certs {
    /// Re-read both files; a pair that does not load keeps the one in force.
    pub fn reload(&self) {
        let mut w = self.watch.lock().unwrap();
        *w = (stamps(&self.tls), Instant::now());
        match load(&self.tls, &self.provider) {
            Ok(k) => {
                *self.current.write().unwrap() = Arc::new(k);
                log::info!("reloaded TLS certificate {} and key {}", self.tls.cert.display(), self.tls.key.display());
            }
            Err(e) => log::error!("{e:#}; the certificate read before stays in use"),
        }
    }

    /// Re-read the files when one changed, looked at no more than every [`CHECK_EVERY`].
    pub fn reload_if_changed(&self) {
        let changed = {
            let mut w = self.watch.lock().unwrap();
            if w.1.elapsed() < CHECK_EVERY {
                return;
            }
            w.1 = Instant::now();
            stamps(&self.tls) != w.0
        };
        if changed {
            self.reload();
        }
    }
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap().clone())
    }
}

/// The acceptor for `t`, and the certificates it serves (to reload them).
pub fn acceptor(t: &Tls) -> Result<(tokio_rustls::TlsAcceptor, Arc<Certs>)> {
    let aes = t.aes.unwrap_or_else(cpu_has_aes);
    let mut provider = rustls::crypto::ring::default_provider();
    if !aes {
        // A stable sort: ChaCha20 first in each protocol version's list, the rest as they were.
        provider
            .cipher_suites
            .sort_by_key(|s| (s.version().version != rustls::ProtocolVersion::TLSv1_3, !is_chacha(s)));
    }
    let provider = Arc::new(provider);
    let stamp = stamps(t);
    let key = load(t, &provider)?;
    let certs = Arc::new(Certs {
        tls: t.clone(),
        provider: provider.clone(),
        current: RwLock::new(Arc::new(key)),
        watch: Mutex::new((stamp, Instant::now())),
    });
    let versions: &[&rustls::SupportedProtocolVersion] =
        if t.min_13 { &[&rustls::version::TLS13] } else { &[&rustls::version::TLS13, &rustls::version::TLS12] };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_cert_resolver(certs.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.ignore_client_order = !aes;
    match (aes, t.aes) {
        (true, _) => log::info!("TLS: the CPU has AES instructions; the client's cipher order is kept"),
        (false, None) => log::info!("TLS: the CPU has no AES instructions; ChaCha20-Poly1305 is preferred"),
        (false, Some(_)) => log::info!("TLS: told the CPU has no AES instructions; ChaCha20-Poly1305 is preferred"),
    }
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), certs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_aes_chacha_comes_first_in_each_version() {
        let mut p = rustls::crypto::ring::default_provider();
        p.cipher_suites.sort_by_key(|s| (s.version().version != rustls::ProtocolVersion::TLSv1_3, !is_chacha(s)));
        let names: Vec<String> = p.cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect();
        assert_eq!(names[0], "TLS13_CHACHA20_POLY1305_SHA256", "{names:?}");
        let first12 = p.cipher_suites.iter().position(|s| s.version().version != rustls::ProtocolVersion::TLSv1_3);
        let first12 = first12.unwrap();
        assert!(names[first12].contains("CHACHA20"), "{names:?}");
        assert!(names[first12 + 1].contains("CHACHA20"), "{names:?}");
        assert_eq!(names.len(), rustls::crypto::ring::default_provider().cipher_suites.len());
    }
}
