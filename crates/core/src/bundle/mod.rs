//! Export bundles: a contiguous range of the chain in one self-contained, signed file that an
//! auditor verifies offline — with the public key alone (signature, linkage, completeness), or
//! with the chain secret as well (every disclosed record's MAC).
//!
//! A bundle is JSON lines:
//!
//! 1. a header: `{"created":…,"key_id":…,"origin":…,"selection":{…},"trailseal_bundle":2,
//!    "withheld_reasons":false}` (`true` when the exporter chose to disclose why each entry is
//!    withheld);
//! 2. one entry per record of the range, in seq order: disclosed
//!    `{"seq":N,"prev_hash":…,"record_hash":…,"trace":{…}}` or hash-only
//!    `{"seq":N,"prev_hash":…,"record_hash":…,"withheld":true}` — every hash-only entry alike,
//!    whatever withheld it — or, with `"withheld_reasons":true`, `"withheld":"filter"` or
//!    `"withheld":"redacted"`. Format 1 (no `withheld_reasons`, always the reasons) is still
//!    read;
//! 3. after every [`BLOCK_ENTRIES`] entries (and after the last), a block trailer signed with
//!    the Ed25519 key, binding the block's exact bytes, its position and the previous trailer;
//! 4. last, `{"manifest":"<signed note>"}`: origin, range, counts, the boundary hashes, the
//!    header's and the last trailer's digests.
//!
//! Writing and verifying both stream: memory does not depend on the bundle's size. A changed
//! entry is named exactly when it breaks the linkage or (with the secret) its MAC, and otherwise
//! by its block (the entries one trailer signs).
//!
//! The module is split by job: `lines` encodes each line (through the canonical object
//! writer) and frames trailers, `state` is the block state the writer and the verifier share,
//! `writer` and `verifier` stream.

mod lines;
mod state;
mod tree;
mod verifier;
mod writer;

#[cfg(test)]
mod tests;

pub use lines::SignedTrailer;
pub use tree::{
    BundleTree, EntryTree, EntryTreeError, MAX_PROOF_HASHES, OpenTree, TreeHeaderError,
};
pub use verifier::BundleVerifier;
pub use writer::BundleWriter;

use crate::note::NoteError;
use crate::verdict::Verdict;

/// The bundle format version written for a store without a tree (and read).
pub const BUNDLE_FORMAT: u64 = 2;
/// The bundle format version written when the bundle embeds the store's tree checkpoint, its
/// disclosed records' leaves, salts and inclusion proofs; the newest read.
pub const TREE_BUNDLE_FORMAT: u64 = 3;
/// The oldest format read: format 1 always names the reason of a withheld entry.
pub const OLDEST_BUNDLE_FORMAT: u64 = 1;
/// Entries per signed block.
pub const BLOCK_ENTRIES: u64 = 64;

/// Why an entry is hash-only. Written into the bundle only under
/// [`WithheldReasons::Disclosed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// Outside the selection (principal, capability, time window).
    Filter,
    /// It holds a field the exporter redacted.
    Redacted,
}

impl Withheld {
    /// The name in the bundle.
    pub fn as_str(self) -> &'static str {
        match self {
            Withheld::Filter => "filter",
            Withheld::Redacted => "redacted",
        }
    }
}

/// Whether a bundle says why each hash-only entry is withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WithheldReasons {
    /// Every hash-only entry carries the same marker (`"withheld":true`): an auditor cannot
    /// tell a record outside the selection from one that held a redacted field.
    #[default]
    Hidden,
    /// Each hash-only entry says why (`"withheld":"filter"` or `"redacted"`), as the exporter
    /// chose: this tells the auditor which selected records held a redacted field.
    Disclosed,
}

/// How many hash-only entries a bundle that discloses the reasons withheld for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WithheldCounts {
    /// Outside the selection.
    pub filter: u64,
    /// Holding a redacted field (or a trace without a canonical form).
    pub redacted: u64,
}

/// An entry's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryContent<'a> {
    /// The canonical trace (of a record the bundle's tree does not hold, or of a bundle
    /// without a tree).
    Disclosed(&'a [u8]),
    /// The canonical trace of a record the bundle's tree holds, with its leaf, salt and
    /// inclusion proof.
    DisclosedInTree {
        trace: &'a [u8],
        tree: &'a EntryTree,
    },
    Withheld(Withheld),
}

/// Something wrong with what is being written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error("seq {seq}: entries must be contiguous (expected seq {expected})")]
    NotContiguous { seq: u64, expected: u64 },
    #[error("seq {seq}: prev_hash does not link to the previous entry")]
    NotLinked { seq: u64 },
    #[error("seq {seq}: {what} is not a hash")]
    NotAHash { seq: u64, what: &'static str },
    #[error("the bundle holds no entry")]
    Empty,
    #[error("seq {seq}: a disclosed record the tree holds needs its leaf, salt and proof")]
    TreeMissing { seq: u64 },
    #[error("seq {seq}: {problem}")]
    TreeEntry { seq: u64, problem: EntryTreeError },
    #[error(transparent)]
    TreeHeader(#[from] TreeHeaderError),
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// How far a bundle could be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleLevel {
    /// Signatures, linkage and completeness, with the public key alone.
    Signature,
    /// That, and every disclosed record's trace against the signed tree checkpoint the
    /// bundle embeds (leaf, salt, inclusion proof), with the public key alone; not the MACs.
    SignatureAndTree,
    /// That, and every disclosed record's MAC, with the chain secret.
    SignatureAndMac,
}

impl BundleLevel {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            BundleLevel::Signature => "signature, linkage and completeness (public key)",
            BundleLevel::SignatureAndTree => {
                "signature, linkage, completeness and every disclosed record against the signed tree checkpoint (public key; MACs not checked)"
            }
            BundleLevel::SignatureAndMac => {
                "signature, linkage, completeness and every disclosed record's MAC (public key and secret)"
            }
        }
    }
}

/// The outcome of verifying a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleVerdict {
    pub verdict: Verdict,
    pub level: BundleLevel,
    pub origin: Option<String>,
    pub entries: u64,
    pub disclosed: u64,
    pub withheld: u64,
    /// How many entries were withheld for each reason, when the bundle's header says it
    /// discloses them (every format 1 bundle does); `None` when every hash-only entry carries
    /// the same marker (or the header was not read).
    pub withheld_reasons: Option<WithheldCounts>,
    /// The tree checkpoint a format 3 bundle embeds, once it opened with the public key.
    pub checkpoint: Option<crate::checkpoint::Checkpoint>,
    /// How many disclosed records were checked against that checkpoint's tree (leaf, salt
    /// and inclusion proof).
    pub tree_checked: u64,
    /// How many distinct configured witnesses validly cosigned that checkpoint, when a
    /// witness quorum was required and met ([`BundleVerifier::with_witness_quorum`]).
    pub cosignatures: Option<usize>,
}
