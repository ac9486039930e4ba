//! [`AuditLog`]: a store plus the chain key, with validation, key confirmation and
//! verification around the storage trait.

use std::io::Write;
use std::path::Path;

use trailseal_core::json::{self, Mode};
use trailseal_core::retention::{Receipt, ReceiptBody};
use trailseal_core::start::{StartKind, StoredKeyId};
use trailseal_core::verify::{ContentCheck, ContentChecker, Flow, ScanItem};
use trailseal_core::{ChainKey, KeyId, Keyring, PreparedTrace, TraceLimits, TraceSummary, Verdict};
use trailseal_store::{Appended, Format, OpenMode, Store, StoreError, StoredRecord};

use crate::error::{Error, WrongKey};
use crate::query::{Filter, TraceEntry};
use crate::verify::VerifyOptions;
use trailseal_store::StoreExt;

/// How to open a log.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The store format; `None` infers it from the location.
    pub format: Option<Format>,
    /// Read only, or for appending.
    pub mode: OpenMode,
    /// Limits on appended traces.
    pub limits: TraceLimits,
    /// The longest record a JSONL store is read with, in bytes (its line without the line
    /// end; default [`trailseal_core::trace::DEFAULT_MAX_RECORD_BYTES`]). A longer line is
    /// reported as a `malformed` record at its seq without being read into memory, and is
    /// never written.
    pub max_record_bytes: usize,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            format: None,
            mode: OpenMode::Read,
            limits: TraceLimits::default(),
            max_record_bytes: trailseal_core::trace::DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// A tamper-evident audit log: a store and, for appending and verifying, its chain key.
