//! The one way trailseal writes a whole file: a temporary file with a random name, created
//! exclusively in the target's directory (so a symbolic link planted there is never followed
//! and nothing else is ever truncated), given its mode (and owner) explicitly rather than by
//! the umask, fsynced, then moved into place — renamed over the target ([`AtomicFile::replace`])
//! or linked to a name that must not exist yet ([`AtomicFile::create_new`]) — and the
//! directory fsynced. The temporary file is removed on every error path (and when an
//! [`AtomicFile`] is dropped unfinished).
//!
//! Modes: anything holding traces or keys is created `0600` ([`PRIVATE`]); a rewrite of an
//! existing file keeps that file's mode and owner ([`Perms::SameAs`]) and is refused when the
//! owner cannot be kept.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The mode of files that hold traces or keys.
pub const PRIVATE: u32 = 0o600;

/// The mode of files anyone may read (public keys).
pub const PUBLIC: u32 = 0o644;

/// How many random bytes name a temporary file.
const NAME_BYTES: usize = 12;

/// The mode and owner the written file gets.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Perms<'a> {
    /// This mode (permission bits), owned by the writer.
    Mode(u32),
    /// The mode and owner of the file it replaces (its metadata).
    SameAs(&'a Metadata),
}

/// Why a file could not be written. Nothing was written in any case: the target is as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// An I/O error while `action`.
    #[error("{action}: {source}; nothing was written")]
    Io {
        action: &'static str,
        #[source]
        source: io::Error,
    },
    /// The target of a write-once file already exists (possibly as a symbolic link).
    #[error("already exists (or is a symbolic link); it is never replaced")]
    Exists,
    /// The rewritten file could not be given the owner of the file it replaces.
    #[error(
        "cannot keep the file's owner (uid {uid}, gid {gid}): {source}; run this as that user (or as root); nothing was written"
    )]
    KeepOwner {
        uid: u32,
        gid: u32,
        #[source]
        source: io::Error,
    },
}

impl WriteError {
    fn io(action: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| WriteError::Io { action, source }
    }
}

/// A file being written; see the module documentation.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    dir: PathBuf,
    tmp: Option<PathBuf>,
    out: BufWriter<File>,
}

