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
//! tree <tree size> <base64 tree root>          (anchors made since the store has a tree)
//!
//! — <signing key name> <base64 signature>
//! ```
//!
//! Shipped off the host as they are made, anchors turn the chain's weak spot — its newest
//! records can be deleted without a trace — into a detected `truncated` verdict: the store must
//! still hold seq `size − 1` with that hash. The `tree` line (from trailseal 0.x with the
//! Merkle tree on) pins the store's Merkle tree as well: its size (leaves) and root when the
//! anchor was made, so one signed note pins the chain head and the tree. Anchors without it
//! (made before) read as before: [`Anchor::tree`] is `None`.

use crate::base64;
use crate::chain::{Hash32, KeyId};
use crate::note::{NoteError, NoteSigner, NoteVerifier};
use crate::time::{Offset, Timestamp};
use crate::tree::{MAX_TREE_SIZE, MerkleHash, TreeHead};

/// The extension line that marks a trailseal anchor.
pub const ANCHOR_MARKER: &str = "trailseal-anchor v1";
/// The name of the extension line that pins the Merkle tree: `tree <size> <base64 root>`.
pub const TREE_LINE: &str = "tree";

/// A tree of `tree` leaves fits in a chain of `size` records (leaf 0 is seq 0 or later).
fn tree_size_fits(tree: u64, size: u64) -> bool {
    tree <= size && tree <= MAX_TREE_SIZE
}

/// A size as tlog checkpoints write it: decimal, no sign, no leading zero.
fn parse_size(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// The value of a `tree` line: exactly `<size> <base64 root>`, both canonical.
fn parse_tree(value: &str) -> Option<TreeHead> {
    let (size, root) = value.split_once(' ')?;
    Some(TreeHead {
        size: parse_size(size)?,
        root: MerkleHash::from_base64(root)?,
    })
}

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
    /// The store's Merkle tree then: its size (leaves, at most `size`) and root (`None` in
    /// anchors made before anchors pinned the tree, or of a store without a tree).
    pub tree: Option<TreeHead>,
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
        if let Some(tree) = &self.tree {
            body.push_str(&format!("{TREE_LINE} {} {}\n", tree.size, tree.root));
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
        if let Some(tree) = &self.tree
            && !tree_size_fits(tree.size, self.size)
        {
            return Err(AnchorError::Format(format!(
                "the tree size {} is larger than the anchor's size {}",
                tree.size, self.size
            )));
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
        let mut tree = None;
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
                TREE_LINE => {
                    tree =
                        Some(parse_tree(value).ok_or_else(|| {
                            bad("the tree line is not `tree <size> <base64 root>`")
                        })?);
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
            tree: match tree {
                Some(t) if !tree_size_fits(t.size, size) => {
                    return Err(bad("the tree line's size is larger than the anchor's size"));
                }
                t => t,
            },
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
            tree: None,
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

    fn body_with(extra: &str) -> String {
        format!(
            "o\n5\n{}\n{ANCHOR_MARKER}\ntime 2026-11-27T10:00:00Z\nkey-id 0123456789abcdef\n{extra}",
            base64::encode(&[1u8; 32])
        )
    }

    #[test]
    fn the_tree_line_round_trips_and_old_anchors_read_as_before() {
        let signer = NoteSigner::from_seed("anchor-key", &[3u8; 32]).unwrap();
        let root = MerkleHash([9; 32]);
        let old = Anchor::open(&signer.sign(&body_with("")).unwrap(), &signer.verifier()).unwrap();
        assert_eq!(old.tree, None);
        let mut new = old.clone();
        new.tree = Some(TreeHead { size: 5, root });
        let note = new.sign(&signer).unwrap();
        assert_eq!(
            signer.verifier().open(&note).unwrap(),
            body_with(&format!("tree 5 {root}\n"))
        );
        assert_eq!(Anchor::open(&note, &signer.verifier()).unwrap(), new);
        // A tree of fewer leaves than records (a tree that starts later, or is behind).
        new.tree = Some(TreeHead { size: 0, root });
        assert_eq!(
            Anchor::open(&new.sign(&signer).unwrap(), &signer.verifier()).unwrap(),
            new
        );
        new.tree = Some(TreeHead { size: 6, root });
        assert!(matches!(new.sign(&signer), Err(AnchorError::Format(_))));
    }

    #[test]
    fn a_tree_line_that_is_not_exactly_size_and_root_is_refused() {
        let signer = NoteSigner::from_seed("anchor-key", &[3u8; 32]).unwrap();
        let root = MerkleHash([9; 32]).to_base64();
        let short = base64::encode(&[9u8; 31]);
        let unpadded = root.trim_end_matches('=').to_owned();
        for bad in [
            "tree 05 R".replace('R', &root),
            "tree +5 R".replace('R', &root),
            "tree -1 R".replace('R', &root),
            "tree 6 R".replace('R', &root),
            "tree 5  R".replace('R', &root),
            "tree 5 R ".replace('R', &root),
            "tree 5 R extra".replace('R', &root),
            "tree 5".to_owned(),
            "tree R".replace('R', &root),
            format!("tree 5 {short}"),
            format!("tree 5 {unpadded}"),
            format!("tree 18446744073709551616 {root}"),
            format!("tree 5 {root}\ntree 5 {root}"),
        ] {
            let note = signer.sign(&body_with(&format!("{bad}\n"))).unwrap();
            assert!(
                matches!(
                    Anchor::open(&note, &signer.verifier()),
                    Err(AnchorError::Format(_))
                ),
                "{bad:?}"
            );
        }
        // Other names are still extension lines of later versions, ignored.
        for other in ["trees 5 x", "tree-x 1", "treeish"] {
            let note = signer.sign(&body_with(&format!("{other} y\n"))).unwrap();
            assert_eq!(
                Anchor::open(&note, &signer.verifier()).unwrap().tree,
                None,
                "{other:?}"
            );
        }
    }
}
