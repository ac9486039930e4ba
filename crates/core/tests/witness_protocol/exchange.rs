//! A full simulated exchange: a client built from the witness module, talking to a fake
//! tlog-witness written here (the checks of c2sp.org/tlog-witness v1.1, in order).

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::cosignature::{WitnessKey, WitnessSigner};
use trailseal_core::tree::{MerkleHash, check_tree};
use trailseal_core::witness::{
    AddCheckpoint, Next, Outcome, Quorum, Refusal, WitnessRecord, WitnessStates, classify_response,
    evaluate_quorum, merge_cosignatures,
};

use super::common::{Tree, log, witness, wkey};

/// A witness for one log: the latest size and root it cosigned, and a clock.
struct FakeWitness {
    signer: WitnessSigner,
    held: Option<(u64, MerkleHash)>,
    clock: u64,
    requests: usize,
}

impl FakeWitness {
    fn new(n: u8) -> Self {
        Self {
            signer: witness(n),
            held: None,
            clock: 1_700_000_000,
            requests: 0,
        }
    }

    /// Status, content type, body.
    fn handle(&mut self, body: &[u8]) -> (u16, Option<&'static str>, Vec<u8>) {
        self.requests += 1;
        let text = |s: &str| s.as_bytes().to_vec();
        let Ok(req) = AddCheckpoint::parse(body) else {
            return (400, None, text("malformed body\n"));
        };
        let Ok(cp) = Checkpoint::open(req.note(), &log()) else {
            return (403, None, text("no trusted log signature\n"));
        };
        if req.old() > cp.size() {
            return (400, None, text("old size larger than the checkpoint\n"));
        }
        let (held_size, held_root) = self.held.unwrap_or((0, MerkleHash::empty_tree()));
        if req.old() != held_size {
            return (
                409,
                Some("text/x.tlog.size"),
                text(&format!("{held_size}\n")),
            );
        }
        let root = MerkleHash(*cp.root());
        let consistent = if req.old() == 0 {
            req.proof().is_empty()
        } else if req.old() == cp.size() {
            req.proof().is_empty() && root == held_root
        } else {
            check_tree(req.proof(), cp.size(), &root, req.old(), &held_root).is_ok()
        };
        if !consistent {
            return (422, None, text("consistency proof does not verify\n"));
        }
        self.clock += 1;
        self.held = Some((cp.size(), root));
        let body = &req.note()[..req.note().rfind("\n\n").unwrap() + 1];
        (
            200,
            None,
            text(&self.signer.cosign(body, self.clock).unwrap()),
        )
    }
}

#[derive(Debug, PartialEq)]
enum Failure {
    Refused(Refusal),
    Answer(String),
}

/// Gets `witness` to cosign the checkpoint of `tree` at its size; `persist` false drops the
/// state update (a crash after the answer). Returns the merged note.
fn submit(
    states: &mut WitnessStates,
    fake: &mut FakeWitness,
    key: &WitnessKey,
    tree: &mut Tree,
    note: &str,
    persist: bool,
) -> Result<String, Failure> {
    let cp = Checkpoint::open(note, &log()).unwrap();
    let mut old = match states.next(key, &cp).map_err(Failure::Refused)? {
        Next::AlreadyCosigned(record) => {
            return Ok(merge_cosignatures(note, &log(), record.cosignature_line()).unwrap());
        }
        Next::Submit { old } => old,
        other => panic!("{other:?}"),
    };
    for _ in 0..4 {
        let proof = tree.proof(old, cp.size());
        let req = AddCheckpoint::new(old, &proof, note, &log()).unwrap();
        let (status, ct, body) = fake.handle(req.to_body().as_bytes());
        match classify_response(status, ct, &body, note, key).unwrap() {
            Outcome::Cosigned { lines, .. } => {
                let merged = merge_cosignatures(note, &log(), &lines).unwrap();
                let record = WitnessRecord::from_note(key, &log(), &merged).unwrap();
                if persist {
                    states.record(record).map_err(Failure::Refused)?;
                }
                return Ok(merged);
            }
            Outcome::Conflict { witness_size } => {
                old = states
                    .after_conflict(key, &cp, old, witness_size)
                    .map_err(Failure::Refused)?;
            }
            other => return Err(Failure::Answer(format!("{other:?}"))),
        }
    }
    Err(Failure::Answer("too many conflicts".into()))
}

#[test]
fn twenty_growing_checkpoints_are_cosigned_by_a_quorum() {
    let mut tree = Tree::new("leaf");
    let keys = [wkey(1), wkey(2), wkey(3)];
    let mut fakes = [
        FakeWitness::new(1),
        FakeWitness::new(2),
        FakeWitness::new(3),
    ];
    let mut saved = WitnessStates::new().to_text();
    for step in 1..=20u64 {
        let size = step * step + 3 * step;
        let mut note = tree.note(size);
        // The state is persisted and read back between checkpoints, as a client does.
        let mut states = WitnessStates::parse(&saved, &log()).unwrap();
        for (key, fake) in keys.iter().zip(fakes.iter_mut()) {
            note = submit(&mut states, fake, key, &mut tree, &note, true).unwrap();
        }
        assert_eq!(
            evaluate_quorum(&note, &log(), &keys, 3).unwrap(),
            Quorum::Met { count: 3 }
        );
        for key in &keys {
            let r = states.get(key, super::common::ORIGIN).unwrap();
            assert_eq!(r.checkpoint().size(), size);
        }
        saved = states.to_text();
    }
    // One request per witness per checkpoint: never a conflict when the state is kept.
    for fake in &fakes {
        assert_eq!(fake.requests, 20);
    }
}