/// The directory that holds `path`.
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Makes the entries of `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|d| d.sync_all())
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn random_name(path: &Path) -> Result<PathBuf, WriteError> {
    let mut raw = [0u8; NAME_BYTES];
    getrandom::fill(&mut raw).map_err(|e| WriteError::Io {
        action: "draw a random name for the temporary file",
        source: io::Error::other(e.to_string()),
    })?;
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(parent_dir(path).join(format!(".{name}.{hex}.tmp")))
}

/// Whether `name` is the name [`AtomicFile::create`] gives temporary files for `target`.
fn is_temp_name(name: &str, target: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_prefix(target))
        .and_then(|n| n.strip_prefix('.'))
        .and_then(|n| n.strip_suffix(".tmp"))
        .is_some_and(|hex| {
            hex.len() == NAME_BYTES * 2
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

/// Removes the temporary files of writes to `path` that never finished (their writer was
/// killed). Only for a caller that holds a lock excluding every other writer of `path` (a
/// JSONL store's lock): another writer's temporary file would go too. Entries are unlinked,
/// never followed; errors are ignored (what is left is only litter).
pub fn remove_stale(path: &Path) {
    let Some(target) = path.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| is_temp_name(n, target))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether `name` is the name [`AtomicFile::create`] gives temporary files for some target.
fn is_any_temp_name(name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .and_then(|n| n.rsplit_once('.'))
        .is_some_and(|(target, hex)| {
            !target.is_empty() && is_temp_name(name, target) && hex.len() == NAME_BYTES * 2
        })
}

/// Removes from `dir` the temporary files of every write there that never finished (their
/// writer was killed), whatever file they were for. Only for a caller that holds a lock
/// excluding every other writer of the directory (a tile directory's lock). Entries are
/// unlinked, never followed; errors are ignored (what is left is only litter).
pub fn remove_stale_in(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_str().is_some_and(is_any_temp_name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Opens `path` exclusively (never through a symbolic link, never an existing file).
fn open_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The mode is set with `fchmod` afterwards; this only keeps it private meanwhile.
        options.mode(PRIVATE);
    }
    options.open(path)
}

fn apply(file: &File, perms: Perms<'_>) -> Result<(), WriteError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let (mode, owner) = match perms {
            Perms::Mode(mode) => (mode, None),
            Perms::SameAs(meta) => (meta.mode(), Some((meta.uid(), meta.gid()))),
        };
        if let Some((uid, gid)) = owner {
            let now = file
                .metadata()
                .map_err(WriteError::io("stat the temporary file"))?;
            if (now.uid(), now.gid()) != (uid, gid) {
                std::os::unix::fs::fchown(file, Some(uid), Some(gid))
                    .map_err(|source| WriteError::KeepOwner { uid, gid, source })?;
            }
        }
        // After `fchown`, which may clear set-id bits.
        file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(WriteError::io("set the mode of the temporary file"))?;
    }
    #[cfg(not(unix))]
    let _ = (file, perms);
    Ok(())
}

impl AtomicFile {
    /// Starts writing `path`: creates the temporary file beside it with `perms`.
    pub fn create(path: &Path, perms: Perms<'_>) -> Result<Self, WriteError> {
        let tmp = random_name(path)?;
        let file = open_new(&tmp).map_err(WriteError::io("create the temporary file"))?;
        // From here dropping `this` removes the temporary file.
        let this = AtomicFile {
            path: path.to_owned(),
            dir: parent_dir(path),
            tmp: Some(tmp),
            out: BufWriter::with_capacity(1 << 20, file),
        };
        apply(this.out.get_ref(), perms)?;
        Ok(this)
    }

    /// The file being written (buffered).
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.out
    }

    /// Flushes and fsyncs the temporary file.
    fn finish_tmp(&mut self) -> Result<(), WriteError> {
        self.out.flush().map_err(WriteError::io("write"))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(WriteError::io("fsync"))
    }

    /// Renames the finished file over the target (a symbolic link there is replaced, not
    /// followed) and fsyncs the directory.
    pub fn replace(mut self) -> Result<(), WriteError> {
        self.finish_tmp()?;
        let Some(tmp) = self.tmp.clone() else {
            return Ok(());
        };
        std::fs::rename(&tmp, &self.path).map_err(WriteError::io("rename into place"))?;
        self.tmp = None;
        sync_dir(&self.dir).map_err(WriteError::io("fsync the directory"))
    }

    /// Links the finished file to the target, which must not exist (a symbolic link there
    /// counts as existing: it is neither followed nor replaced): [`WriteError::Exists`] if it
    /// does. Where the file system has no hard links, the target is created exclusively and
    /// the bytes copied (an interrupted copy can then leave it incomplete, never overwritten).
    pub fn create_new(mut self) -> Result<(), WriteError> {
        self.finish_tmp()?;
        let Some(tmp) = self.tmp.clone() else {
            return Ok(());
        };
        match std::fs::hard_link(&tmp, &self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(WriteError::Exists),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
                ) =>
            {
                self.copy_to_new()?;
            }
            Err(e) => return Err(WriteError::io("link into place")(e)),
        }
        // The temporary name goes; the target stays.
        let _ = std::fs::remove_file(&tmp);
        self.tmp = None;
        sync_dir(&self.dir).map_err(WriteError::io("fsync the directory"))
    }

    fn copy_to_new(&mut self) -> Result<(), WriteError> {
        let mut target = match open_new(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(WriteError::Exists),
            Err(e) => return Err(WriteError::io("create")(e)),
        };
        #[cfg(unix)]
        {
            let perms = self
                .out
                .get_ref()
                .metadata()
                .map_err(WriteError::io("stat the temporary file"))?
                .permissions();
            target
                .set_permissions(perms)
                .map_err(WriteError::io("set the mode"))?;
        }
        let source = self.out.get_mut();
        source
            .seek(SeekFrom::Start(0))
            .map_err(WriteError::io("read the temporary file"))?;
        io::copy(source, &mut target)
            .and_then(|_| target.sync_all())
            .map_err(WriteError::io("write"))
    }
}

/// Writes `bytes` as the new file `path` with `mode` ([`AtomicFile::create_new`]): an existing
/// file or symbolic link there is [`WriteError::Exists`].
pub fn write_new(path: &Path, mode: u32, bytes: &[u8]) -> Result<(), WriteError> {
    let mut file = AtomicFile::create(path, Perms::Mode(mode))?;
    file.write_all(bytes).map_err(WriteError::io("write"))?;
    file.create_new()
}

/// What [`write_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The file was created.
    Created,
    /// The file held exactly these bytes already: left as it is.
    Unchanged,
}

