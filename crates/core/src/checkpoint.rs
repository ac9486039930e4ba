//! C2SP tlog-checkpoints (<https://c2sp.org/tlog-checkpoint>): the signed statement of a
//! tree's size and root hash, as a signed note.
//!
//! The body trailseal writes is exactly three lines, nothing else (witnesses refuse extension
//! lines by default and some verifiers cannot parse them):
//!
//! ```text
//! <origin>
//! <size: decimal, no sign, no leading zero>
//! <base64 of the 32-byte root hash>
//! ```
//!
//! A checkpoint is only ever read from the text a signature was verified over
//! ([`Checkpoint::open`]): there is no way to parse an unsigned body.
//!
//! # Origins
//! An origin is one line of 1 to [`MAX_ORIGIN_LEN`] bytes of printable characters other than
//! spaces and `+` (the spec's "schema-less URL containing neither Unicode spaces nor plus").
//! A witness that cosigned the hash-chain anchors of a log has pinned the anchors' origin to
//! a chain head that has no consistency proof; the tree therefore needs an origin of its own.
//! The default is [`tree_origin`]: the anchor origin followed by `/tree`.

use crate::base64;
use crate::note::{NoteError, NoteSigner, NoteVerifier};

/// The longest origin accepted, in bytes.
pub const MAX_ORIGIN_LEN: usize = 1024;
/// The largest size accepted: `2^63 - 1`, what Go's `tlog` (an `int64`) and cosignature
/// timestamps can hold.
pub const MAX_SIZE: u64 = i64::MAX as u64;
/// What the default tree origin appends to the anchor origin.
pub const TREE_ORIGIN_SUFFIX: &str = "/tree";

/// A checkpoint that cannot be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("origin: {0}")]
    Origin(&'static str),
    #[error("checkpoint line {line}: {why}")]
    Body { line: usize, why: &'static str },
    #[error("checkpoint size {size}: more than 2^63 - 1")]
    Size { size: u64 },
}

/// What a checkpoint states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: [u8; 32],
}

/// Checks the origin rules (see the module documentation).
pub fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty() {
        return Err(CheckpointError::Origin("empty"));
    }
    if origin.len() > MAX_ORIGIN_LEN {
        return Err(CheckpointError::Origin("longer than 1024 bytes"));
    }
    if origin.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(CheckpointError::Origin(
            "holds a space, a newline or a control character",
        ));
    }
    if origin.contains('+') {
        return Err(CheckpointError::Origin("holds a '+'"));
    }
    Ok(())
}

/// The default tree origin of a log whose anchors use `anchor_origin`: `<anchor_origin>/tree`.
pub fn tree_origin(anchor_origin: &str) -> Result<String, CheckpointError> {
    let origin = format!("{anchor_origin}{TREE_ORIGIN_SUFFIX}");
    check_origin(&origin)?;
    Ok(origin)
}

impl Checkpoint {
    /// A checkpoint; the origin must follow the rules and the size fit in 63 bits.
    pub fn new(origin: &str, size: u64, root: [u8; 32]) -> Result<Self, CheckpointError> {
        check_origin(origin)?;
        if size > MAX_SIZE {
            return Err(CheckpointError::Size { size });
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size (number of leaves).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> &[u8; 32] {
        &self.root
    }

    /// The note body: `origin\nsize\nbase64(root)\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            base64::encode(&self.root)
        )
    }

    /// The signed note.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, CheckpointError> {
        Ok(signer.sign(&self.body())?)
    }

    /// Verifies the note's signature by `verifier` and reads the checkpoint from the signed
    /// text. The body must be exactly the three lines: extension lines are refused.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, CheckpointError> {
        let (checkpoint, extensions) = Self::open_with_extensions(note, verifier)?;
        if extensions.is_empty() {
            Ok(checkpoint)
        } else {
            Err(CheckpointError::Body {
                line: 4,
                why: "extension lines are not accepted",
            })
        }
    }

    /// As [`Checkpoint::open`], but also accepts extension lines after the third and returns
    /// them (they are covered by the signature; what they mean is the caller's business).
    pub fn open_with_extensions<'n>(
        note: &'n str,
        verifier: &NoteVerifier,
    ) -> Result<(Checkpoint, Vec<&'n str>), CheckpointError> {
        let body = verifier.open(note)?;
        parse_body(body)
    }
}

/// Reads a body that a signature was verified over (private: see the module documentation).
fn parse_body(body: &str) -> Result<(Checkpoint, Vec<&str>), CheckpointError> {
    let bad = |line: usize, why: &'static str| CheckpointError::Body { line, why };
    // `NoteVerifier::open` returns text that ends in a newline and has no blank line.
    let mut lines = body.split_terminator('\n');
    let origin = lines.next().ok_or_else(|| bad(1, "no origin line"))?;
    check_origin(origin)?;
    let size = lines
        .next()
        .and_then(parse_decimal)
        .ok_or_else(|| bad(2, "the size is not a decimal number without leading zeros"))?;
    if size > MAX_SIZE {
        return Err(CheckpointError::Size { size });
    }
    let root = lines
        .next()
        .and_then(|l| base64::decode(l).ok())
        .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
        .ok_or_else(|| bad(3, "the root is not canonical base64 of 32 bytes"))?;
    let extensions: Vec<&str> = lines.collect();
    Ok((
        Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        },
        extensions,
    ))
}

/// A decimal `u64` as tlog writes it: ASCII digits, no sign, no leading zero (except `0`).
pub fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}
