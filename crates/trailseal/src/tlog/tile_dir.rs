//! The files of a tile directory: locked while written, plain files and directories only (no
//! symbolic link is followed or created), every file written once through
//! [`trailseal_store::atomic`] (temporary file, fsync, link or rename, directory fsync) with an
//! explicit mode, every new directory made durable in its parent.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use trailseal_store::atomic::{
    AtomicFile, PUBLIC, Perms, WriteError, remove_stale, remove_stale_in, sync_dir, write_new,
};

use super::tiles::TilesError;

/// The mode of the directories made (files get [`PUBLIC`]: tiles and checkpoints are for
/// publishing).
const DIR_MODE: u32 = 0o755;

/// The largest checkpoint file read (a checkpoint with a few dozen cosignatures is far below).
const MAX_CHECKPOINT_BYTES: u64 = 64 * 1024;

/// The checkpoint's file name in the directory.
pub(super) const CHECKPOINT: &str = "checkpoint";

/// What [`TileDir::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Put {
    /// The file was written.
    Written,
    /// The file was there with exactly these bytes; it was left as it is.
    Kept,
}

/// A tile directory, locked against other writers for as long as this lives.
pub(super) struct TileDir {
    root: PathBuf,
    /// The exclusive lock (`flock` on the directory itself: no lock file to serve).
    _lock: File,
    /// Directories already checked (and swept of temporary files) in this run.
    ensured: HashSet<PathBuf>,
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> TilesError + 'a {
    move |source| TilesError::Io {
        path: path.display().to_string(),
        action,
        source,
    }
}

fn write_failed(path: &Path) -> impl FnOnce(WriteError) -> TilesError + '_ {
    move |source| TilesError::Write {
        path: path.display().to_string(),
        source,
    }
}

impl TileDir {
    /// Creates `root` if it does not exist (its parent must) and locks it, waiting for another
    /// writer to finish. Temporary files a killed run left for the checkpoint are removed.
    pub(super) fn open(root: &Path) -> Result<Self, TilesError> {
        match std::fs::create_dir(root) {
            Ok(()) => {
                set_dir_mode(root)?;
                sync_dir(&trailseal_store::atomic::parent_dir(root))
                    .map_err(io(root, "fsync the directory holding it"))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(root, "create the directory")(e)),
        }
        let lock = File::open(root).map_err(io(root, "open the directory"))?;
        if !lock
            .metadata()
            .map_err(io(root, "stat"))
            .map(|m| m.is_dir())?
        {
            return Err(TilesError::NotADirectory {
                path: root.display().to_string(),
            });
        }
        lock.lock().map_err(io(root, "lock the directory"))?;
        remove_stale(&root.join(CHECKPOINT));
        Ok(Self {
            root: root.to_owned(),
            _lock: lock,
            ensured: HashSet::new(),
        })
    }

    /// The checkpoint the directory holds, if any (its text, unchecked).
    pub(super) fn read_checkpoint(&self) -> Result<Option<(PathBuf, Vec<u8>)>, TilesError> {
        let path = self.root.join(CHECKPOINT);
        match read_plain(&path, MAX_CHECKPOINT_BYTES)? {
            None => Ok(None),
            Some(bytes) => Ok(Some((path, bytes))),
        }
    }

    /// Writes `bytes` at `relative` (a tile path), unless a file with exactly these bytes is
    /// there already. Anything else there (other bytes, a symbolic link, a directory) is
    /// [`TilesError::Damaged`]: tiles are never rewritten.
    pub(super) fn put(&mut self, relative: &str, bytes: &[u8]) -> Result<Put, TilesError> {
        let path = self.root.join(relative);
        if let Some(parent) = Path::new(relative).parent() {
            self.ensure_dir(parent)?;
        }
        let limit = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        match read_plain(&path, limit) {
            Ok(Some(held)) if held == bytes => return Ok(Put::Kept),
            Ok(Some(_)) | Err(TilesError::NotAFile { .. } | TilesError::TooLarge { .. }) => {
                return Err(TilesError::Damaged {
                    path: path.display().to_string(),
                });
            }
            Ok(None) => {}
            Err(e) => return Err(e),
        }
        match write_new(&path, PUBLIC, bytes) {
            Ok(()) => Ok(Put::Written),
            // Under the lock nobody else writes here: something appeared meanwhile.
            Err(WriteError::Exists) => Err(TilesError::Damaged {
                path: path.display().to_string(),
            }),
            Err(e) => Err(write_failed(&path)(e)),
        }
    }

