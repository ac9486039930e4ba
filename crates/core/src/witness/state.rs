//! What a log remembers about each witness, and what it may send it next.
//!
//! One [`WitnessRecord`] per witness key and origin: the latest checkpoint that witness
//! cosigned, kept as a minimal note (the checkpoint body, the log's signature line and the
//! witness's cosignature line), so the record is evidence a third party can check, not just
//! a size. [`WitnessStates`] is written as one canonical JSON document:
//!
//! ```text
//! {"format":"trailseal-witness-state/v1","witnesses":[{"note":"<origin>\n<size>\n<root>\n\n\u2014 <log> ...\n\u2014 <witness> ...\n","origin":"<origin>","root":"<base64>","size":<size>,"time":<cosignature timestamp>,"witness":"<witness vkey>"}]}
//! ```
//!
//! followed by a newline; entries sorted by witness vkey, then origin. Reading is strict: the
//! text must be exactly what [`WitnessStates::to_text`] writes for what it holds (no other
//! member, spacing or order, no repeated entry), every note must open with the log's key and
//! carry a valid cosignature by the entry's witness, and `origin`, `root`, `size` and `time`
//! must be the note's.
//!
//! # What is sent next
//! [`WitnessStates::next`]: `old` is the size this witness last cosigned for the origin (0 if
//! none). A checkpoint smaller than that, or of that size with another root, is never
//! submitted ([`Refusal::Rollback`], [`Refusal::Fork`]): the log rolled back or forked. A
//! checkpoint the witness already cosigned needs no request ([`Next::AlreadyCosigned`]).
//! After a `409`, [`WitnessStates::after_conflict`] gives the `old` to retry with, or refuses.

use std::collections::BTreeMap;

use crate::checkpoint::Checkpoint;
use crate::cosignature::{WitnessKey, verify_cosignatures};
use crate::json::{self, Kind, NodeRef};
use crate::note::{NoteVerifier, split_signed};

use super::merge::line_text;

/// The `format` member of the state document.
pub const STATE_FORMAT: &str = "trailseal-witness-state/v1";
/// The largest state document read, in bytes.
pub const MAX_STATE_LEN: usize = 1 << 22;

/// A state document that cannot be read, or a record that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("witness state: larger than {MAX_STATE_LEN} bytes")]
    TooLarge,
    #[error("witness state: not JSON")]
    Json,
    #[error("witness state: {0}")]
    Document(&'static str),
    #[error("witness state entry {entry}: {why}")]
    Entry { entry: usize, why: String },
    #[error("witness state entry {entry}: a second entry for this witness and origin")]
    Duplicate { entry: usize },
    #[error("witness state: does not read back as written (spacing, order or members)")]
    NotCanonical,
    #[error("witness {witness}: the note: {why}")]
    Note { witness: String, why: String },
}

/// A checkpoint that must not be sent to a witness, or a witness answer that must not be
/// followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The checkpoint is smaller than one the witness cosigned: the log rolled back.
    #[error(
        "witness {witness}: checkpoint size {size} is smaller than the size {cosigned} it cosigned: a rollback"
    )]
    Rollback {
        witness: String,
        cosigned: u64,
        size: u64,
    },
    /// The checkpoint has the size the witness cosigned, with another root: a fork.
    #[error(
        "witness {witness}: checkpoint size {size}: another root than the one it cosigned: a fork"
    )]
    Fork { witness: String, size: u64 },
    /// The witness holds a larger tree than the checkpoint.
    #[error(
        "witness {witness}: holds size {witness_size}, larger than the checkpoint size {size}: the checkpoint is stale, or the log rolled back"
    )]
    WitnessAhead {
        witness: String,
        witness_size: u64,
        size: u64,
    },
    /// The witness holds a smaller tree than one it was seen to cosign.
    #[error(
        "witness {witness}: holds size {witness_size}, smaller than the size {cosigned} it cosigned: the witness lost or rolled back its state"
    )]
    WitnessRolledBack {
        witness: String,
        cosigned: u64,
        witness_size: u64,
    },
    /// A `409` naming the very `old` that was sent.
    #[error(
        "witness {witness}: 409 naming the size {size} that was sent (another root at that size?)"
    )]
    ConflictAtSentSize { witness: String, size: u64 },
}

/// What to do for one witness and one checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next<'s> {
    /// Send `add-checkpoint` with this `old` and the consistency proof from it.
    Submit { old: u64 },
    /// The witness already cosigned this checkpoint: its record holds the cosignature.
    AlreadyCosigned(&'s WitnessRecord),
}

/// The latest checkpoint one witness cosigned for one origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessRecord {
    witness: WitnessKey,
    checkpoint: Checkpoint,
    timestamp: u64,
    note: String,
}

