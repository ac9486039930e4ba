//! Exporting and verifying bundles (see `trailseal_core::bundle` for the format).

use std::io::{BufRead, Write};

use trailseal_core::bundle::{
    BundleError, BundleVerdict, BundleVerifier, BundleWriter, Withheld, WithheldReasons,
};
use trailseal_core::cosignature::WitnessKey;
use trailseal_core::json::{self, Mode, NodeRef};
use trailseal_core::note::{NoteSigner, NoteVerifier};
use trailseal_core::verify::{ContentCheck, ContentChecker, Flow, ScanItem};
use trailseal_core::witness::{QuorumError, check_quorum};
use trailseal_core::{ChainKey, TamperKind, Tampered, Timestamp, TraceSummary, Verdict};
use trailseal_store::SeqRange;

use crate::bundle_tree::{Pending, bundle_tree};
use crate::error::{BundleProblem, Error};
use crate::log::AuditLog;
use crate::redact::{RedactError, RedactPath};
use crate::verify::Progress;

/// Entries read per scan when the snapshot has one reader (the proofs are then read between
/// scans).
const PROVE_CHUNK: usize = 1024;

/// Which records a bundle discloses. The bundle holds the contiguous range; records in it that
/// the filters exclude, or that hold a redacted field, are included hash-only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleSelection {
    pub from_seq: Option<u64>,
    pub to_seq: Option<u64>,
    /// With `until`: the range runs from the first record invoked at or after `since` to the
    /// last invoked before `until`; records in between outside the window are withheld.
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub principal: Option<String>,
    pub capability: Option<String>,
    /// Redaction paths (`error`, `args.email`, `args.recipients[].email`; see
    /// [`RedactPath`]): a record where one reaches a value that is not null is withheld. A
    /// path that no record of the range holds, not even as null, is refused.
    pub redact: Vec<String>,
    /// Whether each hash-only entry says why it is withheld (outside the selection, or
    /// redacted). By default every hash-only entry carries the same marker, so the bundle does
    /// not tell which selected records held a redacted field.
    pub withheld_reasons: bool,
}

impl BundleSelection {
    /// The selection as the header records it: a canonical JSON object of the members set.
    fn to_json(&self) -> String {
        json::object(|o| {
            if let Some(c) = &self.capability {
                o.str("capability", c);
            }
            if let Some(s) = self.from_seq {
                o.u64("from_seq", s);
            }
            if let Some(p) = &self.principal {
                o.str("principal", p);
            }
            if !self.redact.is_empty() {
                o.array("redact", |a| {
                    for r in &self.redact {
                        a.str(r);
                    }
                });
            }
            if let Some(t) = self.since {
                o.str("since", &t.to_rfc3339());
            }
            if let Some(s) = self.to_seq {
                o.u64("to_seq", s);
            }
            if let Some(t) = self.until {
                o.str("until", &t.to_rfc3339());
            }
        })
    }

    fn in_window(&self, s: &TraceSummary) -> bool {
        let ts = s.invoked_at_ts;
        self.since
            .is_none_or(|since| ts.is_some_and(|t| t >= since))
            && self.until.is_none_or(|until| ts.is_some_and(|t| t < until))
    }

    /// The redaction paths, parsed; the first malformed one is refused.
    pub fn redact_paths(&self) -> Result<Vec<RedactPath>, RedactError> {
        self.redact.iter().map(|p| RedactPath::parse(p)).collect()
    }

