//! Merging cosignatures into the note, and the quorum count.

use proptest::prelude::*;
use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::cosignature::open_cosigned;
use trailseal_core::witness::{
    MergeError, Quorum, QuorumError, evaluate_quorum, merge_cosignatures,
};

use super::common::{Tree, alter, body, log, witness, wkey};

fn sig_lines(note: &str) -> Vec<&str> {
    note.rsplit_once("\n\n").unwrap().1.lines().collect()
}

#[test]
fn merged_lines_join_the_block_once_each_after_the_log_signature() {
    let mut tree = Tree::new("leaf");
    let note = tree.note(9);
    let b = body(&note);
    let l1 = witness(1).cosign(b, 100).unwrap();
    let l1_later = witness(1).cosign(b, 200).unwrap();
    let l2 = witness(2).cosign(b, 100).unwrap();

    let one = merge_cosignatures(&note, &log(), &l1).unwrap();
    assert!(
        one.starts_with(&note),
        "the body and log line are kept: {one}"
    );
    assert_eq!(one, format!("{note}{l1}"));
    let both = merge_cosignatures(&one, &log(), &l2).unwrap();
    assert_eq!(both, format!("{note}{l1}{l2}"));
    // The same line again, or a newer line by the same key: one line per key, the newest.
    assert_eq!(merge_cosignatures(&both, &log(), &l2).unwrap(), both);
    let renewed = merge_cosignatures(&both, &log(), &l1_later).unwrap();
    assert_eq!(renewed, format!("{note}{l2}{l1_later}"));
    let twice_in_input = merge_cosignatures(&note, &log(), &format!("{l1}{l1_later}")).unwrap();
    assert_eq!(twice_in_input, format!("{note}{l1_later}"));

    let keys = [wkey(1), wkey(2)];
    for merged in [&one, &both, &renewed] {
        let (cp, cosigned) = open_cosigned(merged, &log(), &keys).unwrap();
        assert_eq!(cp.size(), 9);
        assert_eq!(&merged[..b.len()], b, "the body never changes");
        assert!(sig_lines(merged)[0].starts_with("\u{2014} audit.example/log "));
        assert_eq!(cosigned.len(), sig_lines(merged).len() - 1);
    }

    // The log's signature moves first even when the note held it later.
    let foreign = trailseal_core::note::NoteSigner::from_seed("mirror.example", &[3u8; 32])
        .unwrap()
        .sign(b)
        .unwrap();
    let foreign_line = sig_lines(&foreign)[0].to_owned();
    let log_line = sig_lines(&note)[0].to_owned();
    let late = format!("{b}\n{foreign_line}\n{log_line}\n");
    let merged = merge_cosignatures(&late, &log(), &l1).unwrap();
    assert_eq!(merged, format!("{b}\n{log_line}\n{foreign_line}\n{l1}"));
}

#[test]
fn what_cannot_be_merged_is_refused() {
    let mut tree = Tree::new("leaf");
    let note = tree.note(9);
    let l1 = witness(1).cosign(body(&note), 100).unwrap();
    let log_line = format!("{}\n", sig_lines(&note)[0]);
    for (lines, what) in [
        ("", "nothing"),
        ("\u{2014} w AAAA\n", "a line too short"),
        ("not a line\n", "not a signature line"),
        (l1.trim_end(), "no newline"),
    ] {
        assert!(
            matches!(
                merge_cosignatures(&note, &log(), lines),
                Err(MergeError::Lines)
            ),
            "{what}"
        );
    }
    assert!(matches!(
        merge_cosignatures(&note, &log(), &log_line),
        Err(MergeError::LogKey)
    ));
    let altered = note.replacen("\n9\n", "\n8\n", 1);
    assert!(matches!(
        merge_cosignatures(&altered, &log(), &l1),
        Err(MergeError::Checkpoint(_))
    ));
    // More than 100 signature lines in all.
    let many: String = (0..100u8)
        .map(|n| {
            trailseal_core::cosignature::WitnessSigner::from_seed(&format!("w{n}"), &[n; 32])
                .unwrap()
                .cosign(body(&note), 1)
                .unwrap()
        })
        .collect();
    assert!(merge_cosignatures(&note, &log(), &many).is_err());
}

#[test]
fn the_quorum_counts_distinct_valid_cosignatures() {
    let mut tree = Tree::new("leaf");
    let note = tree.note(9);
    let b = body(&note);
    let keys = [wkey(1), wkey(2), wkey(3)];
    let mut merged = note.clone();
    for (n, expected) in [(1u8, 1usize), (2, 2), (3, 3)] {
        merged = merge_cosignatures(&merged, &log(), &witness(n).cosign(b, 7).unwrap()).unwrap();
        assert_eq!(
            evaluate_quorum(&merged, &log(), &keys, 2).unwrap(),
            if expected >= 2 {
                Quorum::Met { count: expected }
            } else {
                Quorum::NotMet {
                    count: expected,
                    needed: 2,
                }
            }
        );
    }
    assert_eq!(
        evaluate_quorum(&note, &log(), &keys, 1).unwrap(),
        Quorum::NotMet {
            count: 0,
            needed: 1
        }
    );
    // One key configured under two names counts once, and cannot make a quorum of 2 alone.
    let one = format!("{note}{}", witness(1).cosign(b, 7).unwrap());
    let again =
        trailseal_core::cosignature::WitnessSigner::from_seed("alias.example", &[101; 32]).unwrap();
    let aliased = merge_cosignatures(&one, &log(), &again.cosign(b, 7).unwrap()).unwrap();
    let alias_keys = [wkey(1), again.witness_key().clone(), wkey(2)];
    assert_eq!(
        evaluate_quorum(&aliased, &log(), &alias_keys, 2).unwrap(),
        Quorum::NotMet {
            count: 1,
            needed: 2
        }
    );
    assert!(matches!(
        evaluate_quorum(&aliased, &log(), &alias_keys[..2], 2),
        Err(QuorumError::Unreachable {
            quorum: 2,
            witnesses: 1
        })
    ));
    assert!(matches!(
        evaluate_quorum(&merged, &log(), &keys, 0),
        Err(QuorumError::Zero)
    ));
    // An altered cosignature by a configured key is an error, not a lower count.
    let l2 = witness(2).cosign(b, 7).unwrap();
    let bad = merged.replacen(&l2, &alter(&l2), 1);
    assert_ne!(bad, merged);
    assert!(evaluate_quorum(&bad, &log(), &keys, 2).is_err());
    // A note whose log signature fails counts nothing.
    let unsigned = merged.replacen(&format!("{}\n", sig_lines(&note)[0]), "", 1);
    assert!(evaluate_quorum(&unsigned, &log(), &keys, 1).is_err());
    assert!(Checkpoint::open(&merged, &log()).is_ok());
}

proptest! {
    #[test]
    fn merging_never_panics(lines in "[\\PC\n]{0,200}", cut in 0usize..400) {
        let mut tree = Tree::new("leaf");
        let note = tree.note(3);
        let _ = merge_cosignatures(&note, &log(), &lines);
        let cut = note.char_indices().map(|(i, _)| i).find(|&i| i >= cut % note.len()).unwrap_or(0);
        let _ = merge_cosignatures(&note[..cut], &log(), &lines);
        let _ = evaluate_quorum(&note[..cut], &log(), &[wkey(1)], 1);
    }
}