impl WitnessRecord {
    /// The record of `witness` having cosigned `note` (a checkpoint signed by `log`, with at
    /// least one valid cosignature by `witness`; its latest is kept). The note is reduced to
    /// the body, the log's signature line and that cosignature line.
    pub fn from_note(
        witness: &WitnessKey,
        log: &NoteVerifier,
        note: &str,
    ) -> Result<Self, StateError> {
        let bad = |why: String| StateError::Note {
            witness: witness.name().to_owned(),
            why,
        };
        let checkpoint = Checkpoint::open(note, log).map_err(|e| bad(e.to_string()))?;
        let found = verify_cosignatures(note, std::slice::from_ref(witness))
            .map_err(|e| bad(e.to_string()))?;
        let timestamp = found
            .first()
            .map(|c| c.timestamp)
            .ok_or_else(|| bad("no cosignature by this witness".to_owned()))?;
        let (body, lines) = split_signed(note).map_err(|e| bad(e.to_string()))?;
        let log_line = lines
            .iter()
            .find(|l| l.name == log.name() && l.key_hash == log.key_hash());
        let witness_line = lines.iter().find(|l| {
            l.name == witness.name()
                && l.key_hash == witness.key_id()
                && l.signature.get(..8) == Some(timestamp.to_be_bytes().as_slice())
        });
        let (Some(log_line), Some(witness_line)) = (log_line, witness_line) else {
            return Err(bad("no signature line by the log or the witness".to_owned()));
        };
        let note = format!(
            "{body}\n{}\n{}\n",
            line_text(log_line),
            line_text(witness_line)
        );
        Ok(Self {
            witness: witness.clone(),
            checkpoint,
            timestamp,
            note,
        })
    }

    /// The witness.
    pub fn witness(&self) -> &WitnessKey {
        &self.witness
    }

    /// The checkpoint it cosigned.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The cosignature's timestamp (seconds since the Unix epoch, the witness's clock).
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The minimal cosigned note: body, log signature, this witness's cosignature.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// The cosignature line (with its newline), for [`super::merge_cosignatures`].
    pub fn cosignature_line(&self) -> &str {
        // The note ends in "<log line>\n<witness line>\n".
        let trimmed = self.note.strip_suffix('\n').unwrap_or(&self.note);
        let start = trimmed.rfind('\n').map_or(0, |i| i + 1);
        self.note.get(start..).unwrap_or_default()
    }
}

/// What each witness has cosigned, by witness vkey and origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessStates {
    records: BTreeMap<(String, String), WitnessRecord>,
}

fn key(witness: &WitnessKey, origin: &str) -> (String, String) {
    (witness.to_vkey(), origin.to_owned())
}

impl WitnessStates {
    /// No witness has cosigned anything.
    pub fn new() -> Self {
        Self::default()
    }

    /// The record of `witness` for `origin`.
    pub fn get(&self, witness: &WitnessKey, origin: &str) -> Option<&WitnessRecord> {
        self.records.get(&key(witness, origin))
    }

    /// Every record, sorted by witness vkey, then origin.
    pub fn records(&self) -> impl Iterator<Item = &WitnessRecord> {
        self.records.values()
    }

