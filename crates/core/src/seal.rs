//! Forward-secure seals: a chain of epoch keys, each certified by the one before it and
//! erased once its epoch is sealed, so that whoever takes the writer's host at epoch t holds
//! only epoch t's key and can forge nothing sealed before it.
//!
//! Two kinds of signed note (format.md §13), both read only from the text their signature was
//! verified over:
//!
//! - an **epoch certificate**, signed by the previous epoch's key (epoch 0's by its own key, the
//!   root a verifier is given):
//!
//!   ```text
//!   trailseal-seal-certificate 1
//!   origin <origin>
//!   epoch <e>
//!   key <the epoch key's verifier key: name+hash+base64>
//!   starts <RFC 3339 time the epoch starts>
//!   start-size <tree size when it starts>
//!   max-records <records after which it closes>
//!   max-seconds <seconds after which it closes>
//!   ```
//!
//! - a **seal**, signed by the epoch's key: a C2SP checkpoint of the tree when the epoch closed,
//!   with extension lines naming the epoch, the chain head and the time:
//!
//!   ```text
//!   <origin>
//!   <tree size>
//!   <base64 root>
//!   trailseal-seal 1
//!   epoch <e>
//!   head <seq> <record_hash>          (or: head none)
//!   closed <RFC 3339 time>
//!   ```
//!
//! [`walk`] checks a directory's worth of both against the root key: every certificate by the
//! key before it, every seal by its epoch's key, epochs contiguous, each epoch starting where
//! and when the one before closed; and, given the verifier's "now", that the open epoch is not
//! overdue (a seal deleted with the records after it). Nothing here reads a clock or draws a
//! key: the caller gives both.

use crate::chain::Hash32;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::note::{NoteError, NoteSigner, NoteVerifier};
use crate::time::{Offset, Timestamp};

/// The first line of an epoch certificate.
pub const CERT_TAG: &str = "trailseal-seal-certificate 1";
/// The first extension line of a seal.
pub const SEAL_TAG: &str = "trailseal-seal 1";
/// The most epochs [`walk`] follows (a bound on hostile directories).
pub const MAX_EPOCHS: u64 = 1 << 32;

/// When an epoch closes: after this many records, or this long, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochPolicy {
    /// Records after which the epoch closes (at least 1).
    pub max_records: u64,
    /// Seconds after which the epoch closes (at least 1).
    pub max_seconds: u64,
}

impl EpochPolicy {
    /// The epoch's length in microseconds.
    pub fn max_micros(&self) -> i64 {
        i64::try_from(self.max_seconds)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000)
    }
}

/// A certificate or seal that cannot be made or read. Never contains a private key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The signed text is not what this format writes.
    #[error("{what} line {line}: {why}")]
    Body {
        what: &'static str,
        line: usize,
        why: String,
    },
}

fn body_error(what: &'static str, line: usize, why: impl Into<String>) -> SealError {
    SealError::Body {
        what,
        line,
        why: why.into(),
    }
}

/// The name of epoch `epoch`'s key: `<origin>/epoch/<epoch>` (so Go's `note` names each one).
pub fn epoch_key_name(origin: &str, epoch: u64) -> String {
    format!("{origin}/epoch/{epoch}")
}

/// What an epoch certificate states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochCert {
    pub origin: String,
    pub epoch: u64,
    /// The epoch's public key.
    pub key: NoteVerifier,
    pub starts: Timestamp,
    pub start_size: u64,
    pub policy: EpochPolicy,
}

fn decimal(text: &str) -> Option<u64> {
    crate::checkpoint::parse_decimal(text)
}

fn time(text: &str) -> Option<Timestamp> {
    let t = Timestamp::parse(text, Offset::Required).ok()?;
    // Only the form this format writes (one text per time: the signature covers the text).
    (t.to_rfc3339() == text).then_some(t)
}

