//! The answer to an `add-checkpoint` request, classified by status code and body.
//!
//! - `200`: one or more note signature lines. Every line must be a valid cosignature by the
//!   expected witness key over exactly the submitted checkpoint body (verified with
//!   [`crate::cosignature::verify_cosignatures`]); a line by any other key, a bad signature or
//!   an empty answer is an error, never merged.
//! - `409` with `Content-Type: text/x.tlog.size` (parameters allowed) and body `<size>\n`
//!   (strict decimal): [`Outcome::Conflict`], the size the witness holds.
//! - `422` (the proof does not verify, or the same size with another root), `403` (no trusted
//!   log signature), `404` (unknown origin), `400` (malformed, or `old` beyond the size), any
//!   other status: typed outcomes carrying a short, printable excerpt of the body.
//!
//! `200` and `409` bodies larger than [`MAX_RESPONSE_LEN`] are refused: read at most that
//! many bytes plus one.

use crate::checkpoint::{MAX_SIZE, parse_decimal};
use crate::cosignature::{CosignatureError, Cosigned, WitnessKey, verify_cosignatures};
use crate::note::split_signed;

/// The media type of a `409 Conflict` body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// The largest `200` or `409` body read, in bytes.
pub const MAX_RESPONSE_LEN: usize = 1 << 14;
/// How much of another answer's body an outcome keeps, in characters.
const DETAIL_LEN: usize = 200;

/// What the witness answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// `200`: the witness cosigned. `lines` are its verified cosignature lines (each ending in
    /// a newline), ready for [`super::merge_cosignatures`]; `cosigned` is the witness and its
    /// latest timestamp among them.
    Cosigned { lines: String, cosigned: Cosigned },
    /// `409`: the witness holds another size than the request's `old`.
    Conflict { witness_size: u64 },
    /// `422`: the consistency proof does not verify (or the same size with another root).
    BadProof { detail: String },
    /// `403`: the witness found no valid signature by a log key it trusts.
    Forbidden { detail: String },
    /// `404`: the witness does not know the origin.
    UnknownLog { detail: String },
    /// `400`: the request was malformed (or `old` beyond the checkpoint's size).
    BadRequest { detail: String },
    /// Any other status (`429`, `5xx`, ...): the caller decides whether to retry.
    Other { status: u16, detail: String },
}

/// An answer that does not follow the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    #[error("witness {witness}: status {status}: body larger than {MAX_RESPONSE_LEN} bytes")]
    TooLarge { witness: String, status: u16 },
    #[error("witness {witness}: 200: {why}")]
    BadLines { witness: String, why: &'static str },
    #[error("witness {witness}: 200: {source}")]
    BadCosignature {
        witness: String,
        #[source]
        source: CosignatureError,
    },
    #[error("witness {witness}: 409: content type is not text/x.tlog.size")]
    ConflictType { witness: String },
    #[error("witness {witness}: 409: the body is not `<decimal size>\\n`")]
    ConflictBody { witness: String },
    #[error("witness {witness}: the submitted note: {source}")]
    Note {
        witness: String,
        #[source]
        source: crate::note::NoteError,
    },
}

/// Classifies a witness's answer to the request that carried `checkpoint_note`, from
/// `witness` (the key the caller trusts for it). See the module documentation.
pub fn classify_response(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    checkpoint_note: &str,
    witness: &WitnessKey,
) -> Result<Outcome, ResponseError> {
    let name = || witness.name().to_owned();
    if matches!(status, 200 | 409) && body.len() > MAX_RESPONSE_LEN {
        return Err(ResponseError::TooLarge {
            witness: name(),
            status,
        });
    }
    let detail = || excerpt(body);
    Ok(match status {
        200 => cosigned(body, checkpoint_note, witness)?,
        409 => Outcome::Conflict {
            witness_size: conflict_size(content_type, body, witness)?,
        },
        422 => Outcome::BadProof { detail: detail() },
        403 => Outcome::Forbidden { detail: detail() },
        404 => Outcome::UnknownLog { detail: detail() },
        400 => Outcome::BadRequest { detail: detail() },
        status => Outcome::Other {
            status,
            detail: detail(),
        },
    })
}

fn cosigned(
    body: &[u8],
    checkpoint_note: &str,
    witness: &WitnessKey,
) -> Result<Outcome, ResponseError> {
    let bad = |why| ResponseError::BadLines {
        witness: witness.name().to_owned(),
        why,
    };
    let lines = std::str::from_utf8(body).map_err(|_| bad("the body is not UTF-8"))?;
    if lines.is_empty() {
        return Err(bad("no cosignature line"));
    }
    let (signed, _) = split_signed(checkpoint_note).map_err(|source| ResponseError::Note {
        witness: witness.name().to_owned(),
        source,
    })?;
    // The lines as the signature block of a note over exactly the submitted body: the note
    // reader checks their syntax, the cosignature reader their signatures.
    let note = format!("{signed}\n{lines}");
    let (_, parsed) = split_signed(&note).map_err(|_| bad("not note signature lines"))?;
    if parsed
        .iter()
        .any(|l| l.name != witness.name() || l.key_hash != witness.key_id())
    {
        return Err(bad("a line is not by the witness's key"));
    }
    let found = verify_cosignatures(&note, std::slice::from_ref(witness)).map_err(|source| {
        ResponseError::BadCosignature {
            witness: witness.name().to_owned(),
            source,
        }
    })?;
    let cosigned = found
        .into_iter()
        .next()
        .ok_or_else(|| bad("no cosignature line"))?;
    Ok(Outcome::Cosigned {
        lines: lines.to_owned(),
        cosigned,
    })
}

fn conflict_size(
    content_type: Option<&str>,
    body: &[u8],
    witness: &WitnessKey,
) -> Result<u64, ResponseError> {
    let media = content_type
        .and_then(|t| t.split(';').next())
        .map(str::trim);
    if !media.is_some_and(|m| m.eq_ignore_ascii_case(SIZE_CONTENT_TYPE)) {
        return Err(ResponseError::ConflictType {
            witness: witness.name().to_owned(),
        });
    }
    std::str::from_utf8(body)
        .ok()
        .and_then(|t| t.strip_suffix('\n'))
        .and_then(parse_decimal)
        .filter(|&size| size <= MAX_SIZE)
        .ok_or_else(|| ResponseError::ConflictBody {
            witness: witness.name().to_owned(),
        })
}

/// The first characters of a body, printable ASCII only (others become `?`), for messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body.get(..DETAIL_LEN * 4).unwrap_or(body));
    text.trim_end()
        .chars()
        .take(DETAIL_LEN)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}
