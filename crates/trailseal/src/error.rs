//! The library's errors. Each variant carries its cause as a value (a store error, a trace
//! error, a policy that forbids the change, a key that cannot be used, a retention log that
//! does not verify), so that callers match on what happened rather than on sentences.
//! Messages start with what they concern (a store, a file, a receipt, a seq) and say what the
//! library did (`nothing was written`); what a user could do next (flags, commands) is for the
//! caller to add — the command line's error layer does.

use trailseal_core::anchor::AnchorError;
use trailseal_core::bundle::BundleError;
use trailseal_core::note::NoteError;
use trailseal_core::retention::{LogProblem, ReceiptError};
use trailseal_core::{KeyId, TraceError, Verdict};
use trailseal_store::StoreError;

/// An error from the library. Messages start with what they concern (a store, a trace).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A trace in a batch is invalid; `index` is its 0-based position. Nothing was written.
    #[error("trace {index}: {source}")]
    Trace {
        index: usize,
        #[source]
        source: TraceError,
    },
    /// The operation needs the chain secret, and the log has none.
    #[error("no secret: the chain secret is needed for this")]
    NoSecret,
    /// The store was written with another key; nothing was written.
    #[error("{location}: {cause}; nothing was written")]
    WrongKey { location: String, cause: WrongKey },
    /// The store's records are under another key than the keyring's active key: it must be
    /// rotated to the active key first; nothing was written.
    #[error(
        "{location}: the store is under key id {store_key} ({store_label:?}), not the active key id {active} ({active_label:?}); rotate the store to the active key first; nothing was written"
    )]
    NotActiveKey {
        location: String,
        store_key: KeyId,
        store_label: String,
        active: KeyId,
        active_label: String,
    },
    /// No key of the keyring can be chosen for the store.
    #[error("{location}: {problem}")]
    NoKeyForStore { location: String, problem: String },
    /// A rotation that cannot be made; nothing was written.
    #[error("{location}: {problem}; nothing was written")]
    Rotate { location: String, problem: String },
    /// A forward-secure seal operation that cannot be done (its state, its directory, a note
    /// already there); never shows a key.
    #[error("{path}: {problem}")]
    Seal { path: String, problem: String },
    /// An operation that needs every record checked found records under a key the keyring
    /// does not hold (the store was rotated in place); nothing was changed.
    #[error(
        "{location}: seq {first_seq}: records {first_seq} to {last_seq} are under key id {key_id}, which is not held, so they cannot be checked; nothing was changed"
    )]
    KeysNotHeld {
        location: String,
        key_id: KeyId,
        first_seq: u64,
        last_seq: u64,
    },
    /// An operation that needs a verified store found one that does not verify; nothing was
    /// changed.
    #[error("refusing: the store does not verify ({}: {})", verdict.status(), verdict.detail())]
    NotVerified { verdict: Box<Verdict> },
    /// `repair` found damage other than an interrupted write at the end of the store, or
    /// records before one that do not verify (or cannot be verified); nothing was changed.
    #[error("{location}: refusing to repair: {detail}; nothing was changed")]
    NotRepairable {
        location: String,
        detail: String,
        verdict: Box<Verdict>,
    },
    /// The retention policy forbids the change; nothing was changed.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A new store (no records, no key id, no receipts) was to be started with a secret too
    /// short to resist offline guessing (under
    /// [`MIN_NEW_STORE_SECRET_BYTES`](trailseal_core::strength::MIN_NEW_STORE_SECRET_BYTES)
    /// bytes); nothing was written. Stores already written with such a secret keep working.
    #[error(
        "{location}: refusing to start a new store with a secret shorter than {min} bytes: anyone holding an anchor, a bundle or a disclosed record could guess it offline; use 32 random bytes (for example 43 characters of base64url); nothing was written",
        min = trailseal_core::strength::MIN_NEW_STORE_SECRET_BYTES
    )]
    WeakSecret { location: String },
    /// The signing key file can be written by every user: anyone could have replaced it, so
    /// it is not used.
    #[error(
        "{path}: the signing key file can be written by every user (mode {mode:o}); refusing to use it"
    )]
    WritableKeyFile { path: String, mode: u32 },
    /// A signing or public key cannot be read or used, or an anchor cannot be signed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A bundle cannot be made of the store: the range selects nothing, or the bundle format
    /// refuses what was selected. Nothing was written.
    #[error("{location}: {problem}")]
    Bundle {
        location: String,
        problem: BundleProblem,
    },
    /// An anchor vouches for another head than the store holds: the chain was truncated or
    /// rewritten after it was anchored (`verdict` says which seq, kind `truncated` or `link`).
    /// The anchor is left as it is.
    #[error("{path}: {}; the anchor there is left as it is", verdict.detail())]
    AnchorConflict { path: String, verdict: Box<Verdict> },
    /// The path where an anchor goes already holds something else: anchors are write-once and
    /// never replaced, so no anchor was written.
    #[error("{path}: already holds {what}; anchors are never replaced")]
    AnchorExists { path: String, what: String },
    /// The retention log cannot be read or does not verify, or a prune cannot be carried out
    /// as asked.
    #[error(transparent)]
    Retention(#[from] RetentionError),
    /// A file outside a store (an export, an archive, an anchor) could not be written;
    /// nothing was written there.
    #[error("{path}: {source}")]
    Write {
        path: String,
        #[source]
        source: trailseal_store::atomic::WriteError,
    },
    /// A bundle's redaction path is malformed or matches no record of the range; no bundle
    /// was made.
    #[error(transparent)]
    Redact(#[from] crate::redact::RedactError),
    /// A checkpoint, proof or consistency proof cannot be made from the store.
    #[error(transparent)]
    Tlog(#[from] crate::tlog::TlogError),
    /// An I/O error outside a store.
    #[error("{path}: {action}: {source}")]
    Io {
        path: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// How the store shows that a secret is not the one it was written with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WrongKey {
    /// The store records the key id it was written with, and it is another.
    #[error("the store was written with key id {stored}, but this secret has key id {ours}")]
    KeyId { stored: KeyId, ours: KeyId },
    /// The store records no key id, and its head record does not verify with the secret.
    #[error(
        "the head record (seq {seq}) does not verify with this secret (a different key, or the record was altered: verification tells which); refusing to use the chain with it"
    )]
    Head { seq: u64 },
    /// Every record was pruned and the store records no key id; its last retention receipt
    /// does not verify with the secret.
    #[error(
        "retention receipt {index} does not verify with this secret (a different key, or the receipt was altered: verification tells which); refusing to use the chain with it"
    )]
    Receipt { index: usize },
}