impl EpochCert {
    /// The certificate's body.
    pub fn body(&self) -> String {
        format!(
            "{CERT_TAG}\norigin {}\nepoch {}\nkey {}\nstarts {}\nstart-size {}\nmax-records {}\nmax-seconds {}\n",
            self.origin,
            self.epoch,
            self.key.to_key_string(),
            self.starts.to_rfc3339(),
            self.start_size,
            self.policy.max_records,
            self.policy.max_seconds
        )
    }

    /// The certificate signed by `by` (the previous epoch's key; epoch 0's own).
    pub fn sign(&self, by: &NoteSigner) -> Result<String, SealError> {
        Ok(by.sign(&self.body())?)
    }

    /// Verifies `note` by `by` and reads the certificate from the signed text.
    pub fn open(note: &str, by: &NoteVerifier) -> Result<EpochCert, SealError> {
        let body = by.open(note)?;
        const WHAT: &str = "epoch certificate";
        let mut lines = body.split_terminator('\n');
        if lines.next() != Some(CERT_TAG) {
            return Err(body_error(WHAT, 1, format!("not `{CERT_TAG}`")));
        }
        let mut field = |n: usize, name: &str| -> Result<&str, SealError> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .ok_or_else(|| body_error(WHAT, n, format!("expected `{name} …`")))
        };
        let origin = field(2, "origin")?;
        crate::checkpoint::check_origin(origin)?;
        let epoch =
            decimal(field(3, "epoch")?).ok_or_else(|| body_error(WHAT, 3, "not a number"))?;
        let key = NoteVerifier::parse(field(4, "key")?)?;
        let starts = time(field(5, "starts")?).ok_or_else(|| body_error(WHAT, 5, "not a time"))?;
        let start_size =
            decimal(field(6, "start-size")?).ok_or_else(|| body_error(WHAT, 6, "not a number"))?;
        let max_records = decimal(field(7, "max-records")?)
            .filter(|n| *n > 0)
            .ok_or_else(|| body_error(WHAT, 7, "not a positive number"))?;
        let max_seconds = decimal(field(8, "max-seconds")?)
            .filter(|n| *n > 0)
            .ok_or_else(|| body_error(WHAT, 8, "not a positive number"))?;
        if lines.next().is_some() {
            return Err(body_error(WHAT, 9, "unexpected line"));
        }
        if key.name() != epoch_key_name(origin, epoch) {
            return Err(body_error(
                WHAT,
                4,
                format!(
                    "the key is named {:?}, not {:?}",
                    key.name(),
                    epoch_key_name(origin, epoch)
                ),
            ));
        }
        Ok(EpochCert {
            origin: origin.to_owned(),
            epoch,
            key,
            starts,
            start_size,
            policy: EpochPolicy {
                max_records,
                max_seconds,
            },
        })
    }
}

/// What a seal states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// The tree when the epoch closed (origin, size, root).
    pub checkpoint: Checkpoint,
    pub epoch: u64,
    /// The chain's head then: its seq and `record_hash` (`None`: no record yet).
    pub head: Option<(u64, Hash32)>,
    pub closed: Timestamp,
}

impl Seal {
    /// The seal's body.
    pub fn body(&self) -> String {
        let head = match &self.head {
            Some((seq, hash)) => format!("{seq} {}", hash.as_str()),
            None => "none".to_owned(),
        };
        format!(
            "{}{SEAL_TAG}\nepoch {}\nhead {head}\nclosed {}\n",
            self.checkpoint.body(),
            self.epoch,
            self.closed.to_rfc3339()
        )
    }

    /// The seal signed by the epoch's key.
    pub fn sign(&self, by: &NoteSigner) -> Result<String, SealError> {
        Ok(by.sign(&self.body())?)
    }

