//! TLS for `tcps://`, the TLS leg of `wss://`, and the wake-up request.
//!
//! Owns: the rustls client configuration (ring provider, TLS 1.2+, Mozilla's roots plus
//! the `caFile` certificates, or, opt-in only, a verifier that accepts any certificate),
//! the handshake, and turning handshake errors into [`TlsFailure`]s. rustls has no TLS 1.0,
//! so ptvsd's own `--certfile` listener (TLS 1.0 only) cannot be reached; `tcps://` means
//! a TLS terminator in front of ptvsd.
//! Must not know: WebSocket framing, the legacy protocol, DAP.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{timeout_at, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::endpoint::Scheme;
use super::error::{Stage, TlsFailure, TransportError};
use super::ConnectOptions;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the client configuration from the options. Reads `ca_file` now, so a bad file is
/// reported before any connection is attempted.
pub(crate) fn client_config(options: &ConnectOptions) -> Result<Arc<ClientConfig>, TransportError> {
    let provider = provider();
    let builder =
        ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().map_err(|e| {
            TransportError::Tls {
                kind: TlsFailure::Other { detail: e.to_string() },
                scheme: Scheme::Tcps,
                // Unreachable with the ring provider, which supports both versions.
                authority: "(TLS configuration)".into(),
            }
        })?;
    if options.insecure_tls {
        tracing::warn!("TLS certificate verification is off (insecure mode)");
        let verifier = AcceptAnyCertificate { algorithms: provider.signature_verification_algorithms };
        return Ok(Arc::new(
            builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth(),
        ));
    }
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &options.ca_file {
        let ca_error = |detail: String| TransportError::CaFile { path: path.clone(), detail };
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| ca_error(e.to_string()))?;
        let mut added = 0usize;
        for cert in certs {
            let cert = cert.map_err(|e| ca_error(e.to_string()))?;
            roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ca_error("it contains no PEM certificate".into()));
        }
        tracing::debug!(path = %path.display(), added, "CA certificates added");
    }
    Ok(Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
}

/// Runs the TLS handshake over `stream`, verifying the certificate for `host`.
pub(crate) async fn handshake<S>(
    stream: S,
    host: &str,
    authority: &str,
    scheme: Scheme,
    config: Arc<ClientConfig>,
    deadline: Instant,
    timeout: Duration,
) -> Result<TlsStream<S>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let tls_error = |kind| TransportError::Tls { kind, scheme, authority: authority.to_owned() };
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| tls_error(TlsFailure::Other { detail: format!("`{host}` is not a valid TLS server name") }))?;
    let connector = TlsConnector::from(config);
    match timeout_at(deadline, connector.connect(name, stream)).await {
        Err(_) => {
            Err(TransportError::Timeout { authority: authority.to_owned(), stage: Stage::TlsHandshake, after: timeout })
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            Err(tls_error(classify(&error, host)))
        }
        Ok(Ok(stream)) => Ok(stream),
    }
}

/// Turns a handshake error (a rustls error inside an `io::Error`, or a plain socket error)
/// into a [`TlsFailure`].
pub(crate) fn classify(error: &io::Error, host: &str) -> TlsFailure {
    let rustls_error = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert_error)) => match cert_error {
            CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
            CertificateError::NotValidForName => {
                TlsFailure::NameMismatch { expected: host.to_owned(), presented: Vec::new() }
            }
            CertificateError::NotValidForNameContext { expected, presented } => TlsFailure::NameMismatch {
                expected: server_name_text(expected).unwrap_or_else(|| host.to_owned()),
                presented: presented.iter().map(|name| tidy_presented(name)).collect(),
            },
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsFailure::Expired,
            other => TlsFailure::Other { detail: format!("the certificate was rejected: {other:?}") },
        },
        Some(other) => TlsFailure::Other { detail: other.to_string() },
        None => TlsFailure::Other {
            detail: match error.kind() {
                io::ErrorKind::UnexpectedEof => "the server closed the connection during the handshake".to_owned(),
                _ => error.to_string(),
            },
        },
    }
}

fn server_name_text(name: &ServerName<'_>) -> Option<String> {
    match name {
        ServerName::DnsName(dns) => Some(dns.as_ref().to_owned()),
        ServerName::IpAddress(ip) => Some(std::net::IpAddr::from(*ip).to_string()),
        _ => None,
    }
}

/// webpki reports names as `DnsName("x")` / `IpAddress(1.2.3.4)`; keep just the name.
fn tidy_presented(name: &str) -> String {
    let inner = name
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| name.strip_prefix("IpAddress(").and_then(|n| n.strip_suffix(')')));
    inner.unwrap_or(name).to_owned()
}

/// The opt-in insecure verifier: any certificate is accepted, but the handshake
/// signatures are still checked (so the peer holds the key of the certificate it sent).
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrap(e: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    #[test]
    fn classifies_certificate_errors() {
        assert_eq!(classify(&wrap(CertificateError::UnknownIssuer.into()), "h"), TlsFailure::UnknownIssuer);
        assert_eq!(
            classify(&wrap(CertificateError::NotValidForName.into()), "h"),
            TlsFailure::NameMismatch { expected: "h".into(), presented: vec![] }
        );
        assert_eq!(classify(&wrap(CertificateError::Expired.into()), "h"), TlsFailure::Expired);
        assert!(matches!(classify(&io::Error::from(io::ErrorKind::UnexpectedEof), "h"), TlsFailure::Other { .. }));
    }

    #[test]
    fn presented_names_are_tidied() {
        assert_eq!(tidy_presented("DnsName(\"a.example\")"), "a.example");
        assert_eq!(tidy_presented("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(tidy_presented("odd"), "odd");
    }

    #[test]
    fn missing_ca_file_is_reported() {
        let options = ConnectOptions { ca_file: Some("/nonexistent/ca.pem".into()), ..ConnectOptions::default() };
        let err = client_config(&options).err();
        assert!(matches!(err, Some(TransportError::CaFile { .. })), "{err:?}");
    }

    #[test]
    fn empty_ca_file_is_reported() -> io::Result<()> {
        let file = tempfile::NamedTempFile::new()?;
        let options = ConnectOptions { ca_file: Some(file.path().to_owned()), ..ConnectOptions::default() };
        let err = client_config(&options).err();
        let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(matches!(err, Some(TransportError::CaFile { .. })), "{err:?}");
        assert!(text.contains("no PEM certificate"), "{text}");
        Ok(())
    }
}