#[test]
fn a_crash_after_the_answer_recovers_without_a_lost_or_double_cosignature() {
    let mut tree = Tree::new("leaf");
    let key = wkey(1);
    let mut fake = FakeWitness::new(1);
    let mut states = WitnessStates::new();
    let n_tree_10 = tree.note(10);
    submit(&mut states, &mut fake, &key, &mut tree, &n_tree_10, true).unwrap();
    // Cosigned 17, but the state was not written.
    let note17 = tree.note(17);
    submit(&mut states, &mut fake, &key, &mut tree, &note17, false).unwrap();
    assert_eq!(
        states
            .get(&key, super::common::ORIGIN)
            .unwrap()
            .checkpoint()
            .size(),
        10
    );
    // The same checkpoint again: a 409 names 17, the retry from 17 needs no proof.
    let before = fake.requests;
    let merged = submit(&mut states, &mut fake, &key, &mut tree, &note17, true).unwrap();
    assert_eq!(fake.requests - before, 2);
    assert_eq!(merged.matches("\u{2014} witness1.example ").count(), 1);
    // A later checkpoint: one request from 17.
    let before = fake.requests;
    let n_tree_30 = tree.note(30);
    submit(&mut states, &mut fake, &key, &mut tree, &n_tree_30, true).unwrap();
    assert_eq!(fake.requests - before, 1);
    // Another crash at 40, recovered from the stored 30: a 409 names 40, the retry from 40.
    let note40 = tree.note(40);
    submit(&mut states, &mut fake, &key, &mut tree, &note40, false).unwrap();
    let before = fake.requests;
    let again = submit(&mut states, &mut fake, &key, &mut tree, &note40, true).unwrap();
    assert_eq!(fake.requests - before, 2);
    assert_eq!(
        evaluate_quorum(&again, &log(), std::slice::from_ref(&key), 1).unwrap(),
        Quorum::Met { count: 1 }
    );
    // Asked once more, nothing is sent: the record has it.
    let before = fake.requests;
    submit(&mut states, &mut fake, &key, &mut tree, &note40, true).unwrap();
    assert_eq!(fake.requests, before);
}

#[test]
fn a_forked_or_rolled_back_log_gets_no_cosignature() {
    let mut tree = Tree::new("leaf");
    let mut fork = Tree::new("fork");
    let key = wkey(1);
    let mut fake = FakeWitness::new(1);
    let mut states = WitnessStates::new();
    let n_tree_12 = tree.note(12);
    submit(&mut states, &mut fake, &key, &mut tree, &n_tree_12, true).unwrap();
    // Equal size, other root; smaller: refused before anything is sent.
    let before = fake.requests;
    let n_fork_12 = fork.note(12);
    let r = submit(&mut states, &mut fake, &key, &mut fork, &n_fork_12, true);
    assert!(
        matches!(r, Err(Failure::Refused(Refusal::Fork { .. }))),
        "{r:?}"
    );
    let n_tree_11 = tree.note(11);
    let r = submit(&mut states, &mut fake, &key, &mut tree, &n_tree_11, true);
    assert!(
        matches!(r, Err(Failure::Refused(Refusal::Rollback { .. }))),
        "{r:?}"
    );
    assert_eq!(fake.requests, before);
    // A larger fork: the witness refuses its proof (422), with the state or without it.
    let n_fork_20 = fork.note(20);
    let r = submit(&mut states, &mut fake, &key, &mut fork, &n_fork_20, true);
    assert!(
        matches!(&r, Err(Failure::Answer(a)) if a.starts_with("BadProof")),
        "{r:?}"
    );
    let mut lost = WitnessStates::new();
    let n_fork_20 = fork.note(20);
    let r = submit(&mut lost, &mut fake, &key, &mut fork, &n_fork_20, true);
    assert!(
        matches!(&r, Err(Failure::Answer(a)) if a.starts_with("BadProof")),
        "{r:?}"
    );
    // Without the state, a rolled-back log hears that the witness is ahead.
    let n_tree_11 = tree.note(11);
    let r = submit(&mut lost, &mut fake, &key, &mut tree, &n_tree_11, true);
    assert!(
        matches!(
            r,
            Err(Failure::Refused(Refusal::WitnessAhead {
                witness_size: 12,
                ..
            }))
        ),
        "{r:?}"
    );
    // The honest log goes on.
    let n_tree_25 = tree.note(25);
    submit(&mut states, &mut fake, &key, &mut tree, &n_tree_25, true).unwrap();
}