/// Writes `bytes` as the new file `path` ([`write_new`]); a regular file already there that
/// holds exactly `bytes` is left as it is ([`Written::Unchanged`]), anything else there
/// (other bytes, a symbolic link) is [`WriteError::Exists`].
pub fn write_once(path: &Path, mode: u32, bytes: &[u8]) -> Result<Written, WriteError> {
    match write_new(path, mode, bytes) {
        Ok(()) => Ok(Written::Created),
        Err(WriteError::Exists) => {
            let same = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
                && std::fs::read(path).is_ok_and(|held| held == bytes);
            if same {
                Ok(Written::Unchanged)
            } else {
                Err(WriteError::Exists)
            }
        }
        Err(e) => Err(e),
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.out.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn replace_writes_the_mode_given_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut f = AtomicFile::create(&path, Perms::Mode(0o640)).unwrap();
        f.write_all(b"one").unwrap();
        f.replace().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o640);
        assert_eq!(names(dir.path()), ["out"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_target_is_replaced_or_refused_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(matches!(
            write_new(&link, PRIVATE, b"new"),
            Err(WriteError::Exists)
        ));
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("missing"), &dangling).unwrap();
        assert!(matches!(
            write_new(&dangling, PRIVATE, b"new"),
            Err(WriteError::Exists)
        ));
        assert_eq!(names(dir.path()), ["dangling", "link", "victim"]);
        let mut f = AtomicFile::create(&link, Perms::Mode(PRIVATE)).unwrap();
        f.write_all(b"new").unwrap();
        f.replace().unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read(&link).unwrap(), b"new");
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn an_unfinished_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, b"old").unwrap();
        let mut f = AtomicFile::create(&path, Perms::Mode(PRIVATE)).unwrap();
        f.write_all(b"half").unwrap();
        assert_eq!(names(dir.path()).len(), 2);
        drop(f);
        assert_eq!(names(dir.path()), ["out"]);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(matches!(
            write_new(&path, PRIVATE, b"new"),
            Err(WriteError::Exists)
        ));
        assert_eq!(names(dir.path()), ["out"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_rewrite_keeps_the_mode_of_the_file_it_replaces() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let mut f = AtomicFile::create(&path, Perms::SameAs(&meta)).unwrap();
        f.write_all(b"new").unwrap();
        f.replace().unwrap();
        assert_eq!(mode(&path), 0o604);
    }

    #[test]
    fn remove_stale_in_sweeps_every_targets_temporary_files_only() {
        let dir = tempfile::tempdir().unwrap();
        for target in ["067", "checkpoint"] {
            let stale = AtomicFile::create(&dir.path().join(target), Perms::Mode(PUBLIC)).unwrap();
            std::mem::forget(stale);
        }
        for other in [
            "067",
            ".067.0123.tmp",
            ".x.tmp",
            "..aaaaaaaaaaaaaaaaaaaaaaaa.tmp",
        ] {
            std::fs::write(dir.path().join(other), b"").unwrap();
        }
        assert_eq!(names(dir.path()).len(), 6);
        remove_stale_in(dir.path());
        assert_eq!(
            names(dir.path()),
            [
                "..aaaaaaaaaaaaaaaaaaaaaaaa.tmp",
                ".067.0123.tmp",
                ".x.tmp",
                "067"
            ]
        );
    }

    #[test]
    fn stale_temporary_files_are_recognised_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let stale = AtomicFile::create(&path, Perms::Mode(PRIVATE)).unwrap();
        let tmp = stale.tmp.clone().unwrap();
        // As if its writer were killed: the file stays.
        std::mem::forget(stale);
        for other in [
            ".s.jsonl.import",
            ".s.jsonl.0123.tmp",
            ".other.aaaaaaaaaaaaaaaaaaaaaaaa.tmp",
        ] {
            std::fs::write(dir.path().join(other), b"").unwrap();
        }
        assert!(tmp.exists());
        remove_stale(&path);
        assert!(!tmp.exists());
        assert_eq!(
            names(dir.path()),
            [
                ".other.aaaaaaaaaaaaaaaaaaaaaaaa.tmp",
                ".s.jsonl.0123.tmp",
                ".s.jsonl.import"
            ]
        );
    }
}
