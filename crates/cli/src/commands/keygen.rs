//! `trailseal keygen`: an Ed25519 signing key and its public key, or a random chain secret.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use trailseal::signing::generate_signing_key;
use trailseal::store::atomic::{PRIVATE, PUBLIC, WriteError, write_new};

use super::stdout;
use crate::error::{CliError, EXIT_OK, output};

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Write the signing key here (mode 0600) and the public key to NAME.pub; with --secret,
    /// the chain secret (never overwritten).
    #[arg(long, value_name = "NAME")]
    pub(crate) out: PathBuf,
    /// The key's name inside signatures (default: the file name).
    #[arg(long, value_name = "KEY_NAME")]
    pub(crate) name: Option<String>,
    /// Make a chain secret instead: 32 random bytes written as 43 characters of base64url
    /// (mode 0600, never printed), for --secret-file or WEAVER_KERNEL_SECRET="$(cat FILE)".
    #[arg(long, conflicts_with = "name")]
    pub(crate) secret: bool,
    /// Make the new key the successor of this signing key: also write NAME.transition, a
    /// note signed by both keys (for `verify --key-transitions DIR`).
    #[arg(long, value_name = "OLD", conflicts_with = "secret")]
    pub(crate) rotate_from: Option<PathBuf>,
    /// When the new key takes effect (RFC 3339; default now).
    #[arg(long, value_name = "TIME", requires = "rotate_from")]
    pub(crate) effective: Option<String>,
    /// How long after that the old key stays valid (both sign meanwhile).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "7d",
        requires = "rotate_from"
    )]
    pub(crate) overlap: crate::cli::DurationArg,
}

/// Writes a new key file (`mode`, whatever the umask) that must not exist yet: written beside
/// it and linked into place, so an existing file or symbolic link there is never replaced or
/// followed, and an interrupted write leaves nothing.
fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), CliError> {
    write_new(path, mode, text.as_bytes()).map_err(|e| {
        let exists = matches!(e, WriteError::Exists);
        let err = CliError::new(format!("{}: {e}", path.display()));
        if exists {
            err.hint("keygen never overwrites a key; choose another --out")
        } else {
            err
        }
    })
}

pub(crate) fn run(args: &KeygenArgs) -> Result<u8, CliError> {
    if args.secret {
        return keygen_secret(&args.out);
    }
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let (signer, transition) = match &args.rotate_from {
        None => (generate_signing_key(&name)?, None),
        Some(old) => {
            let old = super::anchor::signer(old)?;
            let effective = match &args.effective {
                Some(t) => trailseal::Timestamp::parse(t, trailseal::core::time::Offset::Required)
                    .map_err(|e| CliError::new(format!("--effective: {e}")))?,
                None => trailseal::now(),
            };
            let until = effective.saturating_add_micros(args.overlap.micros());
            let (new, note) =
                trailseal::transitions::rotate_signing_key(&old, &name, effective, until)?;
            (new, Some(note))
        }
    };
    let public = PathBuf::from(format!("{}.pub", args.out.display()));
    // Not `exists()`: a dangling symbolic link is there too.
    if std::fs::symlink_metadata(&public).is_ok() {
        return Err(
            CliError::new(format!("{}: already exists", public.display()))
                .hint("keygen never overwrites a key; choose another --out"),
        );
    }
    let transition_path = PathBuf::from(format!(
        "{}.{}",
        args.out.display(),
        trailseal::transitions::TRANSITION_EXT
    ));
    if transition.is_some() && std::fs::symlink_metadata(&transition_path).is_ok() {
        return Err(
            CliError::new(format!("{}: already exists", transition_path.display()))
                .hint("keygen never overwrites a key; choose another --out"),
        );
    }
    write_file(&args.out, &(signer.to_key_string() + "\n"), PRIVATE)?;
    write_file(&public, &(signer.verifier().to_key_string() + "\n"), PUBLIC)?;
    if let Some(note) = &transition {
        write_file(&transition_path, note, PUBLIC)?;
        writeln!(
            stdout(),
            "wrote the transition {} (signed by the old key and the new one): publish it beside the old public key; verifiers pass its folder to --key-transitions",
            transition_path.display()
        )
        .map_err(output)?;
    }
    writeln!(
        stdout(),
        "wrote the signing key {} (mode 0600; keep it off the store's host if you can: it is not the chain secret)\nand the public key {}: {}",
        args.out.display(),
        public.display(),
        signer.verifier().to_key_string()
    )
    .map_err(output)?;
    Ok(EXIT_OK)
}

/// `keygen --secret`: a new chain secret in a new file (mode 0600); the secret is never shown.
fn keygen_secret(out: &Path) -> Result<u8, CliError> {
    let secret = trailseal::secret::generate_secret()
        .map_err(|e| CliError::new(format!("cannot draw random bytes: {e}")))?;
    let mut text = zeroize::Zeroizing::new(String::with_capacity(secret.len() + 1));
    text.push_str(&secret);
    text.push('\n');
    write_file(out, &text, PRIVATE)?;
    writeln!(
        stdout(),
        "wrote a new chain secret to {} (32 random bytes as 43 characters of base64url, mode 0600)\nuse it with --secret-file {}, or export WEAVER_KERNEL_SECRET=\"$(cat {})\" (weaver-kernel reads the same text)",
        out.display(),
        out.display(),
        out.display()
    )
    .map_err(output)?;
    Ok(EXIT_OK)
}
