//! Cosigning against scripted fake witnesses (an in-test HTTP server that answers what each
//! test says): foreign or forged cosignatures, endless or lying `409`s, oversized and silent
//! answers. Nothing is merged or recorded from a bad answer, retries are bounded, and the
//! submission never hangs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trailseal::witness::{
    CosignError, CosignOptions, Cosigning, WitnessEndpoint, WitnessOutcome, cosign,
};
use trailseal_core::cosignature::WitnessSigner;
use trailseal_core::note::split_signed;
use trailseal_core::witness::{AddCheckpoint, Refusal, ResponseError};
use trailseal_testkit::witness::MemoryLog;

type Handler = dyn Fn(usize, &AddCheckpoint) -> Vec<u8> + Send + Sync;

/// A fake witness: each request's body is parsed and `handler(n, request)` gives the raw
/// response bytes for the n-th request (from 0). Stopped when dropped.
struct Fake {
    url: String,
    requests: Arc<Mutex<Vec<(u64, usize)>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Fake {
    fn start(handler: Box<Handler>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (Arc::clone(&requests), Arc::clone(&stop));
        let count = AtomicUsize::new(0);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                let Some(body) = read_body(&mut stream) else {
                    continue;
                };
                let request = AddCheckpoint::parse(&body).unwrap();
                seen.lock()
                    .unwrap()
                    .push((request.old(), request.proof().len()));
                let answer = handler(count.fetch_add(1, Ordering::SeqCst), &request);
                let _ = stream.write_all(&answer);
            }
        });
        Self {
            url: format!("http://{addr}"),
            requests,
            stop,
            addr,
        }
    }

    fn requests(&self) -> Vec<(u64, usize)> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn read_body(stream: &mut TcpStream) -> Option<Vec<u8>> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))?
                .trim()
                .parse()
                .ok()?;
            if got.len() >= end + 4 + length {
                return Some(got[end + 4..end + 4 + length].to_vec());
            }
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&chunk[..n]);
    }
}

fn response(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn body_of(request: &AddCheckpoint) -> String {
    split_signed(request.note()).unwrap().0.to_owned()
}

fn witness(seed: u8) -> WitnessSigner {
    WitnessSigner::from_seed("fake.test/witness", &[seed; 32]).unwrap()
}

/// An honest fake: cosigns whatever it is sent with `signer`.
fn cosigning(signer: WitnessSigner) -> Box<Handler> {
    Box::new(move |_, request| {
        let line = signer.cosign(&body_of(request), 1_700_000_000).unwrap();
        response("200 OK", "text/plain", line.as_bytes())
    })
}

struct Run {
    _dir: tempfile::TempDir,
    state: std::path::PathBuf,
}

fn run(
    log: &MemoryLog,
    fake: &Fake,
    key: &WitnessSigner,
    state: &std::path::Path,
    options: &CosignOptions,
) -> Result<Cosigning, CosignError> {
    let endpoint =
        WitnessEndpoint::parse(&format!("{}={}", fake.url, key.witness_key().to_vkey())).unwrap();
    cosign(
        &log.note(),
        &log.verifier(),
        &[endpoint],
        state,
        &mut log.prover(),
        options,
        &mut |_| ControlFlow::Continue(()),
    )
}

fn fresh() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    Run { _dir: dir, state }
}

/// The single outcome of a submission that failed its quorum of 1.
fn failed_outcome(result: Result<Cosigning, CosignError>) -> WitnessOutcome {
    match result {
        Err(CosignError::QuorumNotMet {
            mut witnesses,
            note,
            ..
        }) => {
            assert_eq!(split_signed(&note).unwrap().1.len(), 1, "nothing merged");
            witnesses.pop().unwrap().outcome
        }
        Ok(_) => panic!("cosigned"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn an_honest_fake_is_cosigned_and_recorded() {
    let mut log = MemoryLog::new();
    log.grow(5);
    let key = witness(1);
    let fake = Fake::start(cosigning(witness(1)));
    let r = fresh();
    let done = run(&log, &fake, &key, &r.state, &CosignOptions::default()).unwrap();
    assert_eq!(done.count, 1);
    assert!(r.state.exists());
    log.grow(9);
    run(&log, &fake, &key, &r.state, &CosignOptions::default()).unwrap();
    assert_eq!(fake.requests(), [(0, 0), (5, 5)]);
}

#[test]
fn cosignatures_by_another_key_or_over_another_body_are_never_merged() {
    let mut log = MemoryLog::new();
    log.grow(5);
    let key = witness(1);
    // Another key under the configured name.
    let fake = Fake::start(cosigning(witness(2)));
    let r = fresh();
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &CosignOptions::default()));
    assert!(
        matches!(
            outcome,
            WitnessOutcome::Protocol(ResponseError::BadLines { .. })
        ),
        "{outcome}"
    );
    assert!(!r.state.exists(), "nothing recorded");
    // The right key over another checkpoint body.
    let mut other = MemoryLog::new();
    other.grow(6);
    let other_body = split_signed(&other.note()).unwrap().0.to_owned();
    let signer = witness(1);
    let fake = Fake::start(Box::new(move |_, _| {
        let line = signer.cosign(&other_body, 1).unwrap();
        response("200 OK", "text/plain", line.as_bytes())
    }));
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &CosignOptions::default()));
    assert!(
        matches!(
            outcome,
            WitnessOutcome::Protocol(ResponseError::BadCosignature { .. })
        ),
        "{outcome}"
    );
    // Its own line plus a line by someone else.
    let signer = witness(1);
    let fake = Fake::start(Box::new(move |_, request| {
        let mut lines = signer.cosign(&body_of(request), 1).unwrap();
        lines.push_str(
            &witness(3)
                .cosign(&body_of(request), 1)
                .unwrap()
                .replace("fake.test", "else.test"),
        );
        response("200 OK", "text/plain", lines.as_bytes())
    }));
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &CosignOptions::default()));
    assert!(matches!(outcome, WitnessOutcome::Protocol(_)), "{outcome}");
    assert!(!r.state.exists(), "nothing recorded");
}