    /// Verifies `note` by `by` (the epoch's key) and reads the seal from the signed text.
    pub fn open(note: &str, by: &NoteVerifier) -> Result<Seal, SealError> {
        const WHAT: &str = "seal";
        let (checkpoint, ext) = Checkpoint::open_with_extensions(note, by)?;
        let line = |i: usize, name: &str| -> Result<&str, SealError> {
            ext.get(i)
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .ok_or_else(|| body_error(WHAT, i + 4, format!("expected `{name} …`")))
        };
        if ext.first() != Some(&SEAL_TAG) {
            return Err(body_error(WHAT, 4, format!("not `{SEAL_TAG}`")));
        }
        let epoch =
            decimal(line(1, "epoch")?).ok_or_else(|| body_error(WHAT, 5, "not a number"))?;
        let head = match line(2, "head")? {
            "none" => None,
            text => {
                let (seq, hash) = text
                    .split_once(' ')
                    .ok_or_else(|| body_error(WHAT, 6, "expected `head <seq> <hash>`"))?;
                Some((
                    decimal(seq).ok_or_else(|| body_error(WHAT, 6, "not a seq"))?,
                    Hash32::parse(hash.as_bytes())
                        .ok_or_else(|| body_error(WHAT, 6, "not a record_hash"))?,
                ))
            }
        };
        let closed = time(line(3, "closed")?).ok_or_else(|| body_error(WHAT, 7, "not a time"))?;
        if ext.len() != 4 {
            return Err(body_error(WHAT, 8, "unexpected line"));
        }
        Ok(Seal {
            checkpoint,
            epoch,
            head,
            closed,
        })
    }
}

/// A seal [`walk`] accepted, with what it was opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkedSeal {
    pub seal: Seal,
    /// The note as stored.
    pub note: String,
    /// The epoch key that signed it.
    pub key: NoteVerifier,
}

/// What [`walk`] found: every seal, in epoch order, and the epoch still open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walked {
    pub seals: Vec<WalkedSeal>,
    /// The open epoch (no seal yet): its number, when it started (or, when its certificate is
    /// not written yet, when the last seal closed) and the policy that closes it.
    pub open_epoch: u64,
    pub open_since: Timestamp,
    pub policy: EpochPolicy,
}

/// Why a seal directory does not verify against the root key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealProblem {
    /// A certificate or seal that does not verify, or does not follow the one before: forged,
    /// altered, or one removed from the middle.
    #[error("epoch {epoch}: {detail}")]
    Broken {
        epoch: u64,
        detail: String,
        /// The first seq no accepted seal covers (after the last accepted seal's head).
        first_unsealed: u64,
    },
    /// The open epoch should have been sealed by `now`: the newest seals (and the records they
    /// sealed) were removed, or the writer stopped sealing.
    #[error(
        "epoch {epoch}: open since {}, it should have been sealed by {} (plus the grace period): newer seals were removed, or the writer stopped sealing",
        .since.to_rfc3339(), .due.to_rfc3339()
    )]
    Overdue {
        epoch: u64,
        since: Timestamp,
        due: Timestamp,
        /// The first seq no seal covers.
        first_unsealed: u64,
    },
}

impl SealProblem {
    /// The first seq no accepted seal covers: where the damage is reported.
    pub fn first_unsealed(&self) -> u64 {
        match self {
            SealProblem::Broken { first_unsealed, .. }
            | SealProblem::Overdue { first_unsealed, .. } => *first_unsealed,
        }
    }
}

/// Which of an epoch's notes [`walk`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    Certificate,
    Seal,
}

