//! The witness state file on disk: read strictly ([`WitnessStates::parse`]; a missing file is
//! an empty state), written crash-safely (a temporary file beside it, fsynced, renamed over
//! it, the directory fsynced: [`trailseal_store::atomic`]), and held under an exclusive lock
//! for a whole submission, so that two runs cannot interleave their requests and writes.
//!
//! The lock is taken on `<file>.lock` beside the state file, not on the state file itself:
//! the state file is replaced by each write, and a lock on the replaced file would not
//! exclude a run that opened the new one. The lock file is never written and never removed.
//! Once the lock is held, temporary files a killed run left beside the state file are removed.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use trailseal_core::note::NoteVerifier;
use trailseal_core::witness::{MAX_STATE_LEN, StateError, WitnessStates};
use trailseal_store::atomic::{AtomicFile, PRIVATE, Perms, WriteError};

/// A state file that cannot be locked, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateFileError {
    #[error("{path}: {action}: {source}")]
    Io {
        path: String,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path}: another run has held the lock for more than {} s", waited.as_secs())]
    Locked { path: String, waited: Duration },
    #[error("{path}: larger than {MAX_STATE_LEN} bytes")]
    TooLarge { path: String },
    #[error("{path}: not UTF-8")]
    NotUtf8 { path: String },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: StateError,
    },
    #[error("{path}: {source}")]
    Write {
        path: String,
        #[source]
        source: WriteError,
    },
}

/// The state file, locked for as long as this lives.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    _lock: File,
}

/// The lock file of `path`: `<file name>.lock` in the same directory.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    trailseal_store::atomic::parent_dir(path).join(name)
}

impl StateFile {
    /// Takes the exclusive lock of the state file at `path`, waiting at most `wait` for
    /// another run to release it.
    pub fn lock(path: &Path, wait: Duration) -> Result<Self, StateFileError> {
        let shown = path.display().to_string();
        let lock_file = lock_path(path);
        let io = |action| {
            let path = lock_file.display().to_string();
            move |source| StateFileError::Io {
                path,
                action,
                source,
            }
        };
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Never through a symbolic link: one planted at the lock's path would have the
            // file it names created (as whoever runs this).
            options.mode(PRIVATE).custom_flags(libc::O_NOFOLLOW);
        }
        let lock = options.open(&lock_file).map_err(|e| {
            #[cfg(unix)]
            if e.raw_os_error() == Some(libc::ELOOP) {
                return io("open the lock file (it is a symbolic link, which is never followed)")(
                    e,
                );
            }
            io("open the lock file")(e)
        })?;
        let start = Instant::now();
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StateFileError::Locked {
                        path: shown,
                        waited: wait,
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io("lock")(e)),
            }
        }
        // The lock excludes every other writer: temporary files beside the state file are
        // what a killed run left.
        trailseal_store::atomic::remove_stale(path);
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state (a missing file is the empty state); `log` is the log's key.
    pub fn read(&self, log: &NoteVerifier) -> Result<WitnessStates, StateFileError> {
        let path = || self.path.display().to_string();
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(WitnessStates::new()),
            Err(source) => {
                return Err(StateFileError::Io {
                    path: path(),
                    action: "open",
                    source,
                });
            }
        };
        let mut bytes = Vec::new();
        file.take(MAX_STATE_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| StateFileError::Io {
                path: path(),
                action: "read",
                source,
            })?;
        if bytes.len() > MAX_STATE_LEN {
            return Err(StateFileError::TooLarge { path: path() });
        }
        let text =
            String::from_utf8(bytes).map_err(|_| StateFileError::NotUtf8 { path: path() })?;
        WitnessStates::parse(&text, log).map_err(|source| StateFileError::Parse {
            path: path(),
            source,
        })
    }

    /// Replaces the state file with `states`, crash-safely (see the module documentation).
    /// An existing file keeps its mode and owner; a new one is created `0600`.
    pub fn write(&self, states: &WitnessStates) -> Result<(), StateFileError> {
        let failed = |source| StateFileError::Write {
            path: self.path.display().to_string(),
            source,
        };
        let existing = std::fs::metadata(&self.path).ok();
        let perms = existing
            .as_ref()
            .map_or(Perms::Mode(PRIVATE), Perms::SameAs);
        let mut file = AtomicFile::create(&self.path, perms).map_err(failed)?;
        io::Write::write_all(&mut file, states.to_text().as_bytes()).map_err(|source| {
            failed(WriteError::Io {
                action: "write",
                source,
            })
        })?;
        file.replace().map_err(failed)
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_symbolic_link_at_the_lock_path_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("witness.state");
        let target = dir.path().join("created-through-the-link");
        std::os::unix::fs::symlink(&target, lock_path(&state)).unwrap();
        let e = StateFile::lock(&state, Duration::from_millis(100)).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!target.exists(), "the link's target was created");
    }
}
