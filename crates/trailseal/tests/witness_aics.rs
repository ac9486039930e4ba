//! Cosigning against a real C2SP tlog-witness nobody here wrote: `aics-witness` 0.1.0 from
//! PyPI, started on 127.0.0.1 by the testkit (skipped with a message when it cannot be
//! provisioned, unless `TRAILSEAL_REQUIRE_EXTERNAL` is set, as in CI).
//!
//! The log is an in-memory tree (`trailseal_core::tree`: a `Frontier` and the stored hashes in
//! a `Vec`) of 120-byte entries, its checkpoints signed with a note key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use trailseal::witness::{
    CosignError, CosignOptions, Cosigning, Event, StateFile, StateFileError, WitnessEndpoint,
    WitnessOutcome, cosign,
};
use trailseal_core::cosignature::{WitnessKey, verify_cosignatures};
use trailseal_core::note::split_signed;
use trailseal_core::witness::{Quorum, Refusal, WitnessStates, evaluate_quorum};
use trailseal_testkit::witness::{
    AicsWitness, MemoryLog as Log, ORIGIN, aics_verify_checkpoint, aics_witness_or_skip,
};

/// What the observer saw, as `old→size (proof n)` and status lines.
#[derive(Default)]
struct Transcript(Vec<String>);

impl Transcript {
    fn observer(&mut self) -> impl FnMut(&Event<'_>) -> ControlFlow<()> + '_ {
        |event| {
            self.0.push(match event {
                Event::Sending {
                    witness,
                    old,
                    size,
                    proof_len,
                } => format!("{witness}: old {old} -> size {size} ({proof_len} proof hashes)"),
                Event::Answered { witness, status } => format!("{witness}: {status}"),
                _ => "?".into(),
            });
            ControlFlow::Continue(())
        }
    }
}

struct Setup {
    venv: PathBuf,
    _dir: tempfile::TempDir,
    witnesses: Vec<AicsWitness>,
    state: PathBuf,
}

fn setup(test: &str, names: &[&str], log: &Log) -> Option<Setup> {
    let venv = aics_witness_or_skip(test)?;
    let dir = tempfile::tempdir().unwrap();
    let vkey = log.vkey();
    let witnesses = names
        .iter()
        .map(|name| {
            let wdir = dir.path().join(name.replace('/', "_"));
            std::fs::create_dir(&wdir).unwrap();
            AicsWitness::start(&venv, &wdir, name, &[(ORIGIN, &vkey)])
        })
        .collect();
    let state = dir.path().join("witness-state.json");
    Some(Setup {
        venv,
        _dir: dir,
        witnesses,
        state,
    })
}

fn endpoints(witnesses: &[AicsWitness]) -> Vec<WitnessEndpoint> {
    witnesses
        .iter()
        .map(|w| WitnessEndpoint::parse(&w.endpoint()).unwrap())
        .collect()
}

fn keys(endpoints: &[WitnessEndpoint]) -> Vec<WitnessKey> {
    endpoints.iter().map(|e| e.key.clone()).collect()
}

fn run(
    log: &Log,
    endpoints: &[WitnessEndpoint],
    state: &Path,
    quorum: usize,
    transcript: &mut Transcript,
) -> Result<Cosigning, CosignError> {
    let options = CosignOptions {
        timeout: Duration::from_secs(20),
        ..CosignOptions::with_quorum(quorum)
    };
    cosign(
        &log.note(),
        &log.verifier(),
        endpoints,
        state,
        &mut log.prover(),
        &options,
        &mut transcript.observer(),
    )
}

fn read_state(state: &Path, log: &Log) -> WitnessStates {
    let file = StateFile::lock(state, Duration::from_secs(5)).unwrap();
    file.read(&log.verifier()).unwrap()
}

/// The transcript line of a request from `old` to `size` to the first witness.
fn request(old: u64, size: u64) -> String {
    let proof = trailseal_core::witness::consistency_proof_len(old, size).unwrap();
    format!("w1.test/aics: old {old} -> size {size} ({proof} proof hashes)")
}

/// Lines of `note` signed by the key named `name`.
fn lines_by(note: &str, name: &str) -> usize {
    split_signed(note)
        .unwrap()
        .1
        .iter()
        .filter(|l| l.name == name)
        .count()
}

#[test]
fn twenty_successive_checkpoints_are_all_cosigned() {
    let mut log = Log::new();
    let Some(s) = setup("twenty_successive_checkpoints", &["w1.test/aics"], &log) else {
        return;
    };
    let endpoints = endpoints(&s.witnesses);
    let keys = keys(&endpoints);
    let mut transcript = Transcript::default();
    let mut previous = 0;
    let mut sizes = Vec::new();
    for i in 1..=20u64 {
        // Steps of 1 to 40 leaves, across powers of two and tile-sized jumps.
        let size = previous + [1, 1, 2, 3, 5, 8, 13, 21, 34, 40][(i as usize) % 10];
        log.grow(size);
        let done = run(&log, &endpoints, &s.state, 1, &mut transcript)
            .unwrap_or_else(|e| panic!("checkpoint {i} (size {size}): {e}"));
        assert_eq!(done.count, 1);
        match &done.witnesses[0].outcome {
            WitnessOutcome::Cosigned { old, conflicts, .. } => {
                assert_eq!((*old, *conflicts), (previous, 0), "checkpoint {i}");
            }
            other => panic!("checkpoint {i}: {other}"),
        }
        // The merged note: the log's signature, one valid cosignature, the quorum met.
        let cosigned = verify_cosignatures(&done.note, &keys).unwrap();
        assert_eq!(cosigned.len(), 1);
        assert_eq!(
            evaluate_quorum(&done.note, &log.verifier(), &keys, 1).unwrap(),
            Quorum::Met { count: 1 }
        );
        assert_eq!(lines_by(&done.note, "w1.test/aics"), 1);
        assert_eq!(
            split_signed(&done.note).unwrap().1[0].name,
            "trailseal.test/log"
        );
        // And by the witness's own library, independently.
        let theirs = aics_verify_checkpoint(
            &s.venv,
            &done.note,
            &log.vkey(),
            &[s.witnesses[0].vkey()],
            1,
        );
        assert_eq!(theirs["ok"], true, "checkpoint {i}: {theirs}");
        assert_eq!(theirs["cosignature_count"], 1, "{theirs}");
        assert_eq!(theirs["size"], size, "{theirs}");
        // The state file holds exactly this checkpoint for the witness.
        let states = read_state(&s.state, &log);
        let record = states.get(&keys[0], ORIGIN).unwrap();
        assert_eq!(record.checkpoint().size(), size);
        assert_eq!(record.checkpoint().root(), &log.frontier.root().0);
        assert_eq!(record.timestamp(), cosigned[0].timestamp);
        sizes.push(size);
        previous = size;
    }
    // Submitting the same checkpoint again sends nothing: the recorded cosignature is used.
    let before = transcript.0.len();
    let again = run(&log, &endpoints, &s.state, 1, &mut transcript).unwrap();
    assert!(matches!(
        again.witnesses[0].outcome,
        WitnessOutcome::AlreadyCosigned { .. }
    ));
    assert_eq!(transcript.0.len(), before);
    assert_eq!(verify_cosignatures(&again.note, &keys).unwrap().len(), 1);
    // The independent verifier is not vacuous: a cosignature over another body fails it.
    let mut other = Log::new();
    other.grow(previous + 1);
    let witness_line = again.note.lines().last().unwrap();
    assert!(
        witness_line.starts_with("\u{2014} w1.test/aics "),
        "{witness_line}"
    );
    let transplanted = format!("{}{witness_line}\n", other.note());
    let theirs = aics_verify_checkpoint(
        &s.venv,
        &transplanted,
        &log.vkey(),
        &[s.witnesses[0].vkey()],
        1,
    );
    assert_eq!(theirs["ok"], false, "{theirs}");
    eprintln!("sizes cosigned: {sizes:?}");
    eprintln!("transcript:\n  {}", transcript.0.join("\n  "));
    assert_eq!(transcript.0.len(), 40);
    assert!(
        transcript
            .0
            .iter()
            .skip(1)
            .step_by(2)
            .all(|l| l.ends_with(": 200"))
    );
}

#[test]
fn a_forked_copy_is_refused_and_the_state_is_unchanged() {
    let mut log = Log::new();
    let Some(s) = setup("a_forked_copy_is_refused", &["w1.test/aics"], &log) else {
        return;
    };
    let endpoints = endpoints(&s.witnesses);
    let mut transcript = Transcript::default();
    log.grow(6);
    let mut fork = log.fork();
    log.grow(10);
    run(&log, &endpoints, &s.state, 1, &mut transcript).unwrap();
    let state_bytes = std::fs::read(&s.state).unwrap();

    // Same size, another root: the state file alone refuses it; nothing is sent.
    fork.grow(10);
    assert_ne!(fork.frontier.root(), log.frontier.root());
    let sent = transcript.0.len();
    let e = run(&fork, &endpoints, &s.state, 1, &mut transcript).unwrap_err();
    assert!(
        matches!(e, CosignError::Refused(Refusal::Fork { size: 10, .. })),
        "{e}"
    );
    assert!(e.to_string().contains("a fork; nothing was sent"), "{e}");
    // Also to a witness that never saw size 10: the log contradicts itself.
    let other = trailseal_core::cosignature::WitnessSigner::from_seed("w9.test/other", &[8; 32])
        .unwrap()
        .witness_key()
        .to_vkey();
    let mut with_other =
        vec![WitnessEndpoint::parse(&format!("http://127.0.0.1:9={other}")).unwrap()];
    with_other.extend(endpoints.iter().cloned());
    let e = run(&fork, &with_other, &s.state, 1, &mut transcript).unwrap_err();
    assert!(matches!(e, CosignError::Refused(_)), "{e}");
    // A rollback (a smaller size than cosigned) likewise.
    // (The same entries: the log is deterministic.)
    let mut short = Log::new();
    short.grow(7);
    let e = run(&short, &endpoints, &s.state, 1, &mut transcript).unwrap_err();
    assert!(
        matches!(e, CosignError::Refused(Refusal::Rollback { .. })),
        "{e}"
    );
    assert_eq!(transcript.0.len(), sent, "nothing was sent");
    assert_eq!(std::fs::read(&s.state).unwrap(), state_bytes);

    // The same fork from a host that lost its state: the witness itself refuses it (409 from
    // 0, then 422 at its size).
    let lost = s.state.with_file_name("lost-state.json");
    let e = run(&fork, &endpoints, &lost, 1, &mut transcript).unwrap_err();
    let CosignError::QuorumNotMet { witnesses, .. } = &e else {
        panic!("{e}")
    };
    assert!(
        matches!(
            witnesses[0].outcome,
            WitnessOutcome::Rejected(trailseal_core::witness::Outcome::BadProof { .. })
        ),
        "{e}"
    );
    assert!(!lost.exists(), "nothing was recorded");
    assert_eq!(&transcript.0[sent..][1], "w1.test/aics: 409");
    assert_eq!(&transcript.0[sent..][3], "w1.test/aics: 422");

    // A larger size that is not consistent with what the witness cosigned: 422.
    fork.grow(17);
    let at = transcript.0.len();
    let e = run(&fork, &endpoints, &s.state, 1, &mut transcript).unwrap_err();
    let CosignError::QuorumNotMet { witnesses, .. } = &e else {
        panic!("{e}")
    };
    assert!(
        matches!(
            witnesses[0].outcome,
            WitnessOutcome::Rejected(trailseal_core::witness::Outcome::BadProof { .. })
        ),
        "{e}"
    );
    assert_eq!(
        transcript.0[at..],
        [request(10, 17), "w1.test/aics: 422".to_owned()]
    );
    assert_eq!(std::fs::read(&s.state).unwrap(), state_bytes);
    // The witness kept both refused requests as evidence of the split view.
    let evidence = s.witnesses[0].evidence();
    assert!(
        evidence.as_array().is_some_and(|a| a.len() >= 2),
        "{evidence}"
    );
    // The real log still gets its next checkpoint cosigned.
    log.grow(18);
    run(&log, &endpoints, &s.state, 1, &mut transcript).unwrap();
    eprintln!("transcript:\n  {}", transcript.0.join("\n  "));
}

#[test]
fn a_run_killed_after_the_answer_recovers_from_the_size_the_witness_names() {
    let mut log = Log::new();
    let Some(s) = setup("a_run_killed_after_the_answer", &["w1.test/aics"], &log) else {
        return;
    };
    let endpoints = endpoints(&s.witnesses);
    let keys = keys(&endpoints);
    let mut transcript = Transcript::default();
    log.grow(5);
    run(&log, &endpoints, &s.state, 1, &mut transcript).unwrap();
    let state_bytes = std::fs::read(&s.state).unwrap();

    // The witness cosigns size 9, and the run stops before recording it (as a kill would).
    log.grow(9);
    let mut seen = Vec::new();
    let e = cosign(
        &log.note(),
        &log.verifier(),
        &endpoints,
        &s.state,
        &mut log.prover(),
        &CosignOptions::default(),
        &mut |event| {
            seen.push(format!("{event:?}"));
            match event {
                Event::Answered { status: 200, .. } => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        },
    )
    .unwrap_err();
    assert!(matches!(e, CosignError::Interrupted { .. }), "{e}");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        std::fs::read(&s.state).unwrap(),
        state_bytes,
        "not recorded"
    );

    // The next run sends from 5, gets 409 naming 9, retries from 9 and is cosigned.
    log.grow(12);
    let at = transcript.0.len();
    let done = run(&log, &endpoints, &s.state, 1, &mut transcript).unwrap();
    assert_eq!(
        transcript.0[at..],
        [
            request(5, 12),
            "w1.test/aics: 409".to_owned(),
            request(9, 12),
            "w1.test/aics: 200".to_owned(),
        ]
    );
    assert!(
        matches!(
            done.witnesses[0].outcome,
            WitnessOutcome::Cosigned {
                old: 9,
                conflicts: 1,
                ..
            }
        ),
        "{}",
        done.witnesses[0].outcome
    );
    // One cosignature in the note, one record in the state: nothing lost or doubled.
    assert_eq!(lines_by(&done.note, "w1.test/aics"), 1);
    let states = read_state(&s.state, &log);
    assert_eq!(states.records().count(), 1);
    assert_eq!(
        states.get(&keys[0], ORIGIN).unwrap().checkpoint().size(),
        12
    );

    // The same crash with the very checkpoint the witness cosigned: recovered with an empty
    // proof at that size.
    log.grow(13);
    let note = log.note();
    let _ = cosign(
        &note,
        &log.verifier(),
        &endpoints,
        &s.state,
        &mut log.prover(),
        &CosignOptions::default(),
        &mut |event| match event {
            Event::Answered { .. } => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        },
    )
    .unwrap_err();
    let at = transcript.0.len();
    let done = run(&log, &endpoints, &s.state, 1, &mut transcript).unwrap();
    assert_eq!(
        transcript.0[at..],
        [
            request(12, 13),
            "w1.test/aics: 409".to_owned(),
            request(13, 13),
            "w1.test/aics: 200".to_owned(),
        ]
    );
    assert_eq!(lines_by(&done.note, "w1.test/aics"), 1);
    assert_eq!(
        read_state(&s.state, &log)
            .get(&keys[0], ORIGIN)
            .unwrap()
            .checkpoint()
            .size(),
        13
    );
    eprintln!("transcript:\n  {}", transcript.0.join("\n  "));
}

#[test]
fn a_quorum_not_met_is_an_error_with_every_outcome() {
    let mut log = Log::new();
    let Some(s) = setup("a_quorum_not_met", &["w1.test/aics"], &log) else {
        return;
    };
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let other = trailseal_core::cosignature::WitnessSigner::from_seed("w2.test/dead", &[9; 32])
        .unwrap()
        .witness_key()
        .to_vkey();
    let mut endpoints = endpoints(&s.witnesses);
    endpoints.push(WitnessEndpoint::parse(&format!("http://{dead}={other}")).unwrap());
    log.grow(3);
    let mut transcript = Transcript::default();
    let e = run(&log, &endpoints, &s.state, 2, &mut transcript).unwrap_err();
    let CosignError::QuorumNotMet {
        count,
        needed,
        note,
        witnesses,
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!((*count, *needed), (1, 2));
    assert!(witnesses[0].outcome.is_cosigned(), "{e}");
    assert!(
        matches!(
            witnesses[1].outcome,
            WitnessOutcome::Http(trailseal::witness::HttpError::Connect { .. })
        ),
        "{e}"
    );
    let message = e.to_string();
    assert!(
        message.starts_with("witness quorum 2: not met, 1 cosigned; witness w1.test/aics"),
        "{message}"
    );
    assert!(message.contains(&format!(
        "witness w2.test/dead (http://{dead}): http: connect to"
    )));
    // What was cosigned is kept: in the note and in the state file.
    assert_eq!(lines_by(note, "w1.test/aics"), 1);
    assert_eq!(read_state(&s.state, &log).records().count(), 1);
    // Quorum 1 of the same two is met.
    log.grow(4);
    let done = run(&log, &endpoints, &s.state, 1, &mut transcript).unwrap();
    assert_eq!(done.count, 1);
    // A quorum above the number of witnesses is refused before anything is sent.
    let sent = transcript.0.len();
    let e = run(&log, &endpoints, &s.state, 3, &mut transcript).unwrap_err();
    assert!(matches!(e, CosignError::Quorum(_)), "{e}");
    assert_eq!(transcript.0.len(), sent);
}

#[test]
fn a_quorum_of_two_with_two_witnesses() {
    let mut log = Log::new();
    let Some(s) = setup(
        "a_quorum_of_two_with_two_witnesses",
        &["w1.test/aics", "w2.test/aics"],
        &log,
    ) else {
        return;
    };
    let endpoints = endpoints(&s.witnesses);
    let keys = keys(&endpoints);
    let mut transcript = Transcript::default();
    for size in [1, 2, 7, 8, 9, 300] {
        log.grow(size);
        let done = run(&log, &endpoints, &s.state, 2, &mut transcript)
            .unwrap_or_else(|e| panic!("size {size}: {e}"));
        assert_eq!(done.count, 2);
        assert_eq!(
            evaluate_quorum(&done.note, &log.verifier(), &keys, 2).unwrap(),
            Quorum::Met { count: 2 }
        );
        assert_eq!(lines_by(&done.note, "w1.test/aics"), 1);
        assert_eq!(lines_by(&done.note, "w2.test/aics"), 1);
        let vkeys: Vec<&str> = s.witnesses.iter().map(AicsWitness::vkey).collect();
        let theirs = aics_verify_checkpoint(&s.venv, &done.note, &log.vkey(), &vkeys, 2);
        assert_eq!(theirs["ok"], true, "size {size}: {theirs}");
        assert_eq!(theirs["cosignature_count"], 2, "{theirs}");
        let states = read_state(&s.state, &log);
        for (key, witness) in keys.iter().zip(&s.witnesses) {
            let record = states.get(key, ORIGIN).unwrap();
            assert_eq!(record.checkpoint().size(), size);
            // Each record is evidence anyone with the two public keys can check.
            let theirs =
                aics_verify_checkpoint(&s.venv, record.note(), &log.vkey(), &[witness.vkey()], 1);
            assert_eq!(theirs["ok"], true, "{theirs}");
        }
    }
    eprintln!("transcript:\n  {}", transcript.0.join("\n  "));
}

#[test]
fn two_concurrent_runs_do_not_interleave() {
    let mut log = Log::new();
    let Some(s) = setup(
        "two_concurrent_runs_do_not_interleave",
        &["w1.test/aics"],
        &log,
    ) else {
        return;
    };
    let endpoints = endpoints(&s.witnesses);
    log.grow(4);
    run(&log, &endpoints, &s.state, 1, &mut Transcript::default()).unwrap();
    log.grow(9);
    // Both submit size 9 from the same state: one sends (from 4), the other waits for the lock
    // and finds the cosignature recorded. Interleaved, both would send from 4 and one would get
    // a 409.
    let outcomes: Vec<(Vec<String>, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut transcript = Transcript::default();
                    let done = run(&log, &endpoints, &s.state, 1, &mut transcript).unwrap();
                    (transcript.0, done.witnesses[0].outcome.to_string())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seen: Vec<String> = outcomes.iter().map(|(_, o)| o.clone()).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "already cosigned (from the state file)",
            "cosigned (sent from size 4)"
        ]
    );
    let sent: Vec<&String> = outcomes.iter().flat_map(|(t, _)| t).collect();
    assert_eq!(sent, [&request(4, 9), &"w1.test/aics: 200".to_owned()]);
}

#[test]
fn the_state_file_is_locked_for_the_whole_submission() {
    let log = Log::new();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let held = StateFile::lock(&state, Duration::from_secs(1)).unwrap();
    let mut log = log;
    log.grow(2);
    let key = trailseal_core::cosignature::WitnessSigner::from_seed("w.test/x", &[5; 32])
        .unwrap()
        .witness_key()
        .to_vkey();
    let endpoints = [WitnessEndpoint::parse(&format!("http://127.0.0.1:9={key}")).unwrap()];
    let options = CosignOptions {
        lock_wait: Duration::from_millis(200),
        ..CosignOptions::default()
    };
    let mut sent = 0;
    let e = cosign(
        &log.note(),
        &log.verifier(),
        &endpoints,
        &state,
        &mut log.prover(),
        &options,
        &mut |_| {
            sent += 1;
            ControlFlow::Continue(())
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, CosignError::State(StateFileError::Locked { .. })),
        "{e}"
    );
    assert_eq!(sent, 0);
    drop(held);
    // Under the lock, what a killed run's write left beside the state file is removed.
    let litter = dir.path().join(".state.json.0123456789abcdef01234567.tmp");
    std::fs::write(&litter, "half").unwrap();
    drop(StateFile::lock(&state, Duration::from_secs(1)).unwrap());
    assert!(!litter.exists());
    // A state file that does not read is an error naming it; nothing is sent.
    std::fs::write(&state, "{}\n").unwrap();
    let e = cosign(
        &log.note(),
        &log.verifier(),
        &endpoints,
        &state,
        &mut log.prover(),
        &options,
        &mut |_| {
            sent += 1;
            ControlFlow::Continue(())
        },
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("witness state {}: ", state.display())),
        "{e}"
    );
    assert_eq!(sent, 0);
}
