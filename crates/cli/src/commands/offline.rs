//! `trailseal keygen`, `anchor`, `export --bundle`, `verify-bundle`, and anchors while
//! appending.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use trailseal::core::note::NoteSigner;
use trailseal::core::time::Offset;
use trailseal::core::trace::TraceLimits;
use trailseal::signing::{generate_signing_key, read_public_key, read_signing_key};
use trailseal::store::atomic::{AtomicFile, PRIVATE, PUBLIC, Perms, WriteError, write_new};
use trailseal::{AnchorWrite, write_anchor_once};
use trailseal::{AuditLog, BundleSelection, OpenMode, Timestamp, Verdict};

use super::retention::now;
use super::{load_key, open, stdout, verdict_exit};
use crate::cli::{AnchorArgs, ExportArgs, KeygenArgs, VerifyBundleArgs};
use crate::error::{CliError, output};
use crate::output::{JsonObject, ProgressLine, verdict_json, verdict_text};

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

pub(crate) fn keygen(args: &KeygenArgs) -> Result<ExitCode, CliError> {
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
    let signer = generate_signing_key(&name)?;
    let public = PathBuf::from(format!("{}.pub", args.out.display()));
    // Not `exists()`: a dangling symbolic link is there too.
    if std::fs::symlink_metadata(&public).is_ok() {
        return Err(
            CliError::new(format!("{}: already exists", public.display()))
                .hint("keygen never overwrites a key; choose another --out"),
        );
    }
    write_file(&args.out, &(signer.to_key_string() + "\n"), PRIVATE)?;
    write_file(&public, &(signer.verifier().to_key_string() + "\n"), PUBLIC)?;
    writeln!(
        stdout(),
        "wrote the signing key {} (mode 0600; keep it off the store's host if you can: it is not the chain secret)\nand the public key {}: {}",
        args.out.display(),
        public.display(),
        signer.verifier().to_key_string()
    )
    .map_err(output)?;
    Ok(ExitCode::SUCCESS)
}

/// `keygen --secret`: a new chain secret in a new file (mode 0600); the secret is never shown.
fn keygen_secret(out: &Path) -> Result<ExitCode, CliError> {
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
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn default_origin(store: &str) -> String {
    let name = Path::new(store)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| store.to_owned());
    format!("trailseal.local/{name}")
}

pub(crate) fn signer(path: &Path) -> Result<NoteSigner, CliError> {
    let signer = read_signing_key(path).map_err(|e| {
        let writable = matches!(e, trailseal::Error::WritableKeyFile { .. });
        CliError::from(e).hint(if writable {
            "`chmod 600` the signing key (and check nobody replaced it), or make a new one with `trailseal keygen`"
        } else {
            "give the file `trailseal keygen --out NAME` wrote (NAME, not NAME.pub)"
        })
    })?;
    super::warn_shared_file(path, "the signing key");
    Ok(signer)
}

pub(crate) fn anchor(args: &AnchorArgs) -> Result<ExitCode, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let signer = signer(&args.signing_key)?;
    let origin = args
        .origin
        .clone()
        .unwrap_or_else(|| default_origin(&args.store.store));
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?.with_key(key);
    let (anchor, note) = log
        .anchor(&signer, &origin, now(), true)
        .map_err(super::retention::refused)?;
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
    Ok(ExitCode::SUCCESS)
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

pub(crate) fn export_bundle(args: &ExportArgs, out_path: &Path) -> Result<ExitCode, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(|| {
        CliError::no_secret().hint("a bundle is exported only after each record's MAC is checked, so it needs the chain secret")
    })?;
    let signing_key = args
        .signing_key
        .as_deref()
        .ok_or_else(|| CliError::new("--bundle needs --signing-key"))?;
    let signer = signer(signing_key)?;
    let parse_time = |flag: &str, v: &Option<String>| -> Result<Option<Timestamp>, CliError> {
        v.as_deref()
            .map(|t| {
                Timestamp::parse(t, Offset::DefaultUtc)
                    .map_err(|e| CliError::new(format!("--{flag} {t:?}: {e}")))
            })
            .transpose()
    };
    let selection = BundleSelection {
        from_seq: args.from_seq,
        to_seq: args.to_seq,
        since: parse_time("since", &args.since)?,
        until: parse_time("until", &args.until)?,
        principal: args.principal.clone(),
        capability: args.capability.clone(),
        redact: args.redact.clone(),
        withheld_reasons: args.withheld_reasons,
    };
    // Malformed paths are refused before any file is created.
    selection.redact_paths().map_err(redact_refused)?;
    let origin = args
        .origin
        .clone()
        .unwrap_or_else(|| default_origin(&args.store.store));
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?.with_key(key);
    let mut progress = ProgressLine::doing(true, "exporting");
    // Traces: private (0600), written beside the target and renamed over it.
    let failed = |source| {
        super::retention::refused(trailseal::Error::Write {
            path: out_path.display().to_string(),
            source,
        })
    };
    let mut file = AtomicFile::create(out_path, Perms::Mode(PRIVATE)).map_err(failed)?;
    let result = log.export_bundle(&mut file, &signer, &origin, now(), &selection, &mut |p| {
        progress.update(p)
    });
    progress.finish();
    // Dropping `file` on an error removes what was written.
    let report = result.map_err(|e| match e {
        trailseal::Error::Redact(e) => redact_refused(e),
        e => super::retention::refused(e),
    })?;
    file.replace().map_err(failed)?;
    writeln!(
        stdout(),
        "bundled seq {} to {} ({} entries: {} disclosed, {} withheld as hashes{}) into {}; check it with `trailseal verify-bundle {} --public-key {}.pub`",
        report.from_seq,
        report.to_seq,
        report.entries,
        report.disclosed,
        report.withheld,
        if args.withheld_reasons {
            ", each saying why"
        } else {
            ""
        },
        out_path.display(),
        out_path.display(),
        signing_key.display()
    )
    .map_err(output)?;
    Ok(ExitCode::SUCCESS)
}

