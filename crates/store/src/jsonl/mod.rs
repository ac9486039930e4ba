//! JSONL: weaver-kernel 0.12.0's `JsonlTraceStore` layout, one record a line.
//!
//! The format itself — how a line is split, stripped and read as a record, the header line,
//! how a record line is written, what an interrupted write looks like — is
//! [`trailseal_core::jsonl`]'s. This backend does the I/O around it:
//!
//! - [`read`]: consistent reads (one descriptor up to one length), the state, the snapshot
//!   reader, the head;
//! - [`tx`]: the write transaction. It holds the file's exclusive advisory lock (`flock`), so
//!   several trailseal processes writing one file produce one chain; records are written with
//!   one `write` and `fsync`ed at commit, and a failed write is cut back off; changes to the
//!   header or removals write a whole new file beside the store and rename it over it;
//! - [`repair`]: finding and removing an interrupted write at the end of the file (see
//!   [`crate::TornTail`]), which writes refuse to build on.
//!
//! Lines are split and stripped exactly as weaver-kernel's reader does, and none is read past
//! the record limit.

mod cache;
pub mod read;
pub mod repair;
mod tree;
pub mod tx;

use std::fs::{File, OpenOptions};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use trailseal_core::jsonl::{Header, HeaderError, is_blank, lstrip, strip_line};
use trailseal_core::verify::{Flow, ScanItem};

use crate::lines::{LineReader, Terminators};
use crate::{OpenMode, Snapshot, Store, StoreError, StoreState, StoredRecord, TornTail, WriteTx};
pub use trailseal_core::trace::DEFAULT_MAX_RECORD_BYTES;

use cache::AppendCache;

/// A chain in a JSONL file.
#[derive(Debug)]
pub struct JsonlStore {
    path: PathBuf,
    location: String,
    /// What the last write of this handle left: the ids stored and the head.
    cache: Option<AppendCache>,
    /// While `repair_torn_tail` checks the store: reads end at this offset (the torn tail's),
    /// and writes are refused.
    hide_from: Option<u64>,
    /// The longest line read as a record (see [`JsonlStore::with_max_record_bytes`]).
    max_record_bytes: usize,
    /// Commits whose tree hashes this handle wrote without `fsync`ing the tree file (see the
    /// `tree` module): synced every [`tree::SYNC_EVERY`] commits and when the handle drops.
    tree_unsynced: u32,
    /// The tree file its last write transaction appended to, kept open for the next one
    /// ([`tree::Sidecar::reuse`]).
    tree_file: Option<tree::Sidecar>,
    /// The tree's right edge after this handle's last append.
    frontier: crate::FrontierCache,
}

impl Drop for JsonlStore {
    fn drop(&mut self) {
        if self.tree_unsynced > 0 {
            // Best effort: the records are durable, and a tree hash lost to a crash is
            // brought back by the next write.
            let _ = match &self.tree_file {
                Some(kept) => kept.sync(),
                None => tree::sync(&self.path),
            };
        }
    }
}

/// The device and inode of a file: what names "the same file" across a rename over it.
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

