//! The commands.

mod demo;
mod offline;
mod repair;
mod retention;
mod shell;

use std::io::{BufRead, Write};
use std::process::ExitCode;

use trailseal::core::json;
use trailseal::core::time::Offset;
use trailseal::core::trace::{Outcome, TraceLimits};
use trailseal::core::verify::Flow;
use trailseal::secret;
use trailseal::{AuditLog, ChainKey, Filter, Format, OpenMode, OpenOptions, Timestamp, Verdict};

use crate::cli::{
    AppendArgs, Cli, Command, ExportArgs, FilterArgs, FormatArg, ListArgs, SecretArgs, ShowArgs,
    StatusArg, StoreArgs, VerifyArgs,
};
use crate::error::{CliError, EXIT_ERROR, EXIT_OK, EXIT_TAMPERED, output};
use crate::output::{JsonObject, ProgressLine, verdict_json, verdict_text};

pub(crate) fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Append(args) => append(&args),
        Command::Verify(args) => verify(&args),
        Command::List(args) => list(&args),
        Command::Show(args) => show(&args),
        Command::Export(args) => export(&args),
        Command::Prune(args) => retention::prune(&args),
        Command::Policy(args) => retention::policy(&args),
        Command::Retention(args) => retention::retention(&args),
        Command::Keygen(args) => offline::keygen(&args),
        Command::Anchor(args) => offline::anchor(&args),
        Command::VerifyBundle(args) => offline::verify_bundle(&args),
        Command::Migrate(args) => offline::migrate(&args),
        Command::Canonical => canonical(),
        Command::Completions(args) => shell::completions(&args),
        Command::Man => shell::man(),
        Command::Repair(args) => repair::repair(&args),
    }
}

fn format_of(args: &StoreArgs) -> Option<Format> {
    args.format.map(|f| match f {
        FormatArg::Sqlite => Format::Sqlite,
        FormatArg::Jsonl => Format::Jsonl,
    })
}

pub(crate) fn open(
    args: &StoreArgs,
    mode: OpenMode,
    limits: TraceLimits,
) -> Result<AuditLog, CliError> {
    Ok(AuditLog::open(
        &args.store,
        &open_options(args, mode, limits),
    )?)
}

/// The library's options for what the store flags say.
fn open_options(args: &StoreArgs, mode: OpenMode, limits: TraceLimits) -> OpenOptions {
    OpenOptions {
        format: format_of(args),
        mode,
        limits,
        max_record_bytes: args.max_record_bytes,
    }
}

/// The chain key from --secret-file or WEAVER_KERNEL_SECRET; warns about a secret file
/// others can read.
pub(crate) fn load_key(args: &SecretArgs) -> Result<Option<ChainKey>, CliError> {
    if let Some(path) = &args.secret_file {
        warn_shared_file(path, "the secret file");
    }
    let key = secret::resolve_key(args.secret_file.as_deref())?;
    if let Some(key) = &key {
        warn_weak_secret(key);
    }
    Ok(key)
}

/// Warns on stderr when `path` (a secret or key file) can be read by other users.
pub(crate) fn warn_shared_file(path: &std::path::Path, what: &str) {
    if secret::file_is_shared(path) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "warning: {}: {what} can be read by other users; `chmod 600` it",
            path.display()
        );
    }
}

/// Warns on stderr about a secret that is short or looks like a word (never showing it).
fn warn_weak_secret(key: &ChainKey) {
    let strength = key.strength();
    let what = match (
        strength.shorter_than_recommended(),
        strength.looks_like_a_word(),
    ) {
        (true, true) => "is shorter than 32 bytes and looks like a word",
        (true, false) => "is shorter than 32 bytes",
        (false, true) => "looks like a word",
        (false, false) => return,
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "warning: the chain secret {what}: anyone holding an anchor, a bundle or a disclosed \
         record can test guesses of it offline. New stores should use 32 random bytes: \
         `trailseal keygen --secret --out FILE` makes such a secret (existing stores keep \
         working with theirs)"
    );
}

