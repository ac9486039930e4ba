//! Where a chain starts and which key a store says wrote it: the state a store keeps beside
//! its records, read by stores, the retention log and the verifier alike.

use crate::chain::KeyId;

/// How a chain begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartKind {
    /// From the genesis value at seq 0.
    Genesis,
    /// From weaver-kernel's pruning checkpoint (`meta.checkpoint_hash`), which carries no MAC.
    UnauthenticatedCheckpoint,
    /// From a checkpoint authenticated by a prune receipt of the retention log.
    Checkpoint,
}

impl StartKind {
    /// The name used in stored headers and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            StartKind::Genesis => "genesis",
            StartKind::UnauthenticatedCheckpoint => "unauthenticated-checkpoint",
            StartKind::Checkpoint => "checkpoint",
        }
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "genesis" => Some(StartKind::Genesis),
            "unauthenticated-checkpoint" => Some(StartKind::UnauthenticatedCheckpoint),
            "checkpoint" => Some(StartKind::Checkpoint),
            _ => None,
        }
    }
}

/// Where verification starts: the seq of the first record and the `prev_hash` it must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainStart {
    pub next_seq: u64,
    pub prev_hash: Vec<u8>,
    pub kind: StartKind,
}

impl ChainStart {
    /// The start of an unpruned chain.
    pub fn genesis() -> Self {
        Self {
            next_seq: 0,
            prev_hash: crate::chain::GENESIS_HASH.as_bytes().to_vec(),
            kind: StartKind::Genesis,
        }
    }
}

/// What the store says about the key it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredKeyId {
    /// The store records no key id (weaver-kernel stores).
    Absent,
    /// The store records this key id.
    Present(KeyId),
}