/// What the minimum-retention policy forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The minimum retention would be lowered (or removed) without that being asked for.
    #[error(
        "lowering the minimum retention from {} to {} must be asked for explicitly",
        retention_text(*.from),
        retention_text(*.to)
    )]
    Decrease {
        /// The minimum retention in force, in microseconds.
        from: Option<i64>,
        /// The one asked for.
        to: Option<i64>,
    },
    /// A prune would remove records the minimum retention keeps; nothing was pruned.
    #[error(
        "{breach}, but the store's minimum retention is {} (records invoked after {keep_after} must be kept); nothing was pruned",
        trailseal_core::time::format_duration(*.min_retention_micros)
    )]
    Prune {
        breach: PolicyBreach,
        min_retention_micros: i64,
        /// Records invoked after this time must be kept (the request's `now` minus the
        /// minimum retention).
        keep_after: trailseal_core::Timestamp,
    },
}

fn retention_text(micros: Option<i64>) -> String {
    micros.map_or_else(|| "none".into(), trailseal_core::time::format_duration)
}

/// How a prune would break the minimum retention.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyBreach {
    /// A cutoff time later than the policy allows.
    #[error("the cutoff {0} would remove records younger than that")]
    Cutoff(trailseal_core::Timestamp),
    /// Keeping the last records would remove one invoked this recently.
    #[error("keeping the last records would remove one invoked at {0}")]
    KeepLast(trailseal_core::Timestamp),
    /// Keeping the last records would remove one whose age cannot be told.
    #[error("a record to remove has no readable invoked_at")]
    NoInvokedAt,
}

