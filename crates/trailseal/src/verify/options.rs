//! [`VerifyOptions`]: everything verification can be asked to do besides checking the chain.

use trailseal_core::Verdict;
use trailseal_core::note::NoteVerifier;
use trailseal_core::verify::RecordView;

use super::anchors::{AnchorCheck, open_anchor};
use super::checkpoints::{CheckpointCheck, WitnessQuorum, open_checkpoint, quorum_verdict};
use trailseal_core::cosignature::WitnessKey;

/// How far verification has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub records_checked: u64,
    /// How many records the store holds, when it can tell.
    pub total_hint: Option<u64>,
}

/// A callback shown each record that passed, in chain order.
type Observer<'a> = dyn FnMut(&RecordView<'_>) + 'a;

/// How to verify a store: every part optional, none of them changes what is checked or the
/// verdict of the chain itself. Start from [`VerifyOptions::new`] (or `Default`) and set what
/// is needed; parts may be added in later versions without breaking callers.
///
/// ```
/// # use trailseal::{AuditLog, VerifyOptions, store::memory::MemoryStore, ChainKey};
/// let mut log = AuditLog::from_store(Box::new(MemoryStore::new()))
///     .with_key(ChainKey::from_secret(b"a secret for the example").unwrap());
/// let mut checked = 0;
/// let verdict = log.verify_with(
///     &mut VerifyOptions::new()
///         .threads(2)
///         .progress(|p| checked = p.records_checked),
/// );
/// assert!(verdict.is_verified());
/// ```
///
/// The callbacks are called on the calling thread. The options are taken `&mut` because the
/// callbacks are `FnMut`; the same options can verify several stores one after the other.
#[derive(Default)]
pub struct VerifyOptions<'a> {
    pub(super) threads: Option<usize>,
    pub(super) anchors: Vec<AnchorCheck>,
    /// An anchor that could not be opened: the verdict, whatever the store holds.
    pub(super) unusable_anchor: Option<Verdict>,
    pub(super) checkpoints: Vec<CheckpointCheck>,
    /// A checkpoint that could not be opened: the verdict, whatever the store holds.
    pub(super) unusable_checkpoint: Option<Verdict>,
    pub(super) witnesses: Option<WitnessQuorum>,
    /// Forward-secure seals: each a tree head to check (without a witness quorum) and a head
    /// record the chain must hold.
    pub(super) seals: Vec<CheckpointCheck>,
    pub(super) seal_heads: Vec<trailseal_core::verify::Expectation>,
    pub(super) unusable_seal: Option<Verdict>,
    pub(super) progress: Option<Box<dyn FnMut(Progress) + 'a>>,
    pub(super) observer: Option<Box<Observer<'a>>>,
    /// Every key to check the store with; without one, the one key given.
    pub(crate) keyring: Option<trailseal_core::Keyring>,
}

impl std::fmt::Debug for VerifyOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("threads", &self.threads)
            .field("anchors", &self.anchors)
            .field("unusable_anchor", &self.unusable_anchor)
            .field("checkpoints", &self.checkpoints)
            .field("unusable_checkpoint", &self.unusable_checkpoint)
            .field("witnesses", &self.witnesses)
            .field("progress", &self.progress.is_some())
            .field("observer", &self.observer.is_some())
            .field("keyring", &self.keyring)
            .finish()
    }
}

impl<'a> VerifyOptions<'a> {
    /// No anchors, no callbacks; the default thread count (an [`AuditLog`]'s own, see
    /// [`AuditLog::with_threads`], or else [`default_threads`](super::default_threads)).
    ///
    /// [`AuditLog`]: crate::AuditLog
    /// [`AuditLog::with_threads`]: crate::AuditLog::with_threads
    pub fn new() -> Self {
        Self::default()
    }

    /// Verifies with every key of `ring`: a store rotated from one key to another is checked
    /// with each key where it applies, and what no held key covers is named in a
    /// `keys-not-held` caveat. (An [`AuditLog`](crate::AuditLog) gives its own keyring.)
    pub fn keyring(mut self, ring: trailseal_core::Keyring) -> Self {
        self.keyring = Some(ring);
        self
    }

    /// Verifies on `threads` threads (1: everything on the calling thread; 0 counts as 1).
    /// The verdict does not depend on it.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Also checks the store against these signed anchors: it must still hold each anchored
    /// record (else `truncated`, or `link` for a different hash), or a verified retention
    /// receipt or checkpoint must account for it.
    pub fn anchors(mut self, anchors: impl IntoIterator<Item = AnchorCheck>) -> Self {
        self.anchors.extend(anchors);
        self
    }

    /// [`VerifyOptions::anchors`], from anchor notes (label, note text) opened with `public`.
    /// A note that cannot be opened with it (another key, an altered note) makes the verdict
    /// `unverifiable` (reason `wrong public key`) whatever the store holds.
    pub fn anchor_notes(mut self, notes: &[(String, String)], public: &NoteVerifier) -> Self {
        for (label, note) in notes {
            match open_anchor(label, note, public) {
                Ok(check) => self.anchors.push(check),
                Err(verdict) => {
                    self.unusable_anchor.get_or_insert(verdict);
                }
            }
        }
        self
    }

