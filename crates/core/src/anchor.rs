//! Signed head anchors: a C2SP signed note, laid out like a tlog checkpoint, that states how
//! long the chain was and the hash of its head at a point in time.
//!
//! ```text
//! <origin>
//! <size: the next seq (records ever appended)>
//! <base64 of the head record's 32-byte record_hash>
//! trailseal-anchor v1
//! time <RFC 3339>
//! key-id <chain key id>
//! retention <receipt index> <receipt mac>      (when the store has a retention log)
//!
//! — <signing key name> <base64 signature>
//! ```
//!
//! Shipped off the host as they are made, anchors turn the chain's weak spot — its newest
//! records can be deleted without a trace — into a detected `truncated` verdict: the store must
//! still hold seq `size − 1` with that hash.

use crate::base64;
use crate::chain::{Hash32, KeyId};
use crate::note::{NoteError, NoteSigner, NoteVerifier};
use crate::time::{Offset, Timestamp};

/// The extension line that marks a trailseal anchor.
pub const ANCHOR_MARKER: &str = "trailseal-anchor v1";

/// What an anchor states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The log's identity.
    pub origin: String,
    /// The seq the next record would take: how many records the chain has ever had.
    pub size: u64,
    /// The head record's `record_hash` (the checkpoint hash when every record was pruned;
    /// 64 `0` for an empty chain).
    pub head_hash: Hash32,
    /// When the anchor was made.
    pub time: Timestamp,
    /// The chain key's id.
    pub key_id: KeyId,
    /// The retention log's last receipt then: its index and MAC.
    pub retention: Option<(u64, Hash32)>,
}

/// An anchor that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("not a trailseal anchor: {0}")]
    Format(String),
}

impl Anchor {
    /// The seq of the head record the anchor vouches for, if the chain had any.
    pub fn head_seq(&self) -> Option<u64> {
        self.size.checked_sub(1)
    }

    /// The note body.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n{ANCHOR_MARKER}\ntime {}\nkey-id {}\n",
            self.origin,
            self.size,
            base64::encode(&self.head_hash.to_raw()),
            self.time.to_rfc3339(),
            self.key_id
        );
        if let Some((index, mac)) = &self.retention {
            body.push_str(&format!("retention {index} {mac}\n"));
        }
        body
    }

    /// The signed note.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, AnchorError> {
        if self.origin.is_empty() || self.origin.contains(['\n', '\r']) {
            return Err(AnchorError::Format(
                "the origin must be one non-empty line".into(),
            ));
        }
        Ok(signer.sign(&self.body())?)
    }

    /// Checks the signature with `verifier` and reads the anchor.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Anchor, AnchorError> {
        let body = verifier.open(note)?;
        Self::parse_body(body)
    }

    fn parse_body(body: &str) -> Result<Anchor, AnchorError> {
        let bad = |why: &str| AnchorError::Format(why.to_owned());
        // The body is exactly the signed text (`NoteVerifier::open` returns nothing else).
        let mut lines = body.split_terminator('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size: u64 = lines
            .next()
            // Decimal without sign or leading zeros, as tlog checkpoints write sizes.
            .filter(|l| !(l.starts_with('+') || (l.len() > 1 && l.starts_with('0'))))
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| bad("the size line is not a number"))?;
        let hash = lines
            .next()
            .and_then(|l| base64::decode(l).ok())
            .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
            .ok_or_else(|| bad("the hash line is not a base64 SHA-256 value"))?;
        if lines.next() != Some(ANCHOR_MARKER) {
            return Err(bad("no trailseal-anchor v1 line"));
        }
        let mut time = None;
        let mut key_id = None;
        let mut retention = None;
        let mut seen: Vec<&str> = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(' ')
                .ok_or_else(|| bad("an extension line has no value"))?;
            if seen.contains(&name) {
                return Err(bad("an extension line appears twice"));
            }
            seen.push(name);
            match name {
                "time" => time = Timestamp::parse(value, Offset::Required).ok(),
                "key-id" => key_id = KeyId::parse(value.as_bytes()),
                "retention" => {
                    let (index, mac) = value
                        .split_once(' ')
                        .ok_or_else(|| bad("bad retention line"))?;
                    retention = Some((
                        index.parse().map_err(|_| bad("bad retention index"))?,
                        Hash32::parse(mac.as_bytes()).ok_or_else(|| bad("bad retention mac"))?,
                    ));
                }
                // Lines from later versions are ignored (the signature still covers them).
                _ => {}
            }
        }
        Ok(Anchor {
            origin: origin.to_owned(),
            size,
            head_hash: Hash32::from_bytes(&hash),
            time: time.ok_or_else(|| bad("no valid time line"))?,
            key_id: key_id.ok_or_else(|| bad("no valid key-id line"))?,
            retention,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_open_and_detect_changes() {
        let signer = NoteSigner::from_seed("anchor-key", &[3u8; 32]).unwrap();
        let anchor = Anchor {
            origin: "audit.example/prod".into(),
            size: 1_000,
            head_hash: Hash32::from_bytes(&[0xAB; 32]),
            time: Timestamp::parse("2026-11-27T10:00:00Z", Offset::Required).unwrap(),
            key_id: KeyId::parse(b"0123456789abcdef").unwrap(),
            retention: Some((2, Hash32::from_bytes(&[1; 32]))),
        };
        let note = anchor.sign(&signer).unwrap();
        assert!(note.starts_with("audit.example/prod\n1000\nq6ur"));
        assert_eq!(Anchor::open(&note, &signer.verifier()).unwrap(), anchor);
        assert!(Anchor::open(&note.replace("\n1000\n", "\n999\n"), &signer.verifier()).is_err());
        let other = NoteSigner::from_seed("anchor-key", &[4u8; 32])
            .unwrap()
            .verifier();
        assert!(matches!(
            Anchor::open(&note, &other),
            Err(AnchorError::Note(NoteError::NotSignedBy { .. }))
        ));
        assert_eq!(anchor.head_seq(), Some(999));
    }

    #[test]
    fn a_repeated_extension_line_is_refused() {
        let signer = NoteSigner::from_seed("anchor-key", &[3u8; 32]).unwrap();
        let body = format!(
            "o\n5\n{}\n{ANCHOR_MARKER}\ntime 2026-11-27T10:00:00Z\nkey-id 0123456789abcdef\ntime 2026-11-28T10:00:00Z\n",
            base64::encode(&[1u8; 32])
        );
        let note = signer.sign(&body).unwrap();
        assert!(matches!(
            Anchor::open(&note, &signer.verifier()),
            Err(AnchorError::Format(_))
        ));
    }
}
