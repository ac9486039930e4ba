use std::fmt;

/// An error from a storage backend. Every message starts with the store's location.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A reading command was pointed at a path that does not exist.
    #[error("{location}: no such store (reading commands do not create one)")]
    NotFound { location: String },

    /// The file exists but is not a store trailseal knows.
    #[error("{location}: not a trailseal or weaver-kernel store: {reason}")]
    UnknownStore { location: String, reason: String },

    /// The store was written by a newer trailseal.
    #[error(
        "{location}: store format version {found} is newer than this trailseal reads (up to {supported})"
    )]
    NewerVersion {
        location: String,
        found: String,
        supported: String,
    },

    /// An appended trace's `action_id` is already stored; nothing was written.
    #[error("{location}: action_id {action_id:?} is already in the store; nothing was written")]
    DuplicateActionId { location: String, action_id: String },

    /// A record line would be longer than the store reads back (its record limit).
    #[error(
        "{location}: seq {seq}: the record line would be {size} bytes, over the limit of {limit} bytes a record may have; nothing was written"
    )]
    RecordTooLarge {
        location: String,
        seq: u64,
        size: usize,
        limit: usize,
    },

    /// The last JSONL line is incomplete (a write was interrupted).
    #[error(
        "{location}: the last line (at byte {offset}) is incomplete, an interrupted write; nothing was written"
    )]
    TornTail { location: String, offset: u64 },

    /// The record at the head of the chain cannot be read, so nothing can be linked to it.
    #[error(
        "{location}: the head record at seq {seq} cannot be used to link new records: {problem}"
    )]
    BadHead {
        location: String,
        seq: u64,
        problem: String,
    },

    /// The store's file was moved, replaced or deleted while this handle had it open: a
    /// SQLite connection would write into the file that is no longer at the path (and its
    /// journal beside the old name), a JSONL handle into a new chain at seq 0. Nothing was
    /// written; open the store again where it is.
    #[error(
        "{location}: the store file was moved, replaced or deleted while it was open; nothing was written (open the store again where it is)"
    )]
    Moved { location: String },

    /// A new JSONL store would be created where a tree file of a store that is gone still
    /// lies (`<store>.tree`): the new chain would be checked against the old tree and read
    /// as tampered. That file is evidence of what the removed store held; nothing was created.
    #[error(
        "{location}: no such store, but its tree file {tree} is there (left by a store that was removed: evidence of what it held); move that file away to start a new store here; nothing was created"
    )]
    OrphanTree { location: String, tree: String },

    /// The store is under another key than the one appended with (another handle rotated it
    /// meanwhile); nothing was written.
    #[error(
        "{location}: the store is under key id {stored}, not key id {ours} (it was rotated to another key); nothing was written"
    )]
    KeyChanged {
        location: String,
        stored: trailseal_core::KeyId,
        ours: trailseal_core::KeyId,
    },

    /// The store changed between planning and doing a change (another writer); nothing was
    /// changed.
    #[error(
        "{location}: the store changed while this was being done ({detail}); nothing was changed, retry"
    )]
    Conflict { location: String, detail: String },

    /// A store read without its locks (a SQLite WAL store closed cleanly is read with
    /// `immutable=1`, so that reading creates nothing beside it) was written while it was
    /// read: what was read may mix two states and is not used. Reading it again reads it
    /// with its locks.
    #[error(
        "{location}: the store was written while it was read without locks; what was read is not used, read it again"
    )]
    ChangedWhileRead { location: String },

    /// A copy into the store was used after one of its calls failed: it can only be given
    /// up (dropped), which leaves the store as it was.
    #[error(
        "{location}: copying records into the store failed earlier, so the copy cannot go on; nothing was copied"
    )]
    CopyGivenUp { location: String },

    /// A chain is only copied into an empty store, and this one is not; nothing was copied.
    /// Running the copy again cannot succeed: it needs another (new or empty) destination.
    #[error(
        "{location}: the destination is not empty (it holds {holds}); a chain is only copied into an empty store, nothing was copied"
    )]
    NotEmpty { location: String, holds: Holdings },

    /// The store's schema holds an object trailseal and weaver-kernel do not create (a
    /// trigger, a view, a rule or policy, an altered table): it can change what is stored or
    /// read, so the store is neither read nor written. `problem` names the object.
    #[error("{location}: schema: {problem}")]
    Schema { location: String, problem: String },

    /// A value of weaver-kernel's `meta` table that the chain depends on is not stored as text
    /// (weaver-kernel reads a NULL as the text `None`, a BLOB as its Python `repr`): the chain
    /// starting at `seq` cannot be checked against it.
    #[error("{location}: seq {seq}: meta `{key}` {problem}")]
    BadMeta {
        location: String,
        seq: u64,
        key: &'static str,
        problem: String,
    },

    /// After a commit, the store did not hold what was written and acknowledged by the
    /// database (something in the store dropped or rewrote rows): the append is not
    /// acknowledged.
    #[error(
        "{location}: seq {seq}: the store did not keep what was written ({problem}); the append is not acknowledged"
    )]
    NotKept {
        location: String,
        seq: u64,
        problem: String,
    },

    /// A stored Merkle tree hash is missing, damaged, or cannot be written where it belongs.
    #[error("{location}: tree hash {index}: {problem}")]
    Tree {
        location: String,
        index: u64,
        problem: String,
    },

    /// The store is at the largest seq representable.
    #[error("{location}: the chain is full (seq would overflow)")]
    SeqOverflow { location: String },

    /// A whole file (a rewrite, a copy) could not be written; the store is as it was.
    #[error("{location}: {source}")]
    Write {
        location: String,
        #[source]
        source: crate::atomic::WriteError,
    },

    /// An append failed part way (a full disk, an I/O error); the partial bytes were cut off
    /// again, so the store is exactly as before.
    #[error(
        "{location}: {action}: {source}; the file was cut back to its previous length: nothing was written"
    )]
    AppendFailed {
        location: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// An append failed part way and the partial bytes could not be cut off: the store now
    /// ends with an interrupted write.
    #[error(
        "{location}: {action}: {source}; the partial write could not be removed ({cleanup}): the store ends with an interrupted write"
    )]
    AppendTorn {
        location: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
        cleanup: std::io::Error,
    },

    /// An I/O error.
    #[error("{location}: {action}: {source}")]
    Io {
        location: String,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// An error from PostgreSQL (the location never shows a password); `detail` is the
    /// server's message when there is one.
    #[cfg(feature = "postgres")]
    #[error("{location}: {action}: {detail}")]
    Postgres {
        location: String,
        action: &'static str,
        detail: String,
        #[source]
        source: postgres::Error,
    },

    /// The chain's lock (PostgreSQL) was not free within the lock timeout (`?lock_timeout=`,
    /// default 5s): another session holds it. `holders` are the sessions this role can see
    /// holding it. Nothing was written.
    #[cfg(feature = "postgres")]
    #[error(
        "{location}: the chain's lock was not free within {waited}: held by {}; nothing was written",
        LockHolder::describe(holders)
    )]
    LockTimeout {
        location: String,
        waited: String,
        holders: Vec<LockHolder>,
    },

    /// An error from SQLite.
    #[cfg(feature = "sqlite")]
    #[error("{location}: {action}: {source}")]
    Sqlite {
        location: String,
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },
}

