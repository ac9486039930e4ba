//! Forward-secure seals of a store (format.md §13): the writer's epoch state, the seal
//! directory, and reading that directory back for verification.
//!
//! The **state** file holds the open epoch's number, its private key and what closes it (mode
//! 0600, replaced atomically). The **seal directory** holds `<e>.cert` (epoch e's
//! certificate, signed by epoch e−1's key; epoch 0's by its own) and `<e>.seal` (epoch e's seal,
//! signed by its key). Closing epoch e: its seal is written (never over another), the next
//! epoch's key is drawn and certified by epoch e's, the state is rewritten with the new key —
//! only then does anything of the new epoch get written — and epoch e's key is dropped (it is
//! zeroized on drop). A crash after the seal and before the state leaves the seal in place;
//! the next run finds it and completes the step (the uncommitted certificate, whose key was
//! never stored, is written again).
//!
//! The root public key (epoch 0's) is what a verifier trusts: it is returned by
//! [`AuditLog::seal_init`] and written to `root.pub` in the directory, but verification takes
//! it from the caller, never from the directory.

use std::io::Read;
use std::path::{Path, PathBuf};

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::json::{self, Kind, Mode};
use trailseal_core::note::{NoteSigner, NoteVerifier};
use trailseal_core::seal::{
    EpochCert, EpochPolicy, NoteKind, Seal, SealProblem, Walked, epoch_key_name, walk,
};
use trailseal_core::time::Offset;
use trailseal_core::{Hash32, Timestamp};
use trailseal_store::atomic::{PRIVATE, WriteError, write_new};
use zeroize::Zeroizing;

use crate::error::{Error, KeyError};
use crate::log::AuditLog;

/// The format line of a state file.
const STATE_FORMAT: &str = "trailseal-seal-state 1";
/// The largest note or state file read.
const MAX_FILE: u64 = 64 * 1024;
/// The most seal and certificate files a directory may hold.
const MAX_FILES: usize = 4_000_000;

/// What a new seal chain needs: the origin its notes name and what closes an epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealSetup {
    pub origin: String,
    pub policy: EpochPolicy,
}

/// What [`AuditLog::seal`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealReport {
    /// The epoch it sealed, if it closed one.
    pub sealed: Option<u64>,
    /// The epoch open now.
    pub epoch: u64,
    /// The tree size the seal states (or, when nothing was sealed, the size now).
    pub tree_size: u64,
    /// Why the epoch closed: `"records"`, `"time"`, `"forced"`, or `"resumed"` (a seal an
    /// interrupted run had written); `None` when it did not.
    pub reason: Option<&'static str>,
}

/// The writer's state: the open epoch and its key. `Debug` never shows the key.
struct State {
    origin: String,
    epoch: u64,
    signer: NoteSigner,
    starts: Timestamp,
    start_size: u64,
    policy: EpochPolicy,
    root: NoteVerifier,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("origin", &self.origin)
            .field("epoch", &self.epoch)
            .field("starts", &self.starts)
            .finish_non_exhaustive()
    }
}

fn seal_error(path: &Path, problem: impl Into<String>) -> Error {
    Error::Seal {
        path: path.display().to_string(),
        problem: problem.into(),
    }
}

fn read_small(path: &Path, what: &'static str) -> Result<Option<Zeroizing<String>>, Error> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        action: what,
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut text = Zeroizing::new(String::new());
    let n = file
        .take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if n as u64 > MAX_FILE {
        return Err(seal_error(path, format!("larger than {MAX_FILE} bytes")));
    }
    Ok(Some(text))
}

impl State {
    fn to_json(&self) -> Zeroizing<String> {
        let key = Zeroizing::new(self.signer.to_key_string());
        let mut out = Zeroizing::new(String::new());
        out.push_str(&format!(
            "{{\"epoch\":{},\"key\":\"{}\",\"max_records\":{},\"max_seconds\":{},\"origin\":{},\"root\":\"{}\",\"start_size\":{},\"starts\":\"{}\",\"state\":\"{STATE_FORMAT}\"}}\n",
            self.epoch,
            key.as_str(),
            self.policy.max_records,
            self.policy.max_seconds,
            json_string(&self.origin),
            self.root.to_key_string(),
            self.start_size,
            self.starts.to_rfc3339(),
        ));
        out
    }

