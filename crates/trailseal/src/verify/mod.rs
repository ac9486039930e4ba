//! Verifying a store: one entry point, [`verify`] (and [`AuditLog::verify_with`] on a log),
//! driving the sequential [`Verifier`] over one consistent snapshot of the store, with the
//! content checks (the MAC, and re-canonicalising weaver-kernel payloads) spread over all
//! cores. The verdict (first bad seq, kind, records checked) is the one a sequential pass
//! gives, whatever the thread count.
//!
//! The parts: [`options`](VerifyOptions) (threads, anchors, progress, observer); `start`
//! (the retention log and an archive's receipt, checked before records are read); `anchors`;
//! `stream` (one reader, content checks on worker threads); `ranges` (several readers side by
//! side).
//!
//! [`AuditLog::verify_with`]: crate::AuditLog::verify_with

mod anchors;
mod checkpoints;
mod options;
mod ranges;
mod start;
mod stream;
mod tree;

use trailseal_core::retention::{Receipt, RetentionLog, resolve_start_ring};
use trailseal_core::verify::{ContentChecker, Flow, RecordView, ScanItem, Verifier};
use trailseal_core::{
    Caveat, ChainKey, KeyId, KeySchedule, Keyring, TamperKind, Tampered, Unverifiable,
    UnverifiableReason, Verdict,
};
use trailseal_store::{SeqRange, Snapshot, Store, StoreError};

use anchors::anchor_expectations;
pub use anchors::{AnchorCheck, open_anchor};
pub use checkpoints::{CheckpointCheck, open_checkpoint};
pub(crate) use checkpoints::{Scanned, check_tree_heads};
pub use options::{Progress, VerifyOptions};
use ranges::{feed_one, reader_lost, verify_ranges};
use start::{sealed_end, wrong_secret_of_log};
use stream::{BATCH, verify_parallel};
pub(crate) use tree::stored_head;
use tree::{HashSource, TreeCheck, TreeOutcome};

/// The verdict for a store that could not be read: `tampered` when what stopped the read is
/// itself damage (a schema object trailseal and weaver-kernel do not create, kind `schema`; a
/// checkpoint value that is not text, kind `checkpoint`), otherwise `unverifiable`.
pub fn verdict_of_store_error(e: &StoreError) -> Verdict {
    let tampered = |first_bad_seq: u64, kind: TamperKind, detail: String| {
        Verdict::Tampered(Tampered {
            first_bad_seq,
            kind,
            records_checked: 0,
            detail,
        })
    };
    match e {
        StoreError::Schema { problem, .. } => {
            tampered(0, TamperKind::Schema, format!("schema: {problem}"))
        }
        StoreError::Tree { problem, index, .. } => {
            tampered(0, TamperKind::Tree, format!("tree hash {index}: {problem}"))
        }
        StoreError::BadMeta {
            seq, key, problem, ..
        } => tampered(
            *seq,
            TamperKind::Checkpoint,
            format!("seq {seq}: meta `{key}` {problem}"),
        ),
        _ => {
            let reason = if e.is_unknown_store() {
                UnverifiableReason::UnknownStore
            } else {
                UnverifiableReason::Unreadable
            };
            Verdict::Unverifiable(Unverifiable {
                reason,
                detail: e.to_string(),
            })
        }
    }
}

/// The verdict when no key was provided.
pub fn no_secret() -> Verdict {
    Verdict::Unverifiable(Unverifiable {
        reason: UnverifiableReason::NoSecret,
        detail: "no secret: the chain secret is needed to verify".into(),
    })
}

/// The number of threads verification uses by default: every core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Verifies every record of `store` with `key`, streaming, as `options` asks (threads,
/// anchors, progress, an observer). Never fails: a store that cannot be read, a missing key or
/// an anchor that cannot be opened gives an `unverifiable` verdict (damage that stops the read
/// itself, such as a planted schema object, `tampered`).
///
/// The verdict is of one consistent snapshot of the store. A store that a writer changed
/// while it was read without locks is read again (up to three times, the last with locks),
/// unless an observer was given: it has seen the first read.
pub fn verify(
    store: &mut dyn Store,
    key: Option<&ChainKey>,
    options: &mut VerifyOptions<'_>,
) -> Verdict {
    verify_threaded(store, key, options, default_threads())
}