pub struct AuditLog {
    store: Box<dyn Store>,
    /// The key of the store's records (and of its next receipt), once chosen from `ring`.
    key: Option<ChainKey>,
    /// Every key held: with one, `key` is it.
    ring: Option<Keyring>,
    limits: TraceLimits,
    key_confirmed: bool,
    /// The key was found strong enough to write with (see [`AuditLog::confirm_key_for_writing`]).
    write_checked: bool,
    threads: usize,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("store", &self.store.location())
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens the store at `location` (a path ending in `.db`, `.sqlite`, `.sqlite3` or
    /// `.jsonl`, or `:memory:`).
    pub fn open(location: &str, options: &OpenOptions) -> Result<Self, Error> {
        let store = trailseal_store::open_with(
            location,
            options.format,
            options.mode,
            &trailseal_store::StoreOptions {
                max_record_bytes: options.max_record_bytes,
            },
        )?;
        Ok(Self::from_store(store).with_limits(options.limits))
    }

    /// Wraps an already opened store.
    pub fn from_store(store: Box<dyn Store>) -> Self {
        Self {
            store,
            key: None,
            ring: None,
            limits: TraceLimits::default(),
            key_confirmed: false,
            write_checked: false,
            threads: crate::verify::default_threads(),
        }
    }

    /// Sets how many threads verification uses (default: one per core; 1 verifies on the
    /// calling thread alone). The verdict does not depend on it.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Sets the chain key used to append and verify.
    pub fn with_key(mut self, key: ChainKey) -> Self {
        self.ring = Some(Keyring::single(key.clone()));
        self.key = Some(key);
        self.key_confirmed = false;
        self.write_checked = false;
        self
    }

    /// Sets several chain keys (a keyring): the store is verified with each where it applies
    /// (a store rotated from one key to another), and appended to with the key its newest
    /// records are under, which must be the ring's active key when one is chosen (else
    /// [`Error::NotActiveKey`]; `rotate` moves a store to another key). A store that holds
    /// nothing yet is written with the active key.
    pub fn with_keyring(mut self, ring: Keyring) -> Self {
        self.key = None;
        self.ring = Some(ring);
        self.key_confirmed = false;
        self.write_checked = false;
        self
    }

    /// The keyring (one key for [`AuditLog::with_key`]).
    pub fn keyring(&self) -> Option<&Keyring> {
        self.ring.as_ref()
    }

    /// Sets the limits on appended traces.
    pub fn with_limits(mut self, limits: TraceLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits on appended traces.
    pub fn limits(&self) -> TraceLimits {
        self.limits
    }

    /// The store's location.
    pub fn location(&self) -> &str {
        self.store.location()
    }

    /// The underlying store.
    pub fn store_mut(&mut self) -> &mut dyn Store {
        self.store.as_mut()
    }

    /// Validates traces given as JSON texts; the error names the first bad one's position.
    pub fn prepare<'a, I>(&self, texts: I) -> Result<Vec<PreparedTrace>, Error>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        texts
            .into_iter()
            .enumerate()
            .map(|(index, text)| {
                PreparedTrace::parse(text, &self.limits)
                    .map_err(|source| Error::Trace { index, source })
            })
            .collect()
    }

    /// Appends one trace (JSON in the export shape). Durable when it returns.
    pub fn append_json(&mut self, text: &[u8]) -> Result<Appended, Error> {
        let prepared = self.prepare([text])?;
        let appended = self.append(&prepared)?;
        appended.into_iter().next().ok_or_else(|| Error::Io {
            path: self.location().to_owned(),
            action: "append",
            source: std::io::Error::other("the store appended nothing"),
        })
    }

    /// Appends validated traces in one transaction: all of them or none. Refuses to extend a
    /// chain written with another key.
    pub fn append(&mut self, traces: &[PreparedTrace]) -> Result<Vec<Appended>, Error> {
        if traces.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.store_key()?;
        self.confirm_key_for_writing(&key)?;
        Ok(self.store.append(&key, traces)?)
    }

    /// [`AuditLog::confirm_key`], and before anything is written: refuses to start a new store
    /// (no records, no key id, no receipts, genesis start) with a secret too short to resist
    /// offline guessing. A store that already holds a chain keeps working with its secret.
    pub(crate) fn confirm_key_for_writing(&mut self, key: &ChainKey) -> Result<(), Error> {
        if let Some(ring) = &self.ring
            && let Some(active) = ring.active()
            && active.key_id() != key.key_id()
        {
            return Err(Error::NotActiveKey {
                location: self.location().to_owned(),
                store_key: key.key_id(),
                store_label: ring.label_of(key.key_id()).unwrap_or_default().to_owned(),
                active: active.key_id(),
                active_label: ring.active_label().unwrap_or_default().to_owned(),
            });
        }
        if !self.write_checked {
            if key.strength().too_short_for_new_store() {
                let state = self.store.state()?;
                let new_store = state.head.is_none()
                    && state.retention.is_empty()
                    && state.key_id == StoredKeyId::Absent
                    && state.start.kind == StartKind::Genesis;
                if new_store {
                    return Err(Error::WeakSecret {
                        location: self.location().to_owned(),
                    });
                }
            }
            self.write_checked = true;
        }
        self.confirm_key(key)
    }

    /// Checks, once per handle, that `key` is the key the store was written with: by the key
    /// id the store records, or else by the MAC of its head record.
    pub(crate) fn confirm_key(&mut self, key: &ChainKey) -> Result<(), Error> {
        if self.key_confirmed {
            return Ok(());
        }
        // The head record checked is the head of the state read: one snapshot.
        let (state, head_check) = {
            let mut snapshot = self.store.snapshot(1)?;
            let state = snapshot.state.clone();
            let mut outcome = None;
            if state.key_id == StoredKeyId::Absent
                && let Some((head_seq, _)) = state.head
            {
                let mut checker = ContentChecker::new();
                snapshot.scan(head_seq, &mut |item| {
                    if let ScanItem::Record(record) = item
                        && record.seq == head_seq
                    {
                        outcome = Some(checker.check(key, record));
                        return Flow::Stop;
                    }
                    Flow::Continue
                })?;
            }
            (state, outcome)
        };
        match state.key_id {
            StoredKeyId::Present(id) if id != key.key_id() => {
                return Err(self.wrong_key(WrongKey::KeyId {
                    stored: id,
                    ours: key.key_id(),
                }));
            }
            StoredKeyId::Present(_) => {}
            StoredKeyId::Absent => {
                if let Some((head_seq, _)) = state.head {
                    match head_check {
                        Some(ContentCheck::Ok) => {}
                        Some(ContentCheck::Mismatch) => {
                            return Err(self.wrong_key(WrongKey::Head { seq: head_seq }));
                        }
                        Some(ContentCheck::Malformed(problem)) => {
                            return Err(StoreError::BadHead {
                                location: self.location().to_owned(),
                                seq: head_seq,
                                problem,
                            }
                            .into());
                        }
                        Some(ContentCheck::ColumnMismatch(column)) => {
                            return Err(StoreError::BadHead {
                                location: self.location().to_owned(),
                                seq: head_seq,
                                problem: format!("its {column} column does not match its payload"),
                            }
                            .into());
                        }
                        // A single key's check never gives it.
                        Some(ContentCheck::NotHeld) | None => {}
                    }
                } else if let Some(text) = state.retention.last() {
                    // Every record was pruned (a JSONL store then records no key id): the
                    // receipts are MAC'd with the chain's key.
                    let index = state.retention.len() - 1;
                    let holds = Receipt::parse(text.as_bytes(), index).is_ok_and(|r| {
                        (r.key_id == key.key_id() && r.mac_holds(key))
                            || (matches!(r.body, ReceiptBody::Rotate { new_key_id, .. } if new_key_id == key.key_id())
                                && r.new_mac_holds(key) == Some(true))
                    });
                    if !holds {
                        return Err(self.wrong_key(WrongKey::Receipt { index }));
                    }
                }
            }
        }
        self.key_confirmed = true;
        Ok(())
    }

    fn wrong_key(&self, cause: WrongKey) -> Error {
        Error::WrongKey {
            location: self.location().to_owned(),
            cause,
        }
    }

    /// The key id of the loaded key.
    pub fn key_id(&self) -> Option<KeyId> {
        self.key.as_ref().map(ChainKey::key_id)
    }

    /// Verifies the whole chain. Never fails: a store that cannot be read, or a missing key,
    /// gives an `unverifiable` verdict. Short for [`AuditLog::verify_with`] with no options.
    pub fn verify(&mut self) -> Verdict {
        self.verify_with(&mut VerifyOptions::new())
    }

    /// Verifies the whole chain as `options` asks: against signed anchors, reporting progress,
    /// showing each record to an observer, on a number of threads (default: the log's, see
    /// [`AuditLog::with_threads`]). See [`crate::verify::verify`].
    pub fn verify_with(&mut self, options: &mut VerifyOptions<'_>) -> Verdict {
        // A keyring whose keys the store does not name still verifies: the verdict says
        // which key the store wants.
        let key = self.store_key().ok().or_else(|| {
            let ring = self.ring.as_ref()?;
            ring.active().or_else(|| ring.keys().next()).cloned()
        });
        let given = options.keyring.is_some();
        if !given {
            options.keyring = self.ring.clone();
        }
        let verdict = crate::verify::verify_threaded(
            self.store.as_mut(),
            key.as_ref(),
            options,
            self.threads,
        );
        if !given {
            options.keyring = None;
        }
        verdict
    }

    /// Streams the traces that match `filter`, in chain order. Records that cannot be read
    /// are counted, not shown; the count is returned.
    pub fn list(
        &mut self,
        filter: &Filter,
        visit: &mut dyn FnMut(&TraceEntry) -> Flow,
    ) -> Result<u64, Error> {
        let mut unreadable = 0u64;
        let mut shown = 0usize;
        let mut canonical = Vec::new();
        self.store.scan(0, &mut |item| {
            let ScanItem::Record(record) = item else {
                unreadable += 1;
                return Flow::Continue;
            };
            let Ok(doc) = json::parse(record.trace) else {
                unreadable += 1;
                return Flow::Continue;
            };
            let summary = TraceSummary::from_node(doc.root());
            if !filter.matches(&summary) {
                return Flow::Continue;
            }
            canonical.clear();
            if doc
                .root()
                .write_canonical(&mut canonical, Mode::Python)
                .is_err()
            {
                unreadable += 1;
                return Flow::Continue;
            }
            let entry = TraceEntry {
                seq: record.seq,
                summary,
                trace: String::from_utf8_lossy(&canonical).into_owned(),
            };
            shown += 1;
            if visit(&entry) == Flow::Stop || filter.limit.is_some_and(|l| shown >= l) {
                return Flow::Stop;
            }
            Flow::Continue
        })?;
        Ok(unreadable)
    }

    /// The record with this `action_id`.
    pub fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, Error> {
        Ok(self.store.find(action_id)?)
    }

    /// Writes the chain, chain fields included, as a JSONL store to `path` (atomically: a
    /// temporary file beside it, fsynced, then renamed). The export verifies on its own with
    /// the same secret. Returns the number of records written.
    pub fn export_jsonl(&mut self, path: &Path) -> Result<u64, Error> {
        self.export_jsonl_with_progress(path, &mut |_| {})
    }

    /// [`AuditLog::export_jsonl`], reporting how many records are written as it goes.
    pub fn export_jsonl_with_progress(
        &mut self,
        path: &Path,
        progress: &mut dyn FnMut(crate::verify::Progress),
    ) -> Result<u64, Error> {
        let shown = path.display().to_string();
        // The header and the records from one snapshot: a prune meanwhile cannot give an
        // export whose start does not match its records.
        let mut snapshot = self.store.snapshot(1)?;
        let header = crate::export::export_header(&snapshot.state);
        crate::export::write_atomically(path, |out| {
            crate::export::write_records(
                &mut snapshot,
                out,
                &shown,
                header.as_ref(),
                0..=u64::MAX,
                progress,
            )
        })
    }

    /// Writes the export to any writer (see [`AuditLog::export_jsonl`]).
    pub fn export_jsonl_to(&mut self, out: &mut dyn Write) -> Result<u64, Error> {
        let location = self.store.location().to_owned();
        let mut snapshot = self.store.snapshot(1)?;
        let header = crate::export::export_header(&snapshot.state);
        crate::export::write_records(
            &mut snapshot,
            out,
            &location,
            header.as_ref(),
            0..=u64::MAX,
            &mut |_| {},
        )
    }

    /// The key of the store's records, chosen from the keyring once per handle: the key the
    /// last rotation moved the store to, the key id the store records, the key of its first
    /// receipt, the key its head record's MAC holds under, or, for a store that holds nothing
    /// yet, the active key (the only one of a ring of one).
    pub(crate) fn store_key(&mut self) -> Result<ChainKey, Error> {
        if let Some(key) = &self.key {
            return Ok(key.clone());
        }
        let ring = self.ring.clone().ok_or(Error::NoSecret)?;
        let key = crate::keys::choose(self.store.as_mut(), &ring)?;
        self.key = Some(key.clone());
        Ok(key)
    }

    /// Forgets the chosen key (after a rotation) so the next use chooses again.
    pub(crate) fn forget_key(&mut self) {
        self.key = None;
        self.key_confirmed = false;
    }

    /// The verification thread count.
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }
}