    fn read(path: &Path) -> Result<State, Error> {
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode();
            if mode & 0o002 != 0 {
                return Err(Error::WritableKeyFile {
                    path: path.display().to_string(),
                    mode: mode & 0o7777,
                });
            }
        }
        let text = read_small(path, "read the seal state")?
            .ok_or_else(|| seal_error(path, "no seal state (run `trailseal seal --init` first)"))?;
        let bad = |why: &str| seal_error(path, format!("not a seal state: {why}"));
        let doc = json::parse(text.as_bytes()).map_err(|_| bad("not JSON"))?;
        let root = doc.root();
        if root.kind() != Kind::Object || doc.find_duplicate_key().is_some() {
            return Err(bad("not one JSON object"));
        }
        let string = |name: &str| {
            root.get(name)
                .and_then(|n| n.as_str())
                .ok_or_else(|| bad(&format!("no `{name}` string")))
        };
        let number = |name: &str| {
            root.get(name)
                .and_then(|n| n.as_u64())
                .ok_or_else(|| bad(&format!("no `{name}` number")))
        };
        if string("state")? != STATE_FORMAT {
            return Err(bad("another format"));
        }
        let key_text = Zeroizing::new(string("key")?.to_owned());
        let signer = NoteSigner::parse(&key_text).map_err(|_| bad("`key` is not a signing key"))?;
        let state = State {
            origin: string("origin")?.to_owned(),
            epoch: number("epoch")?,
            signer,
            starts: Timestamp::parse(string("starts")?, Offset::Required)
                .map_err(|_| bad("`starts` is not a time"))?,
            start_size: number("start_size")?,
            policy: EpochPolicy {
                max_records: number("max_records")?.max(1),
                max_seconds: number("max_seconds")?.max(1),
            },
            root: NoteVerifier::parse(string("root")?).map_err(|_| bad("`root` is not a key"))?,
        };
        if state.signer.name() != epoch_key_name(&state.origin, state.epoch) {
            return Err(bad("its key is not the open epoch's"));
        }
        let mut canonical = Vec::new();
        root.write_canonical(&mut canonical, Mode::Strict)
            .map_err(|_| bad("not canonical"))?;
        if canonical.as_slice() != state.to_json().trim_end().as_bytes() {
            return Err(bad("has members this format does not define"));
        }
        Ok(state)
    }

    fn write(&self, path: &Path) -> Result<(), Error> {
        let text = self.to_json();
        crate::export::write_atomically(path, |out| {
            out.write_all(text.as_bytes())
                .map_err(|source| Error::Write {
                    path: path.display().to_string(),
                    source: WriteError::Io {
                        action: "write",
                        source,
                    },
                })
        })
    }
}