/// [`verify`], on `threads` threads unless `options` say how many.
pub(crate) fn verify_threaded(
    store: &mut dyn Store,
    key: Option<&ChainKey>,
    options: &mut VerifyOptions<'_>,
    threads: usize,
) -> Verdict {
    if let Some(verdict) = options.unusable() {
        return verdict;
    }
    let Some(key) = key else {
        return no_secret();
    };
    let threads = options.threads_or(threads);
    let readers = readers_for(threads, options);
    let location = store.location().to_owned();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut snapshot = match store.snapshot(readers) {
            Ok(snapshot) => snapshot,
            Err(e) => return verdict_of_store_error(&e),
        };
        // An observer sees the records as they are read: it gets one read.
        let retry = options.observer.is_none() && attempts < 3;
        match read_and_verify(&location, &mut snapshot, key, options, threads) {
            // Read without locks while a writer wrote: read again (then with locks).
            Err(StoreError::ChangedWhileRead { .. }) if retry => {}
            Ok(verdict) => return verdict,
            Err(e) => return verdict_of_store_error(&e),
        }
    }
}

/// Verifies one consistent snapshot of a store: its state (start, retention log, key id) and
/// its records all come from the same moment, so that nothing written meanwhile (an append, a
/// prune, a policy) can mix two states into one verdict. Without an observer, and when the
/// snapshot has several readers, they read seq ranges side by side ([`verify_ranges`]);
/// otherwise one reader's scan feeds the content checks to worker threads
/// ([`verify_parallel`]), or, with one thread, everything runs on the calling thread. The
/// snapshot's readers stay usable afterwards (a caller that decides on what it verified reads
/// the same snapshot again).
pub(crate) fn verify_snapshot(
    location: &str,
    snapshot: &mut Snapshot<'_>,
    key: &ChainKey,
    options: &mut VerifyOptions<'_>,
) -> Verdict {
    if let Some(verdict) = options.unusable() {
        return verdict;
    }
    let threads = options.threads_or(default_threads());
    read_and_verify(location, snapshot, key, options, threads)
        .unwrap_or_else(|e| verdict_of_store_error(&e))
}

/// The readers a verification with `threads` threads reads a snapshot with: one per thread
/// and one more that reads the stored tree hashes meanwhile; one for a single thread or an
/// observer (which sees the records in order, as one reader reads them).
fn readers_for(threads: usize, options: &VerifyOptions<'_>) -> usize {
    if threads > 1 && options.observer.is_none() {
        threads + 1
    } else {
        1
    }
}

/// Opens one snapshot of `store` and verifies it with `key` as `options` asks: the snapshot,
/// whose readers read next exactly what verified, and what verification found; or
/// [`Error::NotVerified`](crate::Error::NotVerified) with the verdict. `min_readers`: the
/// readers the caller needs afterwards.
pub(crate) fn verified_snapshot<'s>(
    store: &'s mut dyn Store,
    key: &ChainKey,
    options: &mut VerifyOptions<'_>,
    min_readers: usize,
) -> Result<(Snapshot<'s>, trailseal_core::Verified), crate::Error> {
    let threads = options.threads_or(default_threads());
    let location = store.location().to_owned();
    let mut snapshot = store.snapshot(readers_for(threads, options).max(min_readers))?;
    match verify_snapshot(&location, &mut snapshot, key, options) {
        Verdict::Verified(verified) => {
            all_checked(&location, &verified)?;
            Ok((snapshot, verified))
        }
        other => Err(crate::Error::NotVerified {
            verdict: Box::new(other),
        }),
    }
}

/// What acts on the records (prunes, exports, rotations, signed heads) needs every record
/// checked: [`Error::KeysNotHeld`](crate::Error::KeysNotHeld) for records under a key not held.
pub(crate) fn all_checked(
    location: &str,
    verified: &trailseal_core::Verified,
) -> Result<(), crate::Error> {
    for c in &verified.caveats {
        if let Caveat::KeysNotHeld {
            key_id,
            first_seq: Some(first_seq),
            last_seq: Some(last_seq),
            ..
        } = c
        {
            return Err(crate::Error::KeysNotHeld {
                location: location.to_owned(),
                key_id: *key_id,
                first_seq: *first_seq,
                last_seq: *last_seq,
            });
        }
    }
    Ok(())
}

