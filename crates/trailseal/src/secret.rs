//! Loading the chain secret, or a keyring of several.
//!
//! The secret comes from `WEAVER_KERNEL_SECRET` (as in weaver-kernel) or from a file; a keyring
//! from `WEAVER_KERNEL_SECRETS` (a JSON object `{label: secret}`) or several files, with
//! `WEAVER_KERNEL_ACTIVE_KEY` (or the caller) naming the key that writes. There is
//! no silent fallback: [`development_key`] draws a random key only when called explicitly, and
//! warns once per process that nothing it signs will verify after a restart. The secret's bytes
//! are wiped from memory once the key is derived, and never appear in any message or `Debug`.

use std::path::{Path, PathBuf};
use std::sync::Once;

use trailseal_core::{ChainKey, KeyError, Keyring, KeyringError};
use zeroize::Zeroizing;

/// The environment variable weaver-kernel reads the secret from.
pub const SECRET_ENV: &str = "WEAVER_KERNEL_SECRET";

/// The environment variable a keyring is read from: a JSON object `{label: secret}`.
pub const SECRETS_ENV: &str = "WEAVER_KERNEL_SECRETS";

/// The environment variable that names the keyring's active key (by label).
pub const ACTIVE_KEY_ENV: &str = "WEAVER_KERNEL_ACTIVE_KEY";

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
    /// `WEAVER_KERNEL_SECRETS` cannot be read as a keyring (the problem names a label, never
    /// a secret).
    #[error("{SECRETS_ENV}: {0}")]
    SecretsEnv(String),
    /// Both `WEAVER_KERNEL_SECRET` and `WEAVER_KERNEL_SECRETS` are set: one would shadow the
    /// other.
    #[error("both {SECRET_ENV} and {SECRETS_ENV} are set; set one")]
    BothEnv,
    /// The keys do not make a keyring.
    #[error("{0}")]
    Keyring(#[from] KeyringError),
    /// `WEAVER_KERNEL_ACTIVE_KEY` is not valid UTF-8.
    #[error("{ACTIVE_KEY_ENV} is not valid UTF-8")]
    ActiveNotUnicode,
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

/// The keyring from `--secret-file` given once or more (each key labelled with its path as
/// given), else from `WEAVER_KERNEL_SECRETS`, else from `WEAVER_KERNEL_SECRET` (one key,
/// labelled `default`); `None` when none is set. The active key is `active` when given, else
/// `WEAVER_KERNEL_ACTIVE_KEY` when set, else the only key of a ring of one.
pub fn resolve_keyring(
    secret_files: &[PathBuf],
    active: Option<&str>,
) -> Result<Option<Keyring>, SecretError> {
    let ring = if !secret_files.is_empty() {
        let keys = secret_files
            .iter()
            .map(|path| Ok((path.display().to_string(), key_from_file(path)?)))
            .collect::<Result<Vec<_>, SecretError>>()?;
        Keyring::new(keys)?
    } else {
        match std::env::var_os(SECRETS_ENV) {
            Some(value) => {
                if std::env::var_os(SECRET_ENV).is_some() {
                    return Err(SecretError::BothEnv);
                }
                let value = Zeroizing::new(
                    value
                        .into_string()
                        .map_err(|_| SecretError::SecretsEnv("is not valid UTF-8".into()))?,
                );
                keyring_from_json(value.as_bytes())?
            }
            None => match key_from_env()? {
                Some(key) => Keyring::single(key),
                None => return Ok(None),
            },
        }
    };
    let env_active;
    let active = match active {
        Some(label) => Some(label),
        None => match std::env::var_os(ACTIVE_KEY_ENV) {
            Some(v) => {
                env_active = v.into_string().map_err(|_| SecretError::ActiveNotUnicode)?;
                Some(env_active.as_str())
            }
            None => None,
        },
    };
    Ok(Some(match active {
        Some(label) => ring.with_active(label)?,
        None => ring,
    }))
}

/// A keyring from the JSON object `{label: secret, ...}`, read by trailseal's strict reader:
/// a repeated label, a value that is not a string, an empty label or an empty secret are
/// refused, naming the label, never a secret.
pub fn keyring_from_json(text: &[u8]) -> Result<Keyring, SecretError> {
    let bad = SecretError::SecretsEnv;
    let doc = trailseal_core::json::parse(text).map_err(|_| {
        bad("is not valid JSON (a JSON object {\"label\": \"secret\"} is expected)".into())
    })?;
    if let Some(label) = doc.find_duplicate_key() {
        return Err(bad(format!("the label {label:?} is given twice")));
    }
    let root = doc.root();
    if root.kind() != trailseal_core::json::Kind::Object {
        return Err(bad("is not a JSON object of labels and secrets".into()));
    }
    let mut keys = Vec::new();
    for (label, value) in root.members() {
        let label = label.to_owned();
        if label.is_empty() {
            return Err(bad("a label is empty".into()));
        }
        let secret = value
            .as_str()
            .ok_or_else(|| bad(format!("the secret of {label:?} is not a string")))?;
        let key = ChainKey::from_secret(secret.as_bytes())
            .map_err(|e| bad(format!("the secret of {label:?}: {e}")))?;
        keys.push((label, key));
    }
    Ok(Keyring::new(keys)?)
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