/// The store error for a header line that cannot be read.
fn header_error(location: &str, e: HeaderError) -> StoreError {
    match e {
        HeaderError::Invalid { reason } => StoreError::UnknownStore {
            location: location.to_owned(),
            reason: format!("its header line {reason}"),
        },
        HeaderError::Newer { found, supported } => StoreError::NewerVersion {
            location: location.to_owned(),
            found: found.to_string(),
            supported: supported.to_string(),
        },
        other => StoreError::UnknownStore {
            location: location.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// Reads a (stripped) line as a header; `Ok(None)` when it is not one.
fn parse_header(line: &[u8], location: &str) -> Result<Option<Header>, StoreError> {
    Header::parse(line).map_err(|e| header_error(location, e))
}

impl JsonlStore {
    /// Opens the store at `path`. [`OpenMode::Read`] requires it to exist; an existing file
    /// whose first line is not a JSON object is refused as an unknown store.
    pub fn open(path: &Path, mode: OpenMode) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        if !path.exists() && !matches!(mode, OpenMode::Write { create: true }) {
            return Err(StoreError::NotFound { location });
        }
        let store = Self {
            path: path.to_owned(),
            location,
            cache: None,
            hide_from: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            tree_unsynced: 0,
            tree_file: None,
            frontier: crate::FrontierCache::default(),
        };
        if path.exists() {
            store.check_first_line()?;
        } else {
            let tree = tree::sidecar_path(path);
            // Not `exists()`: a dangling symbolic link there is refused too.
            if std::fs::symlink_metadata(&tree).is_ok() {
                return Err(StoreError::OrphanTree {
                    location: store.location.clone(),
                    tree: tree.display().to_string(),
                });
            }
            // Create the empty store now, so it exists for other handles and readers.
            let file = store.open_file(true, true)?;
            file.sync_all()
                .map_err(StoreError::io(&store.location, "fsync"))?;
        }
        Ok(store)
    }

    /// Sets the longest line, in bytes without its line end, read as a record (default
    /// [`DEFAULT_MAX_RECORD_BYTES`]). A longer line is not read into memory: it is reported as
    /// a malformed record, and appends refuse to write one.
    pub fn with_max_record_bytes(mut self, max: usize) -> Self {
        self.max_record_bytes = max;
        self
    }

    fn check_first_line(&self) -> Result<(), StoreError> {
        let file = File::open(&self.path).map_err(StoreError::io(&self.location, "open"))?;
        let mut lines =
            LineReader::new(BufReader::new(file), Terminators::Universal, 1 << 16, 0, 0);
        loop {
            let Some(line) = lines
                .next_line()
                .map_err(StoreError::io(&self.location, "read"))?
            else {
                return Ok(());
            };
            if !line.oversized && is_blank(line.bytes) {
                continue;
            }
            return if lstrip(line.bytes).first() == Some(&b'{') {
                // A complete header line of a newer format is refused now, not on first use.
                if line.ended
                    && !line.oversized
                    && let Ok(text) = strip_line(line.bytes)
                {
                    parse_header(text, &self.location)?;
                }
                Ok(())
            } else {
                Err(StoreError::UnknownStore {
                    location: self.location.clone(),
                    reason: "its first line is not a JSON object (is this a JSONL store?)".into(),
                })
            };
        }
    }

    /// Opens the store file; for writing never through a symbolic link (a link planted at the
    /// path would have the chain written into its target), creating it `0600` if `create`.
    fn open_file(&self, write: bool, create: bool) -> Result<File, StoreError> {
        let mut options = OpenOptions::new();
        options.read(true).append(write).create(create);
        #[cfg(unix)]
        if write {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .custom_flags(libc::O_NOFOLLOW)
                .mode(crate::atomic::PRIVATE);
        }
        options.open(&self.path).map_err(|e| {
            #[cfg(unix)]
            if write && e.raw_os_error() == Some(libc::ELOOP) {
                return StoreError::io(
                    &self.location,
                    "open for writing (the path is a symbolic link, which is never written through; name the file itself)",
                )(e);
            }
            StoreError::io(&self.location, "open")(e)
        })
    }

    fn conflict(&self, detail: &str) -> StoreError {
        StoreError::Conflict {
            location: self.location.clone(),
            detail: detail.into(),
        }
    }

    /// Opens the file for appending and takes its exclusive lock. A prune replaces the file
    /// (rename), so after waiting for the lock, check that the path still names the file we
    /// hold; if not, start again on the new one.
    fn open_locked(&self) -> Result<File, StoreError> {
        if self.hide_from.is_some() {
            return Err(self.conflict(
                "the store is being repaired; it cannot be written through the view repair checks",
            ));
        }
        loop {
            // `open` created the file: if it is gone, the store was moved or deleted while
            // this handle had it, and writing would silently start a new chain at seq 0.
            if let Err(e) = std::fs::symlink_metadata(&self.path)
                && e.kind() == std::io::ErrorKind::NotFound
            {
                return Err(StoreError::Moved {
                    location: self.location.clone(),
                });
            }
            let file = self.open_file(true, true)?;
            file.lock()
                .map_err(StoreError::io(&self.location, "lock"))?;
            let held = file
                .metadata()
                .map_err(StoreError::io(&self.location, "stat"))?;
            match std::fs::metadata(&self.path) {
                Ok(now) if identity(&now) == identity(&held) => return Ok(file),
                Ok(_) => continue,
                Err(e) => return Err(StoreError::io(&self.location, "stat")(e)),
            }
        }
    }

    /// [`StoreError::RecordTooLarge`] for a line of `size` bytes over the record limit.
    fn refuse_oversized(&self, seq: u64, size: usize) -> Result<(), StoreError> {
        if size > self.max_record_bytes {
            return Err(StoreError::RecordTooLarge {
                location: self.location.clone(),
                seq,
                size,
                limit: self.max_record_bytes,
            });
        }
        Ok(())
    }
}

impl Store for JsonlStore {
    fn frontier_cache(&mut self) -> Option<&mut crate::FrontierCache> {
        Some(&mut self.frontier)
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        if !self.path.exists() {
            return Ok(read::state_of_empty());
        }
        // The tree before the records: a snapshot never sees hashes of records it does not.
        let tree = tree::Sidecar::open(&self.path, &self.location)?;
        let (mut file, end) = self.open_snapshot()?;
        let mut state = read::state_in(&mut file, &self.reading(end))?;
        state.tree = tree.map(|t| t.tree());
        Ok(state)
    }

    fn write(&mut self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        let file = self.open_locked()?;
        Ok(Box::new(tx::JsonlTx::begin(self, file)?))
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        if !self.path.exists() {
            return Err(StoreError::NotFound {
                location: self.location.clone(),
            });
        }
        let mut snapshot = self.snapshot(1)?;
        snapshot.scan(from_seq, visit)
    }

    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        self.find_record(action_id)
    }

    fn snapshot(&mut self, _readers: usize) -> Result<Snapshot<'_>, StoreError> {
        self.open_consistent()
    }

    fn repair_torn_tail(
        &mut self,
        confirm: &mut dyn FnMut(&mut dyn Store, &TornTail) -> bool,
    ) -> Result<Option<TornTail>, StoreError> {
        repair::repair_torn_tail(self, confirm)
    }
}

#[cfg(test)]
mod tests;