fn json_string(s: &str) -> String {
    let mut out = Vec::new();
    json::write_json_string(s, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

fn random_signer(origin: &str, epoch: u64) -> Result<NoteSigner, Error> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(KeyError::Random)?;
    Ok(NoteSigner::from_seed(&epoch_key_name(origin, epoch), &seed).map_err(KeyError::Note)?)
}

/// The path of epoch `epoch`'s note of `kind` in `dir`.
fn note_path(dir: &Path, kind: NoteKind, epoch: u64) -> PathBuf {
    let ext = match kind {
        NoteKind::Certificate => "cert",
        NoteKind::Seal => "seal",
    };
    dir.join(format!("{epoch}.{ext}"))
}

/// Writes `note` at `path` unless something is there; the same text there already is fine,
/// other text is refused (a note is never replaced).
fn write_once(path: &Path, note: &str) -> Result<(), Error> {
    match write_new(path, PRIVATE | 0o044, note.as_bytes()) {
        Ok(()) => Ok(()),
        Err(WriteError::Exists) => match read_small(path, "read the existing note")? {
            Some(existing) if existing.as_str() == note => Ok(()),
            _ => Err(seal_error(
                path,
                "another note is already there; nothing was replaced",
            )),
        },
        Err(source) => Err(Error::Write {
            path: path.display().to_string(),
            source,
        }),
    }
}

impl AuditLog {
    /// Starts forward-secure sealing of this store: draws epoch 0's key, writes its
    /// self-signed certificate to `dir` and the state to `state_path` (neither may exist yet),
    /// and returns the root public key, to be kept where the writer's host cannot change it.
    pub fn seal_init(
        &mut self,
        dir: &Path,
        state_path: &Path,
        setup: &SealSetup,
        now: Timestamp,
    ) -> Result<NoteVerifier, Error> {
        trailseal_core::checkpoint::check_origin(&setup.origin)
            .map_err(|e| seal_error(dir, format!("origin: {e}")))?;
        if setup.policy.max_records == 0 || setup.policy.max_seconds == 0 {
            return Err(seal_error(
                dir,
                "an epoch needs at least one record and one second",
            ));
        }
        if state_path.exists() {
            return Err(seal_error(state_path, "a seal state is already there"));
        }
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            action: "create the seal directory",
            source,
        })?;
        let size = self.with_verified_tree(|tree| Ok(tree.head().size))?;
        let signer = random_signer(&setup.origin, 0)?;
        let root = signer.verifier();
        let cert = EpochCert {
            origin: setup.origin.clone(),
            epoch: 0,
            key: root.clone(),
            starts: now,
            start_size: size,
            policy: setup.policy,
        };
        let note = cert
            .sign(&signer)
            .map_err(|e| seal_error(dir, e.to_string()))?;
        let state = State {
            origin: setup.origin.clone(),
            epoch: 0,
            signer,
            starts: now,
            start_size: size,
            policy: setup.policy,
            root: root.clone(),
        };
        write_once(&note_path(dir, NoteKind::Certificate, 0), &note)?;
        state.write(state_path)?;
        write_once(
            &dir.join("root.pub"),
            &format!("{}\n", root.to_key_string()),
        )?;
        Ok(root)
    }

    /// Closes the open epoch when it is due — its records reached `max_records`, or `now` is
    /// `max_seconds` past its start — or when `force`: seals the verified tree and chain head
    /// with the epoch's key, then moves to the next epoch (see the module documentation). A
    /// `now` before the epoch's start (a clock stepped back) never closes it by time.
    pub fn seal(
        &mut self,
        dir: &Path,
        state_path: &Path,
        now: Timestamp,
        force: bool,
    ) -> Result<SealReport, Error> {
        let state = State::read(state_path)?;
        let seal_path = note_path(dir, NoteKind::Seal, state.epoch);
        // An interrupted run wrote this epoch's seal and not the state: complete it.
        if let Some(note) = read_small(&seal_path, "read the seal")? {
            let seal = Seal::open(&note, &state.signer.verifier()).map_err(|e| {
                seal_error(
                    &seal_path,
                    format!("does not open with the epoch's key: {e}"),
                )
            })?;
            let size = seal.checkpoint.size();
            self.advance(dir, state_path, state, &seal)?;
            return Ok(SealReport {
                sealed: Some(seal.epoch),
                epoch: seal.epoch.saturating_add(1),
                tree_size: size,
                reason: Some("resumed"),
            });
        }
        // Cheap first: most calls (one per appended batch) find nothing due.
        let stored = self.store_mut().state()?.tree.map_or(0, |t| t.size());
        let by_time = now
            >= state
                .starts
                .saturating_add_micros(state.policy.max_micros());
        let by_records = stored.saturating_sub(state.start_size) >= state.policy.max_records;
        let reason = match (force, by_records, by_time) {
            (true, _, _) => "forced",
            (_, true, _) => "records",
            (_, _, true) => "time",
            _ => {
                return Ok(SealReport {
                    sealed: None,
                    epoch: state.epoch,
                    tree_size: stored,
                    reason: None,
                });
            }
        };
        let origin = state.origin.clone();
        let epoch = state.epoch;
        let closed = if now < state.starts {
            state.starts
        } else {
            now
        };
        let (seal, note) = self.with_verified_tree(|tree| {
            let head = tree.head();
            let checkpoint = Checkpoint::new(&origin, head.size, *head.root.as_bytes())
                .map_err(|e| seal_error(dir, e.to_string()))?;
            let last = head
                .size
                .checked_sub(1)
                .map(|i| head.base.saturating_add(i));
            let chain_head = match (&tree.state().head, last) {
                (Some((seq, hash)), Some(last)) if *seq == last => {
                    Some((*seq, Hash32::parse(hash).ok_or_else(|| seal_error(dir, "the head's hash is not a hash"))?))
                }
                (_, None) => None,
                _ => {
                    return Err(seal_error(
                        dir,
                        "the tree does not hold the chain's head yet (records weaver-kernel appended): run `trailseal checkpoint` or append with trailseal first",
                    ));
                }
            };
            let seal = Seal {
                checkpoint,
                epoch,
                head: chain_head,
                closed,
            };
            let note = seal
                .sign(&state.signer)
                .map_err(|e| seal_error(dir, e.to_string()))?;
            Ok((seal, note))
        })?;
        write_once(&seal_path, &note)?;
        let size = seal.checkpoint.size();
        self.advance(dir, state_path, state, &seal)?;
        Ok(SealReport {
            sealed: Some(epoch),
            epoch: epoch.saturating_add(1),
            tree_size: size,
            reason: Some(reason),
        })
    }

    /// After epoch `state.epoch`'s seal is written: certifies the next epoch's new key with the
    /// current one, rewrites the state with the new key, and drops the current key.
    fn advance(
        &mut self,
        dir: &Path,
        state_path: &Path,
        state: State,
        seal: &Seal,
    ) -> Result<(), Error> {
        let next = state.epoch.saturating_add(1);
        let signer = random_signer(&state.origin, next)?;
        let cert = EpochCert {
            origin: state.origin.clone(),
            epoch: next,
            key: signer.verifier(),
            starts: seal.closed,
            start_size: seal.checkpoint.size(),
            policy: state.policy,
        };
        let note = cert
            .sign(&state.signer)
            .map_err(|e| seal_error(dir, e.to_string()))?;
        // Replaced if an interrupted run left one: its key was never stored, so it certifies
        // nothing anyone can sign with.
        let cert_path = note_path(dir, NoteKind::Certificate, next);
        crate::export::write_atomically(&cert_path, |out| {
            out.write_all(note.as_bytes())
                .map_err(|source| Error::Write {
                    path: cert_path.display().to_string(),
                    source: WriteError::Io {
                        action: "write",
                        source,
                    },
                })
        })?;
        let new_state = State {
            origin: state.origin.clone(),
            epoch: next,
            signer,
            starts: seal.closed,
            start_size: seal.checkpoint.size(),
            policy: state.policy,
            root: state.root.clone(),
        };
        new_state.write(state_path)?;
        // `state` (epoch e's key) is dropped here; the signing key zeroizes itself.
        drop(state);
        Ok(())
    }
}

