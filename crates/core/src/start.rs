//! Where a chain starts and which key a store says wrote it: the state a store keeps beside
//! its records, read by stores, the retention log and the verifier alike.

use crate::chain::KeyId;
use crate::json::{NodeRef, ObjectWriter};

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

/// A member of a chain start's JSON object that is missing or not what it must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartJsonError {
    #[error("kind is not a start kind")]
    Kind,
    #[error("seq is missing")]
    Seq,
    #[error("prev_hash is missing")]
    PrevHash,
}

impl StartJsonError {
    /// The member at fault.
    pub fn member(self) -> &'static str {
        match self {
            StartJsonError::Kind => "kind",
            StartJsonError::Seq => "seq",
            StartJsonError::PrevHash => "prev_hash",
        }
    }
}

impl ChainStart {
    /// Writes the start's members, `{"kind":…,"prev_hash":…,"seq":…}`, into `o`: the one
    /// encoding of a chain start (retention receipts, the JSONL header).
    pub fn write_json(&self, o: &mut ObjectWriter<'_>) {
        o.str("kind", self.kind.as_str())
            .str("prev_hash", &String::from_utf8_lossy(&self.prev_hash))
            .u64("seq", self.next_seq);
    }

    /// Reads a start written by [`ChainStart::write_json`] (members in any order; others
    /// are not looked at).
    pub fn from_json(node: NodeRef<'_>) -> Result<ChainStart, StartJsonError> {
        let kind = node
            .get("kind")
            .and_then(|k| k.as_str())
            .and_then(StartKind::from_name)
            .ok_or(StartJsonError::Kind)?;
        let next_seq = node
            .get("seq")
            .and_then(|n| n.as_u64())
            .ok_or(StartJsonError::Seq)?;
        let prev_hash = node
            .get("prev_hash")
            .and_then(|n| n.as_str())
            .ok_or(StartJsonError::PrevHash)?;
        Ok(ChainStart {
            next_seq,
            prev_hash: prev_hash.as_bytes().to_vec(),
            kind,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn one_encoding_round_trips() {
        for start in [
            ChainStart::genesis(),
            ChainStart {
                next_seq: u64::MAX,
                prev_hash: b"ab\"c".to_vec(),
                kind: StartKind::UnauthenticatedCheckpoint,
            },
        ] {
            let text = json::object(|o| start.write_json(o));
            assert_eq!(json::canonicalize(text.as_bytes()).unwrap(), text);
            let doc = json::parse(text.as_bytes()).unwrap();
            assert_eq!(ChainStart::from_json(doc.root()), Ok(start));
        }
        assert_eq!(
            json::object(|o| ChainStart::genesis().write_json(o)),
            format!(
                r#"{{"kind":"genesis","prev_hash":"{}","seq":0}}"#,
                "0".repeat(64)
            )
        );
        for (text, err) in [
            (r#"{"seq":1,"prev_hash":"x"}"#, StartJsonError::Kind),
            (
                r#"{"kind":"nope","seq":1,"prev_hash":"x"}"#,
                StartJsonError::Kind,
            ),
            (
                r#"{"kind":"genesis","seq":-1,"prev_hash":"x"}"#,
                StartJsonError::Seq,
            ),
            (
                r#"{"kind":"genesis","seq":1,"prev_hash":1}"#,
                StartJsonError::PrevHash,
            ),
            ("[]", StartJsonError::Kind),
        ] {
            let doc = json::parse(text.as_bytes()).unwrap();
            assert_eq!(ChainStart::from_json(doc.root()), Err(err), "{text}");
        }
    }
}
