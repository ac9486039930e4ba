//! `trailseal._native.Log`: one open store with its chain key, shared by the threads of a
//! process. Appends go through [`SharedLog`] (group commit); everything that waits for the
//! disk, the database or the CPU runs with the GIL released.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;
use trailseal::core::time::Offset;
use trailseal::signing::{read_public_key, read_signing_key};
use trailseal::{
    AuditLog, BundleSelection, ChainKey, CutoffSpec, Format, Keyring, OpenMode, OpenOptions,
    PruneRequest, RotateRequest, SharedLog, Timestamp, VerifyOptions,
};

use crate::errors::{Class, Raised, Result};
use crate::records::{RecordTuple, canonical, scan_records};

/// An open store.
#[pyclass(module = "trailseal._native", frozen)]
pub(crate) struct Log {
    shared: Mutex<Option<Arc<SharedLog>>>,
    /// The location as messages show it (a database URL without its password).
    shown: String,
    format: &'static str,
    /// The process that opened it: a forked child must open the store again (a database
    /// connection, a file lock and a group-commit queue cannot be shared across a fork).
    pid: u32,
    /// How to open a second, read-only handle on the store, so that reading and verifying
    /// never hold up the appends of other threads (`None` for an in-memory store).
    reader: Option<ReaderSpec>,
}

/// What a read-only handle on the same store is opened with. It has no `Debug`: the
/// location (a database URL may hold a password) and the key are never shown.
struct ReaderSpec {
    location: String,
    format: Option<Format>,
    key: Option<Keyring>,
    threads: Option<usize>,
}

impl ReaderSpec {
    /// A read-only handle, or `None` when none can be opened (a store not written yet: the
    /// caller reads through the shared handle instead).
    fn open(&self) -> Option<AuditLog> {
        let options = OpenOptions {
            format: self.format,
            mode: OpenMode::Read,
            ..OpenOptions::default()
        };
        let mut log = AuditLog::open(&self.location, &options).ok()?;
        if let Some(threads) = self.threads {
            log = log.with_threads(threads);
        }
        if let Some(ring) = &self.key {
            log = log.with_keyring(ring.clone());
        }
        Some(log)
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("location", &self.shown)
            .finish_non_exhaustive()
    }
}

pub(crate) fn key_of(secret: Option<&[u8]>) -> Result<Option<ChainKey>> {
    secret
        .map(|s| {
            ChainKey::from_secret(s)
                .map_err(|e| Raised::new(Class::Secret, format!("the secret cannot be used: {e}")))
        })
        .transpose()
}

