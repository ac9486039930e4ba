//! The per-witness state: records, the next `old`, refusals, and the strict JSON document.

use proptest::prelude::*;
use trailseal_core::witness::{Next, Refusal, StateError, WitnessRecord, WitnessStates};

use super::common::{ORIGIN, Tree, alter, body, log, witness, wkey};

/// The record of witness `n` cosigning the checkpoint of `tree` at `size` at time `t`.
fn record(tree: &mut Tree, n: u8, size: u64, t: u64) -> WitnessRecord {
    let note = tree.note(size);
    let line = witness(n).cosign(body(&note), t).unwrap();
    WitnessRecord::from_note(&wkey(n), &log(), &format!("{note}{line}")).unwrap()
}

#[test]
fn the_next_old_is_the_size_last_cosigned_and_never_goes_back() {
    let mut tree = Tree::new("leaf");
    let mut fork = Tree::new("fork");
    let mut states = WitnessStates::new();
    let w = wkey(1);
    assert_eq!(
        states.next(&w, &tree.checkpoint(5)).unwrap(),
        Next::Submit { old: 0 }
    );
    states.record(record(&mut tree, 1, 5, 10)).unwrap();
    assert_eq!(
        states.next(&w, &tree.checkpoint(8)).unwrap(),
        Next::Submit { old: 5 }
    );
    assert!(
        matches!(states.next(&w, &tree.checkpoint(5)).unwrap(), Next::AlreadyCosigned(r) if r.checkpoint().size() == 5)
    );
    // Another witness is independent.
    assert_eq!(
        states.next(&wkey(2), &tree.checkpoint(3)).unwrap(),
        Next::Submit { old: 0 }
    );
    // Smaller: a rollback; equal size, other root: a fork.
    let r = states.next(&w, &tree.checkpoint(4));
    assert!(
        matches!(
            r,
            Err(Refusal::Rollback {
                cosigned: 5,
                size: 4,
                ..
            })
        ),
        "{r:?}"
    );
    let r = states.next(&w, &fork.checkpoint(5));
    assert!(matches!(r, Err(Refusal::Fork { size: 5, .. })), "{r:?}");
    // A fork at a larger size is the witness's to refuse (it checks the proof); here it is
    // submitted from 5.
    assert_eq!(
        states.next(&w, &fork.checkpoint(9)).unwrap(),
        Next::Submit { old: 5 }
    );
    // Records never go back either.
    assert!(matches!(
        states.record(record(&mut tree, 1, 4, 11)),
        Err(Refusal::Rollback { .. })
    ));
    assert!(matches!(
        states.record(record(&mut fork, 1, 5, 11)),
        Err(Refusal::Fork { .. })
    ));
    // The same checkpoint keeps the later cosignature.
    states.record(record(&mut tree, 1, 5, 9)).unwrap();
    assert_eq!(states.get(&w, ORIGIN).unwrap().timestamp(), 10);
    states.record(record(&mut tree, 1, 5, 12)).unwrap();
    assert_eq!(states.get(&w, ORIGIN).unwrap().timestamp(), 12);
    states.record(record(&mut tree, 1, 7, 13)).unwrap();
    assert_eq!(states.get(&w, ORIGIN).unwrap().checkpoint().size(), 7);
}