/// A signing key, a public key or an anchor that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No random bytes for a new key.
    #[error("cannot draw random bytes: {0}")]
    Random(getrandom::Error),
    /// A key file does not hold a key of the expected kind.
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: NoteError,
    },
    /// A key cannot be made or used.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// An anchor cannot be signed (its origin, or the note format, refuses it).
    #[error(transparent)]
    Anchor(#[from] AnchorError),
    /// A signing-key transition cannot be made or read.
    #[error("key transition: {0}")]
    Transition(String),
}

/// Why no bundle can be made of the selected range.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleProblem {
    /// The store holds no record.
    #[error("the store holds no record to export")]
    NoRecords,
    /// The range starts before the first record the store still holds.
    #[error("seq {seq} was pruned; the chain starts at seq {first_held}")]
    Pruned { seq: u64, first_held: u64 },
    /// No record of the range falls in the time window.
    #[error(
        "no record in the time window {} to {} (since inclusive, until exclusive); {}",
        window_end(.since.as_ref()),
        window_end(.until.as_ref()),
        covered_text(*.from, *.to, .invoked.as_ref())
    )]
    NoneInWindow {
        since: Option<trailseal_core::Timestamp>,
        until: Option<trailseal_core::Timestamp>,
        /// The seq range searched.
        from: u64,
        to: u64,
        /// When the range's records were invoked (earliest, latest), if any says.
        invoked: Option<(trailseal_core::Timestamp, trailseal_core::Timestamp)>,
    },
    /// The range holds no seq.
    #[error("the range seq {from} to {to} is empty")]
    EmptyRange { from: u64, to: u64 },
    /// The range crosses a rotation in place: a bundle's records are under one chain key.
    #[error(
        "seq {first_seq}: the range seq {from} to {to} crosses the rotation to another key at seq {first_seq}; export seq {from} to {} and seq {first_seq} to {to} apart",
        first_seq - 1
    )]
    SpansRotation { from: u64, to: u64, first_seq: u64 },
    /// The bundle format refuses what was selected.
    #[error(transparent)]
    Format(BundleError),
    /// The tree checkpoint the bundle embeds cannot be made (its origin, `<origin>/tree`,
    /// breaks the checkpoint origin rules; or it cannot be signed).
    #[error("the tree checkpoint: {0}")]
    Checkpoint(trailseal_core::checkpoint::CheckpointError),
    /// The store's tree cannot give a root or a proof.
    #[error("the store's tree: {0}")]
    Tree(String),
}

fn window_end(t: Option<&trailseal_core::Timestamp>) -> String {
    t.map_or("…".to_owned(), |t| t.to_rfc3339())
}

fn covered_text(
    from: u64,
    to: u64,
    invoked: Option<&(trailseal_core::Timestamp, trailseal_core::Timestamp)>,
) -> String {
    match invoked {
        Some((earliest, latest)) => format!(
            "the records of seq {from} to {to} were invoked from {} to {}",
            earliest.to_rfc3339(),
            latest.to_rfc3339()
        ),
        None => format!("no record of seq {from} to {to} has a readable invoked_at"),
    }
}