/// Opens the store for appending, creating it when missing, except with a secret too short to
/// start a new store: then a missing store is refused before anything is created.
pub(crate) fn open_for_append(
    args: &StoreArgs,
    limits: TraceLimits,
    key: ChainKey,
) -> Result<AuditLog, CliError> {
    if !key.strength().too_short_for_new_store() {
        return Ok(open(args, OpenMode::Write { create: true }, limits)?.with_key(key));
    }
    let options = open_options(args, OpenMode::Write { create: false }, limits);
    match AuditLog::open(&args.store, &options) {
        Ok(log) => Ok(log.with_key(key)),
        Err(trailseal::Error::Store(trailseal::StoreError::NotFound { location })) => {
            Err(trailseal::Error::WeakSecret { location }.into())
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn stdout() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

fn append(args: &AppendArgs) -> Result<ExitCode, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let limits = TraceLimits {
        max_bytes: args.max_trace_bytes,
        ..TraceLimits::default()
    };
    let chunk = args.commit_every.unwrap_or(usize::MAX).max(1);
    // Anchoring options are checked before the store is opened (or created).
    let anchoring = match &args.anchor_dir {
        Some(dir) => {
            let key = args
                .signing_key
                .as_deref()
                .ok_or_else(|| CliError::new("--anchor-dir needs --signing-key"))?;
            let interval = args
                .anchor_interval
                .as_deref()
                .map(|d| {
                    trailseal::core::time::parse_duration(d).ok_or_else(|| {
                        CliError::new(format!("--anchor-interval {d:?}: not a duration"))
                            .hint("e.g. 30s, 5m, 1h")
                    })
                })
                .transpose()?;
            let signer = offline::signer(key)?;
            Some((dir, signer, interval))
        }
        None => None,
    };
    // A new store is created by its first write, so one refused before it leaves no file.
    let mut log = open_for_append(&args.store, limits, key)?;
    let mut anchoring = match anchoring {
        Some((dir, signer, interval)) => {
            let origin = args
                .origin
                .clone()
                .unwrap_or_else(|| offline::default_origin(log.location()));
            Some(offline::Anchoring::new(
                &mut log,
                dir,
                signer,
                origin,
                args.anchor_every,
                interval,
            )?)
        }
        None => None,
    };

    let stdin = std::io::stdin().lock();
    let mut pending = Vec::new();
    let mut pending_lines = Vec::new();
    // Only what the summary needs: memory stays flat however long stdin is.
    let mut count = 0u64;
    let mut first: Option<u64> = None;
    let mut last: Option<trailseal::Appended> = None;
    let mut flush = |log: &mut AuditLog,
                     pending: &mut Vec<_>,
                     lines: &mut Vec<usize>|
     -> Result<(), CliError> {
        if pending.is_empty() {
            return Ok(());
        }
        let result = log.append(pending);
        let first_line = lines.first().copied().unwrap_or(0);
        let last_id = pending
            .last()
            .map(|t: &trailseal::PreparedTrace| t.action_id().to_owned());
        pending.clear();
        lines.clear();
        let done = result.map_err(|e| {
            // An interrupted write in the store keeps its own hint (`trailseal repair`).
            let torn = matches!(
                e,
                trailseal::Error::Store(trailseal::StoreError::TornTail { .. })
            );
            let err = CliError::from(e);
            if torn {
                return err;
            }
            err.add_hint(format!(
                "nothing from line {first_line} on was written; earlier commits (if any) stand"
            ))
        })?;
        count += done.len() as u64;
        if first.is_none() {
            first = done.first().map(|a| a.seq);
        }
        if args.progress_json
            && let (Some(a), Some(l)) = (done.first(), done.last())
        {
            // Printed only once the commit is durable: every trace a line covers is stored.
            let line = JsonObject::new()
                .num("committed", done.len() as u64)
                .num("total", count)
                .num("first_seq", a.seq)
                .num("last_seq", l.seq)
                .str("head_hash", l.record_hash.as_str())
                .opt_str("last_action_id", last_id.as_deref())
                .finish();
            let mut out = stdout();
            writeln!(out, "{line}")
                .and_then(|()| out.flush())
                .map_err(|e| {
                    CliError::new(format!("cannot write --progress-json output: {e}"))
                        .hint("this commit and those before it stand; nothing after it was written")
                })?;
        }
        if let Some(l) = done.last() {
            last = Some(*l);
            if let Some(a) = anchoring.as_mut() {
                a.after_commit(log, l.seq + 1, false)?;
            }
        }
        Ok(())
    };
    let mut reader = std::io::BufReader::new(stdin);
    let mut line = Vec::new();
    let mut line_no = 0usize;
    // On a terminal: how many traces have been read (each commits when its batch does).
    let mut progress = ProgressLine::doing(!args.quiet && !args.progress_json, "appending");
    let mut read = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::new(format!("stdin: cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let prepared = log.prepare([text]).map_err(|e| match e {
            trailseal::Error::Trace { source, .. } => CliError::new(format!("line {line_no}: {source}"))
                .hint("each stdin line must be one trace in weaver-kernel's export shape; nothing from this batch was written"),
            other => other.into(),
        })?;
        pending.extend(prepared);
        pending_lines.push(line_no);
        read += 1;
        progress.update(trailseal::Progress {
            records_checked: read,
            total_hint: None,
        });
        if pending.len() >= chunk {
            flush(&mut log, &mut pending, &mut pending_lines)?;
        }
    }
    flush(&mut log, &mut pending, &mut pending_lines)?;
    progress.finish();
    if let (Some(a), Some(l)) = (anchoring.as_mut(), last) {
        a.after_commit(&mut log, l.seq + 1, true)?;
    }

    if args.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = stdout();
    let head_hash = last.map(|a| a.record_hash);
    let last = last.map(|a| a.seq);
    let result = if args.json {
        writeln!(
            out,
            "{}",
            JsonObject::new()
                .num("appended", count)
                .opt_num("first_seq", first)
                .opt_num("last_seq", last)
                .opt_str("head_hash", head_hash.as_ref().map(|h| h.as_str()))
                .finish()
        )
    } else {
        match (first, last) {
            (Some(f), Some(l)) => writeln!(
                out,
                "appended {} record{} (seq {f} to {l}) to {}",
                count,
                if count == 1 { "" } else { "s" },
                log.location()
            ),
            _ => writeln!(out, "appended nothing (stdin held no traces)"),
        }
    };
    result.map_err(output)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn verdict_exit(verdict: &Verdict) -> ExitCode {
    ExitCode::from(match verdict {
        Verdict::Verified(_) => EXIT_OK,
        Verdict::Tampered(_) => EXIT_TAMPERED,
        _ => EXIT_ERROR,
    })
}

/// The anchor files of an anchor folder, in size order.
fn anchor_dir_files(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, CliError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CliError::new(format!(
            "{}: cannot read the anchor folder: {e}",
            dir.display()
        ))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            CliError::new(format!(
                "{}: cannot read the anchor folder: {e}",
                dir.display()
            ))
        })?;
        if let Some(size) = entry
            .file_name()
            .to_str()
            .and_then(trailseal::size_of_anchor_file_name)
        {
            files.push((size, entry.path()));
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

fn verify(args: &VerifyArgs) -> Result<ExitCode, CliError> {
    let key = load_key(&args.secret)?;
    let options = OpenOptions {
        format: format_of(&args.store),
        max_record_bytes: args.store.max_record_bytes,
        ..OpenOptions::default()
    };
    let mut hint = None;
    let verdict = match AuditLog::open(&args.store.store, &options) {
        // A store that cannot be opened is a verdict too (unverifiable, or tampered for
        // schema damage), in the same format, with the hint any other command gives for it.
        Err(trailseal::Error::Store(e)) => {
            hint = crate::error::store_hint(&e);
            trailseal::verdict_of_store_error(&e)
        }
        Err(e) => return Err(e.into()),
        Ok(log) => {
            let mut log = match key {
                Some(key) => log.with_key(key),
                None => log,
            };
            let mut paths = args.anchor.clone();
            if let Some(dir) = &args.anchor_dir {
                paths.extend(anchor_dir_files(dir)?);
            }
            let anchors = paths
                .iter()
                .map(|path| {
                    std::fs::read_to_string(path)
                        .map(|text| (path.display().to_string(), text))
                        .map_err(|e| {
                            CliError::new(format!(
                                "{}: cannot read the anchor: {e}",
                                path.display()
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let public = args
                .public_key
                .as_deref()
                .map(trailseal::signing::read_public_key)
                .transpose()?;
            let mut progress = ProgressLine::new(!args.quiet);
            let verdict = match &public {
                Some(public) if !anchors.is_empty() => {
                    log.verify_with_anchors(&anchors, public, &mut |p| progress.update(p))
                }
                _ => log.verify_with_progress(&mut |p| progress.update(p)),
            };
            progress.finish();
            verdict
        }
    };
    if !args.quiet {
        let text = if args.json {
            verdict_json(&verdict) + "\n"
        } else {
            verdict_text(
                &verdict,
                &trailseal::store::redact_location(&args.store.store),
            )
        };
        stdout().write_all(text.as_bytes()).map_err(output)?;
        if let Some(hint) = hint {
            let _ = writeln!(std::io::stderr().lock(), "hint: {hint}");
        }
    }
    Ok(verdict_exit(&verdict))
}

fn parse_time(flag: &str, value: &str) -> Result<Timestamp, CliError> {
    Timestamp::parse(value, Offset::DefaultUtc).map_err(|e| {
        CliError::new(format!("--{flag} {value:?}: {e}"))
            .hint("use RFC 3339, e.g. 2026-11-27T10:00:00Z, or a date such as 2026-11-27 (UTC)")
    })
}

fn filter_of(args: &FilterArgs) -> Result<Filter, CliError> {
    Ok(Filter {
        principal: args.principal.clone(),
        capability: args.capability.clone(),
        outcome: args.status.map(|s| match s {
            StatusArg::Succeeded => Outcome::Succeeded,
            StatusArg::Failed => Outcome::Failed,
            StatusArg::Denied => Outcome::Denied,
        }),
        since: args
            .since
            .as_deref()
            .map(|v| parse_time("since", v))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|v| parse_time("until", v))
            .transpose()?,
        limit: args.limit,
    })
}

fn list(args: &ListArgs) -> Result<ExitCode, CliError> {
    let filter = filter_of(&args.filter)?;
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
    let mut out = stdout();
    let mut count = 0usize;
    let mut write_error = None;
    if args.json {
        out.write_all(b"[").map_err(output)?;
    } else {
        writeln!(
            out,
            "{:<6} {:<38} {:<28} {:<24} {:<9} INVOKED_AT",
            "SEQ", "ACTION_ID", "CAPABILITY", "PRINCIPAL", "STATUS"
        )
        .map_err(output)?;
    }
    let unreadable = log.list(&filter, &mut |entry| {
        let s = &entry.summary;
        let result = if args.json {
            let sep = if count == 0 { "\n" } else { ",\n" };
            let item = JsonObject::new()
                .num("seq", entry.seq)
                .str("status", s.status())
                .raw("trace", &entry.trace)
                .finish();
            write!(out, "{sep}{item}")
        } else {
            writeln!(
                out,
                "{:<6} {:<38} {:<28} {:<24} {:<9} {}",
                entry.seq,
                s.action_id.as_deref().unwrap_or("?"),
                s.capability_id.as_deref().unwrap_or("?"),
                s.principal_id.as_deref().unwrap_or("?"),
                s.status(),
                s.invoked_at.as_deref().unwrap_or("?")
            )
        };
        count += 1;
        match result {
            Ok(()) => Flow::Continue,
            Err(e) => {
                write_error = Some(e);
                Flow::Stop
            }
        }
    })?;
    if let Some(e) = write_error {
        return Err(output(e));
    }
    if args.json {
        out.write_all(if count == 0 { b"]\n" } else { b"\n]\n" })
            .map_err(output)?;
    } else if count == 0 {
        writeln!(out, "no traces matched").map_err(output)?;
    }
    if unreadable > 0 {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "warning: {unreadable} record(s) could not be read and were skipped; run `trailseal verify`"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(args: &ShowArgs) -> Result<ExitCode, CliError> {
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
    let record = log.find(&args.action_id)?.ok_or_else(|| {
        CliError::new(format!(
            "{}: no trace with action_id {:?}",
            log.location(),
            args.action_id
        ))
        .hint("`trailseal list` shows the action ids")
    })?;
    let canonical = json::parse(record.trace.as_bytes())
        .ok()
        .and_then(|doc| {
            let mut out = Vec::new();
            doc.root()
                .write_canonical(&mut out, json::Mode::Python)
                .ok()?;
            String::from_utf8(out).ok()
        })
        .ok_or_else(|| {
            CliError::new(format!(
                "{}: seq {}: the stored trace is not valid JSON",
                log.location(),
                record.seq
            ))
            .hint("run `trailseal verify` to check the chain")
        })?;
    let text = if args.json {
        JsonObject::new()
            .num("seq", record.seq)
            .str("prev_hash", &record.prev_hash)
            .str("record_hash", &record.record_hash)
            .raw("trace", &canonical)
            .finish()
            + "\n"
    } else {
        format!(
            "seq:         {}\nprev_hash:   {}\nrecord_hash: {}\ntrace:\n{}\n",
            record.seq,
            record.prev_hash,
            record.record_hash,
            json::pretty(canonical.as_bytes(), 2)
        )
    };
    stdout().write_all(text.as_bytes()).map_err(output)?;
    Ok(ExitCode::SUCCESS)
}

fn export(args: &ExportArgs) -> Result<ExitCode, CliError> {
    if let Some(bundle) = &args.bundle {
        return offline::export_bundle(args, bundle);
    }
    let out = args
        .out
        .as_deref()
        .ok_or_else(|| CliError::new("say where to export: --out FILE.jsonl or --bundle FILE"))?;
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
    let mut progress = ProgressLine::doing(true, "exporting");
    let n = log.export_jsonl_with_progress(out, &mut |p| progress.update(p));
    progress.finish();
    let n = n?;
    // The export verifies with the same chain secret, passed the same way.
    let (flag, note) = match &args.secret.secret_file {
        Some(file) => (format!(" --secret-file {}", file.display()), ""),
        None if std::env::var_os(secret::SECRET_ENV).is_some() => (String::new(), ""),
        None => (
            String::new(),
            " (with the store's chain secret: set WEAVER_KERNEL_SECRET or add --secret-file FILE)",
        ),
    };
    writeln!(
        stdout(),
        "exported {n} record{} with their chain fields to {}; check it with `trailseal verify --store {}{flag}`{note}",
        if n == 1 { "" } else { "s" },
        out.display(),
        out.display()
    )
    .map_err(output)?;
    Ok(ExitCode::SUCCESS)
}

fn canonical() -> Result<ExitCode, CliError> {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(stdout());
    for (i, line) in stdin.split(b'\n').enumerate() {
        let line = line.map_err(|e| CliError::new(format!("stdin: cannot read: {e}")))?;
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        let canonical = json::canonicalize(line).map_err(|e| {
            CliError::new(format!("line {}: {e}", i + 1))
                .hint("each line must be one JSON value; NaN, Infinity and lone surrogates have no canonical form")
        })?;
        out.write_all(canonical.as_bytes()).map_err(output)?;
        out.write_all(b"\n").map_err(output)?;
    }
    out.flush().map_err(output)?;
    Ok(ExitCode::SUCCESS)
}
