//! The module's functions: bundle verification, key generation, canonical JSON and the
//! command line.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use trailseal::signing::{generate_signing_key, read_public_key, read_signing_key};
use trailseal::store::atomic::{PRIVATE, PUBLIC, write_new};

use crate::errors::{Class, Raised};
use crate::log::key_of;

/// The bundle options: the line limit, and the witness quorum (`quorum` defaults to 1 when
/// `witness_keys` are given, and needs them).
fn bundle_options(
    max_record_bytes: usize,
    witness_keys: &[String],
    quorum: Option<usize>,
) -> PyResult<trailseal::BundleVerifyOptions> {
    let options = trailseal::BundleVerifyOptions::new().max_line_bytes(max_record_bytes);
    if witness_keys.is_empty() {
        if quorum.is_some() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "quorum needs witness_keys",
            ));
        }
        return Ok(options);
    }
    let witnesses = crate::tlog::witness_keys(witness_keys)?;
    options
        .witness_quorum(witnesses, quorum.unwrap_or(1))
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// Verifies a bundle with the public key file (and, given the chain secret, every disclosed
/// record's MAC; given `witness_keys`, the cosignatures by `quorum` of them its tree
/// checkpoint must carry); returns the verdict as `verify-bundle --json` prints it.
#[pyfunction]
#[pyo3(signature = (path, public_key, secret=None, *, witness_keys=Vec::new(), quorum=None, max_record_bytes=trailseal::core::trace::DEFAULT_MAX_RECORD_BYTES))]
pub(crate) fn verify_bundle(
    py: Python<'_>,
    path: PathBuf,
    public_key: PathBuf,
    secret: Option<Vec<u8>>,
    witness_keys: Vec<String>,
    quorum: Option<usize>,
    max_record_bytes: usize,
) -> PyResult<String> {
    let options = bundle_options(max_record_bytes, &witness_keys, quorum)?;
    let secret = secret.map(zeroize::Zeroizing::new);
    let key = key_of(secret.as_deref().map(Vec::as_slice))?;
    let public = read_public_key(&public_key).map_err(Raised::from)?;
    let result = py.detach(|| {
        let file = std::fs::File::open(&path).map_err(|e| {
            Raised::new(
                Class::Bundle,
                format!("{}: cannot open: {e}", path.display()),
            )
        })?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        trailseal::verify_bundle_with_options(
            &mut reader,
            &public,
            key.as_ref(),
            &options,
            &mut |_| {},
        )
        .map_err(|e| {
            Raised::new(
                Class::Bundle,
                format!("{}: cannot read: {e}", path.display()),
            )
        })
    })?;
    Ok(trailseal_cli::json::bundle_verdict(&result))
}

fn write_key_file(path: &Path, text: &str, mode: u32) -> Result<(), Raised> {
    write_new(path, mode, text.as_bytes())
        .map_err(|e| Raised::new(Class::Anchor, format!("{}: {e}", path.display())))
}

/// Makes a signing key named `name` in `out` (mode 0600) and its public key in `out.pub`;
/// none of the files may exist. With `rotate_from` (the old signing key file), the new key is
/// its successor: `out.transition` gets the transition note signed by both keys, the new key
/// valid from `effective` (RFC 3339; default now), the old one `overlap_micros` longer.
/// Returns the public key text.
#[pyfunction]
#[pyo3(signature = (out, name, rotate_from=None, effective=None, overlap_micros=7 * 86_400_000_000))]
pub(crate) fn keygen(
    out: PathBuf,
    name: String,
    rotate_from: Option<PathBuf>,
    effective: Option<String>,
    overlap_micros: i64,
) -> PyResult<String> {
    if rotate_from.is_none() && effective.is_some() {
        return Err(Raised::new(Class::InvalidTrace, "effective needs rotate_from").into());
    }
    if overlap_micros < 0 {
        return Err(Raised::new(Class::InvalidTrace, "overlap: must not be negative").into());
    }
    let public = PathBuf::from(format!("{}.pub", out.display()));
    let transition_path = PathBuf::from(format!(
        "{}.{}",
        out.display(),
        trailseal::transitions::TRANSITION_EXT
    ));
    let (signer, transition) = match &rotate_from {
        None => (generate_signing_key(&name).map_err(Raised::from)?, None),
        Some(old) => {
            let old = read_signing_key(old).map_err(Raised::from)?;
            let effective = match &effective {
                Some(t) => crate::log::timestamp("effective", t)?,
                None => trailseal::now(),
            };
            let until = effective.saturating_add_micros(overlap_micros);
            let (new, note) =
                trailseal::transitions::rotate_signing_key(&old, &name, effective, until)
                    .map_err(Raised::from)?;
            (new, Some(note))
        }
    };
    let mut taken = vec![&public];
    if transition.is_some() {
        taken.push(&transition_path);
    }
    for path in taken {
        // Not `exists()`: a dangling symbolic link is there too.
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(Raised::new(
                Class::Anchor,
                format!(
                    "{}: already exists; keys are never overwritten",
                    path.display()
                ),
            )
            .into());
        }
    }
    let private = zeroize::Zeroizing::new(signer.to_key_string() + "\n");
    write_key_file(&out, &private, PRIVATE)?;
    let public_text = signer.verifier().to_key_string();
    write_key_file(&public, &(public_text.clone() + "\n"), PUBLIC)?;
    if let Some(note) = &transition {
        write_key_file(&transition_path, note, PUBLIC)?;
    }
    Ok(public_text)
}

/// Writes a new chain secret (32 random bytes as 43 characters of base64url) to `out`, mode
/// 0600; the file must not exist. The secret is not returned.
#[pyfunction]
pub(crate) fn keygen_secret(out: PathBuf) -> PyResult<()> {
    let secret = trailseal::secret::generate_secret()
        .map_err(|e| Raised::new(Class::Secret, format!("cannot draw random bytes: {e}")))?;
    let mut text = zeroize::Zeroizing::new(String::with_capacity(secret.len() + 1));
    text.push_str(&secret);
    text.push('\n');
    write_key_file(&out, &text, PRIVATE)?;
    Ok(())
}

/// The canonical form of a JSON text, as weaver-kernel's `canonical_json` writes it (what a
/// record's MAC covers).
#[pyfunction]
pub(crate) fn canonical_json(text: &[u8]) -> PyResult<String> {
    trailseal::core::json::canonicalize(text).map_err(|e| {
        Raised::new(
            Class::InvalidTrace,
            format!("not canonicalizable JSON: {e}"),
        )
        .into()
    })
}

/// Runs the `trailseal` command line with `argv` (the program name first), without the GIL;
/// returns the exit code.
#[pyfunction]
pub(crate) fn cli_main(py: Python<'_>, argv: Vec<std::ffi::OsString>) -> u8 {
    py.detach(|| trailseal_cli::run(argv))
}

/// A location as messages show it: a database URL without its password.
#[pyfunction]
pub(crate) fn redact_location(location: &str) -> String {
    trailseal::store::redact_location(location)
}
