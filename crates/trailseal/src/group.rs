//! [`SharedLog`]: one [`AuditLog`] shared by the threads of a process, with group commit.
//!
//! A durable append costs one flush of the disk (an `fsync`, about 120 µs here) however many
//! records it writes. When several threads append single traces at once, the first becomes
//! the *leader*: it takes every trace waiting (up to [`SharedLog::max_group`]), appends them in
//! one transaction with one flush, and hands each caller its own result. The traces that
//! arrived meanwhile form the next group, whose first caller leads it; the lead is passed on
//! before the finished callers are woken, so the next commit starts at once. A leader whose
//! group is smaller than the previous one waits up to [`SharedLog::DEFAULT_MAX_WAIT`] for
//! callers that are about to append again (a lone caller never waits). Every caller returns
//! only once its own record is durable, exactly as with one append per transaction; the chain
//! order is the order in which groups commit, and within a group the order of arrival.
//!
//! A group is all or nothing in the store. If one of its traces is at fault (say it repeats an
//! `action_id`), its traces are appended again one by one, so only that caller gets the error;
//! if the store itself fails (I/O, a lost connection), every caller of the group gets an error.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use trailseal_core::{PreparedTrace, TraceLimits};
use trailseal_store::{Appended, StoreError};

use crate::error::Error;
use crate::log::AuditLog;

/// What a waiting caller is told.
#[derive(Debug)]
enum Outcome {
    Waiting,
    /// The previous leader is done: this caller leads the next group.
    Lead,
    Done(Result<Appended, Error>),
}

#[derive(Debug)]
struct Slot {
    outcome: Mutex<Outcome>,
    ready: Condvar,
}

impl Slot {
    fn new() -> Arc<Self> {
        Arc::new(Slot {
            outcome: Mutex::new(Outcome::Waiting),
            ready: Condvar::new(),
        })
    }

    fn set(&self, outcome: Outcome) {
        *lock(&self.outcome) = outcome;
        self.ready.notify_one();
    }

    /// Waits until the caller has its result or must lead.
    fn wait(&self) -> Outcome {
        let mut guard = lock(&self.outcome);
        loop {
            match std::mem::replace(&mut *guard, Outcome::Waiting) {
                Outcome::Waiting => {
                    guard = self
                        .ready
                        .wait(guard)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                outcome => return outcome,
            }
        }
    }
}

#[derive(Debug)]
struct Pending {
    trace: PreparedTrace,
    slot: Arc<Slot>,
}

#[derive(Debug, Default)]
struct Queue {
    pending: VecDeque<Pending>,
    /// A leader is forming or committing a group; new callers wait for it.
    leading: bool,
    /// The leader is waiting for more traces to join its group.
    gathering: bool,
    /// How many traces the last group held.
    last_group: usize,
}

/// Locks a mutex, taking it over if a thread panicked while holding it. The data it guards
/// stays consistent: a group either committed (the store says so) or did not.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An [`AuditLog`] that many threads append to at once, with group commit (see the module
/// documentation). Cheap to share: wrap it in an [`Arc`].
#[derive(Debug)]
pub struct SharedLog {
    log: Mutex<AuditLog>,
    limits: TraceLimits,
    location: String,
    queue: Mutex<Queue>,
    /// Signalled when a trace joins the queue while the leader gathers.
    joined: Condvar,
    max_group: usize,
    max_wait: Duration,
    commits: AtomicU64,
    committed: AtomicU64,
}

/// How well appends were grouped so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    /// Transactions committed (each with one flush).
    pub commits: u64,
    /// Traces appended in them.
    pub traces: u64,
}

impl SharedLog {
    /// The most traces one group holds by default.
    pub const DEFAULT_MAX_GROUP: usize = 1000;

    /// How long a leader waits by default, at most, for its group to reach the size of the
    /// previous one. Callers whose appends just committed usually append again at once; on a
    /// loaded machine a woken thread takes tens of microseconds to run, and without the wait
    /// their traces would miss the next group and need a flush of their own. A lone caller
    /// (previous group of one) never waits.
    pub const DEFAULT_MAX_WAIT: Duration = Duration::from_micros(200);

    /// Shares `log`, which must have its key set for appending.
    pub fn new(log: AuditLog) -> Self {
        Self {
            limits: log.limits(),
            location: log.location().to_owned(),
            log: Mutex::new(log),
            queue: Mutex::new(Queue::default()),
            joined: Condvar::new(),
            max_group: Self::DEFAULT_MAX_GROUP,
            max_wait: Self::DEFAULT_MAX_WAIT,
            commits: AtomicU64::new(0),
            committed: AtomicU64::new(0),
        }
    }

    /// Sets the most traces one group holds (at least 1; 1 turns group commit off).
    pub fn with_max_group(mut self, max_group: usize) -> Self {
        self.max_group = max_group.max(1);
        self
    }

    /// Sets how long a leader waits at most for its group to fill (see
    /// [`SharedLog::DEFAULT_MAX_WAIT`]); zero commits at once whatever waits.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The most traces one group holds.
    pub fn max_group(&self) -> usize {
        self.max_group
    }

