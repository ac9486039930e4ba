//! `trailseal prune`, `trailseal policy`, `trailseal retention`.

use std::io::Write;
use std::process::ExitCode;

use trailseal::core::retention::{Cutoff, Receipt, ReceiptBody};
use trailseal::core::time::{Offset, parse_duration};
use trailseal::core::trace::TraceLimits;
use trailseal::{CutoffSpec, OpenMode, PruneRequest, Timestamp, Verdict};

use super::{load_key, open, stdout};
use crate::cli::{PolicyArgs, PruneArgs, RetentionArgs};
use crate::error::{CliError, EXIT_TAMPERED, output};
use crate::output::JsonObject;

pub(crate) fn now() -> Timestamp {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    Timestamp::from_unix_micros(micros)
}

fn duration(flag: &str, value: &str) -> Result<i64, CliError> {
    parse_duration(value).ok_or_else(|| {
        CliError::new(format!("--{flag} {value:?}: not a duration"))
            .hint("use a number and a unit: 183d, 26w, 12h, 30m, 45s, or a sum such as 1d12h")
    })
}

pub(crate) fn refused(e: trailseal::Error) -> CliError {
    match e {
        trailseal::Error::NotVerified { verdict } => {
            let code = matches!(*verdict, Verdict::Tampered(_));
            let err = CliError::new(format!(
                "refusing: the store does not verify: {}",
                verdict.detail()
            ))
            .hint("run `trailseal verify` for the full verdict; nothing was changed");
            if code { err.exit(EXIT_TAMPERED) } else { err }
        }
        trailseal::Error::Policy(e) => CliError::new(e.to_string())
            .hint("`trailseal policy --store STORE` shows the minimum retention"),
        other => other.into(),
    }
}

pub(crate) fn prune(args: &PruneArgs) -> Result<ExitCode, CliError> {
    let key = load_key(&args.secret)?.ok_or_else(CliError::no_secret)?;
    let cutoff = match (&args.before, &args.older_than, args.keep_last) {
        (Some(t), _, _) => {
            CutoffSpec::Before(Timestamp::parse(t, Offset::DefaultUtc).map_err(|e| {
                CliError::new(format!("--before {t:?}: {e}"))
                    .hint("use RFC 3339, e.g. 2026-05-01T00:00:00Z")
            })?)
        }
        (_, Some(d), _) => CutoffSpec::OlderThan {
            micros: duration("older-than", d)?,
        },
        (_, _, Some(n)) => CutoffSpec::KeepLast(n),
        _ => {
            return Err(CliError::new(
                "say what to prune: --before, --older-than or --keep-last",
            ));
        }
    };
    let mode = if args.dry_run {
        OpenMode::Read
    } else {
        OpenMode::Write { create: false }
    };
    let mut log = open(&args.store, mode, TraceLimits::default())?.with_key(key);
    let request = PruneRequest {
        cutoff,
        now: now(),
        dry_run: args.dry_run,
        archive: args.archive.clone(),
    };
    let report = log.prune(&request).map_err(|e| {
        let err = refused(e);
        match &args.older_than {
            Some(d) => err.context(&format!("--older-than {d}")),
            None => err,
        }
    })?;
    let (from, last) = report
        .range
        .map_or((None, None), |(f, l)| (Some(f), Some(l)));
    let text = if args.json {
        JsonObject::new()
            .bool("dry_run", report.dry_run)
            .num("pruned", report.pruned)
            .opt_num("from_seq", from)
            .opt_num("last_seq", last)
            .num("first_retained_seq", report.first_retained_seq)
            .num("records_checked", report.records_checked)
            .raw(
                "receipt",
                &report
                    .receipt
                    .as_ref()
                    .map_or_else(|| "null".into(), Receipt::to_json),
            )
            .opt_str(
                "archive",
                report
                    .archive
                    .as_ref()
                    .map(|(p, _)| p.to_string_lossy())
                    .as_deref(),
            )
            .finish()
            + "\n"
    } else {
        let mut t = match (report.range, report.dry_run) {
            (None, _) => format!(
                "nothing to prune: no record at the start of the chain matches {} ({} records verified)\n",
                describe_cutoff(&report.cutoff, args.older_than.as_deref()),
                report.records_checked
            ),
            (Some((f, l)), true) => format!(
                "would prune {} record{} (seq {f} to {l}), {}; the chain would start at seq {} (dry run: nothing changed)\n",
                report.pruned,
                plural(report.pruned),
                describe_cutoff(&report.cutoff, args.older_than.as_deref()),
                report.first_retained_seq
            ),
            (Some((f, l)), false) => format!(
                "pruned {} record{} (seq {f} to {l}), {}; the chain now starts at seq {} (receipt {})\n",
                report.pruned,
                plural(report.pruned),
                describe_cutoff(&report.cutoff, args.older_than.as_deref()),
                report.first_retained_seq,
                report.receipt.as_ref().map_or(0, |r| r.index)
            ),
        };
        if let Some((path, n)) = &report.archive {
            t.push_str(&format!(
                "archived {n} record{} to {} (it verifies on its own: trailseal verify --store {})\n",
                plural(*n),
                path.display(),
                path.display()
            ));
        }
        t
    };
    stdout().write_all(text.as_bytes()).map_err(output)?;
    Ok(ExitCode::SUCCESS)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The cutoff in words; `as_written` is the duration as the user spelt it (`26w`, not `182d`).
fn describe_cutoff(cutoff: &Cutoff, as_written: Option<&str>) -> String {
    match cutoff {
        Cutoff::Before(t) => format!("invoked before {t}"),
        Cutoff::OlderThan { micros, before } => format!(
            "older than {} (before {before})",
            as_written.map_or_else(|| describe_micros(*micros), str::to_owned)
        ),
        Cutoff::KeepLast(n) => format!("keeping the last {n}"),
    }
}

fn describe_micros(micros: i64) -> String {
    let secs = micros / 1_000_000;
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s => format!("{s}s"),
    }
}

