//! Library errors as the Python exceptions of `trailseal.errors`.
//!
//! The hierarchy is defined in Python (so that `InvalidTraceError` is also a `ValueError` and
//! the stubs document it); this module only picks the class and passes the library's message,
//! which never holds key material.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use trailseal::core::verify::MalformedRecord;
use trailseal::tlog::{CheckpointFileError, TilesError, TlogError};
use trailseal::{Error, StoreError};

/// The Python class (in `trailseal.errors`) an error is raised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Store,
    CorruptRecord,
    DuplicateActionId,
    InvalidTrace,
    Secret,
    Policy,
    NotVerified,
    Anchor,
    Fork,
    Witness,
    Bundle,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Store => "StoreError",
            Class::CorruptRecord => "CorruptRecordError",
            Class::DuplicateActionId => "DuplicateActionIdError",
            Class::InvalidTrace => "InvalidTraceError",
            Class::Secret => "SecretError",
            Class::Policy => "PolicyError",
            Class::NotVerified => "NotVerifiedError",
            Class::Anchor => "AnchorError",
            Class::Fork => "ForkError",
            Class::Witness => "WitnessError",
            Class::Bundle => "BundleError",
        }
    }
}

/// An error on its way to Python: the class, the message and attributes set on the exception.
#[derive(Debug)]
pub(crate) struct Raised {
    pub(crate) class: Class,
    pub(crate) message: String,
    pub(crate) seq: Option<u64>,
    pub(crate) action_id: Option<String>,
    /// Where in the store a record that cannot be read is (`line 40`).
    pub(crate) position: Option<String>,
    /// What is wrong with such a record, without its location.
    pub(crate) problem: Option<String>,
}

impl Raised {
    pub(crate) fn new(class: Class, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            seq: None,
            action_id: None,
            position: None,
            problem: None,
        }
    }

    /// A record at `seq` that cannot be read: `seq 3: the trace is not JSON: …`.
    pub(crate) fn corrupt(seq: u64, position: Option<String>, problem: impl Into<String>) -> Self {
        let problem = problem.into();
        Self {
            class: Class::CorruptRecord,
            message: format!("seq {seq}: {problem}"),
            seq: Some(seq),
            action_id: None,
            position,
            problem: Some(problem),
        }
    }

    /// A record the store could not read at all: `PATH: line 40: …`.
    pub(crate) fn malformed(location: &str, m: &MalformedRecord) -> Self {
        Self {
            class: Class::CorruptRecord,
            message: format!("{location}: {}: {}", m.location, m.problem),
            seq: m.seq,
            action_id: None,
            position: Some(m.location.clone()),
            problem: Some(m.problem.clone()),
        }
    }

    pub(crate) fn at_seq(mut self, seq: Option<u64>) -> Self {
        self.seq = seq;
        self
    }
}

impl From<Error> for Raised {
    fn from(e: Error) -> Self {
        let class = match &e {
            Error::Store(s) => return store(s, e.to_string()),
            Error::Trace { .. } => Class::InvalidTrace,
            Error::NoSecret
            | Error::WrongKey { .. }
            | Error::WeakSecret { .. }
            | Error::KeysNotHeld { .. } => Class::Secret,
            Error::NotVerified { .. } | Error::NotRepairable { .. } => Class::NotVerified,
            Error::Policy(_) => Class::Policy,
            Error::WritableKeyFile { .. }
            | Error::Key(_)
            | Error::AnchorConflict { .. }
            | Error::AnchorExists { .. } => Class::Anchor,
            Error::Bundle { .. } | Error::Redact(_) => Class::Bundle,
            Error::Tlog(t) => return tlog(t, e.to_string()),
            // A signing or public key file that cannot be read.
            Error::Io { action, .. } if action.contains("key") => Class::Anchor,
            // Retention, I/O and write errors, and what later versions add.
            _ => Class::Store,
        };
        let seq = match &e {
            Error::NotVerified { verdict } => verdict.first_bad_seq(),
            Error::KeysNotHeld { first_seq, .. } => Some(*first_seq),
            _ => None,
        };
        Raised::new(class, e.to_string()).at_seq(seq)
    }
}

impl From<StoreError> for Raised {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        store(&e, message)
    }
}

/// A transparency-log operation refused: a checkpoint that is not of this store's tree is a
/// fork, one that does not open an anchor error, sizes and seqs given bad arguments.
fn tlog(e: &TlogError, message: String) -> Raised {
    let class = match e {
        TlogError::Fork { .. } | TlogError::CheckpointAhead { .. } => Class::Fork,
        TlogError::Checkpoint { .. } => Class::Anchor,
        TlogError::Input { .. } | TlogError::SizeAhead { .. } | TlogError::NotInTree { .. } => {
            Class::InvalidTrace
        }
        TlogError::Record { seq, .. } | TlogError::ProofFile { seq, .. } => {
            return Raised::new(Class::Store, message).at_seq(Some(*seq));
        }
        _ => Class::Store,
    };
    let seq = match e {
        TlogError::NotInTree { seq, .. } => Some(*seq),
        _ => None,
    };
    Raised::new(class, message).at_seq(seq)
}

impl From<TilesError> for Raised {
    fn from(e: TilesError) -> Self {
        let message = e.to_string();
        let class = match e {
            TilesError::Log(e) => return e.into(),
            TilesError::Fork { .. } | TilesError::AheadOfStore { .. } => Class::Fork,
            TilesError::ForeignCheckpoint { .. } | TilesError::OtherOrigin { .. } => Class::Anchor,
            TilesError::Checkpoint(_) => Class::InvalidTrace,
            _ => Class::Store,
        };
        Raised::new(class, message)
    }
}

impl From<CheckpointFileError> for Raised {
    fn from(e: CheckpointFileError) -> Self {
        let message = e.to_string();
        let class = match e {
            CheckpointFileError::Log(e) => return e.into(),
            CheckpointFileError::Fork { .. } => Class::Fork,
            CheckpointFileError::Foreign { .. } => Class::Anchor,
            _ => Class::Store,
        };
        Raised::new(class, message)
    }
}

fn store(e: &StoreError, message: String) -> Raised {
    match e {
        StoreError::DuplicateActionId { action_id, .. } => Raised {
            class: Class::DuplicateActionId,
            message,
            seq: None,
            action_id: Some(action_id.clone()),
            position: None,
            problem: None,
        },
        StoreError::BadHead { seq, .. } => {
            Raised::new(Class::CorruptRecord, message).at_seq(Some(*seq))
        }
        _ => Raised::new(Class::Store, message),
    }
}

impl From<Raised> for PyErr {
    fn from(r: Raised) -> Self {
        Python::attach(|py| match make(py, &r) {
            Ok(err) => err,
            Err(err) => err,
        })
    }
}

fn make(py: Python<'_>, r: &Raised) -> PyResult<PyErr> {
    let module = py.import("trailseal.errors")?;
    let class = module.getattr(r.class.name())?;
    let kwargs = PyDict::new(py);
    if let Some(seq) = r.seq {
        kwargs.set_item("seq", seq)?;
    }
    if let Some(id) = &r.action_id {
        kwargs.set_item("action_id", id)?;
    }
    if let Some(position) = &r.position {
        kwargs.set_item("position", position)?;
    }
    if let Some(problem) = &r.problem {
        kwargs.set_item("problem", problem)?;
    }
    let value = class.call((r.message.as_str(),), Some(&kwargs))?;
    Ok(PyErr::from_value(value))
}

/// Shorthand for a result whose error goes to Python.
pub(crate) type Result<T> = std::result::Result<T, Raised>;
