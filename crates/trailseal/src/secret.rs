//! Loading the chain secret.
//!
//! The secret comes from `WEAVER_KERNEL_SECRET` (as in weaver-kernel) or from a file. There is
//! no silent fallback: [`development_key`] draws a random key only when called explicitly, and
//! warns once per process that nothing it signs will verify after a restart. The secret's bytes
//! are wiped from memory once the key is derived, and never appear in any message or `Debug`.

use std::path::{Path, PathBuf};
use std::sync::Once;

use trailseal_core::{ChainKey, KeyError};
use zeroize::Zeroizing;

/// The environment variable weaver-kernel reads the secret from.
pub const SECRET_ENV: &str = "WEAVER_KERNEL_SECRET";

/// Why no key could be loaded. Never contains the secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error("{SECRET_ENV} is set but {0}")]
    Env(KeyError),
    #[error("{SECRET_ENV} is not valid UTF-8")]
    EnvNotUnicode,
    #[error("{path}: cannot read the secret file: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: KeyError,
    },
}

/// The key from `WEAVER_KERNEL_SECRET`, or `None` when it is not set.
///
/// An empty value is an error rather than "unset": weaver-kernel would silently fall back to
/// a random secret there, which is exactly what an audit log must not do.
pub fn key_from_env() -> Result<Option<ChainKey>, SecretError> {
    match std::env::var_os(SECRET_ENV) {
        None => Ok(None),
        Some(value) => {
            let value = Zeroizing::new(
                value
                    .into_string()
                    .map_err(|_| SecretError::EnvNotUnicode)?,
            );
            ChainKey::from_secret(value.as_bytes())
                .map(Some)
                .map_err(SecretError::Env)
        }
    }
}

/// The key from a secret file: its contents, less one trailing newline (`\n` or `\r\n`).
pub fn key_from_file(path: &Path) -> Result<ChainKey, SecretError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| SecretError::Read {
        path: path.to_owned(),
        source,
    })?);
    let mut secret: &[u8] = &bytes;
    if let Some(rest) = secret.strip_suffix(b"\n") {
        secret = rest.strip_suffix(b"\r").unwrap_or(rest);
    }
    ChainKey::from_secret(secret).map_err(|source| SecretError::File {
        path: path.to_owned(),
        source,
    })
}

/// Whether a secret file can be read by users other than its owner (Unix only).
pub fn file_is_shared(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// The key from `--secret-file` when given, else from the environment.
pub fn resolve_key(secret_file: Option<&Path>) -> Result<Option<ChainKey>, SecretError> {
    match secret_file {
        Some(path) => key_from_file(path).map(Some),
        None => key_from_env(),
    }
}

/// A new chain secret: 32 random bytes as 43 characters of base64url (RFC 4648 §5, no
/// padding). As text it is a valid `WEAVER_KERNEL_SECRET` (weaver-kernel keys the chain with
/// the UTF-8 bytes of the string, here 43 bytes holding 256 random bits), and it works
/// unchanged in a secret file. A draw that happens to pass for a word
/// ([`trailseal_core::strength::looks_like_a_word`], about one in ten thousand) is drawn again,
/// so the secret never earns a warning.
pub fn generate_secret() -> Result<Zeroizing<String>, getrandom::Error> {
    for _ in 0..64 {
        let mut raw = Zeroizing::new([0u8; 32]);
        getrandom::fill(raw.as_mut())?;
        let mut text = Zeroizing::new(trailseal_core::base64::encode(raw.as_ref()).into_bytes());
        for b in text.iter_mut() {
            *b = match *b {
                b'+' => b'-',
                b'/' => b'_',
                other => other,
            };
        }
        while text.last() == Some(&b'=') {
            text.pop();
        }
        if !trailseal_core::strength::looks_like_a_word(&text) {
            // base64 is ASCII.
            let text = String::from_utf8(std::mem::take(&mut *text))
                .map_err(|_| getrandom::Error::UNSUPPORTED)?;
            return Ok(Zeroizing::new(text));
        }
    }
    Err(getrandom::Error::UNSUPPORTED)
}

static DEV_WARNING: Once = Once::new();

/// weaver-kernel's development fallback, only on explicit request: a random key for this
/// process. Warns once per process on stderr; records it signs will not verify after a
/// restart.
pub fn development_key() -> Result<ChainKey, getrandom::Error> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut())?;
    let hex = Zeroizing::new(trailseal_core::Hash32::from_bytes(&raw).as_str().to_owned());
    DEV_WARNING.call_once(|| {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "warning: {SECRET_ENV} is not set. Using a random development secret: audit-chain \
                 records will not verify after this process exits. Set {SECRET_ENV} in production."
            );
        }
    });
    // A 64-character hex string is never empty and always UTF-8.
    ChainKey::from_secret(hex.as_bytes()).map_err(|_| getrandom::Error::UNSUPPORTED)
}