pub(crate) fn policy(args: &PolicyArgs) -> Result<ExitCode, CliError> {
    let key = load_key(&args.secret)?;
    let change = match (&args.min_retention, args.clear) {
        (Some(d), _) => Some(Some(duration("min-retention", d)?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let mut out = stdout();
    let Some(min) = change else {
        let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
        if let Some(key) = key {
            log = log.with_key(key);
        }
        let status = log.retention().map_err(refused)?;
        let min = status.min_retention_micros;
        let text = if args.json {
            JsonObject::new()
                .opt_num(
                    "min_retention_micros",
                    min.and_then(|m| u64::try_from(m).ok()),
                )
                .bool("verified", status.verified)
                .finish()
                + "\n"
        } else {
            format!(
                "minimum retention: {}{}\n",
                min.map_or_else(|| "none".into(), describe_micros),
                if status.verified {
                    ""
                } else {
                    " (not verified: no secret)"
                }
            )
        };
        out.write_all(text.as_bytes()).map_err(output)?;
        return Ok(ExitCode::SUCCESS);
    };
    let key = key.ok_or_else(CliError::no_secret)?;
    let mut log = open(
        &args.store,
        OpenMode::Write { create: false },
        TraceLimits::default(),
    )?
    .with_key(key);
    let receipt = log
        .set_min_retention(min, now(), args.allow_decrease)
        .map_err(|e| match e {
            trailseal::Error::Policy(e) => {
                CliError::new(e.to_string()).hint("pass --allow-decrease to lower it")
            }
            other => refused(other),
        })
        .map_err(|e| match &args.min_retention {
            Some(d) => e.context(&format!("--min-retention {d}")),
            None => e,
        })?;
    let text = if args.json {
        receipt.to_json() + "\n"
    } else {
        format!(
            "minimum retention set to {} (receipt {})\n",
            args.min_retention
                .clone()
                .unwrap_or_else(|| min.map_or_else(|| "none".into(), describe_micros)),
            receipt.index
        )
    };
    out.write_all(text.as_bytes()).map_err(output)?;
    Ok(ExitCode::SUCCESS)
}

fn receipt_line(r: &Receipt) -> String {
    match &r.body {
        ReceiptBody::Prune {
            from,
            last_pruned_seq,
            count,
            cutoff,
            ..
        } => format!(
            "{:<3} prune   {}  seq {} to {last_pruned_seq} ({count} record{}), {}",
            r.index,
            r.at,
            from.next_seq,
            plural(*count),
            describe_cutoff(cutoff, None)
        ),
        ReceiptBody::Policy {
            min_retention_micros,
            ..
        } => format!(
            "{:<3} policy  {}  minimum retention {}",
            r.index,
            r.at,
            min_retention_micros.map_or_else(|| "none".into(), describe_micros)
        ),
    }
}

pub(crate) fn retention(args: &RetentionArgs) -> Result<ExitCode, CliError> {
    let key = load_key(&args.secret)?;
    let mut log = open(&args.store, OpenMode::Read, TraceLimits::default())?;
    let key_id = key.as_ref().map(|k| k.key_id());
    if let Some(key) = key {
        log = log.with_key(key);
    }
    let status = log.retention().map_err(|e| match e {
        trailseal::Error::Retention(e) => CliError::new(e.to_string())
            .exit(EXIT_TAMPERED)
            .hint("the retention log was altered; run `trailseal verify`"),
        other => other.into(),
    })?;
    let text = if args.json {
        let items: Vec<String> = status.receipts.iter().map(Receipt::to_json).collect();
        format!("[{}]\n", items.join(","))
    } else {
        let mut t = format!(
            "retention log of {}: {} receipt{}, {}\n",
            log.location(),
            status.receipts.len(),
            plural(status.receipts.len() as u64),
            match key_id {
                Some(id) => format!("MACs and links verified with key id {id}"),
                None => "not verified (no secret)".into(),
            }
        );
        for r in &status.receipts {
            t.push_str(&receipt_line(r));
            t.push('\n');
        }
        t
    };
    stdout().write_all(text.as_bytes()).map_err(output)?;
    Ok(ExitCode::SUCCESS)
}
