//! Retention: pruning a seq prefix with an authenticated receipt, the minimum-retention
//! policy, and reading the retention log.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use trailseal_core::json;
use trailseal_core::jsonl::Header;
use trailseal_core::retention::{Cutoff, Receipt, ReceiptBody, RetentionLog, resolve_start_ring};
use trailseal_core::start::ChainStart;
use trailseal_core::time::Offset;
use trailseal_core::verify::RecordView;
use trailseal_core::{ChainKey, Hash32, Timestamp, Verdict};
use trailseal_store::PrunePlan;

use crate::error::{Error, PolicyBreach, PolicyError, RetentionError};
use crate::log::AuditLog;
use crate::verify::VerifyOptions;
use trailseal_store::StoreExt;

/// Which records a prune removes: always the longest seq prefix that qualifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutoffSpec {
    /// Records invoked before this time.
    Before(Timestamp),
    /// Records older than this many microseconds (at the request's `now`).
    OlderThan { micros: i64 },
    /// All but the newest `n` records.
    KeepLast(u64),
}

/// A prune request.
#[derive(Debug, Clone)]
pub struct PruneRequest {
    pub cutoff: CutoffSpec,
    /// The current time (the library reads no clock).
    pub now: Timestamp,
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// Write the pruned records here first (a JSONL archive that verifies on its own).
    pub archive: Option<PathBuf>,
}

/// What a prune did (or, dry, would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    pub dry_run: bool,
    pub cutoff: Cutoff,
    /// Records removed (or to be removed).
    pub pruned: u64,
    /// The removed seq range, when anything is removed.
    pub range: Option<(u64, u64)>,
    /// The seq the chain starts at afterwards.
    pub first_retained_seq: u64,
    /// Records verified in the store before pruning.
    pub records_checked: u64,
    /// The receipt written (or that would be written).
    pub receipt: Option<Receipt>,
    /// The archive written, with its record count.
    pub archive: Option<(PathBuf, u64)>,
}

/// The retention log as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionStatus {
    pub receipts: Vec<Receipt>,
    /// Whether every receipt's MAC and link was checked (a key was given).
    pub verified: bool,
    /// The minimum retention in force, in microseconds.
    pub min_retention_micros: Option<i64>,
    /// Where the chain starts, as the store says.
    pub start: ChainStart,
}

fn invoked_at_of(record: &RecordView<'_>) -> Option<Timestamp> {
    let raw: Cow<'_, [u8]> = match record.columns {
        Some(c) => Cow::Borrowed(c.invoked_at),
        None => {
            let raw = json::find_top_level_string(record.trace, "invoked_at")?;
            if raw.contains(&b'\\') {
                let mut quoted = Vec::with_capacity(raw.len() + 2);
                quoted.push(b'"');
                quoted.extend_from_slice(raw);
                quoted.push(b'"');
                Cow::Owned(
                    json::parse(&quoted)
                        .ok()?
                        .root()
                        .as_str()?
                        .as_bytes()
                        .to_vec(),
                )
            } else {
                Cow::Borrowed(raw)
            }
        }
    };
    Timestamp::parse(std::str::from_utf8(&raw).ok()?, Offset::DefaultUtc).ok()
}

impl AuditLog {
    /// The retention log; verified (MACs, links, consistency) when a key is set.
    pub fn retention(&mut self) -> Result<RetentionStatus, Error> {
        let ring = self.keyring().cloned();
        if ring.is_some() {
            // A wrong secret is told apart from an altered log.
            let key = self.store_key()?;
            self.confirm_key(&key)?;
        }
        let state = self.store_mut().state()?;
        let (receipts, verified) = match &ring {
            Some(ring) => {
                let log = RetentionLog::check_ring(ring, &state.retention)
                    .map_err(RetentionError::Log)?;
                let verified = log.not_checked.is_empty();
                (log.receipts, verified)
            }
            None => {
                let parsed = state
                    .retention
                    .iter()
                    .enumerate()
                    .map(|(i, text)| Receipt::parse(text.as_bytes(), i))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(RetentionError::Receipt)?;
                (parsed, false)
            }
        };
        let min_retention_micros = RetentionLog {
            receipts: receipts.clone(),
            not_checked: Vec::new(),
        }
        .min_retention_micros();
        Ok(RetentionStatus {
            receipts,
            verified,
            min_retention_micros,
            start: state.start,
        })
    }