/// The keyring from `secrets` (`{label: secret}`) and `active_key`, or the one key `secret`
/// labelled `default`; refused when both are given. Never shows a secret.
pub(crate) fn ring_of(
    secret: Option<&[u8]>,
    secrets: Option<Vec<(String, zeroize::Zeroizing<Vec<u8>>)>>,
    active_key: Option<&str>,
) -> Result<Option<Keyring>> {
    let bad = |m: String| Raised::new(Class::Secret, m);
    let ring = match (secret, secrets) {
        (Some(_), Some(_)) => return Err(bad("give secret or secrets, not both".into())),
        (Some(s), None) => key_of(Some(s))?.map(Keyring::single),
        (None, Some(entries)) => {
            let keys = entries
                .into_iter()
                .map(|(label, s)| {
                    ChainKey::from_secret(&s)
                        .map(|k| (label.clone(), k))
                        .map_err(|e| {
                            bad(format!(
                                "secrets[{label:?}]: the secret cannot be used: {e}"
                            ))
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            Some(Keyring::new(keys).map_err(|e| bad(e.to_string()))?)
        }
        (None, None) => None,
    };
    match (ring, active_key) {
        (Some(ring), Some(label)) => Ok(Some(
            ring.with_active(label).map_err(|e| bad(e.to_string()))?,
        )),
        (None, Some(_)) => Err(bad("active_key without secrets".into())),
        (ring, None) => Ok(ring),
    }
}

pub(crate) fn timestamp(flag: &str, text: &str) -> Result<Timestamp> {
    Timestamp::parse(text, Offset::DefaultUtc)
        .map_err(|e| Raised::new(Class::InvalidTrace, format!("{flag}: {e}")))
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Sqlite => "sqlite",
        Format::Jsonl => "jsonl",
        Format::Memory => "memory",
        Format::Postgres => "postgres",
        _ => "unknown",
    }
}

impl Log {
    /// The location as messages show it.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// The location of a file store (`None` for a database or an in-memory store).
    pub(crate) fn file_location(&self) -> Option<&str> {
        self.reader
            .as_ref()
            .map(|r| r.location.as_str())
            .filter(|l| !l.contains("://"))
    }

    fn shared(&self) -> Result<Arc<SharedLog>> {
        if std::process::id() != self.pid {
            return Err(Raised::new(
                Class::Store,
                format!(
                    "{}: the log was opened in another process (before a fork); open it again in this one",
                    self.shown
                ),
            ));
        }
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| Raised::new(Class::Store, format!("{}: the log is closed", self.shown)))
    }

    pub(crate) fn with_log<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut AuditLog) -> R + Send,
    ) -> Result<R>
    where
        R: Send,
    {
        let shared = self.shared()?;
        Ok(py.detach(|| shared.with_log(f)))
    }

    /// Runs a read on a read-only handle of its own (one consistent snapshot, as every read
    /// is), so that appends from other threads go on meanwhile; on the shared handle when no
    /// such handle can be opened.
    pub(crate) fn read_with<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut AuditLog) -> R + Send,
    ) -> Result<R>
    where
        R: Send,
    {
        let shared = self.shared()?;
        Ok(
            py.detach(|| match self.reader.as_ref().and_then(ReaderSpec::open) {
                Some(mut log) => f(&mut log),
                None => shared.with_log(f),
            }),
        )
    }
}