/// Reads `dir` and walks its certificates and seals from `root` (see
/// [`trailseal_core::seal::walk`]): a problem is `Ok(Err(problem))`, an unreadable directory
/// `Err`.
pub fn read_seals(
    dir: &Path,
    root: &NoteVerifier,
    now: Option<Timestamp>,
    grace_micros: i64,
) -> Result<Result<Walked, SealProblem>, Error> {
    let io = |source| Error::Io {
        path: dir.display().to_string(),
        action: "read the seal directory",
        source,
    };
    let mut highest = 0u64;
    let mut files = 0usize;
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        let Some(name) = name.to_str() else { continue };
        let epoch = name
            .strip_suffix(".cert")
            .or_else(|| name.strip_suffix(".seal"))
            .and_then(trailseal_core::checkpoint::parse_decimal);
        if let Some(e) = epoch {
            files += 1;
            highest = highest.max(e);
        }
        if files > MAX_FILES {
            return Err(seal_error(dir, format!("more than {MAX_FILES} notes")));
        }
    }
    let mut failed = None;
    let mut fetch = |kind: NoteKind, epoch: u64| -> Option<String> {
        match read_small(&note_path(dir, kind, epoch), "read a seal note") {
            Ok(text) => text.map(|t| t.as_str().to_owned()),
            Err(e) => {
                failed.get_or_insert(e);
                None
            }
        }
    };
    let walked = walk(root, &mut fetch, highest, now, grace_micros);
    match failed {
        Some(e) => Err(e),
        None => Ok(walked),
    }
}
