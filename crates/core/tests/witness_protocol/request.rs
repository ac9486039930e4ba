//! The add-checkpoint request body: built only when consistent, read strictly.

use proptest::prelude::*;
use trailseal_core::tree::MerkleHash;
use trailseal_core::witness::{AddCheckpoint, RequestError, consistency_proof_len};

use super::common::{Tree, log};

#[test]
fn the_proof_length_is_the_trees() {
    let mut tree = Tree::new("leaf");
    tree.grow_to(300);
    for size in 1..=300u64 {
        for old in 0..=size {
            let expected = tree.proof(old, size).len();
            assert_eq!(
                consistency_proof_len(old, size),
                Some(expected),
                "{old} {size}"
            );
        }
        assert_eq!(consistency_proof_len(size + 1, size), None);
    }
    // Sizes no tree here reaches: never more than 63 hashes, never a panic.
    for (old, size) in [
        (1, i64::MAX as u64),
        (i64::MAX as u64 - 1, i64::MAX as u64),
        (u64::MAX - 1, u64::MAX),
        (1, u64::MAX),
    ] {
        let len = consistency_proof_len(old, size).unwrap();
        assert!(len <= 64, "{old} {size} {len}");
    }
    assert!(consistency_proof_len(1, i64::MAX as u64).unwrap() <= 63);
}

#[test]
fn a_request_is_built_only_when_consistent() {
    let mut tree = Tree::new("leaf");
    let note = tree.note(20);
    let proof = tree.proof(13, 20);
    let req = AddCheckpoint::new(13, &proof, &note, &log()).unwrap();
    let body = req.to_body();
    let mut expected = "old 13\n".to_owned();
    for h in &proof {
        expected.push_str(&h.to_base64());
        expected.push('\n');
    }
    expected.push('\n');
    expected.push_str(&note);
    assert_eq!(body, expected);
    assert_eq!(AddCheckpoint::parse(body.as_bytes()).unwrap(), req);
    assert_eq!(req.open(&log()).unwrap().size(), 20);

    // From 0 and to the same size: no proof.
    for old in [0, 20] {
        let req = AddCheckpoint::new(old, &[], &note, &log()).unwrap();
        assert_eq!(req.to_body(), format!("old {old}\n\n{note}"));
        let with_one = AddCheckpoint::new(old, &proof[..1], &note, &log());
        assert!(
            matches!(
                with_one,
                Err(RequestError::ProofLength {
                    expected: 0,
                    got: 1,
                    ..
                })
            ),
            "{with_one:?}"
        );
    }
    // One hash missing, one extra, old beyond the size, a note by another key, an altered
    // note, a note with an extension line.
    let short = AddCheckpoint::new(13, &proof[1..], &note, &log());
    assert!(
        matches!(short, Err(RequestError::ProofLength { .. })),
        "{short:?}"
    );
    let mut long = proof.clone();
    long.push(MerkleHash::default());
    let long = AddCheckpoint::new(13, &long, &note, &log());
    assert!(
        matches!(long, Err(RequestError::ProofLength { .. })),
        "{long:?}"
    );
    let beyond = AddCheckpoint::new(21, &[], &note, &log());
    assert!(
        matches!(beyond, Err(RequestError::OldLarger { old: 21, size: 20 })),
        "{beyond:?}"
    );
    let other = trailseal_core::note::NoteSigner::from_seed("audit.example/log", &[8u8; 32])
        .unwrap()
        .verifier();
    assert!(matches!(
        AddCheckpoint::new(13, &proof, &note, &other),
        Err(RequestError::Checkpoint(_))
    ));
    let altered = note.replacen("\n20\n", "\n21\n", 1);
    assert!(AddCheckpoint::new(13, &proof, &altered, &log()).is_err());
    let extended = super::common::log_signer()
        .sign(&format!("{}extra\n", super::common::body(&note)))
        .unwrap();
    assert!(AddCheckpoint::new(13, &proof, &extended, &log()).is_err());
}

#[test]
fn a_request_is_read_strictly() {
    let mut tree = Tree::new("leaf");
    let note = tree.note(20);
    let proof = tree.proof(13, 20);
    let good = AddCheckpoint::new(13, &proof, &note, &log())
        .unwrap()
        .to_body();
    assert!(AddCheckpoint::parse(good.as_bytes()).is_ok());
    let hash = proof[0].to_base64();
    let many = format!("{hash}\n").repeat(64);
    let bad: Vec<String> = vec![
        good.replacen("old 13", "old 013", 1),
        good.replacen("old 13", "old +13", 1),
        good.replacen("old 13", "old  13", 1),
        good.replacen("old 13", "Old 13", 1),
        good.replacen("old 13", "old 13 ", 1),
        good.replacen("old 13", "old", 1),
        good.replacen("old 13", "old 9223372036854775808", 1),
        good.replacen("old 13\n", "old 13\r\n", 1),
        good.replacen("old 13\n", "", 1),
        good.replacen(&format!("{hash}\n"), &format!("{hash} \n"), 1),
        good.replacen(&format!("{hash}\n"), &format!("{}\n", &hash[..43]), 1),
        good.replacen(&format!("{hash}\n"), &format!("{}====\n", &hash[..40]), 1),
        good.replacen(&format!("{hash}\n"), "AAAA\n", 1),
        good.replacen(&format!("{hash}\n"), &format!("{hash}\n\n"), 1),
        good.replacen("\n\n", "\n", 1),
        good.split("\n\n").next().unwrap().to_owned() + "\n\n",
        format!("old 13\n{many}\n{note}"),
        "old 0\n\nnot a note\n".to_owned(),
    ];
    for text in bad {
        assert_ne!(text, good);
        let r = AddCheckpoint::parse(text.as_bytes());
        assert!(r.is_err(), "{text:?}: {r:?}");
    }
    // A hash with stray bits under the padding.
    let stray = format!("{}B=", &hash[..42]);
    if stray != hash {
        let text = good.replacen(&hash, &stray, 1);
        assert!(AddCheckpoint::parse(text.as_bytes()).is_err());
    }
    // Not UTF-8; too large.
    let mut raw = good.clone().into_bytes();
    raw.insert(3, 0xff);
    assert!(AddCheckpoint::parse(&raw).is_err());
    let huge = format!("{good}{}", "x".repeat(1 << 16));
    assert!(matches!(
        AddCheckpoint::parse(huge.as_bytes()),
        Err(RequestError::TooLarge)
    ));
    // A parsed request whose proof does not fit its sizes does not open.
    let wrong = format!("old 13\n\n{note}");
    let req = AddCheckpoint::parse(wrong.as_bytes()).unwrap();
    assert!(matches!(
        req.open(&log()),
        Err(RequestError::ProofLength { .. })
    ));
}

proptest! {
    #[test]
    fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = AddCheckpoint::parse(&bytes);
    }

    #[test]
    fn parsing_mutations_never_panics_and_never_accepts_other_text(
        pos in 0usize..2000, byte in any::<u8>()
    ) {
        let mut tree = Tree::new("leaf");
        let note = tree.note(20);
        let proof = tree.proof(13, 20);
        let good = AddCheckpoint::new(13, &proof, &note, &log()).unwrap().to_body();
        let mut raw = good.clone().into_bytes();
        let at = pos % raw.len();
        raw[at] = byte;
        if let Ok(req) = AddCheckpoint::parse(&raw) {
            // What is read is what was sent: it writes back byte for byte.
            prop_assert_eq!(req.to_body().into_bytes(), raw);
        }
    }
}
