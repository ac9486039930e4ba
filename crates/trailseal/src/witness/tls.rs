//! The TLS client of `https` witnesses (the `https` feature): rustls with ring, TLS 1.2 and
//! 1.3, the server's certificate checked for the URL's host (a name, or an IP address in the
//! certificate's SAN) against the platform's trust store as `rustls-native-certs` finds it:
//! the files `SSL_CERT_FILE` and `SSL_CERT_DIR` name when set, else the system's certificates.
//! The store is loaded once per process. ALPN offers `http/1.1` only.
//!
//! The handshake runs over the exchange's [`DeadlineSocket`], so it counts against the same
//! deadline as the request and the answer.

use std::io;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::http::{Deadline, DeadlineSocket, HttpError};

const ACTION: &str = "the TLS handshake";

/// A TLS stream over `socket` to `host`, its handshake complete.
pub(crate) fn handshake<'d>(
    host: &str,
    mut socket: DeadlineSocket<'d>,
    deadline: &Deadline,
) -> Result<StreamOwned<ClientConnection, DeadlineSocket<'d>>, HttpError> {
    let config = config()?;
    let name = ServerName::try_from(host.to_owned()).map_err(|_| HttpError::Tls {
        why: format!("{host} is not a TLS server name"),
    })?;
    let mut conn =
        ClientConnection::new(config, name).map_err(|e| HttpError::Tls { why: e.to_string() })?;
    while conn.is_handshaking() {
        deadline.remaining(ACTION)?;
        match conn.complete_io(&mut socket) {
            Ok((0, 0)) if conn.is_handshaking() => {
                return Err(HttpError::Closed { action: ACTION });
            }
            Ok(_) => {}
            Err(e) => return Err(classify(e, deadline)),
        }
    }
    Ok(StreamOwned::new(conn, socket))
}

/// A TLS refusal (a certificate not trusted, for another name, expired; a protocol error) as
/// [`HttpError::Tls`]; everything else as the socket's error.
fn classify(e: io::Error, deadline: &Deadline) -> HttpError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => HttpError::Tls {
            why: tls.to_string(),
        },
        None if e.kind() == io::ErrorKind::UnexpectedEof => HttpError::Closed { action: ACTION },
        None => deadline.classify(e, ACTION),
    }
}

/// The client configuration, built once per process.
fn config() -> Result<Arc<ClientConfig>, HttpError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(build)
        .clone()
        .map_err(|why| HttpError::Tls { why })
}

fn build() -> Result<Arc<ClientConfig>, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _unparsable) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(format!(
            "no trusted root certificate found ({} errors reading the platform's trust store; SSL_CERT_FILE names a file of PEM certificates to trust)",
            found.errors.len()
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
