//! Submitting one checkpoint to every configured witness (format.md §12.4): what to send
//! comes from the state file (a checkpoint that rolls back or forks what any witness cosigned
//! is sent to none), each answer is classified, `409`s are followed a bounded number
//! of times, verified cosignatures are recorded (the state file rewritten after each one) and
//! merged into the note, and the quorum decides.
//!
//! Requests go out in rounds: every witness that needs a request gets one, on its own thread,
//! and the round ends when all have answered or timed out; a witness that answered `409` gets
//! its retry in the next round. So there is never more than one request in flight per witness,
//! and the proofs, the state and the observer stay on the caller's thread. The state file is
//! locked from before it is read until the last answer is recorded.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::cosignature::WitnessKey;
use trailseal_core::note::NoteVerifier;
use trailseal_core::tree::MerkleHash;
use trailseal_core::witness::{
    AddCheckpoint, MAX_RESPONSE_LEN, Next, Outcome, Quorum, WitnessRecord, WitnessStates,
    classify_response, evaluate_quorum, merge_cosignatures,
};

use super::endpoint::WitnessEndpoint;
use super::http::{self, HttpError, Response};
use super::outcome::{CosignError, Cosigning, Event, WitnessOutcome, WitnessReport};
use super::state_file::StateFile;

/// How a submission runs.
#[derive(Debug, Clone)]
pub struct CosignOptions {
    /// How many distinct witnesses must cosign (at least 1, at most the number configured).
    pub quorum: usize,
    /// The longest one request may take, connect to last byte.
    pub timeout: Duration,
    /// How many `409` answers are followed per witness.
    pub max_conflicts: usize,
    /// How long to wait for another run to release the state file.
    pub lock_wait: Duration,
}

impl Default for CosignOptions {
    fn default() -> Self {
        Self {
            quorum: 1,
            timeout: Duration::from_secs(10),
            max_conflicts: 3,
            lock_wait: Duration::from_secs(60),
        }
    }
}

impl CosignOptions {
    /// The defaults with this quorum.
    pub fn with_quorum(quorum: usize) -> Self {
        Self {
            quorum,
            ..Self::default()
        }
    }
}

/// One request to send.
struct Job {
    index: usize,
    request: AddCheckpoint,
    body: Vec<u8>,
}