    /// What to send `witness` for `checkpoint` (see the module documentation).
    pub fn next(&self, witness: &WitnessKey, checkpoint: &Checkpoint) -> Result<Next<'_>, Refusal> {
        let Some(record) = self.get(witness, checkpoint.origin()) else {
            return Ok(Next::Submit { old: 0 });
        };
        let cosigned = record.checkpoint.size();
        let size = checkpoint.size();
        if size < cosigned {
            return Err(Refusal::Rollback {
                witness: witness.name().to_owned(),
                cosigned,
                size,
            });
        }
        if size == cosigned {
            if record.checkpoint.root() != checkpoint.root() {
                return Err(Refusal::Fork {
                    witness: witness.name().to_owned(),
                    size,
                });
            }
            return Ok(Next::AlreadyCosigned(record));
        }
        Ok(Next::Submit { old: cosigned })
    }

    /// The `old` to retry with after `witness` answered `409` with `witness_size` to a
    /// request from `sent_old` for `checkpoint`: `witness_size` itself, unless it is larger
    /// than the checkpoint, smaller than a size this witness was seen to cosign, or the size
    /// that was sent.
    pub fn after_conflict(
        &self,
        witness: &WitnessKey,
        checkpoint: &Checkpoint,
        sent_old: u64,
        witness_size: u64,
    ) -> Result<u64, Refusal> {
        let name = || witness.name().to_owned();
        if witness_size == sent_old {
            return Err(Refusal::ConflictAtSentSize {
                witness: name(),
                size: sent_old,
            });
        }
        if witness_size > checkpoint.size() {
            return Err(Refusal::WitnessAhead {
                witness: name(),
                witness_size,
                size: checkpoint.size(),
            });
        }
        if let Some(record) = self.get(witness, checkpoint.origin()) {
            let cosigned = record.checkpoint.size();
            if witness_size < cosigned {
                return Err(Refusal::WitnessRolledBack {
                    witness: name(),
                    cosigned,
                    witness_size,
                });
            }
        }
        Ok(witness_size)
    }

    /// Records what a witness cosigned. A record never goes back: a smaller checkpoint or
    /// one of the same size with another root is refused; the same checkpoint keeps the
    /// later cosignature.
    pub fn record(&mut self, record: WitnessRecord) -> Result<(), Refusal> {
        let k = key(&record.witness, record.checkpoint.origin());
        if let Next::AlreadyCosigned(kept) = self.next(&record.witness, &record.checkpoint)?
            && kept.timestamp >= record.timestamp
        {
            return Ok(());
        }
        self.records.insert(k, record);
        Ok(())
    }

    /// The state document (see the module documentation), ending in a newline.
    pub fn to_text(&self) -> String {
        let mut out = Vec::new();
        json::write_object(&mut out, |o| {
            o.str("format", STATE_FORMAT).array("witnesses", |a| {
                for r in self.records.values() {
                    a.object(|e| {
                        e.str("note", &r.note)
                            .str("origin", r.checkpoint.origin())
                            .str("root", &crate::base64::encode(r.checkpoint.root()))
                            .u64("size", r.checkpoint.size())
                            .u64("time", r.timestamp)
                            .str("witness", &r.witness.to_vkey());
                    });
                }
            });
        });
        out.push(b'\n');
        // The writer escapes every string to ASCII.
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Reads a state document strictly (see the module documentation); `log` is the key the
    /// log signs its checkpoints with.
    pub fn parse(text: &str, log: &NoteVerifier) -> Result<Self, StateError> {
        if text.len() > MAX_STATE_LEN {
            return Err(StateError::TooLarge);
        }
        let doc = json::parse(text.as_bytes()).map_err(|_| StateError::Json)?;
        let root = doc.root();
        if root.kind() != Kind::Object {
            return Err(StateError::Document("not a JSON object"));
        }
        if root.get("format").and_then(|f| f.as_str()) != Some(STATE_FORMAT) {
            return Err(StateError::Document(
                "format is not \"trailseal-witness-state/v1\"",
            ));
        }
        let entries = root
            .get("witnesses")
            .filter(|w| w.kind() == Kind::Array)
            .ok_or(StateError::Document("witnesses is not an array"))?;
        let mut states = Self::new();
        for (n, entry) in entries.elements().enumerate() {
            let record = read_entry(n + 1, entry, log)?;
            let k = key(&record.witness, record.checkpoint.origin());
            if states.records.insert(k, record).is_some() {
                return Err(StateError::Duplicate { entry: n + 1 });
            }
        }
        if states.to_text() != text {
            return Err(StateError::NotCanonical);
        }
        Ok(states)
    }
}

fn read_entry(
    entry: usize,
    node: NodeRef<'_>,
    log: &NoteVerifier,
) -> Result<WitnessRecord, StateError> {
    let bad = |why: String| StateError::Entry { entry, why };
    if node.kind() != Kind::Object {
        return Err(bad("not an object".to_owned()));
    }
    let text = |member: &'static str| {
        node.get(member)
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad(format!("{member} is not a string")))
    };
    let number = |member: &'static str| {
        node.get(member)
            .and_then(|v| v.as_u64())
            .ok_or_else(|| bad(format!("{member} is not a count")))
    };
    let witness =
        WitnessKey::parse_vkey(text("witness")?).map_err(|e| bad(format!("witness: {e}")))?;
    let note = text("note")?;
    let record = WitnessRecord::from_note(&witness, log, note).map_err(|e| bad(e.to_string()))?;
    if record.note != note {
        return Err(bad(
            "note is not the body, the log's and the witness's signature lines".to_owned(),
        ));
    }
    let c = &record.checkpoint;
    if text("origin")? != c.origin() {
        return Err(bad("origin is not the note's".to_owned()));
    }
    if text("root")? != crate::base64::encode(c.root()) {
        return Err(bad("root is not the note's".to_owned()));
    }
    if number("size")? != c.size() {
        return Err(bad("size is not the note's".to_owned()));
    }
    if number("time")? != record.timestamp {
        return Err(bad("time is not the cosignature's".to_owned()));
    }
    Ok(record)
}