    /// Sets (or with `None`, removes) the minimum retention, as an authenticated policy receipt.
    /// Lowering it needs `allow_decrease`.
    pub fn set_min_retention(
        &mut self,
        min_retention_micros: Option<i64>,
        now: Timestamp,
        allow_decrease: bool,
    ) -> Result<Receipt, Error> {
        let key = self.store_key()?;
        // A receipt MAC'd with another key would make the store fail verification.
        self.confirm_key_for_writing(&key)?;
        // A receipt added meanwhile (a prune, another policy) moves the index, the link and
        // perhaps the start this receipt names: it is planned again on the log as it is then.
        let mut tries = 0;
        loop {
            let state = self.store_mut().state()?;
            let resolved = resolve_start_ring(&self.ring_for(&key), &state.start, &state.retention)
                .map_err(|p| Error::NotVerified {
                    verdict: Box::new(Verdict::Tampered(p.into())),
                })?;
            let current = resolved.log.min_retention_micros();
            if !allow_decrease && min_retention_micros.unwrap_or(0) < current.unwrap_or(0) {
                return Err(PolicyError::Decrease {
                    from: current,
                    to: min_retention_micros,
                }
                .into());
            }
            let index = resolved.log.receipts.len() as u64;
            let receipt = Receipt::seal(
                &key,
                index,
                now,
                ReceiptBody::Policy {
                    start: resolved.start.clone(),
                    min_retention_micros,
                },
                resolved.log.last_mac(),
            );
            match self.store_mut().add_receipt(index, &receipt.to_json()) {
                Ok(()) => return Ok(receipt),
                Err(trailseal_store::StoreError::Conflict { .. }) if tries < RESEALS => {
                    tries += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Removes the longest seq prefix that `request.cutoff` selects, after verifying the whole
    /// chain, and writes an authenticated prune receipt — atomically. Refuses (changing
    /// nothing) when the store does not verify, when the policy's minimum retention forbids
    /// the cutoff, or when the store changed meanwhile.
    pub fn prune(&mut self, request: &PruneRequest) -> Result<PruneReport, Error> {
        let key = self.store_key()?;
        self.confirm_key_for_writing(&key)?;
        self.prune_with_key(&key, request)
    }

    /// [`AuditLog::prune`] with `key`, the store's key, already confirmed.
    pub(crate) fn prune_with_key(
        &mut self,
        key: &ChainKey,
        request: &PruneRequest,
    ) -> Result<PruneReport, Error> {
        let key = key.clone();
        let threads = self.threads();
        let location = self.location().to_owned();
        if let Some(archive) = &request.archive
            && same_file(archive, Path::new(&location))
        {
            return Err(RetentionError::ArchiveIsStore {
                path: archive.display().to_string(),
            }
            .into());
        }
        // Every decision below (the start, the policy, the prefix, the archive) is made on one
        // snapshot of the store; the prune itself is then refused unless the store is still
        // as that snapshot showed it.
        let ring = self.ring_for(&key);
        let mut snapshot = self.store_mut().snapshot(1)?;
        let state = snapshot.state.clone();
        let resolved = resolve_start_ring(&ring, &state.start, &state.retention).map_err(|p| {
            Error::NotVerified {
                verdict: Box::new(Verdict::Tampered(p.into())),
            }
        })?;
        let min = resolved.log.min_retention_micros();
        let keep_after = request.now.saturating_add_micros(-min.unwrap_or(0));
        let cutoff = match request.cutoff {
            CutoffSpec::Before(t) => Cutoff::Before(t),
            CutoffSpec::OlderThan { micros } => Cutoff::OlderThan {
                micros,
                before: request.now.saturating_add_micros(-micros),
            },
            CutoffSpec::KeepLast(n) => Cutoff::KeepLast(n),
        };
        let policy_error = |min_retention_micros: i64, breach: PolicyBreach| {
            Error::from(PolicyError::Prune {
                breach,
                min_retention_micros,
                keep_after,
            })
        };
        let before = match cutoff {
            Cutoff::Before(t) | Cutoff::OlderThan { before: t, .. } => {
                if let Some(min) = min
                    && t > keep_after
                {
                    return Err(policy_error(min, PolicyBreach::Cutoff(t)));
                }
                Some(t)
            }
            Cutoff::KeepLast(_) => None,
        };
        let keep_last_end = match cutoff {
            Cutoff::KeepLast(n) => match &state.head {
                Some((head, _)) => Some(head.checked_sub(n)),
                None => Some(None),
            },
            _ => None,
        };

        // Verify everything, and find the prefix on the way.
        let mut prefix_open = true;
        let mut last: Option<(u64, Vec<u8>)> = None;
        let mut first: Option<u64> = None;
        let mut count = 0u64;
        let mut youngest: Option<Option<Timestamp>> = None;
        let mut observe = |r: &RecordView<'_>| {
            first.get_or_insert(r.seq);
            let take = match (before, keep_last_end) {
                (Some(before), _) => prefix_open && invoked_at_of(r).is_some_and(|t| t < before),
                (None, Some(Some(end))) => r.seq <= end,
                _ => false,
            };
            if take {
                last = Some((r.seq, r.record_hash.to_vec()));
                count += 1;
                if keep_last_end.is_some() {
                    let ts = invoked_at_of(r);
                    youngest = Some(match (youngest, ts) {
                        (None, ts) => ts,
                        (Some(Some(a)), Some(b)) => Some(a.max(b)),
                        _ => None,
                    });
                }
            } else {
                prefix_open = false;
            }
        };
        let verdict = crate::verify::verify_snapshot(
            &location,
            &mut snapshot,
            &key,
            &mut VerifyOptions::new()
                .threads(threads)
                .keyring(ring)
                .observer(&mut observe),
        );
        let Verdict::Verified(verified) = &verdict else {
            return Err(Error::NotVerified {
                verdict: Box::new(verdict),
            });
        };
        crate::verify::all_checked(&location, verified)?;
        let records_checked = verdict.records_checked();
        if let Some(min) = min
            && let Some(youngest) = youngest
            && youngest.is_none_or(|t| t > keep_after)
        {
            return Err(policy_error(
                min,
                youngest.map_or(PolicyBreach::NoInvokedAt, PolicyBreach::KeepLast),
            ));
        }
        let log_len = resolved.log.receipts.len() as u64;
        let Some((last_seq, last_hash)) = last else {
            return Ok(PruneReport {
                dry_run: request.dry_run,
                cutoff,
                pruned: 0,
                range: None,
                first_retained_seq: first.unwrap_or(resolved.start.next_seq),
                records_checked,
                receipt: None,
                archive: None,
            });
        };
        let last_hash =
            Hash32::parse(&last_hash).ok_or(RetentionError::RecordHash { seq: last_seq })?;
        let from = resolved.start.clone();
        let prefix = Prefix {
            from: resolved.start.clone(),
            last_seq,
            last_hash,
            count,
            cutoff,
            before,
            youngest,
        };
        let receipt = prefix.seal(&key, request.now, &resolved.log);
        let mut report = PruneReport {
            dry_run: request.dry_run,
            cutoff,
            pruned: count,
            range: Some((from.next_seq, last_seq)),
            first_retained_seq: last_seq + 1,
            records_checked,
            receipt: Some(receipt.clone()),
            archive: None,
        };
        if request.dry_run {
            return Ok(report);
        }
        if let Some(path) = &request.archive {
            let header = Header {
                start: from.clone(),
                retention: state.retention.clone(),
                archive_of: Some(receipt.to_json()),
            };
            let shown = path.display().to_string();
            let written = if crate::archive::is_sqlite(path) {
                crate::archive::write_sqlite(
                    &mut snapshot,
                    path,
                    &header,
                    from.next_seq..=last_seq,
                    key.key_id(),
                )?
            } else {
                crate::export::write_atomically(path, |out| {
                    crate::export::write_records(
                        &mut snapshot,
                        out,
                        &shown,
                        Some(&header),
                        from.next_seq..=last_seq,
                        &mut |_| {},
                    )
                })?
            };
            if written != count {
                let _ = std::fs::remove_file(path);
                return Err(trailseal_store::StoreError::Conflict {
                    location,
                    detail: format!("the archive got {written} records, the prune plan {count}"),
                }
                .into());
            }
            report.archive = Some((path.clone(), written));
        }
        drop(snapshot);
        let plan = PrunePlan {
            from_seq: from.next_seq,
            last_seq,
            last_hash,
            log_len,
        };
        let committed = self.commit_prune(&key, request, &prefix, plan, receipt, &mut report);
        // The archive of a prune refused before anything changed would name a receipt no
        // store holds; after any other failure the store may have changed, and the archive
        // may be all that is left of the records: it stays.
        let refused = matches!(
            committed,
            Err(Error::Store(trailseal_store::StoreError::Conflict { .. })
                | Error::Policy(_)
                | Error::NotVerified { .. })
        );
        if refused && let Some((path, _)) = report.archive.take() {
            let _ = std::fs::remove_file(path);
        }
        committed.map(|()| report)
    }

    /// Commits a planned prune, sealing its receipt (and rewriting its archive's header)
    /// again while other receipts are added meanwhile.
    fn commit_prune(
        &mut self,
        key: &ChainKey,
        request: &PruneRequest,
        prefix: &Prefix,
        mut plan: PrunePlan,
        mut receipt: Receipt,
        report: &mut PruneReport,
    ) -> Result<(), Error> {
        let mut reseals = 0;
        loop {
            let conflict = match self.store_mut().prune(&plan, &receipt.to_json()) {
                Ok(()) => return Ok(()),
                Err(e @ trailseal_store::StoreError::Conflict { .. }) => e,
                Err(e) => return Err(e.into()),
            };
            // Appends never conflict with a prune; another receipt does. When the chain still
            // starts where the plan does, the records it verified are the ones to remove, and
            // only the receipt (its index and link) and the archive's header depend on the
            // retention log: both are made again on the log as it is now, whose policy is
            // checked again, instead of verifying the whole chain once more (which a writer of
            // frequent receipts could outpace for ever).
            reseals += 1;
            if reseals > RESEALS {
                return Err(conflict.into());
            }
            let state = self.store_mut().state()?;
            let now_resolved =
                resolve_start_ring(&self.ring_for(key), &state.start, &state.retention).map_err(
                    |p| Error::NotVerified {
                        verdict: Box::new(Verdict::Tampered(p.into())),
                    },
                )?;
            let grown = now_resolved.log.receipts.len() as u64;
            if now_resolved.start != prefix.from || grown <= plan.log_len {
                return Err(conflict.into());
            }
            let min = now_resolved.log.min_retention_micros();
            let keep_after = request.now.saturating_add_micros(-min.unwrap_or(0));
            if let Some(min) = min {
                let breach = match (prefix.before, prefix.youngest) {
                    (Some(t), _) if t > keep_after => Some(PolicyBreach::Cutoff(t)),
                    (_, Some(None)) => Some(PolicyBreach::NoInvokedAt),
                    (_, Some(Some(t))) if t > keep_after => Some(PolicyBreach::KeepLast(t)),
                    _ => None,
                };
                if let Some(breach) = breach {
                    return Err(PolicyError::Prune {
                        breach,
                        min_retention_micros: min,
                        keep_after,
                    }
                    .into());
                }
            }
            receipt = prefix.seal(key, request.now, &now_resolved.log);
            let archived_len = usize::try_from(plan.log_len).unwrap_or(usize::MAX);
            plan.log_len = grown;
            report.receipt = Some(receipt.clone());
            if let Some(path) = &request.archive {
                if crate::archive::is_sqlite(path) {
                    let added = state.retention.get(archived_len..).unwrap_or_default();
                    crate::archive::reseal_sqlite(path, added, &receipt.to_json())?;
                } else {
                    let header = Header {
                        start: prefix.from.clone(),
                        retention: state.retention,
                        archive_of: Some(receipt.to_json()),
                    };
                    replace_header(path, &header)?;
                }
            }
        }
    }
}

/// The seq prefix a prune removes, as its verification found it, and what its policy checks
/// need to be made again.
struct Prefix {
    /// Where the chain starts: the first record removed.
    from: ChainStart,
    last_seq: u64,
    last_hash: Hash32,
    count: u64,
    cutoff: Cutoff,
    /// For a time cutoff: records before this are removed.
    before: Option<Timestamp>,
    /// For `KeepLast`: the youngest `invoked_at` removed (`Some(None)`: one had none).
    youngest: Option<Option<Timestamp>>,
}

impl Prefix {
    /// The prune receipt, appended to `log`.
    fn seal(&self, key: &ChainKey, now: Timestamp, log: &RetentionLog) -> Receipt {
        Receipt::seal(
            key,
            log.receipts.len() as u64,
            now,
            ReceiptBody::Prune {
                from: self.from.clone(),
                last_pruned_seq: self.last_seq,
                last_pruned_hash: self.last_hash,
                count: self.count,
                cutoff: self.cutoff,
            },
            log.last_mac(),
        )
    }
}

impl AuditLog {
    /// The keyring to check the store's receipts with: the log's, else `key` alone.
    pub(crate) fn ring_for(&self, key: &ChainKey) -> trailseal_core::Keyring {
        self.keyring()
            .cloned()
            .unwrap_or_else(|| trailseal_core::Keyring::single(key.clone()))
    }
}

/// How many times a receipt is sealed again on a retention log that grew meanwhile (a prune
/// whose plan still holds, a policy) before the change gives up with the conflict.
const RESEALS: u32 = 16;

/// Rewrites an archive this prune wrote with another header line, keeping its record lines
/// (written from the verified snapshot) as they are; atomically.
fn replace_header(path: &Path, header: &Header) -> Result<(), Error> {
    use std::io::{BufRead, BufReader};
    let shown = path.display().to_string();
    let read_failed = |source| Error::Io {
        path: shown.clone(),
        action: "read",
        source,
    };
    let file = std::fs::File::open(path).map_err(read_failed)?;
    let mut lines = BufReader::new(file);
    let mut first = Vec::new();
    lines.read_until(b'\n', &mut first).map_err(read_failed)?;
    crate::export::write_atomically(path, |out| {
        let write_failed = |source| Error::Io {
            path: shown.clone(),
            action: "write",
            source,
        };
        out.write_all(header.to_line().as_bytes())
            .map_err(write_failed)?;
        std::io::copy(&mut lines, out).map_err(write_failed)?;
        Ok(())
    })
}

/// Whether two paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