/// The retention log cannot be read or does not verify, or a prune cannot be done as asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    /// A stored receipt cannot be read (checked without a key).
    #[error("retention {0}")]
    Receipt(#[from] ReceiptError),
    /// The retention log does not verify with the key.
    #[error(transparent)]
    Log(#[from] LogProblem),
    /// The archive asked for is the store itself.
    #[error("{path}: the archive cannot be the store itself")]
    ArchiveIsStore { path: String },
    /// The last record to prune has a `record_hash` that is not a hash.
    #[error("seq {seq}: its record_hash is not a hash")]
    RecordHash { seq: u64 },
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use trailseal_core::time::Offset;

    fn t(s: &str) -> trailseal_core::Timestamp {
        trailseal_core::Timestamp::parse(s, Offset::Required).unwrap()
    }

    const DAY: i64 = 86_400_000_000;

    /// The messages as they were when the causes were strings: the command line shows them.
    #[test]
    fn typed_causes_keep_their_messages() {
        let cases: Vec<(Error, &str)> = vec![
            (
                PolicyError::Decrease {
                    from: Some(189 * DAY),
                    to: Some(180 * DAY),
                }
                .into(),
                "lowering the minimum retention from 189d to 180d must be asked for explicitly",
            ),
            (
                PolicyError::Decrease {
                    from: Some(12 * 3_600_000_000),
                    to: None,
                }
                .into(),
                "lowering the minimum retention from 12h to none must be asked for explicitly",
            ),
            (
                PolicyError::Prune {
                    breach: PolicyBreach::Cutoff(t("2026-03-01T00:00:00Z")),
                    min_retention_micros: 182 * DAY,
                    keep_after: t("2025-09-01T00:00:00Z"),
                }
                .into(),
                "the cutoff 2026-03-01T00:00:00Z would remove records younger than that, but the store's minimum retention is 182d (records invoked after 2025-09-01T00:00:00Z must be kept); nothing was pruned",
            ),
            (
                PolicyError::Prune {
                    breach: PolicyBreach::NoInvokedAt,
                    min_retention_micros: 90 * 1_000_000,
                    keep_after: t("2025-09-01T00:00:00Z"),
                }
                .into(),
                "a record to remove has no readable invoked_at, but the store's minimum retention is 90s (records invoked after 2025-09-01T00:00:00Z must be kept); nothing was pruned",
            ),
            (
                Error::Bundle {
                    location: "audit.db".into(),
                    problem: BundleProblem::NoneInWindow {
                        since: Some(t("2020-01-01T00:00:00Z")),
                        until: Some(t("2020-02-01T00:00:00Z")),
                        from: 0,
                        to: 39,
                        invoked: Some((
                            t("2026-03-01T09:30:00.473781Z"),
                            t("2026-03-01T09:30:39.190530Z"),
                        )),
                    },
                },
                "audit.db: no record in the time window 2020-01-01T00:00:00Z to 2020-02-01T00:00:00Z (since inclusive, until exclusive); the records of seq 0 to 39 were invoked from 2026-03-01T09:30:00.473781Z to 2026-03-01T09:30:39.190530Z",
            ),
            (
                Error::Bundle {
                    location: "audit.db".into(),
                    problem: BundleProblem::NoneInWindow {
                        since: None,
                        until: Some(t("2020-02-01T00:00:00Z")),
                        from: 3,
                        to: 4,
                        invoked: None,
                    },
                },
                "audit.db: no record in the time window … to 2020-02-01T00:00:00Z (since inclusive, until exclusive); no record of seq 3 to 4 has a readable invoked_at",
            ),
            (
                Error::Bundle {
                    location: "audit.db".into(),
                    problem: BundleProblem::Pruned {
                        seq: 2,
                        first_held: 10,
                    },
                },
                "audit.db: seq 2 was pruned; the chain starts at seq 10",
            ),
            (
                RetentionError::ArchiveIsStore {
                    path: "audit.jsonl".into(),
                }
                .into(),
                "audit.jsonl: the archive cannot be the store itself",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message, "{error:?}");
        }
    }

    /// What to type next is the caller's to say: no library error, nor the verdict for a
    /// missing secret, names a flag or a command.
    #[test]
    fn no_message_names_a_flag_or_a_command() {
        let key_id = |s: &[u8]| trailseal_core::ChainKey::from_secret(s).unwrap().key_id();
        let messages = [
            Error::NoSecret.to_string(),
            crate::verify::no_secret().detail(),
            Error::WeakSecret {
                location: "a.db".into(),
            }
            .to_string(),
            Error::WrongKey {
                location: "a.db".into(),
                cause: WrongKey::KeyId {
                    stored: key_id(b"one secret"),
                    ours: key_id(b"another secret"),
                },
            }
            .to_string(),
            Error::WrongKey {
                location: "a.db".into(),
                cause: WrongKey::Head { seq: 4 },
            }
            .to_string(),
            Error::WrongKey {
                location: "a.db".into(),
                cause: WrongKey::Receipt { index: 2 },
            }
            .to_string(),
            PolicyError::Decrease {
                from: Some(DAY),
                to: None,
            }
            .to_string(),
        ];
        for message in messages {
            assert!(
                !message.contains("--") && !message.contains("`trailseal"),
                "{message}"
            );
        }
    }
}