    /// How many transactions committed how many traces so far.
    pub fn stats(&self) -> GroupStats {
        GroupStats {
            commits: self.commits.load(Ordering::Relaxed),
            traces: self.committed.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` on the log alone (no group is committing meanwhile): to verify, list or
    /// prune it.
    pub fn with_log<R>(&self, f: impl FnOnce(&mut AuditLog) -> R) -> R {
        f(&mut lock(&self.log))
    }

    /// Gives the log back.
    pub fn into_inner(self) -> AuditLog {
        self.log
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Validates and appends one trace (JSON in the export shape); see [`SharedLog::append`].
    pub fn append_json(&self, text: &[u8]) -> Result<Appended, Error> {
        let trace = PreparedTrace::parse(text, &self.limits)
            .map_err(|source| Error::Trace { index: 0, source })?;
        self.append(trace)
    }

    /// Appends one trace, sharing a transaction and a flush with the traces other threads are
    /// appending at the same moment. Returns once the record is durable.
    pub fn append(&self, trace: PreparedTrace) -> Result<Appended, Error> {
        let slot = Slot::new();
        {
            let mut queue = lock(&self.queue);
            queue.pending.push_back(Pending {
                trace,
                slot: Arc::clone(&slot),
            });
            if queue.gathering {
                self.joined.notify_one();
            }
            if queue.leading {
                drop(queue);
                match slot.wait() {
                    Outcome::Done(result) => return result,
                    Outcome::Lead | Outcome::Waiting => {}
                }
            } else {
                queue.leading = true;
            }
        }
        // This caller leads: its trace is the first of the queue.
        self.lead();
        match slot.wait() {
            Outcome::Done(result) => result,
            // Cannot happen: `lead` always settles the leader's own slot.
            Outcome::Lead | Outcome::Waiting => Err(Error::Io {
                path: self.location.clone(),
                action: "append",
                source: std::io::Error::other("group commit lost a trace"),
            }),
        }
    }

    /// Commits one group, passes the lead on (or gives it up when nobody waits), then wakes
    /// the group's callers. Waking a thread costs tens of microseconds on a busy machine, so
    /// the next leader is woken first: its commit, not the wake-ups, is the critical path.
    fn lead(&self) {
        let group: Vec<Pending> = {
            let mut queue = lock(&self.queue);
            let want = queue.last_group.min(self.max_group);
            if queue.pending.len() < want && !self.max_wait.is_zero() {
                let deadline = Instant::now() + self.max_wait;
                queue.gathering = true;
                while queue.pending.len() < want {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    queue = self
                        .joined
                        .wait_timeout(queue, left)
                        .map(|(guard, _)| guard)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
                queue.gathering = false;
            }
            let n = queue.pending.len().min(self.max_group);
            queue.last_group = n;
            queue.pending.drain(..n).collect()
        };
        // A panic inside the store must not leave the group's callers, and every later
        // caller, waiting for a leader that is gone: they get an error and the lead is passed
        // on before the panic continues in this (the leading) thread.
        let slots: Vec<Arc<Slot>> = group.iter().map(|p| Arc::clone(&p.slot)).collect();
        let (results, panic) =
            match std::panic::catch_unwind(AssertUnwindSafe(|| self.commit(group))) {
                Ok(results) => (results, None),
                Err(payload) => {
                    let results = slots
                        .into_iter()
                        .map(|slot| (slot, Err(self.group_failed("the append panicked"))))
                        .collect();
                    (results, Some(payload))
                }
            };
        {
            let mut queue = lock(&self.queue);
            match queue.pending.front() {
                Some(next) => next.slot.set(Outcome::Lead),
                None => queue.leading = false,
            }
        }
        for (slot, result) in results {
            slot.set(Outcome::Done(result));
        }
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
    }

    /// The error of a caller whose group failed as a whole.
    fn group_failed(&self, why: &str) -> Error {
        Error::Io {
            path: self.location.clone(),
            action: "append",
            source: std::io::Error::other(format!("the group commit failed: {why}")),
        }
    }

    /// Appends a group; each caller's result.
    fn commit(&self, group: Vec<Pending>) -> Vec<(Arc<Slot>, Result<Appended, Error>)> {
        let mut log = lock(&self.log);
        let (traces, slots): (Vec<PreparedTrace>, Vec<Arc<Slot>>) =
            group.into_iter().map(|p| (p.trace, p.slot)).unzip();
        match log.append(&traces) {
            Ok(appended) if appended.len() == traces.len() => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                self.committed
                    .fetch_add(appended.len() as u64, Ordering::Relaxed);
                slots
                    .into_iter()
                    .zip(appended.into_iter().map(Ok))
                    .collect()
            }
            Err(e) if traces.len() == 1 => slots.into_iter().zip([Err(e)]).collect(),
            // An error of the store as a whole (I/O, a lost connection, a lock that stays
            // busy): retrying trace by trace would only repeat it, and after a failed flush
            // could report a stored trace as a duplicate. The first caller gets the error, the
            // others one that names it.
            Err(e) if !is_per_trace(&e) => {
                let why = e.to_string();
                let mut first = Some(e);
                slots
                    .into_iter()
                    .map(|slot| {
                        let e = first.take().unwrap_or_else(|| self.group_failed(&why));
                        (slot, Err(e))
                    })
                    .collect()
            }
            // The group was refused because of one of its traces (nothing was written): append
            // its traces one by one, so that only the one at fault fails.
            _ => slots
                .into_iter()
                .zip(&traces)
                .map(|(slot, trace)| {
                    let result = log.append(std::slice::from_ref(trace));
                    if result.is_ok() {
                        self.commits.fetch_add(1, Ordering::Relaxed);
                        self.committed.fetch_add(1, Ordering::Relaxed);
                    }
                    let result = result.and_then(|mut a| {
                        a.pop().ok_or_else(|| Error::Io {
                            path: log.location().to_owned(),
                            action: "append",
                            source: std::io::Error::other("the store appended nothing"),
                        })
                    });
                    (slot, result)
                })
                .collect(),
        }
    }
}

/// Whether an error of a group's append is caused by one of its traces (a repeated
/// `action_id`, a trace the store refuses), so that appending them one by one isolates it.
fn is_per_trace(e: &Error) -> bool {
    matches!(
        e,
        Error::Trace { .. } | Error::Store(StoreError::DuplicateActionId { .. })
    )
}