    /// Why the record is withheld, if it is; marks in `held` each path the record holds.
    fn withheld(
        &self,
        root: NodeRef<'_>,
        paths: &[RedactPath],
        held: &mut [bool],
    ) -> Option<Withheld> {
        // Every path is looked for in every record, withheld or not, so that a path no record
        // holds is found.
        let mut redacted = false;
        for (path, held) in paths.iter().zip(held.iter_mut()) {
            let reach = path.reach(root);
            *held |= reach.present;
            redacted |= reach.redacts;
        }
        let s = TraceSummary::from_node(root);
        let filtered = !self.in_window(&s)
            || self
                .principal
                .as_ref()
                .is_some_and(|p| s.principal_id.as_ref() != Some(p))
            || self
                .capability
                .as_ref()
                .is_some_and(|c| s.capability_id.as_ref() != Some(c));
        if filtered {
            return Some(Withheld::Filter);
        }
        redacted.then_some(Withheld::Redacted)
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleReport {
    pub from_seq: u64,
    pub to_seq: u64,
    pub entries: u64,
    pub disclosed: u64,
    pub withheld: u64,
    /// The size of the tree checkpoint the bundle embeds (`None`: the store has no tree; the
    /// bundle is then of format 2).
    pub tree_size: Option<u64>,
    /// Disclosed records the tree does not hold (appended after it, by weaver-kernel): their
    /// contents are checked with the chain secret only.
    pub disclosed_outside_tree: u64,
}

pub(crate) fn bundle_error(location: &str, e: BundleError) -> Error {
    let verdict = match e {
        BundleError::NotContiguous { seq, .. } => Some((seq, TamperKind::Sequence)),
        BundleError::NotLinked { seq } => Some((seq, TamperKind::Link)),
        BundleError::NotAHash { seq, .. } => Some((seq, TamperKind::Malformed)),
        BundleError::TreeEntry { seq, .. } | BundleError::TreeMissing { seq } => {
            Some((seq, TamperKind::Tree))
        }
        _ => None,
    };
    match verdict {
        Some((seq, kind)) => Error::NotVerified {
            verdict: Box::new(Verdict::Tampered(Tampered {
                first_bad_seq: seq,
                kind,
                records_checked: 0,
                detail: e.to_string(),
            })),
        },
        None => Error::Bundle {
            location: location.to_owned(),
            problem: BundleProblem::Format(e),
        },
    }
}

impl AuditLog {
    /// Writes a signed bundle of the selected range to `out`, checking every record's MAC and
    /// link on the way (a record that does not verify stops the export). Streams: memory does
    /// not depend on the range's size.
    ///
    /// A malformed redaction path is refused before anything is written. Other errors — a
    /// record that does not verify, a redaction path no record of the range holds (known only
    /// once the range is read) — may come after part of the bundle was written to `out`: that
    /// part lacks its signed manifest, never verifies, and is to be discarded.
    pub fn export_bundle(
        &mut self,
        out: &mut dyn Write,
        signer: &NoteSigner,
        origin: &str,
        now: Timestamp,
        selection: &BundleSelection,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<BundleReport, Error> {
        self.export_bundle_at(out, signer, origin, now, selection, None, progress)
    }

    /// [`AuditLog::export_bundle`], embedding `checkpoint` as the bundle's tree checkpoint
    /// (`None`: a new one of the whole tree). A checkpoint note signed by `signer`'s key for
    /// the tree origin of `origin`, as `trailseal checkpoint` writes it, cosignatures included:
    /// so a bundle can carry witnesses' cosignatures, which `verify-bundle --witness-key`
    /// counts. Its tree must be the store's at its size (another root is refused as a fork, a
    /// size beyond the tree as a rollback); the records after that size are disclosed without
    /// a proof, as records outside the tree are.
    #[allow(clippy::too_many_arguments)]
    pub fn export_bundle_at(
        &mut self,
        out: &mut dyn Write,
        signer: &NoteSigner,
        origin: &str,
        now: Timestamp,
        selection: &BundleSelection,
        checkpoint: Option<&str>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<BundleReport, Error> {
        let paths = selection.redact_paths()?;
        let key = self.store_key()?;
        // A wrong secret is told apart from tampering, as `verify` does.
        self.confirm_key(&key)?;
        let location = self.location().to_owned();
        // The range is chosen and read on one snapshot of the store, which verifies first: the
        // bundle's tree checkpoint signs the whole tree, so every record must check.
        // Two readers at least: one scans, one reads the proofs' hashes (see below).
        let ring = self.ring_for(&key);
        let (mut snapshot, _) = self.verified_snapshot(&key, 2)?;
        let state = snapshot.state.clone();
        let first_held = state.start.next_seq;
        let Some((head, _)) = state.head else {
            return Err(Error::Bundle {
                location,
                problem: BundleProblem::NoRecords,
            });
        };
        // The range: by seq, or by time (one pass to find its ends).
        let (mut from, mut to) = (
            selection.from_seq.unwrap_or(first_held),
            selection.to_seq.unwrap_or(head).min(head),
        );
        if from < first_held {
            return Err(Error::Bundle {
                location,
                problem: BundleProblem::Pruned {
                    seq: from,
                    first_held,
                },
            });
        }
        if selection.since.is_some() || selection.until.is_some() {
            let (mut lo, mut hi) = (None, None);
            // What the range covers, to say so when the window misses it.
            let (mut earliest, mut latest) = (None::<Timestamp>, None::<Timestamp>);
            snapshot.scan(from, &mut |item| {
                if let ScanItem::Record(r) = item {
                    if r.seq > to {
                        return Flow::Stop;
                    }
                    if let Ok(doc) = json::parse(r.trace) {
                        let summary = TraceSummary::from_node(doc.root());
                        if let Some(t) = summary.invoked_at_ts {
                            earliest = Some(earliest.map_or(t, |e| e.min(t)));
                            latest = Some(latest.map_or(t, |l| l.max(t)));
                        }
                        if selection.in_window(&summary) {
                            lo.get_or_insert(r.seq);
                            hi = Some(r.seq);
                        }
                    }
                }
                Flow::Continue
            })?;
            match (lo, hi) {
                (Some(l), Some(h)) => (from, to) = (l, h),
                _ => {
                    return Err(Error::Bundle {
                        location,
                        problem: BundleProblem::NoneInWindow {
                            since: selection.since,
                            until: selection.until,
                            from,
                            to,
                            invoked: earliest.zip(latest),
                        },
                    });
                }
            }
        }
        if from > to {
            return Err(Error::Bundle {
                location,
                problem: BundleProblem::EmptyRange { from, to },
            });
        }
        // A bundle's records are under one key: the one that covers its range.
        let keys = crate::keys::schedule(&ring, &key, &state.retention);
        if let Some(boundary) = keys
            .ranges()
            .map(|r| r.first_seq)
            .find(|at| from < *at && *at <= to)
        {
            return Err(Error::Bundle {
                location,
                problem: BundleProblem::SpansRotation {
                    from,
                    to,
                    first_seq: boundary,
                },
            });
        }
        let key = keys.key_for(from).cloned().unwrap_or(key);
        let io = |source| Error::Io {
            path: location.clone(),
            action: "write the bundle",
            source,
        };
        let reasons = if selection.withheld_reasons {
            WithheldReasons::Disclosed
        } else {
            WithheldReasons::Hidden
        };
        // The tree's checkpoint: the one given, checked against the verified snapshot's tree,
        // or a new one signed from it.
        let tree = match snapshot.readers.first_mut() {
            Some(reader) => bundle_tree(
                &location,
                state.tree,
                reader.as_mut(),
                signer,
                origin,
                checkpoint,
            )?,
            None => None,
        };
        let (mut writer, header) = match &tree {
            None => BundleWriter::new(
                signer,
                origin,
                now,
                key.key_id(),
                &selection.to_json(),
                reasons,
            ),
            Some(tree) => BundleWriter::with_tree(
                signer,
                origin,
                now,
                key.key_id(),
                &selection.to_json(),
                reasons,
                tree,
            )
            .map_err(|e| bundle_error(&location, e))?,
        };
        out.write_all(header.as_bytes()).map_err(io)?;
        let mut checker = ContentChecker::new();
        let mut canonical = Vec::new();
        let mut failure: Option<Error> = None;
        let (mut entries, mut disclosed, mut outside_tree) = (0u64, 0u64, 0u64);
        let mut held = vec![false; paths.len()];
        // Proofs are read from the snapshot's stored hashes: through a second reader while the
        // first one scans, or, when the store gives one reader (JSONL), between scans of
        // `PROVE_CHUNK` entries.
        let Some((scan_reader, more)) = snapshot.readers.split_first_mut() else {
            return Err(Error::Store(trailseal_store::StoreError::Io {
                location: location.clone(),
                action: "read the snapshot",
                source: std::io::Error::other("the snapshot has no reader"),
            }));
        };
        let mut hash_reader = more.first_mut();
        let mut pending: Vec<Pending> = Vec::new();
        let mut next = from;
        loop {
            let mut resume = None;
            scan_reader.scan_range(SeqRange::from_seq(next), &mut |item| {
                let r = match item {
                    ScanItem::Record(r) if r.seq > to => return Flow::Stop,
                    ScanItem::Record(r) => r,
                    ScanItem::Malformed(m) => {
                        failure = Some(Error::NotVerified {
                            verdict: Box::new(Verdict::Tampered(Tampered {
                                first_bad_seq: m.seq.unwrap_or(0),
                                kind: TamperKind::Malformed,
                                records_checked: entries,
                                detail: format!("{}: {}", m.location, m.problem),
                            })),
                        });
                        return Flow::Stop;
                    }
                };
                if checker.check(&key, r) != ContentCheck::Ok {
                    failure = Some(Error::NotVerified {
                        verdict: Box::new(Verdict::Tampered(Tampered {
                            first_bad_seq: r.seq,
                            kind: TamperKind::Content,
                            records_checked: entries,
                            detail: format!(
                                "seq {}: content does not match its record_hash; nothing was exported",
                                r.seq
                            ),
                        })),
                    });
                    return Flow::Stop;
                }
                let doc = json::parse(r.trace).ok();
                canonical.clear();
                let withheld = match doc.as_ref() {
                    Some(d) => match selection.withheld(d.root(), &paths, &mut held) {
                        Some(w) => Some(w),
                        None if d
                            .root()
                            .write_canonical(&mut canonical, Mode::Python)
                            .is_ok() =>
                        {
                            None
                        }
                        None => Some(Withheld::Redacted),
                    },
                    None => Some(Withheld::Redacted),
                };
                pending.push(match withheld {
                    Some(w) => Pending::withheld(r.seq, r.prev_hash, r.record_hash, w),
                    None => {
                        disclosed += 1;
                        if writer.tree().is_none_or(|t| t.index_of(r.seq).is_none()) {
                            outside_tree += 1;
                        }
                        Pending::disclosed(
                            &key,
                            &writer,
                            r.seq,
                            r.prev_hash,
                            r.record_hash,
                            checker.verified_trace(r),
                            &canonical,
                        )
                    }
                });
                entries += 1;
                if entries.is_multiple_of(1 << 16) {
                    progress(Progress {
                        records_checked: entries,
                        total_hint: Some(to - from + 1),
                    });
                }
                match hash_reader.as_deref_mut() {
                    Some(hashes) => {
                        for p in pending.drain(..) {
                            if let Err(e) = p.write(&key, &location, &mut writer, hashes.as_mut(), out) {
                                failure = Some(e);
                                return Flow::Stop;
                            }
                        }
                    }
                    None if pending.len() >= PROVE_CHUNK => {
                        resume = r.seq.checked_add(1);
                        return Flow::Stop;
                    }
                    None => {}
                }
                Flow::Continue
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
            let hashes = match hash_reader.as_deref_mut() {
                Some(h) => h,
                None => &mut *scan_reader,
            };
            for p in pending.drain(..) {
                p.write(&key, &location, &mut writer, hashes.as_mut(), out)?;
            }
            match resume {
                Some(seq) => next = seq,
                None => break,
            }
        }
        if entries != to - from + 1 {
            return Err(Error::NotVerified {
                verdict: Box::new(Verdict::Tampered(Tampered {
                    first_bad_seq: from + entries,
                    kind: TamperKind::Sequence,
                    records_checked: entries,
                    detail: format!(
                        "seq {}: the store holds {entries} of the {} records of the range",
                        from + entries,
                        to - from + 1
                    ),
                })),
            });
        }
        // The manifest is not written, so what was written never verifies.
        if let Some((path, _)) = paths.iter().zip(&held).find(|(_, held)| !**held) {
            return Err(RedactError::NoMatch {
                path: path.as_str().to_owned(),
                from_seq: from,
                to_seq: to,
            }
            .into());
        }
        let tree_size = writer.tree().map(|t| t.checkpoint.size());
        let tail = writer.finish().map_err(|e| bundle_error(&location, e))?;
        out.write_all(tail.as_bytes()).map_err(io)?;
        out.flush().map_err(io)?;
        progress(Progress {
            records_checked: entries,
            total_hint: Some(entries),
        });
        Ok(BundleReport {
            from_seq: from,
            to_seq: to,
            entries,
            disclosed,
            withheld: entries - disclosed,
            tree_size,
            disclosed_outside_tree: outside_tree,
        })
    }
}

/// Verifies a bundle read from `input`, offline: with the signer's public key, and with the
/// chain key when given. Streams; no line longer than
/// [`trailseal_core::trace::DEFAULT_MAX_RECORD_BYTES`] is read into memory (see
/// [`verify_bundle_with`]).
pub fn verify_bundle(
    input: &mut dyn BufRead,
    public: &NoteVerifier,
    key: Option<&ChainKey>,
    progress: &mut dyn FnMut(Progress),
) -> Result<BundleVerdict, std::io::Error> {
    verify_bundle_with(
        input,
        public,
        key,
        trailseal_core::trace::DEFAULT_MAX_RECORD_BYTES,
        progress,
    )
}

/// [`verify_bundle`] with a limit on the length of a line, in bytes without its newline: a
/// longer line is not read into memory but skipped, and reported as `malformed` at the seq the
/// bundle has reached.
pub fn verify_bundle_with(
    input: &mut dyn BufRead,
    public: &NoteVerifier,
    key: Option<&ChainKey>,
    max_line_bytes: usize,
    progress: &mut dyn FnMut(Progress),
) -> Result<BundleVerdict, std::io::Error> {
    let options = BundleVerifyOptions::new().max_line_bytes(max_line_bytes);
    verify_bundle_with_options(input, public, key, &options, progress)
}

/// What [`verify_bundle_with_options`] checks beyond the signatures, the linkage, the
/// completeness and (with the chain key) the MACs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BundleVerifyOptions {
    max_line_bytes: usize,
    witnesses: Option<(Vec<WitnessKey>, usize)>,
}

impl Default for BundleVerifyOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl BundleVerifyOptions {
    /// Lines up to [`trailseal_core::trace::DEFAULT_MAX_RECORD_BYTES`], no witness quorum.
    pub fn new() -> Self {
        Self {
            max_line_bytes: trailseal_core::trace::DEFAULT_MAX_RECORD_BYTES,
            witnesses: None,
        }
    }

    /// The longest line read, in bytes without its newline (see [`verify_bundle_with`]).
    pub fn max_line_bytes(mut self, max_line_bytes: usize) -> Self {
        self.max_line_bytes = max_line_bytes;
        self
    }

    /// Requires the tree checkpoint the bundle embeds to carry valid cosignatures by at least
    /// `quorum` of the distinct `witnesses` (counted as
    /// `trailseal_core::witness::evaluate_quorum` counts: one public key once, under any
    /// name), else the verdict is `unverifiable`, reason `witness quorum not met`: also for a
    /// configured witness's cosignature line that does not verify and for a bundle without a
    /// tree checkpoint (formats 1 and 2). A quorum of 0 or above the number of distinct keys
    /// (none given included) is refused here, before anything is read.
    pub fn witness_quorum(
        mut self,
        witnesses: Vec<WitnessKey>,
        quorum: usize,
    ) -> Result<Self, QuorumError> {
        check_quorum(&witnesses, quorum)?;
        self.witnesses = Some((witnesses, quorum));
        Ok(self)
    }
}

/// Verifies a bundle read from `input` as [`verify_bundle`] does, with `options`: the line
/// limit and the witness quorum its tree checkpoint must carry. Streams.
pub fn verify_bundle_with_options(
    input: &mut dyn BufRead,
    public: &NoteVerifier,
    key: Option<&ChainKey>,
    options: &BundleVerifyOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<BundleVerdict, std::io::Error> {
    let max_line_bytes = options.max_line_bytes;
    let mut verifier = BundleVerifier::new(public, key);
    if let Some((witnesses, quorum)) = &options.witnesses {
        verifier = verifier.with_witness_quorum(witnesses, *quorum);
    }
    let mut line = Vec::with_capacity(4096);
    let mut lines = 0u64;
    let room = (max_line_bytes as u64).saturating_add(1);
    loop {
        line.clear();
        let mut bounded = <&mut dyn BufRead as std::io::Read>::take(&mut *input, room);
        if bounded.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        lines += 1;
        if lines.is_multiple_of(1 << 16) {
            progress(Progress {
                records_checked: lines,
                total_hint: None,
            });
        }
        let flow = if line.len() as u64 == room && line.last() != Some(&b'\n') {
            // Too long: skip the rest of the line unread.
            input.skip_until(b'\n')?;
            verifier.feed_oversized(max_line_bytes)
        } else {
            verifier.feed(&line)
        };
        if flow == Flow::Stop {
            // Read on only to catch data after the manifest.
            continue;
        }
    }
    Ok(verifier.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use trailseal_core::time::Offset;

    use super::*;

    /// The selection a header records is written as before the object writer (the header is
    /// signed: its bytes are part of the format).
    #[test]
    fn selection_bytes_are_canonical_and_unchanged() {
        let t = |s: &str| Timestamp::parse(s, Offset::Required).unwrap();
        let full = BundleSelection {
            from_seq: Some(3),
            to_seq: Some(u64::MAX),
            since: Some(t("2026-01-01T00:00:00+02:00")),
            until: Some(t("2026-02-01T00:00:00.5Z")),
            principal: Some("p\"\u{e9}\u{1F600}".into()),
            capability: Some("crm.\\search".into()),
            redact: vec!["args.email".into(), "error".into()],
            withheld_reasons: true,
        };
        let text = full.to_json();
        assert_eq!(
            text,
            r#"{"capability":"crm.\\search","from_seq":3,"principal":"p\"\u00e9\ud83d\ude00","redact":["args.email","error"],"since":"2025-12-31T22:00:00Z","to_seq":18446744073709551615,"until":"2026-02-01T00:00:00.500000Z"}"#
        );
        assert_eq!(json::canonicalize(text.as_bytes()).unwrap(), text);
        assert_eq!(BundleSelection::default().to_json(), "{}");
    }

    /// A quorum that cannot be evaluated is refused before any bundle is read: none, 0, or
    /// more than the distinct keys (one key under two names is one).
    #[test]
    fn an_unusable_witness_quorum_is_refused_up_front() {
        use trailseal_core::cosignature::WitnessSigner;
        let key = |name: &str| {
            WitnessSigner::from_seed(name, &[1; 32])
                .unwrap()
                .witness_key()
                .clone()
        };
        let (w, alias) = (key("w.example"), key("alias.example"));
        let options = BundleVerifyOptions::new;
        assert_eq!(
            options().witness_quorum(Vec::new(), 1).unwrap_err(),
            QuorumError::Unreachable {
                quorum: 1,
                witnesses: 0
            }
        );
        assert_eq!(
            options().witness_quorum(vec![w.clone()], 0).unwrap_err(),
            QuorumError::Zero
        );
        assert_eq!(
            options()
                .witness_quorum(vec![w.clone(), alias.clone()], 2)
                .unwrap_err(),
            QuorumError::Unreachable {
                quorum: 2,
                witnesses: 1
            }
        );
        assert!(options().witness_quorum(vec![w, alias], 1).is_ok());
    }
}