#[test]
fn conflicts_are_followed_a_bounded_number_of_times() {
    let mut log = MemoryLog::new();
    log.grow(50);
    let key = witness(1);
    // A witness that names a new size each time.
    let fake = Fake::start(Box::new(|n, _| {
        response(
            "409 Conflict",
            "text/x.tlog.size",
            format!("{}\n", n + 1).as_bytes(),
        )
    }));
    let r = fresh();
    let options = CosignOptions {
        max_conflicts: 3,
        ..CosignOptions::default()
    };
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &options));
    assert!(
        matches!(
            outcome,
            WitnessOutcome::TooManyConflicts {
                conflicts: 3,
                witness_size: 4
            }
        ),
        "{outcome}"
    );
    let olds: Vec<u64> = fake.requests().iter().map(|r| r.0).collect();
    assert_eq!(olds, [0, 1, 2, 3]);
    assert!(!r.state.exists());
}

#[test]
fn conflicts_that_contradict_are_refused() {
    let mut log = MemoryLog::new();
    log.grow(10);
    let key = witness(1);
    let r = fresh();
    // Ahead of the checkpoint.
    let fake = Fake::start(Box::new(|_, _| {
        response("409 Conflict", "text/x.tlog.size", b"11\n")
    }));
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &CosignOptions::default()));
    assert!(
        matches!(
            outcome,
            WitnessOutcome::Refused(Refusal::WitnessAhead { .. })
        ),
        "{outcome}"
    );
    // Naming the size that was sent.
    let fake = Fake::start(Box::new(|_, _| {
        response("409 Conflict", "text/x.tlog.size", b"0\n")
    }));
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &CosignOptions::default()));
    assert!(
        matches!(
            outcome,
            WitnessOutcome::Refused(Refusal::ConflictAtSentSize { .. })
        ),
        "{outcome}"
    );
    // Without its media type.
    let fake = Fake::start(Box::new(|_, _| {
        response("409 Conflict", "text/plain", b"3\n")
    }));
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &CosignOptions::default()));
    assert!(
        matches!(
            outcome,
            WitnessOutcome::Protocol(ResponseError::ConflictType { .. })
        ),
        "{outcome}"
    );
    // Below what it was seen to cosign: a witness that lost its state.
    let honest = Fake::start(cosigning(witness(1)));
    run(&log, &honest, &key, &r.state, &CosignOptions::default()).unwrap();
    let before = std::fs::read(&r.state).unwrap();
    log.grow(12);
    let fake = Fake::start(Box::new(|_, _| {
        response("409 Conflict", "text/x.tlog.size", b"4\n")
    }));
    let outcome =
        failed_outcome_keeping(run(&log, &fake, &key, &r.state, &CosignOptions::default()));
    assert!(
        matches!(
            outcome,
            WitnessOutcome::Refused(Refusal::WitnessRolledBack { .. })
        ),
        "{outcome}"
    );
    assert_eq!(std::fs::read(&r.state).unwrap(), before);
}

/// As [`failed_outcome`], without checking the note.
fn failed_outcome_keeping(result: Result<Cosigning, CosignError>) -> WitnessOutcome {
    match result {
        Err(CosignError::QuorumNotMet { mut witnesses, .. }) => witnesses.pop().unwrap().outcome,
        Ok(_) => panic!("cosigned"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn oversized_garbage_and_silent_answers_fail_within_the_timeout() {
    let mut log = MemoryLog::new();
    log.grow(3);
    let key = witness(1);
    let r = fresh();
    let fake = Fake::start(Box::new(|_, _| {
        response("200 OK", "text/plain", &vec![b'x'; 1 << 20])
    }));
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &CosignOptions::default()));
    assert!(
        matches!(
            outcome,
            WitnessOutcome::Protocol(ResponseError::TooLarge { .. })
        ),
        "{outcome}"
    );
    let fake = Fake::start(Box::new(|_, _| b"\x00\xffnot http at all\r\n\r\n".to_vec()));
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &CosignOptions::default()));
    assert!(matches!(outcome, WitnessOutcome::Http(_)), "{outcome}");
    let fake = Fake::start(Box::new(|_, _| {
        response(
            "503 Service Unavailable",
            "text/plain",
            "busy \u{1b}[31m\n".as_bytes(),
        )
    }));
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &CosignOptions::default()));
    assert_eq!(outcome.to_string(), "503: busy ?[31m");
    // Silent: accepts and never answers.
    let fake = Fake::start(Box::new(|_, _| {
        std::thread::sleep(Duration::from_secs(3));
        Vec::new()
    }));
    let options = CosignOptions {
        timeout: Duration::from_millis(300),
        ..CosignOptions::default()
    };
    let start = Instant::now();
    let outcome = failed_outcome(run(&log, &fake, &key, &r.state, &options));
    assert!(
        matches!(
            outcome,
            WitnessOutcome::Http(trailseal::witness::HttpError::Timeout { .. })
        ),
        "{outcome}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(!r.state.exists());
}