/// Submits `note` (a checkpoint signed by `log`) to `witnesses` (see the module
/// documentation). `prove(old, size)` returns the consistency proof from the tree of `old`
/// leaves to the checkpoint's size (never called with `old` 0 or equal to the size).
/// `observer` sees each request before it is sent and each answer before anything is made of
/// it; [`ControlFlow::Break`] stops the submission there, as a kill would.
pub fn cosign<E>(
    note: &str,
    log: &NoteVerifier,
    witnesses: &[WitnessEndpoint],
    state_path: &Path,
    prove: &mut dyn FnMut(u64, u64) -> Result<Vec<MerkleHash>, E>,
    options: &CosignOptions,
    observer: &mut dyn FnMut(&Event<'_>) -> ControlFlow<()>,
) -> Result<Cosigning, CosignError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let checkpoint = Checkpoint::open(note, log)?;
    let keys: Vec<WitnessKey> = witnesses.iter().map(|w| w.key.clone()).collect();
    for (i, key) in keys.iter().enumerate() {
        if keys
            .iter()
            .take(i)
            .any(|k| k.public_key() == key.public_key())
        {
            return Err(CosignError::DuplicateWitness {
                name: key.name().to_owned(),
            });
        }
    }
    // A quorum that could never be met is refused before anything is sent.
    evaluate_quorum(note, log, &keys, options.quorum)?;

    let file = StateFile::lock(state_path, options.lock_wait)?;
    let mut states = file.read(log)?;
    let mut merged = note.to_owned();
    let mut outcomes: Vec<Option<WitnessOutcome>> = witnesses.iter().map(|_| None).collect();
    let mut conflicts = vec![0usize; witnesses.len()];
    let mut jobs = Vec::new();

    // A checkpoint that rolls back or forks what any witness cosigned is the log contradicting
    // itself: it goes to no witness (one that never saw the other checkpoint would cosign it).
    for endpoint in witnesses {
        states.next(&endpoint.key, &checkpoint)?;
    }
    for (index, endpoint) in witnesses.iter().enumerate() {
        let outcome = match states.next(&endpoint.key, &checkpoint) {
            Ok(Next::Submit { old }) => {
                match job(index, old, endpoint, &checkpoint, note, log, prove)? {
                    Ok(job) => {
                        jobs.push(job);
                        None
                    }
                    Err(e) => Some(WitnessOutcome::Request(e)),
                }
            }
            Ok(Next::AlreadyCosigned(record)) => {
                let timestamp = record.timestamp();
                Some(
                    match merge_cosignatures(&merged, log, record.cosignature_line()) {
                        Ok(m) => {
                            merged = m;
                            WitnessOutcome::AlreadyCosigned { timestamp }
                        }
                        Err(e) => WitnessOutcome::Merge(e),
                    },
                )
            }
            Ok(_) => None,
            Err(refusal) => Some(WitnessOutcome::Refused(refusal)),
        };
        if let Some(slot) = outcomes.get_mut(index) {
            *slot = outcome;
        }
    }

    while !jobs.is_empty() {
        for job in &jobs {
            let witness = endpoint_name(witnesses, job.index);
            let event = Event::Sending {
                witness,
                old: job.request.old(),
                size: checkpoint.size(),
                proof_len: job.request.proof().len(),
            };
            if observer(&event).is_break() {
                return Err(interrupted(witness));
            }
        }
        let answers = send_round(witnesses, &jobs, options.timeout);
        let mut next = Vec::new();
        for (job, answer) in jobs.into_iter().zip(answers) {
            let Some(endpoint) = witnesses.get(job.index) else {
                continue;
            };
            let outcome = match answer {
                None => WitnessOutcome::Crashed,
                Some(Err(e)) => WitnessOutcome::Http(e),
                Some(Ok(response)) => {
                    let event = Event::Answered {
                        witness: endpoint.key.name(),
                        status: response.status,
                    };
                    if observer(&event).is_break() {
                        return Err(interrupted(endpoint.key.name()));
                    }
                    let step = answered(
                        &job,
                        &response,
                        endpoint,
                        &checkpoint,
                        log,
                        &mut states,
                        &file,
                        &mut merged,
                        conflicts.get(job.index).copied().unwrap_or_default(),
                        options.max_conflicts,
                    )?;
                    match step {
                        Step::Done(outcome) => outcome,
                        Step::Retry(old) => {
                            if let Some(c) = conflicts.get_mut(job.index) {
                                *c += 1;
                            }
                            match self::job(
                                job.index,
                                old,
                                endpoint,
                                &checkpoint,
                                note,
                                log,
                                prove,
                            )? {
                                Ok(retry) => {
                                    next.push(retry);
                                    continue;
                                }
                                Err(e) => WitnessOutcome::Request(e),
                            }
                        }
                    }
                }
            };
            if let Some(slot) = outcomes.get_mut(job.index) {
                *slot = Some(outcome);
            }
        }
        jobs = next;
    }

    let reports: Vec<WitnessReport> = witnesses
        .iter()
        .zip(outcomes)
        .map(|(endpoint, outcome)| WitnessReport {
            name: endpoint.key.name().to_owned(),
            url: endpoint.url.to_string(),
            outcome: outcome.unwrap_or(WitnessOutcome::Crashed),
        })
        .collect();
    match evaluate_quorum(&merged, log, &keys, options.quorum)? {
        Quorum::Met { count } => Ok(Cosigning {
            note: merged,
            count,
            witnesses: reports,
        }),
        Quorum::NotMet { count, needed } => Err(CosignError::QuorumNotMet {
            count,
            needed,
            note: merged,
            witnesses: reports,
        }),
        _ => Err(CosignError::QuorumNotMet {
            count: 0,
            needed: options.quorum,
            note: merged,
            witnesses: reports,
        }),
    }
}

fn endpoint_name(witnesses: &[WitnessEndpoint], index: usize) -> &str {
    witnesses.get(index).map_or("", |w| w.key.name())
}

