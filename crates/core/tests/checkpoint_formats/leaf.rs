//! The tree leaf: its byte layout, its salt, and the hiding trace commitment.

use proptest::prelude::*;
use trailseal_core::chain::{ChainKey, Hash32};
use trailseal_core::leaf::{LEAF_LEN, LEAF_TAG, Leaf, LeafError, Salt, check_trace, salt_for};

const TRACE: &[u8] = br#"{"action":"read","args":{"path":"/etc/hosts"}}"#;

fn key() -> ChainKey {
    ChainKey::from_secret(b"leaf-vector-secret").unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The layout and the salt derivation, pinned by a vector computed independently with
/// Python's `hmac` and `hashlib` (see docs/format.md for the recipe).
#[test]
fn the_leaf_matches_an_independently_computed_vector() {
    let prev = Hash32::from_bytes(&[0x11; 32]);
    let record = Hash32::from_bytes(&[0x22; 32]);
    let leaf = Leaf::for_record(&key(), 7, &prev, &record, TRACE);
    assert_eq!(
        hex(salt_for(&key(), 7).as_bytes()),
        "bc90ed547ac60953fdbbd949adb47bccca6e453a972697f1831fefc8e4686e6a"
    );
    assert_eq!(
        hex(&leaf.to_bytes()),
        concat!(
            "747261696c7365616c2f6c6561662f31",
            "0000000000000007",
            "1111111111111111111111111111111111111111111111111111111111111111",
            "2222222222222222222222222222222222222222222222222222222222222222",
            "31855786bb323f62b7ebbf9df618530cf0fa9f875b3bcb0caf582b81304a021c"
        )
    );
    assert_eq!(Leaf::parse(&leaf.to_bytes()).unwrap(), leaf);
}

#[test]
fn a_trace_checks_with_its_salt_alone() {
    let prev = Hash32::GENESIS;
    let record = Hash32::from_bytes(&[0x33; 32]);
    let leaf = Leaf::for_record(&key(), 0, &prev, &record, TRACE);
    let salt = salt_for(&key(), 0);
    assert!(check_trace(&leaf, &salt, TRACE));
    // Another trace, a byte more or less, another record's salt, another key's salt.
    assert!(!check_trace(&leaf, &salt, br#"{"action":"read"}"#));
    assert!(!check_trace(&leaf, &salt, &TRACE[..TRACE.len() - 1]));
    assert!(!check_trace(&leaf, &salt, &[TRACE, b" "].concat()));
    assert!(!check_trace(&leaf, &salt_for(&key(), 1), TRACE));
    let other = ChainKey::from_secret(b"another-secret").unwrap();
    assert!(!check_trace(&leaf, &salt_for(&other, 0), TRACE));
    assert!(!check_trace(&leaf, &Salt::from_bytes([0; 32]), TRACE));
}

#[test]
fn the_commitment_hides_the_trace() {
    // The same trace at two seqs, or under two keys, gives unrelated commitments: a public
    // tile does not show that two records hold the same (or a guessed) trace.
    let h = Hash32::from_bytes(&[0x44; 32]);
    let a = Leaf::for_record(&key(), 5, &h, &h, TRACE);
    let b = Leaf::for_record(&key(), 6, &h, &h, TRACE);
    let other = ChainKey::from_secret(b"another-secret").unwrap();
    let c = Leaf::for_record(&other, 5, &h, &h, TRACE);
    assert_ne!(a.trace_commitment, b.trace_commitment);
    assert_ne!(a.trace_commitment, c.trace_commitment);
    // Not the plain hash of the trace, with or without the domain.
    use sha2::{Digest, Sha256};
    assert_ne!(a.trace_commitment, <[u8; 32]>::from(Sha256::digest(TRACE)));
    assert_ne!(salt_for(&key(), 5), salt_for(&key(), 6));
    assert_eq!(format!("{:?}", salt_for(&key(), 5)), "Salt(..)");
}

#[test]
fn parse_refuses_every_other_length_and_tag() {
    let leaf = Leaf::for_record(&key(), 9, &Hash32::GENESIS, &Hash32::GENESIS, TRACE);
    let bytes = leaf.to_bytes();
    for len in 0..=LEAF_LEN + 8 {
        let mut v = bytes.to_vec();
        v.resize(len, 0);
        if len == LEAF_LEN {
            assert!(Leaf::parse(&v).is_ok());
        } else {
            assert_eq!(Leaf::parse(&v), Err(LeafError::Length { len }));
        }
    }
    for i in 0..LEAF_TAG.len() {
        for bit in 0..8 {
            let mut v = bytes;
            v[i] ^= 1 << bit;
            assert_eq!(Leaf::parse(&v), Err(LeafError::Tag), "byte {i} bit {bit}");
        }
    }
    let e = Leaf::parse(&bytes[..3]).unwrap_err().to_string();
    assert!(e.starts_with("leaf: 3 bytes"), "{e}");
}

proptest! {
    /// Every field is in the bytes, at its place: parse(to_bytes) is the identity, and the
    /// fields read back from their documented offsets.
    #[test]
    fn round_trip_and_offsets(
        seq in any::<u64>(),
        prev in any::<[u8; 32]>(),
        record in any::<[u8; 32]>(),
        trace in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let leaf = Leaf::for_record(
            &key(), seq, &Hash32::from_bytes(&prev), &Hash32::from_bytes(&record), &trace,
        );
        let bytes = leaf.to_bytes();
        prop_assert_eq!(Leaf::parse(&bytes).unwrap(), leaf);
        prop_assert_eq!(&bytes[..16], LEAF_TAG);
        prop_assert_eq!(&bytes[16..24], &seq.to_be_bytes());
        prop_assert_eq!(&bytes[24..56], &prev);
        prop_assert_eq!(&bytes[56..88], &record);
        prop_assert_eq!(&bytes[88..120], &leaf.trace_commitment);
        prop_assert!(check_trace(&leaf, &salt_for(&key(), seq), &trace));
    }

    /// Parsing arbitrary bytes never panics and accepts only 120-byte tagged input.
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        let ok = Leaf::parse(&bytes).is_ok();
        prop_assert_eq!(ok, bytes.len() == LEAF_LEN && bytes.starts_with(LEAF_TAG));
    }
}