/// Checks certificates and seals against `root`, epoch 0's key (see the module
/// documentation), reading each note when it is needed with `fetch` (`None`: there is none).
/// `highest` is the highest epoch any note is stored for: none may lie beyond the open epoch.
/// With `now`, an open epoch older than its `max_seconds` plus `grace_micros` is
/// [`SealProblem::Overdue`].
pub fn walk(
    root: &NoteVerifier,
    fetch: &mut dyn FnMut(NoteKind, u64) -> Option<String>,
    highest: u64,
    now: Option<Timestamp>,
    grace_micros: i64,
) -> Result<Walked, SealProblem> {
    let unsealed = std::cell::Cell::new(0u64);
    let broken = |epoch: u64, detail: String| SealProblem::Broken {
        epoch,
        detail,
        first_unsealed: unsealed.get(),
    };
    let note0 = fetch(NoteKind::Certificate, 0)
        .ok_or_else(|| broken(0, "no certificate for epoch 0".into()))?;
    let mut cert = EpochCert::open(&note0, root).map_err(|e| {
        broken(
            0,
            format!("the certificate does not verify with the root key: {e}"),
        )
    })?;
    if cert.epoch != 0 || cert.key != *root {
        return Err(broken(
            0,
            "the certificate is not the root key's own (epoch 0, the root key)".into(),
        ));
    }
    let mut out = Vec::new();
    let highest = highest.min(MAX_EPOCHS);
    let mut last_size = cert.start_size;
    let mut open_since = cert.starts;
    loop {
        let e = cert.epoch;
        let Some(note) = fetch(NoteKind::Seal, e) else {
            // The open epoch: nothing may follow it.
            if e < highest {
                return Err(broken(
                    e,
                    format!(
                        "no seal, but epoch {highest} has a certificate or seal (a seal was removed)"
                    ),
                ));
            }
            break;
        };
        let seal = Seal::open(&note, &cert.key).map_err(|err| {
            broken(
                e,
                format!("the seal does not verify with the epoch's key: {err}"),
            )
        })?;
        if seal.epoch != e || seal.checkpoint.origin() != cert.origin {
            return Err(broken(e, "the seal names another epoch or origin".into()));
        }
        if seal.closed < cert.starts || seal.checkpoint.size() < last_size {
            return Err(broken(
                e,
                "the seal closes before its epoch starts, or with a smaller tree".into(),
            ));
        }
        last_size = seal.checkpoint.size();
        open_since = seal.closed;
        if let Some((seq, _)) = seal.head {
            unsealed.set(seq.saturating_add(1));
        }
        let next = e.saturating_add(1);
        let policy = cert.policy;
        out.push(WalkedSeal {
            seal: seal.clone(),
            note,
            key: cert.key.clone(),
        });
        let Some(next_note) = fetch(NoteKind::Certificate, next) else {
            // Sealed, and the next epoch's certificate not written yet (a crash between the
            // two): the next epoch is open since the seal, under the same policy.
            if next < highest {
                return Err(broken(
                    next,
                    format!(
                        "no certificate, but epoch {highest} has a certificate or seal (one was removed)"
                    ),
                ));
            }
            return finish(
                out,
                next,
                open_since,
                policy,
                now,
                grace_micros,
                unsealed.get(),
            );
        };
        let next_cert = EpochCert::open(&next_note, &cert.key).map_err(|err| {
            broken(
                next,
                format!("the certificate does not verify with epoch {e}'s key: {err}"),
            )
        })?;
        if next_cert.epoch != next
            || next_cert.origin != cert.origin
            || next_cert.starts != seal.closed
            || next_cert.start_size != seal.checkpoint.size()
        {
            return Err(broken(
                next,
                format!("the certificate does not start where epoch {e}'s seal closed"),
            ));
        }
        cert = next_cert;
    }
    let policy = cert.policy;
    finish(
        out,
        cert.epoch,
        open_since,
        policy,
        now,
        grace_micros,
        unsealed.get(),
    )
}

#[allow(clippy::too_many_arguments)]
fn finish(
    seals: Vec<WalkedSeal>,
    open_epoch: u64,
    open_since: Timestamp,
    policy: EpochPolicy,
    now: Option<Timestamp>,
    grace_micros: i64,
    first_unsealed: u64,
) -> Result<Walked, SealProblem> {
    if let Some(now) = now {
        let due = open_since.saturating_add_micros(policy.max_micros());
        if now > due.saturating_add_micros(grace_micros.max(0)) {
            return Err(SealProblem::Overdue {
                epoch: open_epoch,
                since: open_since,
                due,
                first_unsealed,
            });
        }
    }
    Ok(Walked {
        seals,
        open_epoch,
        open_since,
        policy,
    })
}

#[cfg(test)]
mod tests;
