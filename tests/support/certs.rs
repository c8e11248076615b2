//! Throw-away certificates for the wss (and tcps) paths, made with rcgen.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::CertificateDer;

/// A CA and a leaf for `localhost` and `127.0.0.1` signed by it, written to `dir` as
/// `ca.pem`, `leaf.pem` and `leaf.key` (PEM; the key is PKCS#8 ECDSA P-256).
#[derive(Debug, Clone)]
pub struct TestCerts {
    pub dir: PathBuf,
    pub ca_pem: PathBuf,
    pub leaf_pem: PathBuf,
    pub leaf_key: PathBuf,
    ca_der: CertificateDer<'static>,
}

impl TestCerts {
    /// A fresh CA ("ptvsd-dap test CA") and leaf in `dir` (created if needed).
    pub fn generate(dir: &Path) -> TestCerts {
        Self::make(dir, "ptvsd-dap test CA")
    }

    /// The same, under a different CA ("ptvsd-dap other test CA", another key): a
    /// server using this leaf fails verification against [`TestCerts::generate`]'s CA
    /// (unknown issuer).
    pub fn generate_other_ca(dir: &Path) -> TestCerts {
        Self::make(dir, "ptvsd-dap other test CA")
    }

    fn make(dir: &Path, ca_name: &str) -> TestCerts {
        std::fs::create_dir_all(dir).expect("create cert dir");

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.distinguished_name.push(DnType::CommonName, ca_name);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key")).expect("self-sign CA");

        let leaf_key = KeyPair::generate().expect("leaf key");
        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("leaf params");
        leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("sign leaf");

        let certs = TestCerts {
            dir: dir.to_owned(),
            ca_pem: dir.join("ca.pem"),
            leaf_pem: dir.join("leaf.pem"),
            leaf_key: dir.join("leaf.key"),
            ca_der: ca.der().clone(),
        };
        std::fs::write(&certs.ca_pem, ca.pem()).expect("write ca.pem");
        std::fs::write(&certs.leaf_pem, leaf.pem()).expect("write leaf.pem");
        std::fs::write(&certs.leaf_key, leaf_key.serialize_pem()).expect("write leaf.key");
        certs
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// A rustls client configuration (ring provider, TLS 1.2/1.3) that trusts only this
    /// CA.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("add test CA to root store");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}