impl crate::AuditLog {
    /// [`verified_snapshot`] of this log's store, with its thread count.
    pub(crate) fn verified_snapshot(
        &mut self,
        key: &ChainKey,
        min_readers: usize,
    ) -> Result<(Snapshot<'_>, trailseal_core::Verified), crate::Error> {
        let threads = self.threads();
        let ring = self.ring_for(key);
        verified_snapshot(
            self.store_mut(),
            key,
            &mut VerifyOptions::new().threads(threads).keyring(ring),
            min_readers,
        )
    }
}

/// A `keys-not-held` caveat for each key whose receipts no held key checked.
fn keys_not_held(log: &RetentionLog) -> Vec<Caveat> {
    let mut by_key: Vec<(KeyId, u64)> = Vec::new();
    for r in log.receipts.iter().filter(|r| !log.is_checked(r.index)) {
        match by_key.iter_mut().find(|(id, _)| *id == r.key_id) {
            Some((_, n)) => *n += 1,
            None => by_key.push((r.key_id, 1)),
        }
    }
    by_key
        .into_iter()
        .map(|(key_id, receipts)| Caveat::KeysNotHeld {
            key_id,
            receipts,
            first_seq: None,
            last_seq: None,
        })
        .collect()
}

/// Adds the receipts of `receipts` (a `keys-not-held` caveat per key, from the retention log)
/// to the caveat of the same key's records, if the verifier gave one; otherwise adds them.
fn merge_not_held(caveats: &mut Vec<Caveat>, receipts: Vec<Caveat>) {
    for caveat in receipts {
        let Caveat::KeysNotHeld {
            key_id,
            receipts: n,
            ..
        } = caveat
        else {
            continue;
        };
        let same_key = caveats.iter_mut().find_map(|c| match c {
            Caveat::KeysNotHeld {
                key_id: id,
                receipts,
                ..
            } if *id == key_id => Some(receipts),
            _ => None,
        });
        match same_key {
            Some(receipts) => *receipts += n,
            None => caveats.push(caveat),
        }
    }
}