    /// Replaces the checkpoint atomically (temporary file, fsync, rename, directory fsync),
    /// keeping the mode and owner of the one it replaces ([`PUBLIC`] for a new one).
    pub(super) fn write_checkpoint(&self, note: &str) -> Result<(), TilesError> {
        let path = self.root.join(CHECKPOINT);
        let existing = std::fs::symlink_metadata(&path)
            .ok()
            .filter(|m| m.is_file());
        let perms = existing.as_ref().map_or(Perms::Mode(PUBLIC), Perms::SameAs);
        let mut file = AtomicFile::create(&path, perms).map_err(write_failed(&path))?;
        use std::io::Write;
        file.write_all(note.as_bytes())
            .map_err(io(&path, "write the checkpoint"))?;
        file.replace().map_err(write_failed(&path))
    }

    /// Makes sure `relative` (a directory under the root) exists as plain directories, making
    /// the missing ones (each made durable in its parent); the first time a directory is seen
    /// in a run, the temporary files a killed run left there are removed.
    fn ensure_dir(&mut self, relative: &Path) -> Result<(), TilesError> {
        let full = self.root.join(relative);
        if self.ensured.contains(&full) {
            return Ok(());
        }
        let mut at = self.root.clone();
        for component in relative.components() {
            let Component::Normal(name) = component else {
                return Err(TilesError::NotADirectory {
                    path: full.display().to_string(),
                });
            };
            let parent = at.clone();
            at.push(name);
            match std::fs::symlink_metadata(&at) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(TilesError::NotADirectory {
                        path: at.display().to_string(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&at).map_err(io(&at, "create the directory"))?;
                    set_dir_mode(&at)?;
                    sync_dir(&parent).map_err(io(&parent, "fsync the directory"))?;
                }
                Err(e) => return Err(io(&at, "stat")(e)),
            }
        }
        remove_stale_in(&full);
        self.ensured.insert(full);
        Ok(())
    }
}

fn set_dir_mode(path: &Path) -> Result<(), TilesError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(DIR_MODE))
            .map_err(io(path, "set the directory's mode"))?;
    }
    #[cfg(not(unix))]
    let _ = (path, DIR_MODE);
    Ok(())
}

/// The bytes of the plain file at `path` (at most `limit`; more is [`TilesError::TooLarge`]),
/// `None` when nothing is there. A symbolic link or anything but a plain file is
/// [`TilesError::NotAFile`]: it is never followed.
fn read_plain(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, TilesError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path, "stat")(e)),
    };
    let not_a_file = || TilesError::NotAFile {
        path: path.display().to_string(),
    };
    if !meta.is_file() {
        return Err(not_a_file());
    }
    let file = File::open(path).map_err(io(path, "open"))?;
    // The file opened is the one looked at (not something swapped in meanwhile).
    let opened = file.metadata().map_err(io(path, "stat"))?;
    if !same_file(&meta, &opened) {
        return Err(not_a_file());
    }
    if opened.len() > limit {
        return Err(TilesError::TooLarge {
            path: path.display().to_string(),
        });
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io(path, "read"))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(TilesError::TooLarge {
            path: path.display().to_string(),
        });
    }
    Ok(Some(bytes))
}

fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino() && b.is_file()
    }
    #[cfg(not(unix))]
    {
        let _ = a;
        b.is_file()
    }
}