#[test]
fn a_conflict_is_followed_only_forward() {
    let mut tree = Tree::new("leaf");
    let mut states = WitnessStates::new();
    let w = wkey(1);
    let cp = tree.checkpoint(10);
    // Nothing known: follow the witness, up to the checkpoint's size.
    assert_eq!(states.after_conflict(&w, &cp, 0, 6).unwrap(), 6);
    assert_eq!(states.after_conflict(&w, &cp, 0, 10).unwrap(), 10);
    let r = states.after_conflict(&w, &cp, 0, 11);
    assert!(
        matches!(
            r,
            Err(Refusal::WitnessAhead {
                witness_size: 11,
                size: 10,
                ..
            })
        ),
        "{r:?}"
    );
    let r = states.after_conflict(&w, &cp, 6, 6);
    assert!(
        matches!(r, Err(Refusal::ConflictAtSentSize { size: 6, .. })),
        "{r:?}"
    );
    // Seen to cosign 5: a witness now at 3 lost its state.
    states.record(record(&mut tree, 1, 5, 10)).unwrap();
    let r = states.after_conflict(&w, &cp, 5, 3);
    assert!(
        matches!(
            r,
            Err(Refusal::WitnessRolledBack {
                cosigned: 5,
                witness_size: 3,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(states.after_conflict(&w, &cp, 5, 8).unwrap(), 8);
}

#[test]
fn records_keep_a_minimal_checkable_note() {
    let mut tree = Tree::new("leaf");
    let note = tree.note(5);
    let b = body(&note);
    let l1 = witness(1).cosign(b, 10).unwrap();
    let l1_later = witness(1).cosign(b, 20).unwrap();
    let l2 = witness(2).cosign(b, 10).unwrap();
    let full = format!("{note}{l2}{l1}{l1_later}");
    let rec = WitnessRecord::from_note(&wkey(1), &log(), &full).unwrap();
    assert_eq!(rec.note(), format!("{note}{l1_later}"));
    assert_eq!(rec.cosignature_line(), l1_later);
    assert_eq!(rec.timestamp(), 20);
    for (bad, what) in [
        (note.clone(), "no cosignature by the witness"),
        (format!("{note}{l2}"), "only another witness"),
        (format!("{note}{}", alter(&l1)), "an altered cosignature"),
        (
            format!("{}{l1}", note.replacen("\n5\n", "\n6\n", 1)),
            "an altered body",
        ),
    ] {
        let r = WitnessRecord::from_note(&wkey(1), &log(), &bad);
        assert!(matches!(r, Err(StateError::Note { .. })), "{what}: {r:?}");
    }
}

fn sample() -> (WitnessStates, String) {
    let mut tree = Tree::new("leaf");
    let mut states = WitnessStates::new();
    states
        .record(record(&mut tree, 2, 7, 1_700_000_001))
        .unwrap();
    states
        .record(record(&mut tree, 1, 5, 1_700_000_000))
        .unwrap();
    let text = states.to_text();
    (states, text)
}

#[test]
fn the_state_document_round_trips_and_is_read_strictly() {
    let (states, text) = sample();
    assert_eq!(WitnessStates::parse(&text, &log()).unwrap(), states);
    assert!(
        text.starts_with("{\"format\":\"trailseal-witness-state/v1\",\"witnesses\":[{\"note\":\"")
    );
    assert!(text.ends_with("}]}\n"));
    assert_eq!(
        WitnessStates::parse(&WitnessStates::new().to_text(), &log()).unwrap(),
        WitnessStates::new()
    );
    assert_eq!(
        WitnessStates::new().to_text(),
        "{\"format\":\"trailseal-witness-state/v1\",\"witnesses\":[]}\n"
    );

    let first = {
        let start = text.find("[{").unwrap() + 1;
        let end = text.find("},{").unwrap() + 1;
        text[start..end].to_owned()
    };
    let reordered =
        text.replacen(&format!("{first},"), "", 1)
            .replacen("}]}", &format!("}},{first}]}}"), 1);
    let duplicated = text.replacen(&first, &format!("{first},{first}"), 1);
    let size_field = "\"size\":5";
    let bad: Vec<(String, &str)> = vec![
        (text.trim_end().to_owned(), "no final newline"),
        (format!("{text}\n"), "two newlines"),
        (text.replacen("{\"format\"", "{ \"format\"", 1), "a space"),
        (text.replacen("v1", "v2", 1), "another format"),
        (
            text.replacen("\"format\":\"trailseal-witness-state/v1\",", "", 1),
            "no format",
        ),
        (
            text.replacen("]}\n", "],\"extra\":1}\n", 1),
            "an extra member",
        ),
        (
            text.replacen(
                "\"format\":\"trailseal-witness-state/v1\",\"witnesses\"",
                "\"witnesses\":[],\"format\":\"trailseal-witness-state/v1\",\"witnesses\"",
                1,
            ),
            "a repeated member",
        ),
        (reordered, "entries out of order"),
        (duplicated, "an entry twice"),
        (
            text.replacen(size_field, "\"size\":6", 1),
            "a size that is not the note's",
        ),
        (text.replacen(size_field, "\"size\":5.0", 1), "a float size"),
        (
            text.replacen(size_field, "\"size\":\"5\"", 1),
            "a string size",
        ),
        (
            text.replacen("\"time\":1700000000", "\"time\":1700000001", 1),
            "a time that is not the cosignature's",
        ),
        (
            text.replacen(
                "\"origin\":\"audit.example",
                "\"origin\":\"other.example",
                1,
            ),
            "another origin",
        ),
        (
            text.replacen(",\"root\":\"", ",\"root\":\"A", 1),
            "another root",
        ),
        (
            text.replacen("\"witness\":\"witness1", "\"witness\":\"witness3", 1),
            "another witness",
        ),
        (
            text.replacen(
                "\\n\\n\\u2014",
                "\\n\\n\\u2014 x AAAAAAAAAAAAAAAA\\n\\u2014",
                1,
            ),
            "a note with an extra line",
        ),
        (text.replacen("\\n7\\n", "\\n8\\n", 1), "an altered note"),
        ("[]".to_owned(), "not an object"),
        (
            "{\"format\":\"trailseal-witness-state/v1\",\"witnesses\":{}}\n".to_owned(),
            "witnesses not an array",
        ),
        (
            "{\"format\":\"trailseal-witness-state/v1\",\"witnesses\":[1]}\n".to_owned(),
            "an entry not an object",
        ),
        ("not json".to_owned(), "not JSON"),
        (" ".repeat((1 << 22) + 1), "too large"),
    ];
    for (bad_text, what) in bad {
        assert_ne!(bad_text, text, "{what}: the case changes the document");
        let r = WitnessStates::parse(&bad_text, &log());
        assert!(r.is_err(), "{what}: {r:?}");
    }
    // Fields that disagree with the note are named, not just "not canonical".
    for (from, to, member) in [
        (size_field, "\"size\":6", "size"),
        ("\"time\":1700000000", "\"time\":1700000001", "time"),
        (
            "\"origin\":\"audit.example",
            "\"origin\":\"other.example",
            "origin",
        ),
        (
            "\\n\\n\\u2014",
            "\\n\\n\\u2014 x AAAAAAAAAAAAAAAA\\n\\u2014",
            "note",
        ),
    ] {
        let bad_text = text.replacen(from, to, 1);
        assert_ne!(bad_text, text);
        match WitnessStates::parse(&bad_text, &log()) {
            Err(e @ StateError::Entry { entry: 1, .. }) => {
                assert!(e.to_string().contains(member), "{member}: {e}");
            }
            other => panic!("{member}: {other:?}"),
        }
    }
    // The same document under another log key: no note opens.
    let other = trailseal_core::note::NoteSigner::from_seed("audit.example/log", &[8u8; 32])
        .unwrap()
        .verifier();
    assert!(matches!(
        WitnessStates::parse(&text, &other),
        Err(StateError::Entry { entry: 1, .. })
    ));
}

proptest! {
    #[test]
    fn parsing_never_panics(bytes in "[\\PC\n]{0,300}") {
        let _ = WitnessStates::parse(&bytes, &log());
    }

    #[test]
    fn a_mutated_document_is_refused_or_reads_back_identically(pos in 0usize..5000, byte in 0x20u8..0x7f) {
        let (_, text) = sample();
        let mut raw = text.into_bytes();
        let at = pos % raw.len();
        raw[at] = byte;
        let text = String::from_utf8(raw).unwrap();
        if let Ok(states) = WitnessStates::parse(&text, &log()) {
            prop_assert_eq!(states.to_text(), text);
        }
    }
}