    /// Also checks the store's Merkle tree against these signed C2SP checkpoints (label, note
    /// text), opened with the log's key `public`, in the same verification: each must state the
    /// store's tree at its size (a larger size is `truncated`, another root `fork`), and no
    /// two of one origin may be inconsistent with each other (a split view: `fork`, naming
    /// both). A note that cannot be opened with `public` (another key, altered, extension
    /// lines, not a checkpoint) makes the verdict `unverifiable` (reason `wrong public key`)
    /// whatever the store holds.
    pub fn checkpoint_notes(mut self, notes: &[(String, String)], public: &NoteVerifier) -> Self {
        for (label, note) in notes {
            match open_checkpoint(label, note, public) {
                Ok(check) => self.checkpoints.push(check),
                Err(verdict) => {
                    self.unusable_checkpoint.get_or_insert(verdict);
                }
            }
        }
        self
    }

    /// [`VerifyOptions::anchor_notes`] and [`VerifyOptions::checkpoint_notes`] with a key
    /// history ([`crate::transitions::key_history`]) instead of one key: an anchor must be
    /// signed by a key valid at its time (else `unverifiable`, wrong public key, naming the key
    /// and its window); a checkpoint by any key of the history. A history that did not walk
    /// makes the verdict `unverifiable` whatever the store holds.
    pub fn notes_with_history(
        mut self,
        anchors: &[(String, String)],
        checkpoints: &[(String, String)],
        history: Result<Vec<trailseal_core::transition::KeyValidity>, Verdict>,
    ) -> Self {
        let keys = match history {
            Ok(keys) => keys,
            Err(verdict) => {
                self.unusable_anchor.get_or_insert(verdict);
                return self;
            }
        };
        for (label, note) in anchors {
            match crate::transitions::open_anchor_with(label, note, &keys) {
                Ok(check) => self.anchors.push(check),
                Err(verdict) => {
                    self.unusable_anchor.get_or_insert(verdict);
                }
            }
        }
        for (label, note) in checkpoints {
            match crate::transitions::open_checkpoint_with(label, note, &keys) {
                Ok(check) => self.checkpoints.push(check),
                Err(verdict) => {
                    self.unusable_checkpoint.get_or_insert(verdict);
                }
            }
        }
        self
    }

    /// Every checkpoint given ([`VerifyOptions::checkpoint_notes`]) must carry valid
    /// cosignatures by at least `quorum` of the distinct `witnesses` (counted as
    /// `trailseal_core::witness::evaluate_quorum` counts), else the verdict is `unverifiable`,
    /// reason `witness quorum not met`, whatever the store holds; so is a quorum of 0 or above
    /// the number of distinct keys, and a cosignature by one of them that does not verify.
    pub fn witness_quorum(mut self, witnesses: Vec<WitnessKey>, quorum: usize) -> Self {
        self.witnesses = Some(WitnessQuorum { witnesses, quorum });
        self
    }

    /// Also checks the store against forward-secure seals, as
    /// [`read_seals`](crate::seal::read_seals) walked them from the root key: each seal's tree
    /// must be the store's at its size (as a checkpoint's) and its head record must still be
    /// in the chain (as an anchor's). A walk that failed makes the verdict `tampered` whatever
    /// the store holds: kind `seal` for a forged, altered or missing note, `truncated` for an
    /// epoch overdue at the verifier's "now".
    pub fn seals(
        mut self,
        walked: Result<trailseal_core::seal::Walked, trailseal_core::seal::SealProblem>,
    ) -> Self {
        use trailseal_core::seal::SealProblem;
        match walked {
            Ok(walked) => {
                for s in walked.seals {
                    let label = format!("seal {}", s.seal.epoch);
                    if let Some((seq, hash)) = s.seal.head {
                        self.seal_heads.push(trailseal_core::verify::Expectation {
                            seq,
                            record_hash: hash.as_bytes().to_vec(),
                            source: label.clone(),
                        });
                    }
                    self.seals.push(CheckpointCheck {
                        checkpoint: s.seal.checkpoint,
                        label,
                        note: s.note,
                        log: s.key,
                    });
                }
            }
            Err(problem) => {
                let kind = match problem {
                    SealProblem::Overdue { .. } => trailseal_core::TamperKind::Truncated,
                    _ => trailseal_core::TamperKind::Seal,
                };
                let seq = problem.first_unsealed();
                self.unusable_seal
                    .get_or_insert(Verdict::Tampered(trailseal_core::Tampered {
                        first_bad_seq: seq,
                        kind,
                        records_checked: 0,
                        detail: format!("seq {seq}: seals: {problem}"),
                    }));
            }
        }
        self
    }

    /// The verdict the options alone decide, before the store is read: an anchor or checkpoint
    /// that cannot be used, a checkpoint without its witness quorum, seals that do not walk.
    pub(crate) fn unusable(&self) -> Option<Verdict> {
        if let Some(v) = self
            .unusable_anchor
            .as_ref()
            .or(self.unusable_checkpoint.as_ref())
            .or(self.unusable_seal.as_ref())
        {
            return Some(v.clone());
        }
        self.witnesses
            .as_ref()
            .and_then(|policy| quorum_verdict(&self.checkpoints, policy))
    }

    /// Reports progress to `progress` as records are checked.
    pub fn progress(mut self, progress: impl FnMut(Progress) + 'a) -> Self {
        self.progress = Some(Box::new(progress));
        self
    }

    /// Shows `observer` every record that passed, in chain order. The store is then read by
    /// one reader, and read once: a store that changes while it is read without locks gives an
    /// `unverifiable` verdict instead of being read again (the observer saw the first read).
    pub fn observer(mut self, observer: impl FnMut(&RecordView<'_>) + 'a) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    /// The thread count asked for, else `default`.
    pub(crate) fn threads_or(&self, default: usize) -> usize {
        self.threads.unwrap_or(default).max(1)
    }
}
