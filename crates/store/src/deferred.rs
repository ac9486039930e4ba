//! A file store opened to be created: the file comes into being with the first write, so a
//! write that is refused before it reaches the store (a bad trace, no secret, a repeated
//! `action_id` in the batch) leaves nothing behind — no database, no `-wal`/`-shm`, no empty
//! JSONL file.
//!
//! Until then the store reads as empty, unless the file has meanwhile appeared (another
//! process created it): from then on every call goes to the real store, opened as it would
//! have been opened at the start. Creating it is the backend's own `open` with
//! `create`, which is safe against other processes creating the same store at once, so two
//! processes appending to a new store still form one chain.

use std::path::{Path, PathBuf};

use trailseal_core::verify::{Flow, ScanItem};

use crate::memory::MemoryStore;
use crate::{OpenMode, Snapshot, Store, StoreError, StoreState, StoredRecord, TornTail};

/// A backend's `open` (with the options it was asked for).
pub(crate) type Opener = Box<dyn Fn(&Path, OpenMode) -> Result<Box<dyn Store>, StoreError> + Send>;

/// A store whose file does not exist yet.
pub(crate) struct Deferred {
    path: PathBuf,
    location: String,
    open: Opener,
    real: Option<Box<dyn Store>>,
    /// What the store reads as while it does not exist.
    empty: MemoryStore,
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("location", &self.location)
            .field("created", &self.real.is_some())
            .finish_non_exhaustive()
    }
}

impl Deferred {
    pub(crate) fn new(path: &Path, open: Opener) -> Self {
        Self {
            path: path.to_owned(),
            location: path.display().to_string(),
            open,
            real: None,
            empty: MemoryStore::new(),
        }
    }

    /// The real store, opened (and so created) now if it is not open yet.
    fn create(&mut self) -> Result<&mut dyn Store, StoreError> {
        match &mut self.real {
            Some(real) => Ok(real.as_mut()),
            slot @ None => {
                let real = (self.open)(&self.path, OpenMode::Write { create: true })?;
                Ok(slot.insert(real).as_mut())
            }
        }
    }

    /// The store to read: the real one once it exists, else an empty one.
    fn reader(&mut self) -> Result<&mut dyn Store, StoreError> {
        if self.real.is_some() || self.path.exists() {
            self.create()
        } else {
            Ok(&mut self.empty)
        }
    }
}

/// Opens `path` with `open` in `mode`, deferring the creation of a missing file to the first
/// write when `mode` creates. A path whose directory does not exist is opened at once, so
/// that it fails at once, as before.
pub(crate) fn open_file_store(
    path: &Path,
    mode: OpenMode,
    open: Opener,
) -> Result<Box<dyn Store>, StoreError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if mode == (OpenMode::Write { create: true }) && !path.exists() && dir.is_dir() {
        Ok(Box::new(Deferred::new(path, open)))
    } else {
        open(path, mode)
    }
}

impl Store for Deferred {
    fn write(&mut self) -> Result<Box<dyn crate::WriteTx + '_>, StoreError> {
        self.create()?.write()
    }

    fn read_back(&mut self, first: u64, last: u64) -> Result<Option<crate::ReadBack>, StoreError> {
        match &mut self.real {
            Some(real) => real.read_back(first, last),
            None => Ok(None),
        }
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn frontier_cache(&mut self) -> Option<&mut crate::FrontierCache> {
        self.real.as_mut().and_then(|real| real.frontier_cache())
    }

    fn state(&mut self) -> Result<StoreState, StoreError> {
        self.reader()?.state()
    }

    fn scan(
        &mut self,
        from_seq: u64,
        visit: &mut dyn FnMut(&ScanItem<'_>) -> Flow,
    ) -> Result<(), StoreError> {
        self.reader()?.scan(from_seq, visit)
    }

    fn find(&mut self, action_id: &str) -> Result<Option<StoredRecord>, StoreError> {
        self.reader()?.find(action_id)
    }

    fn snapshot(&mut self, readers: usize) -> Result<Snapshot<'_>, StoreError> {
        self.reader()?.snapshot(readers)
    }

    fn repair_torn_tail(
        &mut self,
        confirm: &mut dyn FnMut(&mut dyn Store, &TornTail) -> bool,
    ) -> Result<Option<TornTail>, StoreError> {
        match &mut self.real {
            Some(real) => real.repair_torn_tail(confirm),
            None if self.path.exists() => self.create()?.repair_torn_tail(confirm),
            None => Ok(None),
        }
    }
}