/// A session holding the chain's lock, as far as the role asking may see it.
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockHolder {
    /// The server process id (`pg_terminate_backend(pid)` ends the session).
    pub pid: Option<i32>,
    /// The session's user.
    pub user: Option<String>,
    /// Its `application_name`, when set.
    pub application: Option<String>,
    /// When it connected (visible only to roles allowed to see the session's details).
    pub backend_start: Option<String>,
}

#[cfg(feature = "postgres")]
impl LockHolder {
    fn describe(holders: &[LockHolder]) -> String {
        if holders.is_empty() {
            return "a session this role cannot see".to_owned();
        }
        holders
            .iter()
            .map(|h| {
                let mut text = match h.pid {
                    Some(pid) => format!("pid {pid}"),
                    None => "a prepared transaction".to_owned(),
                };
                let mut details = Vec::new();
                if let Some(user) = &h.user {
                    details.push(format!("user {user:?}"));
                }
                if let Some(app) = &h.application {
                    details.push(format!("application {app:?}"));
                }
                if let Some(start) = &h.backend_start {
                    details.push(format!("connected {start}"));
                }
                if !details.is_empty() {
                    text.push_str(&format!(" ({})", details.join(", ")));
                }
                text
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl StoreError {
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(location: &str, action: &'static str, source: postgres::Error) -> Self {
        let detail = match source.as_db_error() {
            Some(db) => {
                let mut d = format!("{} ({})", db.message(), db.code().code());
                if let Some(hint) = db.hint() {
                    d.push_str(&format!("; hint: {hint}"));
                }
                d
            }
            None if source.is_closed() => "the connection to the server was lost".to_owned(),
            None => match std::error::Error::source(&source)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
            {
                // A reset or broken connection ("error communicating with the server").
                Some(io) => format!("the connection to the server was lost ({io})"),
                None => source.to_string(),
            },
        };
        StoreError::Postgres {
            location: location.to_owned(),
            action,
            detail,
            source,
        }
    }

    pub(crate) fn io(location: &str, action: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        let location = location.to_owned();
        move |source| StoreError::Io {
            location,
            action,
            source,
        }
    }

    pub(crate) fn write(location: &str) -> impl FnOnce(crate::atomic::WriteError) -> Self {
        let location = location.to_owned();
        move |source| StoreError::Write { location, source }
    }

    /// Whether the error means "this is not a store I can read" rather than a failure to read.
    pub fn is_unknown_store(&self) -> bool {
        matches!(
            self,
            StoreError::UnknownStore { .. } | StoreError::NewerVersion { .. }
        )
    }
}

/// What a store that was expected to be empty holds, as far as the backend tells cheaply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Holdings {
    /// The number of records, when counted.
    pub records: Option<u64>,
    /// The seq of the first and of the last record, when known.
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// The number of retention receipts, when counted.
    pub receipts: Option<u64>,
    /// The size of the store file in bytes (file backends).
    pub bytes: Option<u64>,
}

impl fmt::Display for Holdings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        let mut parts: Vec<String> = Vec::new();
        if let Some(n) = self.records {
            parts.push(format!("{n} {}", plural(n, "record", "records")));
        }
        if let Some(n) = self.bytes {
            parts.push(format!("{n} {}", plural(n, "byte", "bytes")));
        }
        match (self.first_seq, self.last_seq) {
            (Some(a), Some(b)) => parts.push(format!("seq {a} to {b}")),
            (None, Some(b)) => parts.push(format!("the last record at seq {b}")),
            _ => {}
        }
        if let Some(n) = self.receipts.filter(|n| *n > 0) {
            parts.push(format!(
                "{n} retention {}",
                plural(n, "receipt", "receipts")
            ));
        }
        if parts.is_empty() {
            return f.write_str("data");
        }
        f.write_str(&parts.join(", "))
    }
}

/// Shows bytes from a store in a message: lossy UTF-8, at most 80 characters.
pub(crate) struct Shown<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(self.0);
        let short: String = text.chars().take(80).collect();
        write!(f, "{short:?}")?;
        if short.len() < text.len() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// [`StoreError::NewerVersion`] when a stored `schema_version` is not one this version reads
/// (up to `supported`; a value that is not a number counts as newer).
pub(crate) fn refuse_newer_schema(
    location: &str,
    version: Option<String>,
    supported: u32,
) -> Result<(), StoreError> {
    match version {
        Some(found) if found.parse::<u32>().map_or(true, |v| v > supported) => {
            Err(StoreError::NewerVersion {
                location: location.to_owned(),
                found,
                supported: supported.to_string(),
            })
        }
        _ => Ok(()),
    }
}
