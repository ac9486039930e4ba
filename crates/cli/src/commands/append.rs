//! `trailseal append`: traces from stdin, committed in batches, optionally anchored.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use clap::Args;
use trailseal::core::trace::TraceLimits;
use trailseal::{AuditLog, Keyring, OpenMode};

use super::anchor::{Anchoring, default_origin, signer};
use super::{load_key, open, open_options, stdout};
use crate::cli::{DurationArg, OutputArgs, SecretArgs, StoreArgs};
use crate::error::{CliError, EXIT_OK, output};
use crate::json;
use crate::output::{ProgressLine, plural};

#[derive(Debug, Args)]
#[command(mut_arg("json", |a| a.help("Print what was appended as JSON")))]
#[command(mut_arg("quiet", |a| a.help("Print nothing on success (except --progress-json lines)")))]
pub(crate) struct AppendArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) secret: SecretArgs,
    /// Commit every N traces instead of all of stdin at once (for long streams; a bad trace
    /// then leaves the batches before it written).
    #[arg(long, value_name = "N")]
    pub(crate) commit_every: Option<usize>,
    /// Largest accepted trace, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = trailseal::core::trace::DEFAULT_MAX_TRACE_BYTES)]
    pub(crate) max_trace_bytes: usize,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    /// After each commit, once it is durable, print one JSON line to stdout (flushed):
    /// {"committed":N,"total":N,"first_seq":A,"last_seq":B,"head_hash":H,"last_action_id":ID}.
    /// Every trace a printed line covers survives a crash that follows.
    #[arg(long)]
    pub(crate) progress_json: bool,
    /// Write signed anchors of the head into this folder (to ship off the host): after a
    /// commit that crosses a multiple of --anchor-every, when --anchor-interval has passed,
    /// and at the end. Anchor files are never replaced, and the append is refused before it
    /// writes anything if the store no longer holds the newest anchor's head.
    #[arg(long, value_name = "DIR", requires = "signing_key")]
    pub(crate) anchor_dir: Option<PathBuf>,
    /// The Ed25519 signing key for anchors.
    #[arg(long, value_name = "KEY")]
    pub(crate) signing_key: Option<PathBuf>,
    /// Anchor every N records.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) anchor_every: u64,
    /// Anchor at least this often while appending (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION")]
    pub(crate) anchor_interval: Option<DurationArg>,
    /// The log's identity in anchors (default: trailseal.local/<store file name>).
    #[arg(long)]
    pub(crate) origin: Option<String>,
    /// After each commit, close the open forward-secure seal epoch when it is due (see
    /// `trailseal seal`): seals in DIR, the epoch state in --seal-key.
    #[arg(long, value_name = "DIR", requires = "seal_key")]
    pub(crate) seal_dir: Option<PathBuf>,
    /// The seal state (from `trailseal seal --init`).
    #[arg(long, value_name = "STATE", requires = "seal_dir")]
    pub(crate) seal_key: Option<PathBuf>,
}

/// Opens the store for appending, creating it when missing, except with a secret too short to
/// start a new store: then a missing store is refused before anything is created.
fn open_for_append(
    args: &StoreArgs,
    limits: TraceLimits,
    key: Keyring,
) -> Result<AuditLog, CliError> {
    // A new store is written with the active key (the only one of a ring of one).
    let weak = key
        .active()
        .or_else(|| key.keys().next())
        .is_some_and(|k| k.strength().too_short_for_new_store());
    if !weak {
        return Ok(open(args, OpenMode::Write { create: true }, limits)?.with_keyring(key));
    }
    let options = open_options(args, OpenMode::Write { create: false }, limits);
    match AuditLog::open(&args.store, &options) {
        Ok(log) => Ok(log.with_keyring(key)),
        Err(trailseal::Error::Store(trailseal::StoreError::NotFound { location })) => {
            Err(trailseal::Error::WeakSecret { location }.into())
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn run(args: &AppendArgs) -> Result<u8, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let limits = TraceLimits {
        max_bytes: args.max_trace_bytes,
        ..TraceLimits::default()
    };
    let chunk = args.commit_every.unwrap_or(usize::MAX).max(1);
    let quiet = args.output.quiet;
    // Anchoring options are checked before the store is opened (or created).
    let anchoring = match &args.anchor_dir {
        Some(dir) => {
            let key = args
                .signing_key
                .as_deref()
                .ok_or_else(|| CliError::new("--anchor-dir needs --signing-key"))?;
            let interval = args.anchor_interval.as_ref().map(DurationArg::micros);
            let signer = signer(key)?;
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
                .unwrap_or_else(|| default_origin(log.location()));
            Some(Anchoring::new(
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
            let line = json::commit_progress(
                done.len() as u64,
                count,
                a.seq,
                l.seq,
                l.record_hash.as_str(),
                last_id.as_deref(),
            );
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
            if let (Some(dir), Some(state)) = (&args.seal_dir, &args.seal_key) {
                log.seal(dir, state, trailseal::now(), false).map_err(|e| {
                    CliError::from(e).add_hint(format!(
                        "the records up to seq {} are committed; the epoch was not sealed (run `trailseal seal`)",
                        l.seq
                    ))
                })?;
            }
        }
        Ok(())
    };
    let mut reader = std::io::BufReader::new(stdin);
    let mut line = Vec::new();
    let mut line_no = 0usize;
    // On a terminal: how many traces have been read (each commits when its batch does).
    let mut progress = ProgressLine::doing(!quiet && !args.progress_json, "appending");
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

    if quiet {
        return Ok(EXIT_OK);
    }
    let mut out = stdout();
    let head_hash = last.map(|a| a.record_hash);
    let last = last.map(|a| a.seq);
    let result = if args.output.json() {
        writeln!(
            out,
            "{}",
            json::appended(count, first, last, head_hash.as_ref().map(|h| h.as_str()))
        )
    } else {
        match (first, last) {
            (Some(f), Some(l)) => writeln!(
                out,
                "appended {} record{} (seq {f} to {l}) to {}",
                count,
                plural(count),
                log.location()
            ),
            _ => writeln!(out, "appended nothing (stdin held no traces)"),
        }
    };
    result.map_err(output)?;
    Ok(EXIT_OK)
}