/// [`verify_snapshot`], with the error that stopped reading the store.
fn read_and_verify(
    location: &str,
    snapshot: &mut Snapshot<'_>,
    key: &ChainKey,
    options: &mut VerifyOptions<'_>,
    threads: usize,
) -> Result<Verdict, StoreError> {
    let state = &snapshot.state;
    let total_hint = state.record_count_hint;
    let single;
    let ring = match &options.keyring {
        Some(ring) => ring,
        None => {
            single = Keyring::single(key.clone());
            &single
        }
    };
    let resolved = match resolve_start_ring(ring, &state.start, &state.retention) {
        Ok(resolved) => resolved,
        Err(p) => {
            return Ok(wrong_secret_of_log(ring, state).unwrap_or(Verdict::Tampered(p.into())));
        }
    };
    // Which key covers which seqs: the rotations the verified log names (without one, every
    // record is under the key of the receipts, or the key given).
    let records_key = resolved
        .log
        .current_key_id()
        .and_then(|id| ring.get(id))
        .unwrap_or(key);
    let schedule = KeySchedule::from_log(&resolved.log, ring, records_key);
    let newest = schedule.last_key_id().unwrap_or(key.key_id());
    // The key id the store records is not authenticated, but one the ring holds that is not
    // the key the retention log puts the newest records under is a key change no rotate
    // receipt names (a deleted rotation, records written under another key).
    if let trailseal_core::StoredKeyId::Present(stored) = state.key_id
        && stored != newest
        && ring.get(stored).is_some()
        && schedule.last_key().is_some()
        && !resolved.log.receipts.is_empty()
    {
        let seq = resolved.start.next_seq;
        return Ok(Verdict::Tampered(Tampered {
            first_bad_seq: seq,
            kind: TamperKind::Checkpoint,
            records_checked: 0,
            detail: format!(
                "seq {seq}: the store's records are under key id {stored}, but its retention log puts them under key id {newest} and no rotate receipt names the change (a rotation was removed, or records were written under another key)"
            ),
        }));
    }
    // A rotated store none of whose records is under a held key (an empty one: whose newest
    // key is not held): nothing of the chain can be checked.
    let first = resolved.start.next_seq;
    let held_record = state.head.as_ref().is_some_and(|(head, _)| {
        schedule
            .first_held_from(first)
            .is_some_and(|seq| seq <= *head)
    });
    if !schedule.is_single()
        && !held_record
        && (state.head.is_some() || schedule.last_key().is_none())
    {
        let head = state.head.as_ref().map(|(h, _)| *h);
        let unheld: Vec<String> = schedule
            .ranges()
            .filter(|r| !r.held && r.until.is_none_or(|u| u > first))
            .filter(|r| head.is_none_or(|h| r.first_seq <= h))
            .map(|r| {
                let from = r.first_seq.max(first);
                match (r.until, head) {
                    (_, None) => format!("seqs from {from} on under key id {}", r.key_id),
                    (Some(u), Some(h)) => {
                        format!(
                            "seqs {from} to {} under key id {}",
                            (u - 1).min(h),
                            r.key_id
                        )
                    }
                    (None, Some(h)) => format!("seqs {from} to {h} under key id {}", r.key_id),
                }
            })
            .collect();
        return Ok(Verdict::Unverifiable(Unverifiable {
            reason: UnverifiableReason::WrongSecret,
            detail: format!(
                "seq {first}: the store was rotated, and none of its records is under a key {} ({}): nothing of its chain could be checked",
                if ring.len() == 1 {
                    "this secret is"
                } else {
                    "the keyring holds"
                },
                unheld.join(", ")
            ),
        }));
    }
    let key = schedule.last_key().unwrap_or(records_key);
    let mut not_held = keys_not_held(&resolved.log);
    // An archive's prune receipt is under the key that covered its store's log then: a key of
    // a rotation not held leaves the archive's end unauthenticated (a caveat), not wrong.
    let archive_key = state
        .archive_of
        .as_deref()
        .and_then(|text| Receipt::parse(text.as_bytes(), 0).ok())
        .map(|r| r.key_id);
    let end = match (state.archive_of.as_deref(), archive_key) {
        (Some(_), Some(id))
            if !schedule.is_single() && schedule.names(id) && ring.get(id).is_none() =>
        {
            not_held.push(Caveat::KeysNotHeld {
                key_id: id,
                receipts: 1,
                first_seq: None,
                last_seq: None,
            });
            None
        }
        (Some(text), id) => {
            let key = id.and_then(|id| ring.get(id)).unwrap_or(key);
            match sealed_end(key, text, &resolved) {
                Ok(end) => Some(end),
                Err(verdict) => return Ok(verdict),
            }
        }
        (None, _) => None,
    };
    let expectations = match anchor_expectations(&schedule, &options.anchors, &resolved) {
        Ok(mut e) => {
            e.extend(options.seal_heads.iter().cloned());
            e
        }
        Err(verdict) => return Ok(verdict),
    };
    let first_seq = resolved.start.next_seq;
    let mut verifier =
        Verifier::from_resolved(key, resolved, state.key_id).with_schedule(schedule.clone());
    if let Some(end) = end {
        verifier.expect_end(end);
    }
    for e in expectations {
        verifier.expect_record(e);
    }
    let mut no_progress = |_: Progress| {};
    let progress: &mut dyn FnMut(Progress) = match options.progress.as_deref_mut() {
        Some(progress) => progress,
        None => &mut no_progress,
    };
    let mut report = |checked: u64| {
        progress(Progress {
            records_checked: checked,
            total_hint,
        })
    };
    let mut no_observer = |_: &RecordView<'_>| {};
    // A reader beyond one per thread reads the stored tree hashes while the others scan.
    let mut spare = if snapshot.readers.len() > threads.max(1) {
        snapshot.readers.pop()
    } else {
        None
    };
    let ranged = options.observer.is_none() && snapshot.readers.len() > 1;
    let observe: &mut dyn FnMut(&RecordView<'_>) = match options.observer.as_deref_mut() {
        Some(observe) => observe,
        None => &mut no_observer,
    };
    let everything = SeqRange {
        from: None,
        until: None,
    };
    // Records under a key not held have leaves that cannot be recomputed: the tree check
    // begins at the first record under a held key.
    let tree_from = schedule.first_held_from(first_seq).unwrap_or(first_seq);
    let mut tree = match snapshot.readers.first_mut() {
        Some(reader) => TreeCheck::begin(location, &snapshot.state, tree_from, reader.as_mut())?,
        None => None,
    };
    let source = match (&tree, spare.take(), snapshot.readers.first()) {
        (None, unused, _) => {
            spare = unused;
            None
        }
        (Some(_), Some(reader), _) => Some(HashSource::Reader(reader)),
        (Some(_), None, Some(reader)) => reader.detached_tree_hashes()?.map(HashSource::Detached),
        (Some(_), None, None) => None,
    };
    let (scanned, source) = std::thread::scope(|scope| {
        let ahead = match (tree.as_mut(), source) {
            (Some(tree), Some(source)) => Some(tree.read_ahead_in(location, scope, source)),
            _ => None,
        };
        let scanned = if ranged {
            let readers = std::mem::take(&mut snapshot.readers);
            let (scanned, readers) = verify_ranges(
                location,
                readers,
                &snapshot.state,
                &schedule,
                &mut verifier,
                &mut tree,
                &mut report,
            );
            snapshot.readers = readers;
            scanned
        } else {
            match snapshot.readers.first_mut() {
                None => Err(reader_lost(location)),
                Some(reader) if threads <= 1 => {
                    let mut checker = ContentChecker::new();
                    reader.scan_range(everything, &mut |item| {
                        let flow =
                            feed_one(&schedule, &mut checker, &mut verifier, &mut tree, item);
                        if let (Flow::Continue, ScanItem::Record(r)) = (flow, item) {
                            observe(r);
                        }
                        if verifier.records_checked().is_multiple_of(BATCH as u64 * 16) {
                            report(verifier.records_checked());
                        }
                        flow
                    })
                }
                Some(reader) => verify_parallel(
                    reader.as_mut(),
                    &schedule,
                    threads,
                    &mut verifier,
                    &mut tree,
                    &mut report,
                    observe,
                ),
            }
        };
        if let Some(tree) = tree.as_mut() {
            tree.stop_reading_ahead();
        }
        (scanned, ahead.and_then(|thread| thread.join().ok()))
    });
    // The snapshot's readers stay usable afterwards: give back the one that read the tree.
    if let Some(HashSource::Reader(reader)) = source {
        snapshot.readers.push(reader);
    }
    if let Some(reader) = spare {
        snapshot.readers.push(reader);
    }
    scanned?;
    let mut verdict = verifier.finish();
    if let Verdict::Verified(v) = &mut verdict {
        merge_not_held(&mut v.caveats, not_held);
    }
    if let (Verdict::Verified(v), Some(tree), Some(reader)) =
        (&mut verdict, tree, snapshot.readers.first_mut())
    {
        match tree.finish(
            location,
            &schedule,
            reader.as_mut(),
            v.last_seq,
            v.records_checked,
        )? {
            TreeOutcome::Complete => {}
            TreeOutcome::Incomplete(caveat) => v.caveats.push(caveat),
            TreeOutcome::Tampered(t) => verdict = t,
        }
    } else if let Verdict::Verified(v) = &mut verdict
        && snapshot.state.tree.is_none()
        // An archive of pruned records has no tree of its own: its store's tree holds them.
        && snapshot.state.archive_of.is_none()
        && let (Some(first), Some(last)) = (v.first_seq, v.last_seq)
    {
        // No tree at all (a store only weaver-kernel wrote, or one from before the tree).
        v.caveats.push(Caveat::TreeIncomplete {
            count: last.saturating_sub(first).saturating_add(1),
            first_seq: first,
        });
    }
    // The signed tree heads (anchors' tree lines, checkpoints), against the verified tree.
    if let (Verdict::Verified(v), Some(reader)) = (&verdict, snapshot.readers.first_mut())
        && let Some(bad) = checkpoints::check_tree_heads(
            location,
            &snapshot.state,
            reader.as_mut(),
            &options.anchors,
            &[options.checkpoints.as_slice(), options.seals.as_slice()].concat(),
            &checkpoints::Scanned {
                last_seq: v.last_seq,
                records_checked: v.records_checked,
            },
        )?
    {
        verdict = bad;
    }
    report(verdict.records_checked());
    Ok(verdict)
}
