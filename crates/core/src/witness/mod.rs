//! The client side of C2SP tlog-witness (<https://c2sp.org/tlog-witness>, v1.1): what a log
//! sends to a witness, what it makes of the answer, how the returned cosignatures join the
//! checkpoint note, what it remembers about each witness, and whether a note's cosignatures
//! reach a quorum. Everything here is pure: the caller does the HTTP, reads the clock and
//! writes the state file.
//!
//! - [`request`]: the `add-checkpoint` body `old <size>\n`, 0–63 base64 consistency-proof
//!   lines, a blank line, the signed checkpoint verbatim; built from a log-signed note whose
//!   proof has exactly the length the sizes need, and read back strictly.
//! - [`response`]: the answer classified by status and body: `200` cosignature lines, each
//!   verified against the witness's key for exactly this checkpoint body; `409`
//!   (`text/x.tlog.size`) the size the witness holds; `422`, `403`, `404`, `400` and others
//!   as typed outcomes.
//! - [`merge`]: the verified lines added to the note's signature block (log signature first,
//!   one line per key, the body unchanged), and the quorum count.
//! - [`state`]: what each witness has cosigned (canonical JSON), the next request's `old`,
//!   and the refusal to submit a checkpoint that rolls back or forks what a witness cosigned.

pub mod merge;
pub mod request;
pub mod response;
pub mod state;

pub use merge::{
    MergeError, Quorum, QuorumError, check_quorum, evaluate_quorum, merge_cosignatures,
};
pub use request::{
    AddCheckpoint, MAX_PROOF_LINES, MAX_REQUEST_LEN, RequestError, consistency_proof_len,
};
pub use response::{
    MAX_RESPONSE_LEN, Outcome, ResponseError, SIZE_CONTENT_TYPE, classify_response,
};
pub use state::{
    MAX_STATE_LEN, Next, Refusal, STATE_FORMAT, StateError, WitnessRecord, WitnessStates,
};