#[pymethods]
impl Log {
    /// Opens (`create`: creating on first write) the store at `location`.
    #[new]
    #[pyo3(signature = (location, secret=None, *, format=None, create=true, read_only=false, threads=None, max_group=None, secrets=None, active_key=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        location: String,
        secret: Option<Vec<u8>>,
        format: Option<&str>,
        create: bool,
        read_only: bool,
        threads: Option<usize>,
        max_group: Option<usize>,
        secrets: Option<Vec<(String, Vec<u8>)>>,
        active_key: Option<String>,
    ) -> PyResult<Self> {
        let secret = secret.map(zeroize::Zeroizing::new);
        let secrets = secrets.map(|entries| {
            entries
                .into_iter()
                .map(|(label, s)| (label, zeroize::Zeroizing::new(s)))
                .collect()
        });
        let key = ring_of(
            secret.as_deref().map(Vec::as_slice),
            secrets,
            active_key.as_deref(),
        )?;
        let format = match format {
            None => None,
            Some(name) => Some(Format::parse(name).ok_or_else(|| {
                Raised::new(
                    Class::Store,
                    format!("{name}: unknown store format (sqlite, jsonl, postgres or memory)"),
                )
            })?),
        };
        let shown = trailseal::store::redact_location(&location);
        let options = OpenOptions {
            format,
            mode: if read_only {
                OpenMode::Read
            } else {
                OpenMode::Write { create }
            },
            ..OpenOptions::default()
        };
        let resolved = format.or_else(|| Format::from_location(&location));
        let reader = (resolved != Some(Format::Memory)).then(|| ReaderSpec {
            location: location.clone(),
            format: resolved,
            key: key.clone(),
            threads,
        });
        let opened = py.detach(|| -> Result<(SharedLog, &'static str)> {
            let mut log = AuditLog::open(&location, &options)?;
            if let Some(threads) = threads {
                log = log.with_threads(threads);
            }
            if let Some(ring) = key {
                log = log.with_keyring(ring);
            }
            // Read the store now: a file that is not a store is refused at open, not later.
            log.store_mut().state()?;
            let format = resolved.map_or("unknown", format_name);
            let mut shared = SharedLog::new(log);
            if let Some(max) = max_group {
                shared = shared.with_max_group(max);
            }
            Ok((shared, format))
        })?;
        Ok(Self {
            shared: Mutex::new(Some(Arc::new(opened.0))),
            shown,
            format: opened.1,
            pid: std::process::id(),
            reader,
        })
    }

    /// The location (without a database password).
    #[getter]
    fn location(&self) -> &str {
        &self.shown
    }

    /// `sqlite`, `jsonl`, `postgres` or `memory`.
    #[getter]
    fn format(&self) -> &'static str {
        self.format
    }

    /// Appends one trace (export-shape JSON); durable when it returns. Concurrent callers
    /// share a commit.
    fn append(&self, py: Python<'_>, trace: Vec<u8>) -> PyResult<(u64, String)> {
        let shared = self.shared()?;
        let appended = py
            .detach(|| shared.append_json(&trace))
            .map_err(Raised::from)?;
        Ok((appended.seq, appended.record_hash.as_str().to_owned()))
    }

    /// Appends traces in one transaction: all or none.
    fn append_many(&self, py: Python<'_>, traces: Vec<Vec<u8>>) -> PyResult<Vec<(u64, String)>> {
        let appended = self
            .with_log(py, |log| {
                let prepared = log.prepare(traces.iter().map(Vec::as_slice))?;
                log.append(&prepared)
            })?
            .map_err(Raised::from)?;
        Ok(appended
            .into_iter()
            .map(|a| (a.seq, a.record_hash.as_str().to_owned()))
            .collect())
    }

    /// Verifies the chain (against `anchors` and tree `checkpoints`, `(source, note text)`
    /// pairs, with the public key file; each checkpoint with cosignatures by `quorum` of
    /// `witness_keys` when given); returns the verdict as `verify --json` prints it.
    /// With `seals` (a seal directory) and `seal_public_key` (its root key file), also checks
    /// the forward-secure seals, at `now` (RFC 3339; default the clock) with `seal_grace_micros`.
    /// With `key_transitions` (a folder of transition notes), anchors and checkpoints are
    /// opened with the key history walked from `public_key`.
    #[pyo3(signature = (anchors=Vec::new(), public_key=None, checkpoints=Vec::new(), witness_keys=Vec::new(), quorum=1, seals=None, seal_public_key=None, now=None, seal_grace_micros=300_000_000, key_transitions=None))]
    #[allow(clippy::too_many_arguments)]
    fn verify(
        &self,
        py: Python<'_>,
        anchors: Vec<(String, String)>,
        public_key: Option<PathBuf>,
        checkpoints: Vec<(String, String)>,
        witness_keys: Vec<String>,
        quorum: usize,
        seals: Option<PathBuf>,
        seal_public_key: Option<PathBuf>,
        now: Option<String>,
        seal_grace_micros: i64,
        key_transitions: Option<PathBuf>,
    ) -> PyResult<String> {
        let walked = match (&seals, &seal_public_key) {
            (Some(dir), Some(root)) => {
                let root = read_public_key(root).map_err(Raised::from)?;
                let now = match &now {
                    Some(t) => timestamp("now", t)?,
                    None => trailseal::now(),
                };
                Some(
                    trailseal::seal::read_seals(dir, &root, Some(now), seal_grace_micros)
                        .map_err(Raised::from)?,
                )
            }
            (None, None) => None,
            _ => {
                return Err(Raised::new(
                    Class::InvalidTrace,
                    "seals and seal_public_key go together",
                )
                .into());
            }
        };
        let public = public_key
            .as_deref()
            .map(read_public_key)
            .transpose()
            .map_err(Raised::from)?;
        let history = match (&public, &key_transitions) {
            (Some(public), Some(dir)) => {
                Some(trailseal::transitions::key_history(public, dir).map_err(Raised::from)?)
            }
            (None, Some(_)) => {
                return Err(
                    Raised::new(Class::InvalidTrace, "key_transitions need public_key").into(),
                );
            }
            _ => None,
        };
        let witnesses = crate::tlog::witness_keys(&witness_keys)?;
        let verdict = self.read_with(py, |log| {
            let mut options = VerifyOptions::new();
            if let Some(history) = history {
                options = options.notes_with_history(&anchors, &checkpoints, history);
            } else if let Some(public) = &public {
                if !anchors.is_empty() {
                    options = options.anchor_notes(&anchors, public);
                }
                if !checkpoints.is_empty() {
                    options = options.checkpoint_notes(&checkpoints, public);
                }
            }
            if !witnesses.is_empty() {
                options = options.witness_quorum(witnesses, quorum);
            }
            if let Some(walked) = walked {
                options = options.seals(walked);
            }
            log.verify_with(&mut options)
        })?;
        Ok(trailseal_cli::json::verdict(&verdict))
    }

    /// The records from `from_seq` on, in seq order. A record that cannot be read raises
    /// `CorruptRecordError` naming it.
    #[pyo3(signature = (from_seq=0))]
    fn records(&self, py: Python<'_>, from_seq: u64) -> PyResult<Vec<RecordTuple>> {
        let mut out = Vec::new();
        self.read_with(py, |log| scan_records(log, from_seq, &mut |r| out.push(r)))??;
        Ok(out)
    }

    /// Reads every record without keeping it (bounded memory): raises `CorruptRecordError`
    /// naming the first that cannot be read; returns how many were read.
    fn check_records(&self, py: Python<'_>) -> PyResult<u64> {
        let mut count = 0u64;
        self.read_with(py, |log| scan_records(log, 0, &mut |_| count += 1))??;
        Ok(count)
    }

    /// The record with this `action_id`, if any.
    fn find(&self, py: Python<'_>, action_id: String) -> PyResult<Option<RecordTuple>> {
        let found = self
            .read_with(py, |log| log.find(&action_id))?
            .map_err(Raised::from)?;
        Ok(match found {
            None => None,
            Some(r) => Some((
                r.seq,
                r.prev_hash,
                r.record_hash,
                canonical(r.seq, r.trace.as_bytes())?,
            )),
        })
    }

    /// `(head seq, head record_hash)`, or `None` for a store without records.
    fn head(&self, py: Python<'_>) -> PyResult<Option<(u64, String)>> {
        let state = self
            .with_log(py, |log| log.store_mut().state())?
            .map_err(Raised::from)?;
        Ok(state
            .head
            .map(|(seq, hash)| (seq, String::from_utf8_lossy(&hash).into_owned())))
    }

    /// Prunes the longest seq prefix the cutoff selects, writing an authenticated receipt;
    /// returns the report as `prune --json` prints it. Exactly one cutoff is given.
    #[pyo3(signature = (*, before=None, older_than_micros=None, keep_last=None, dry_run=false, archive=None))]
    fn prune(
        &self,
        py: Python<'_>,
        before: Option<String>,
        older_than_micros: Option<i64>,
        keep_last: Option<u64>,
        dry_run: bool,
        archive: Option<PathBuf>,
    ) -> PyResult<String> {
        let cutoff = match (before, older_than_micros, keep_last) {
            (Some(t), None, None) => CutoffSpec::Before(timestamp("before", &t)?),
            (None, Some(micros), None) => CutoffSpec::OlderThan { micros },
            (None, None, Some(n)) => CutoffSpec::KeepLast(n),
            _ => {
                return Err(Raised::new(
                    Class::InvalidTrace,
                    "prune: give exactly one of before, older_than and keep_last",
                )
                .into());
            }
        };
        let request = PruneRequest {
            cutoff,
            now: trailseal::now(),
            dry_run,
            archive,
        };
        let report = self
            .with_log(py, |log| log.prune(&request))?
            .map_err(Raised::from)?;
        Ok(trailseal_cli::json::pruned(&report))
    }

    /// Rotates the store to the key labelled `to` of its keyring, as a new segment (the
    /// records under the old key go to `archive` first); returns the report as
    /// `rotate --json` prints it.
    #[pyo3(signature = (to, *, archive=None))]
    fn rotate(&self, py: Python<'_>, to: String, archive: Option<PathBuf>) -> PyResult<String> {
        let request = RotateRequest {
            to,
            now: trailseal::now(),
            archive,
        };
        let report = self
            .with_log(py, |log| log.rotate(&request))?
            .map_err(Raised::from)?;
        Ok(trailseal_cli::json::rotated(&report))
    }

    /// Starts forward-secure sealing (`trailseal seal --init`); returns the root public key.
    fn seal_init(
        &self,
        py: Python<'_>,
        seal_dir: PathBuf,
        seal_key: PathBuf,
        origin: String,
        epoch_records: u64,
        epoch_seconds: u64,
    ) -> PyResult<String> {
        let setup = trailseal::seal::SealSetup {
            origin,
            policy: trailseal::core::seal::EpochPolicy {
                max_records: epoch_records,
                max_seconds: epoch_seconds,
            },
        };
        let root = self
            .with_log(py, |log| {
                log.seal_init(&seal_dir, &seal_key, &setup, trailseal::now())
            })?
            .map_err(Raised::from)?;
        Ok(root.to_key_string())
    }

    /// Closes the open seal epoch when due (or `force`); returns `seal --json`.
    #[pyo3(signature = (seal_dir, seal_key, *, force=false))]
    fn seal(
        &self,
        py: Python<'_>,
        seal_dir: PathBuf,
        seal_key: PathBuf,
        force: bool,
    ) -> PyResult<String> {
        let report = self
            .with_log(py, |log| {
                log.seal(&seal_dir, &seal_key, trailseal::now(), force)
            })?
            .map_err(Raised::from)?;
        Ok(trailseal_cli::json::sealed(&report))
    }

    /// The retention log: `(receipts as a JSON array, verified, min_retention_micros)`.
    fn retention(&self, py: Python<'_>) -> PyResult<(String, bool, Option<i64>)> {
        let status = self
            .with_log(py, |log| log.retention())?
            .map_err(Raised::from)?;
        Ok((
            trailseal_cli::json::receipts(&status.receipts),
            status.verified,
            status.min_retention_micros,
        ))
    }

    /// Sets (`None`: removes) the minimum retention; returns the receipt written as JSON.
    #[pyo3(signature = (min_retention_micros, *, allow_decrease=false))]
    fn set_min_retention(
        &self,
        py: Python<'_>,
        min_retention_micros: Option<i64>,
        allow_decrease: bool,
    ) -> PyResult<String> {
        let now = trailseal::now();
        let receipt = self
            .with_log(py, |log| {
                log.set_min_retention(min_retention_micros, now, allow_decrease)
            })?
            .map_err(Raised::from)?;
        Ok(trailseal_cli::json::receipt(&receipt))
    }

    /// Verifies the chain, then signs an anchor of its head with the signing key file. With
    /// `out`, writes it there (write-once: an existing different anchor is an error). Returns
    /// `(origin, size, head_hash, note, created)`. `also_signing_keys` sign it too (during a
    /// signing-key transition's overlap, the old key and the new one both sign).
    #[pyo3(signature = (signing_key, *, origin=None, out=None, also_signing_keys=Vec::new()))]
    fn anchor(
        &self,
        py: Python<'_>,
        signing_key: PathBuf,
        origin: Option<String>,
        out: Option<PathBuf>,
        also_signing_keys: Vec<PathBuf>,
    ) -> PyResult<(String, u64, String, String, Option<bool>)> {
        let signer = read_signing_key(&signing_key).map_err(Raised::from)?;
        let extra = also_signing_keys
            .iter()
            .map(|p| read_signing_key(p))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(Raised::from)?;
        let origin = origin.unwrap_or_else(|| default_origin(&self.shown));
        let result = self.with_log(py, |log| -> Result<_> {
            let (anchor, note) = log.anchor(&signer, &origin, trailseal::now(), true)?;
            let note = crate::tlog::add_signatures(note, &extra)?;
            let created = match &out {
                None => None,
                Some(path) => Some(
                    trailseal::write_anchor_once(path, &anchor, &note, &signer.verifier())?
                        == trailseal::AnchorWrite::Created,
                ),
            };
            Ok((anchor, note, created))
        })??;
        let (anchor, note, created) = result;
        Ok((
            anchor.origin,
            anchor.size,
            anchor.head_hash.as_str().to_owned(),
            note,
            created,
        ))
    }

    /// Writes the chain as a JSONL store (atomically); returns the record count.
    fn export_jsonl(&self, py: Python<'_>, path: PathBuf) -> PyResult<u64> {
        Ok(self
            .with_log(py, |log| log.export_jsonl(&path))?
            .map_err(Raised::from)?)
    }

    /// Writes a signed bundle of the selected records (atomically); returns
    /// `(from_seq, to_seq, entries, disclosed, withheld)`. `checkpoint`: the text of a tree
    /// checkpoint note of this store to embed (with its cosignatures) instead of a new one.
    #[pyo3(signature = (path, signing_key, *, origin=None, from_seq=None, to_seq=None, since=None, until=None, principal=None, capability=None, redact=Vec::new(), withheld_reasons=false, checkpoint=None))]
    #[allow(clippy::too_many_arguments)]
    fn export_bundle(
        &self,
        py: Python<'_>,
        path: PathBuf,
        signing_key: PathBuf,
        origin: Option<String>,
        from_seq: Option<u64>,
        to_seq: Option<u64>,
        since: Option<String>,
        until: Option<String>,
        principal: Option<String>,
        capability: Option<String>,
        redact: Vec<String>,
        withheld_reasons: bool,
        checkpoint: Option<String>,
    ) -> PyResult<(u64, u64, u64, u64, u64)> {
        let signer = read_signing_key(&signing_key).map_err(Raised::from)?;
        let origin = origin.unwrap_or_else(|| default_origin(&self.shown));
        let selection = BundleSelection {
            from_seq,
            to_seq,
            since: since.map(|t| timestamp("since", &t)).transpose()?,
            until: until.map(|t| timestamp("until", &t)).transpose()?,
            principal,
            capability,
            redact,
            withheld_reasons,
        };
        let report = self
            .with_log(py, |log| {
                trailseal::write_atomically(&path, |out| {
                    log.export_bundle_at(
                        out,
                        &signer,
                        &origin,
                        trailseal::now(),
                        &selection,
                        checkpoint.as_deref(),
                        &mut |_| {},
                    )
                })
            })?
            .map_err(Raised::from)?;
        Ok((
            report.from_seq,
            report.to_seq,
            report.entries,
            report.disclosed,
            report.withheld,
        ))
    }

    /// Verifies one snapshot, then signs a C2SP checkpoint of its Merkle tree (the tree
    /// brought up first when the store can be written), optionally cosigned by `witnesses`
    /// (`URL=VKEY`), a `quorum` of which must cosign (their state in `witness_state`). With
    /// `out`, writes it there: a new file, or over a checkpoint of this log it extends; a
    /// checkpoint there that the tree does not extend raises `ForkError`.
    /// `also_signing_keys` sign it too (not with witnesses).
    #[pyo3(signature = (signing_key, *, origin=None, out=None, witnesses=Vec::new(), quorum=None, witness_state=None, witness_timeout_micros=None, also_signing_keys=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn checkpoint(
        &self,
        py: Python<'_>,
        signing_key: PathBuf,
        origin: Option<String>,
        out: Option<PathBuf>,
        witnesses: Vec<String>,
        quorum: Option<usize>,
        witness_state: Option<PathBuf>,
        witness_timeout_micros: Option<u64>,
        also_signing_keys: Vec<PathBuf>,
    ) -> PyResult<crate::tlog::CheckpointTuple> {
        Ok(self.make_checkpoint(
            py,
            signing_key,
            also_signing_keys,
            origin,
            out,
            witnesses,
            quorum,
            witness_state,
            witness_timeout_micros,
        )?)
    }

    /// A `c2sp.org/tlog-proof@v1` file proving record `seq` is in the tree the checkpoint
    /// note (signed by the log's key: the public key file, or the signing key's) describes,
    /// for exactly its size; with `with_trace`, carrying the trace and its salt. With `out`,
    /// written there (never over a different file).
    #[pyo3(signature = (seq, checkpoint, *, public_key=None, signing_key=None, out=None, with_trace=false))]
    #[allow(clippy::too_many_arguments)]
    fn prove(
        &self,
        py: Python<'_>,
        seq: u64,
        checkpoint: String,
        public_key: Option<PathBuf>,
        signing_key: Option<PathBuf>,
        out: Option<PathBuf>,
        with_trace: bool,
    ) -> PyResult<crate::tlog::ProofTuple> {
        Ok(self.make_proof(
            py,
            seq,
            checkpoint,
            public_key,
            signing_key,
            out,
            with_trace,
        )?)
    }

    /// The RFC 6962 consistency proof from the tree of `old` leaves to the tree of `new`
    /// (default: the store's tree size): `(new, base64 hashes)`.
    #[pyo3(signature = (old, new=None))]
    fn consistency(
        &self,
        py: Python<'_>,
        old: u64,
        new: Option<u64>,
    ) -> PyResult<(u64, Vec<String>)> {
        Ok(self.make_consistency(py, old, new)?)
    }

    /// Publishes the Merkle tree as C2SP tlog-tiles into `out_dir` (brought up to date when
    /// written before), the checkpoint last.
    #[pyo3(signature = (signing_key, out_dir, *, origin=None, sync_tree=false))]
    fn tiles(
        &self,
        py: Python<'_>,
        signing_key: PathBuf,
        out_dir: PathBuf,
        origin: Option<String>,
        sync_tree: bool,
    ) -> PyResult<crate::tlog::TilesTuple> {
        Ok(self.make_tiles(py, signing_key, out_dir, origin, sync_tree)?)
    }

    /// `(commits, traces)` appended so far through this handle.
    fn group_stats(&self) -> PyResult<(u64, u64)> {
        let stats = self.shared()?.stats();
        Ok((stats.commits, stats.traces))
    }

    /// Closes the store (waiting for an operation in progress). Idempotent.
    fn close(&self, py: Python<'_>) {
        let taken = self
            .shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if std::process::id() == self.pid {
            py.detach(|| drop(taken));
        } else {
            // A forked child must not close the parent's connection (SQLite would checkpoint
            // and release what the parent holds); it leaves it alone.
            std::mem::forget(taken);
        }
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    fn __repr__(&self) -> String {
        format!("<trailseal._native.Log {:?} ({})>", self.shown, self.format)
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        if std::process::id() != self.pid {
            // See `close`: a forked child leaves the parent's store handle alone.
            let taken = self
                .shared
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            std::mem::forget(taken);
        }
    }
}

pub(crate) fn default_origin(location: &str) -> String {
    let name = Path::new(location)
        .file_name()
        .map_or_else(|| location.to_owned(), |n| n.to_string_lossy().into_owned());
    format!("trailseal.local/{name}")
}
