//! `trailseal anchor`, and anchors while `trailseal append` runs (`--anchor-dir`); the signing
//! key and default origin other commands share.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use trailseal::core::note::NoteSigner;
use trailseal::core::trace::TraceLimits;
use trailseal::signing::read_signing_key;
use trailseal::{AnchorWrite, AuditLog, OpenMode, Timestamp, now, write_anchor_once};

use super::{load_key, open, refused, stdout, warn_shared_file};
use crate::cli::{SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, output};

#[derive(Debug, Args)]
pub(crate) struct AnchorArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// The Ed25519 signing key (from `trailseal keygen`).
    #[arg(long, value_name = "KEY")]
    pub(crate) signing_key: PathBuf,
    /// Write the anchor here instead of stdout. Anchors are write-once: a file already there
    /// is never replaced (one holding this same anchored head is left as it is; an anchor of
    /// the same size with another head is reported as the tampering it proves, exit 1).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// The log's identity in the anchor (default: trailseal.local/<store file name>).
    #[arg(long)]
    pub(crate) origin: Option<String>,
    /// Also sign with this key (repeatable): during a signing-key transition's overlap, the
    /// old key and the new one both sign (`trailseal keygen --rotate-from`).
    #[arg(long, value_name = "KEY")]
    pub(crate) also_signing_key: Vec<PathBuf>,
}

/// The origin of anchors and bundles when none is given: `trailseal.local/<store file name>`.
pub(crate) fn default_origin(store: &str) -> String {
    let name = Path::new(store)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| store.to_owned());
    format!("trailseal.local/{name}")
}

/// The signing key at `path` (warning when others can read it).
pub(crate) fn signer(path: &Path) -> Result<NoteSigner, CliError> {
    let signer = read_signing_key(path).map_err(|e| {
        let writable = matches!(e, trailseal::Error::WritableKeyFile { .. });
        CliError::from(e).hint(if writable {
            "`chmod 600` the signing key (and check nobody replaced it), or make a new one with `trailseal keygen`"
        } else {
            "give the file `trailseal keygen --out NAME` wrote (NAME, not NAME.pub)"
        })
    })?;
    warn_shared_file(path, "the signing key");
    Ok(signer)
}

pub(crate) fn run(args: &AnchorArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let signer = signer(&args.signing_key)?;
    let origin = args
        .origin
        .clone()
        .unwrap_or_else(|| default_origin(&args.store.store));
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?.with_keyring(key);
    let (anchor, mut note) = log.anchor(&signer, &origin, now(), true).map_err(refused)?;
    for path in &args.also_signing_key {
        let extra = self::signer(path)?;
        note = trailseal::core::note::add_signature(&note, &extra)
            .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
    }
    tree_note(&mut log, &anchor);
    match &args.out {
        Some(path) => {
            // Anchors are write-once: an existing file is never replaced.
            let done = write_anchor_once(path, &anchor, &note, &signer.verifier())
                .map_err(CliError::from)?;
            writeln!(
                stdout(),
                "{} {} (size {}, head seq {}) to {}",
                match done {
                    AnchorWrite::Created => "anchored",
                    AnchorWrite::AlreadyPresent => "already anchored (file unchanged)",
                },
                anchor.origin,
                anchor.size,
                anchor
                    .head_seq()
                    .map_or_else(|| "none".into(), |s| s.to_string()),
                path.display()
            )
            .map_err(output)?;
        }
        None => stdout().write_all(note.as_bytes()).map_err(output)?,
    }
    Ok(EXIT_OK)
}

/// Says on stderr when the anchor's `tree` line does not reach its head (the tree was behind:
/// records appended by weaver-kernel, which the next trailseal append brings in), or when the
/// store has no tree to pin. Informational: the anchor states what it pins either way.
fn tree_note(log: &mut AuditLog, anchor: &trailseal::core::anchor::Anchor) {
    let base = log
        .store_mut()
        .state()
        .ok()
        .and_then(|s| s.tree)
        .map(|t| t.base);
    let message = match (anchor.tree, base) {
        (None, _) => Some(
            "note: the store has no Merkle tree: the anchor pins the chain head only".to_owned(),
        ),
        (Some(t), Some(base)) if base.saturating_add(t.size) < anchor.size => Some(format!(
            "note: the anchor pins the Merkle tree at size {} (records to seq {}): records after it are not in the tree yet and are pinned by the head hash only; the next `trailseal append` brings them in",
            t.size,
            base.saturating_add(t.size).saturating_sub(1)
        )),
        _ => None,
    };
    if let Some(m) = message {
        let _ = writeln!(std::io::stderr().lock(), "{m}");
    }
}

/// Writes anchors while `trailseal append` runs.
pub(crate) struct Anchoring {
    dir: PathBuf,
    signer: NoteSigner,
    origin: String,
    every: u64,
    interval_micros: Option<i64>,
    last_size: Option<u64>,
    last_time: Timestamp,
}

impl Anchoring {
    /// Checks the store against the newest anchor already in `dir` (before anything is
    /// appended: a store that no longer holds what it vouches for is refused), and creates
    /// the folder.
    pub(crate) fn new(
        log: &mut AuditLog,
        dir: &Path,
        signer: NoteSigner,
        origin: String,
        every: u64,
        interval: Option<i64>,
    ) -> Result<Self, CliError> {
        log.check_anchor_dir(dir, &signer.verifier())
            .map_err(|e| {
                let conflict = matches!(e, trailseal::Error::AnchorConflict { .. });
                let err = CliError::from(e);
                if conflict {
                    err.hint("nothing was appended and no anchor was written; run `trailseal verify --anchor-dir DIR --public-key KEY.pub` for the verdict")
                } else {
                    err.hint("nothing was appended")
                }
            })?;
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("{}: cannot create: {e}", dir.display())))?;
        Ok(Self {
            dir: dir.to_owned(),
            signer,
            origin,
            every: every.max(1),
            interval_micros: interval,
            last_size: None,
            last_time: now(),
        })
    }

    /// After a commit that left the head at `size` records: anchor if due (or `force`).
    pub(crate) fn after_commit(
        &mut self,
        log: &mut AuditLog,
        size: u64,
        force: bool,
    ) -> Result<(), CliError> {
        let crossed = self
            .last_size
            .is_none_or(|last| size / self.every > last / self.every);
        let overdue = self
            .interval_micros
            .is_some_and(|i| now().unix_micros() - self.last_time.unix_micros() >= i);
        if !(crossed || overdue || force) || self.last_size == Some(size) {
            return Ok(());
        }
        let time = now();
        let (anchor, _, _) = log.anchor_into_dir(&self.dir, &self.signer, &self.origin, time)?;
        self.last_size = Some(anchor.size);
        self.last_time = time;
        Ok(())
    }
}
