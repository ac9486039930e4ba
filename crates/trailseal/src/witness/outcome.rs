//! What happened with each witness, what a submission returns, and why it fails.

use std::fmt;

use trailseal_core::checkpoint::CheckpointError;
use trailseal_core::witness::{
    MergeError, Outcome, QuorumError, Refusal, RequestError, ResponseError, StateError,
};

use super::http::HttpError;
use super::state_file::StateFileError;

/// What one witness did with the checkpoint.
#[derive(Debug)]
#[non_exhaustive]
pub enum WitnessOutcome {
    /// It cosigned, in answer to the request sent with `old` after `conflicts` `409`s; the
    /// cosignature was recorded in the state file and merged into the note.
    Cosigned {
        old: u64,
        timestamp: u64,
        conflicts: usize,
    },
    /// The state file holds its cosignature of this very checkpoint: merged, nothing sent.
    AlreadyCosigned { timestamp: u64 },
    /// A `409` not followed: the witness names a size beyond the checkpoint, below what it
    /// was seen to cosign, or the very size that was sent.
    Refused(Refusal),
    /// The witness refused (`422`, `403`, `404`, `400`) or failed (any other status).
    Rejected(Outcome),
    /// It kept answering `409`; `witness_size` is the size it named last.
    TooManyConflicts { conflicts: usize, witness_size: u64 },
    /// Its answer does not follow the protocol (bad or foreign cosignature lines, a `409`
    /// without its size): nothing was merged.
    Protocol(ResponseError),
    /// The HTTP exchange failed (connect, timeout, a malformed answer).
    Http(HttpError),
    /// The request could not be built (a proof of the wrong length).
    Request(RequestError),
    /// Its cosignature could not be merged into the note.
    Merge(MergeError),
    /// Its cosignature could not be recorded.
    Record(StateError),
    /// The thread that made the request failed.
    Crashed,
}

impl WitnessOutcome {
    /// Whether the note carries this witness's cosignature.
    pub fn is_cosigned(&self) -> bool {
        matches!(self, Self::Cosigned { .. } | Self::AlreadyCosigned { .. })
    }
}

impl fmt::Display for WitnessOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cosigned {
                old, conflicts: 0, ..
            } => write!(f, "cosigned (sent from size {old})"),
            Self::Cosigned { old, conflicts, .. } => {
                let plural = if *conflicts == 1 { "" } else { "s" };
                write!(
                    f,
                    "cosigned (sent from size {old} after {conflicts} conflict{plural})"
                )
            }
            Self::AlreadyCosigned { .. } => f.write_str("already cosigned (from the state file)"),
            Self::Refused(r) => write!(f, "not sent: {r}"),
            Self::Rejected(outcome) => match outcome {
                Outcome::BadProof { detail } => write!(f, "422 (bad consistency proof): {detail}"),
                Outcome::Forbidden { detail } => {
                    write!(f, "403 (no trusted log signature): {detail}")
                }
                Outcome::UnknownLog { detail } => write!(f, "404 (unknown log): {detail}"),
                Outcome::BadRequest { detail } => write!(f, "400 (bad request): {detail}"),
                Outcome::Other { status, detail } => write!(f, "{status}: {detail}"),
                Outcome::Cosigned { .. } => f.write_str("200"),
                Outcome::Conflict { witness_size } => write!(f, "409 (holds size {witness_size})"),
                _ => f.write_str("refused"),
            },
            Self::TooManyConflicts {
                conflicts,
                witness_size,
            } => write!(
                f,
                "{conflicts} conflicts (409) in a row, the last naming size {witness_size}"
            ),
            Self::Protocol(e) => write!(f, "{e}"),
            Self::Http(e) => write!(f, "http: {e}"),
            Self::Request(e) => write!(f, "{e}"),
            Self::Merge(e) => write!(f, "{e}"),
            Self::Record(e) => write!(f, "{e}"),
            Self::Crashed => f.write_str("the request thread failed"),
        }
    }
}

/// One witness's line of the report.
#[derive(Debug)]
pub struct WitnessReport {
    /// The witness's name (from its key).
    pub name: String,
    /// Its URL.
    pub url: String,
    pub outcome: WitnessOutcome,
}

impl fmt::Display for WitnessReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "witness {} ({}): {}", self.name, self.url, self.outcome)
    }
}

/// A submission that reached the quorum.
#[derive(Debug)]
pub struct Cosigning {
    /// The checkpoint note with every cosignature obtained merged in.
    pub note: String,
    /// How many distinct configured witnesses cosigned it.
    pub count: usize,
    /// One report per witness, in the order given.
    pub witnesses: Vec<WitnessReport>,
}

/// A submission that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CosignError {
    /// Fewer witnesses than the quorum cosigned. What they did cosign is in the state file
    /// and in `note`.
    #[error(
        "witness quorum {needed}: not met, {count} cosigned; {}",
        summary(witnesses)
    )]
    QuorumNotMet {
        count: usize,
        needed: usize,
        note: String,
        witnesses: Vec<WitnessReport>,
    },
    #[error(transparent)]
    Quorum(#[from] QuorumError),
    /// The state file shows a witness cosigned a checkpoint this one rolls back or forks:
    /// nothing was sent to any witness.
    #[error("{0}; nothing was sent")]
    Refused(#[from] Refusal),
    #[error("witness {name}: configured twice (one key, one request at a time)")]
    DuplicateWitness { name: String },
    #[error("the checkpoint to submit: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("witness state {0}")]
    State(#[from] StateFileError),
    /// The consistency proof for a request could not be made.
    #[error("witness {witness}: consistency proof from size {old} to {size}: {source}")]
    Prove {
        witness: String,
        old: u64,
        size: u64,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The observer stopped the submission (as if the process were killed there).
    #[error("witness {witness}: submission stopped by the caller")]
    Interrupted { witness: String },
}

fn summary(witnesses: &[WitnessReport]) -> String {
    witnesses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the observer of a submission is told, in order (for transcripts and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A request is about to be sent to `witness` (its name): `old` and the proof's length,
    /// for a checkpoint of `size`.
    Sending {
        witness: &'a str,
        old: u64,
        size: u64,
        proof_len: usize,
    },
    /// `witness` answered with `status`; nothing has been recorded yet.
    Answered { witness: &'a str, status: u16 },
}