fn interrupted(witness: &str) -> CosignError {
    CosignError::Interrupted {
        witness: witness.to_owned(),
    }
}

/// The request from `old` for `endpoint`; a proof that cannot be made stops the submission
/// (the log's own tree failed), a request that cannot be built is this witness's outcome.
fn job<E>(
    index: usize,
    old: u64,
    endpoint: &WitnessEndpoint,
    checkpoint: &Checkpoint,
    note: &str,
    log: &NoteVerifier,
    prove: &mut dyn FnMut(u64, u64) -> Result<Vec<MerkleHash>, E>,
) -> Result<Result<Job, trailseal_core::witness::RequestError>, CosignError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let size = checkpoint.size();
    let proof = if old == 0 || old >= size {
        Vec::new()
    } else {
        prove(old, size).map_err(|source| CosignError::Prove {
            witness: endpoint.key.name().to_owned(),
            old,
            size,
            source: Box::new(source),
        })?
    };
    Ok(
        AddCheckpoint::new(old, &proof, note, log).map(|request| Job {
            index,
            body: request.to_body().into_bytes(),
            request,
        }),
    )
}

/// Sends every job at once, one thread each; `None` for a thread that failed.
fn send_round(
    witnesses: &[WitnessEndpoint],
    jobs: &[Job],
    timeout: Duration,
) -> Vec<Option<Result<Response, HttpError>>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|job| {
                let endpoint = witnesses.get(job.index);
                scope.spawn(move || {
                    endpoint.map(|e| {
                        http::post(
                            &e.url,
                            "add-checkpoint",
                            &job.body,
                            timeout,
                            MAX_RESPONSE_LEN,
                        )
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    })
}

enum Step {
    Done(WitnessOutcome),
    Retry(u64),
}

/// What one answer means; a cosignature is recorded in the state file before it is merged.
#[allow(clippy::too_many_arguments)]
fn answered(
    job: &Job,
    response: &Response,
    endpoint: &WitnessEndpoint,
    checkpoint: &Checkpoint,
    log: &NoteVerifier,
    states: &mut WitnessStates,
    file: &StateFile,
    merged: &mut String,
    conflicts: usize,
    max_conflicts: usize,
) -> Result<Step, CosignError> {
    let key = &endpoint.key;
    let outcome = match classify_response(
        response.status,
        response.content_type.as_deref(),
        &response.body,
        job.request.note(),
        key,
    ) {
        Err(e) => return Ok(Step::Done(WitnessOutcome::Protocol(e))),
        Ok(outcome) => outcome,
    };
    let lines = match outcome {
        Outcome::Cosigned { lines, .. } => lines,
        Outcome::Conflict { witness_size } => {
            if conflicts >= max_conflicts {
                return Ok(Step::Done(WitnessOutcome::TooManyConflicts {
                    conflicts,
                    witness_size,
                }));
            }
            return Ok(
                match states.after_conflict(key, checkpoint, job.request.old(), witness_size) {
                    Ok(old) => Step::Retry(old),
                    Err(refusal) => Step::Done(WitnessOutcome::Refused(refusal)),
                },
            );
        }
        other => return Ok(Step::Done(WitnessOutcome::Rejected(other))),
    };
    // The record: the submitted note with only this witness's new lines.
    let own = match merge_cosignatures(job.request.note(), log, &lines) {
        Ok(own) => own,
        Err(e) => return Ok(Step::Done(WitnessOutcome::Merge(e))),
    };
    let record = match WitnessRecord::from_note(key, log, &own) {
        Ok(r) => r,
        Err(e) => return Ok(Step::Done(WitnessOutcome::Record(e))),
    };
    let timestamp = record.timestamp();
    let mut updated = states.clone();
    if let Err(refusal) = updated.record(record) {
        return Ok(Step::Done(WitnessOutcome::Refused(refusal)));
    }
    file.write(&updated)?;
    *states = updated;
    Ok(Step::Done(match merge_cosignatures(merged, log, &lines) {
        Ok(m) => {
            *merged = m;
            WitnessOutcome::Cosigned {
                old: job.request.old(),
                timestamp,
                conflicts,
            }
        }
        Err(e) => WitnessOutcome::Merge(e),
    }))
}