fn redact_refused(e: trailseal::RedactError) -> CliError {
    CliError::new(format!("--redact: {e}")).hint(
        "a path is member names joined by dots, [] after a name for every element of an array (args.recipients[].email); no bundle was written",
    )
}

pub(crate) fn verify_bundle(args: &VerifyBundleArgs) -> Result<ExitCode, CliError> {
    let public = read_public_key(&args.public_key)?;
    let key = if args.no_secret {
        None
    } else {
        load_key(&args.secret)?
    };
    let file = std::fs::File::open(&args.bundle)
        .map_err(|e| CliError::new(format!("{}: cannot open: {e}", args.bundle.display())))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut progress = ProgressLine::new(!args.quiet);
    let result = trailseal::verify_bundle_with(
        &mut reader,
        &public,
        key.as_ref(),
        args.max_record_bytes,
        &mut |p| progress.update(p),
    )
    .map_err(|e| CliError::new(format!("{}: cannot read: {e}", args.bundle.display())))?;
    progress.finish();
    let verdict = &result.verdict;
    if !args.quiet {
        let text = if args.json {
            let mut json = verdict_json(verdict);
            json.pop();
            let mut extra = JsonObject::new()
                .str("level", result.level.as_str())
                .opt_str("origin", result.origin.as_deref())
                .num("entries", result.entries)
                .num("disclosed", result.disclosed)
                .num("withheld", result.withheld)
                .bool("withheld_reasons", result.withheld_reasons.is_some());
            if let Some(counts) = result.withheld_reasons {
                extra = extra
                    .num("withheld_filter", counts.filter)
                    .num("withheld_redacted", counts.redacted);
            }
            let extra = extra.finish();
            format!("{json},{}\n", extra.trim_start_matches('{'))
        } else {
            let mut t = verdict_text(verdict, &args.bundle.display().to_string());
            if matches!(verdict, Verdict::Verified(_)) {
                let reasons = match result.withheld_reasons {
                    Some(c) => format!(
                        " ({} outside the selection, {} redacted: the bundle says which)",
                        c.filter, c.redacted
                    ),
                    None => String::new(),
                };
                t.push_str(&format!(
                    "  checked: {}\n  origin: {}; {} entries, {} disclosed, {} withheld{reasons}\n",
                    result.level.as_str(),
                    result.origin.as_deref().unwrap_or("?"),
                    result.entries,
                    result.disclosed,
                    result.withheld
                ));
            }
            t
        };
        stdout().write_all(text.as_bytes()).map_err(output)?;
    }
    Ok(verdict_exit(verdict))
}

pub(crate) fn migrate(args: &crate::cli::MigrateArgs) -> Result<ExitCode, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let limits = trailseal::OpenOptions {
        max_record_bytes: args.max_record_bytes,
        ..trailseal::OpenOptions::default()
    };
    let mut from = AuditLog::open(&args.from, &limits)?.with_key(key);
    // A destination file this command creates is removed again if the copy fails, so a
    // refused or failed migration leaves the file system as it was.
    let mut created = None;
    let mut progress = ProgressLine::doing(true, "migrating");
    let migrated = from.migrate_into(
        || {
            let path = std::path::Path::new(&args.to);
            let existed = path.exists();
            let store = trailseal::store::open_with(
                &args.to,
                None,
                OpenMode::Write { create: true },
                &trailseal::store::StoreOptions {
                    max_record_bytes: args.max_record_bytes,
                },
            )?;
            if !existed {
                created = file_id(path).map(|id| (path.to_owned(), id));
            }
            Ok(store)
        },
        &mut |p| progress.update(p),
    );
    let (to, report) = match migrated {
        Ok(done) => done,
        Err(e) => {
            progress.finish();
            if let Some((path, id)) = created {
                remove_created(&path, id);
            }
            return Err(super::retention::refused(e));
        }
    };
    progress.finish();
    writeln!(
        stdout(),
        "copied {} record{} ({}) and {} retention receipt{} from {} to {}; the copy verifies",
        report.records,
        if report.records == 1 { "" } else { "s" },
        match (report.first_seq, report.last_seq) {
            (Some(a), Some(b)) => format!("seq {a} to {b}"),
            _ => "none".into(),
        },
        report.receipts,
        if report.receipts == 1 { "" } else { "s" },
        from.location(),
        to.location()
    )
    .map_err(output)?;
    Ok(ExitCode::SUCCESS)
}

/// A file's identity (device and inode), to tell it from one another process put in its place.
#[cfg(unix)]
pub(crate) fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Without inodes nothing is removed.
#[cfg(not(unix))]
pub(crate) fn file_id(_: &std::path::Path) -> Option<(u64, u64)> {
    None
}

/// Removes a store file (and SQLite's side files) that a failed command created: only if it
/// is still that file and holds no record and no receipt, so that a store another process
/// created and wrote meanwhile under the same name is never removed.
pub(crate) fn remove_created(path: &std::path::Path, id: (u64, u64)) {
    if file_id(path) != Some(id) {
        return;
    }
    let empty = path.to_str().is_some_and(|location| {
        trailseal::store::open(location, None, OpenMode::Read)
            .and_then(|mut store| store.state())
            .is_ok_and(|state| state.head.is_none() && state.retention.is_empty())
    });
    if !empty {
        return;
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(std::path::PathBuf::from(name));
    }
}
