//! The Merkle tree's stored hashes beside a JSONL store: the file `<store>.tree`, which
//! weaver-kernel never opens. It holds a 24-byte header (the tag `trailseal/tree/1` and the
//! seq of leaf 0, u64 big-endian) and then the stored hashes in Go tlog's index order, 32
//! raw bytes each, written once and only appended to.
//!
//! A JSONL store has no transaction spanning two files, so the order of writes carries the
//! guarantee: an append writes and `fsync`s its record lines first, then the tree hashes. A
//! crash between the two leaves the tree behind the records (the next write brings it up,
//! checking each record); a crash part way through the hashes leaves hashes that do not
//! complete a record, which the next write cuts off before it appends.
//!
//! The tree hashes are derived from the records, which are durable before them: a hash lost
//! to a crash is computed again, identically, by the next write. So an append does not wait
//! for a second `fsync`: a handle syncs the tree file every [`SYNC_EVERY`] commits and when
//! it is dropped, and a crash in between leaves the tree behind the records, as above (a
//! file system that orders data before the size it exposes, as ext4, XFS and btrfs do by
//! default, shows the file at a length it had, never unwritten blocks). Hashes for more records
//! than the store holds are never cut: only records removed from the end of the file (a
//! rollback) produce them. Readers read the tree's length before the store's, so a snapshot
//! never sees hashes of records it does not see.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use trailseal_core::tree::{MerkleHash, stored_hash_count, tree_size_for_count};

use crate::tree::tree_error;
use crate::{StoreError, StoredTree};

/// The tag the file starts with.
const TAG: &[u8; 16] = b"trailseal/tree/1";
/// The header's length: the tag and the base seq.
const HEADER: u64 = 24;
/// The largest file read (2^62 leaves would need more; nobody has such a JSONL file).
const MAX_HASHES: u64 = 1 << 40;

/// Commits after which a handle `fsync`s the tree file it has been appending to.
pub(super) const SYNC_EVERY: u32 = 256;

/// Where the tree of the store at `path` is kept.
pub(super) fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tree");
    PathBuf::from(name)
}

/// The tree file, opened for reading up to the complete records' hashes it held when opened.
#[derive(Debug)]
pub(super) struct Sidecar {
    file: File,
    tree: StoredTree,
    /// The file's length when the tree was read.
    len: u64,
    /// Its device and inode.
    identity: (u64, u64),
    /// Opened for writing too (a write transaction's, [`Sidecar::open_writable`]).
    writable: bool,
}

impl Sidecar {
    /// Opens the tree file of the store at `path`, `None` if there is none.
    pub(super) fn open(path: &Path, location: &str) -> Result<Option<Self>, StoreError> {
        let file = match File::open(sidecar_path(path)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(location, "open the tree file")(e)),
        };
        Self::from_file(file, location).map(Some)
    }

    /// [`Sidecar::open`] for a write transaction (which holds the store's lock): for reading
    /// and writing, so that the transaction opens the file once; for reading only when the
    /// file may not be written (the append then fails to write the tree, not to read it).
    /// Never through a symbolic link, as the store file itself (a link planted at the path
    /// would have the hashes written into its target).
    pub(super) fn open_writable(path: &Path, location: &str) -> Result<Option<Self>, StoreError> {
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NOFOLLOW);
        }
        match options.open(sidecar_path(path)) {
            Ok(file) => Self::from_file(file, location).map(|mut s| {
                s.writable = true;
                Some(s)
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                Self::open(path, location)
            }
            #[cfg(unix)]
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(StoreError::io(
                location,
                "open the tree file for writing (it is a symbolic link, which is never written through)",
            )(e)),
            Err(e) => Err(StoreError::io(location, "open the tree file")(e)),
        }
    }

    /// A writable tree file a handle kept from its last write transaction, for the next one
    /// (which holds the store's lock): read again (length and header) when the path still
    /// names it, else the file the path names now, opened as [`Sidecar::open_writable`] does.
    /// Saves opening and closing the file, and reading the frontier, on every commit.
    pub(super) fn reuse(self, path: &Path, location: &str) -> Result<Option<Self>, StoreError> {
        match std::fs::symlink_metadata(sidecar_path(path)) {
            Ok(m) if self.writable && m.is_file() && super::identity(&m) == self.identity => {
                Self::from_file(self.file, location).map(|mut s| {
                    s.writable = true;
                    Some(s)
                })
            }
            _ => Self::open_writable(path, location),
        }
    }

    fn from_file(file: File, location: &str) -> Result<Self, StoreError> {
        let meta = file
            .metadata()
            .map_err(StoreError::io(location, "stat the tree file"))?;
        let len = meta.len();
        let mut header = [0u8; HEADER as usize];
        // At offset 0 whatever the file's position (a kept file was written at its end).
        if len < HEADER || read_at(&file, &mut header, 0).is_err() {
            return Err(tree_error(
                location,
                0,
                "the tree file has no complete header",
            ));
        }
        let (tag, base) = header.split_at(TAG.len());
        if tag != TAG {
            return Err(tree_error(
                location,
                0,
                "the tree file does not start with trailseal/tree/1",
            ));
        }
        let base = u64::from_be_bytes(base.try_into().unwrap_or_default());
        let whole = ((len - HEADER) / 32).min(MAX_HASHES);
        // Hashes that do not complete a record are a write that did not finish.
        let hashes = stored_hash_count(tree_size_for_count(whole)).unwrap_or(0);
        Ok(Self {
            file,
            tree: StoredTree { base, hashes },
            len,
            identity: super::identity(&meta),
            writable: false,
        })
    }

    /// Makes what was written through this handle durable.
    pub(super) fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// The tree as the file held it when opened.
    pub(super) fn tree(&self) -> StoredTree {
        self.tree
    }

    /// The same tree file, as opened (its length as it was then), through a second handle.
    pub(super) fn try_clone(&self, location: &str) -> Result<Self, StoreError> {
        Ok(Self {
            file: self
                .file
                .try_clone()
                .map_err(StoreError::io(location, "open the tree file"))?,
            tree: self.tree,
            len: self.len,
            identity: self.identity,
            writable: false,
        })
    }

    /// Fills `out` with the hashes at `first ..`.
    pub(super) fn read(
        &self,
        location: &str,
        first: u64,
        out: &mut [MerkleHash],
    ) -> Result<(), StoreError> {
        let end = first.saturating_add(out.len() as u64);
        if end > self.tree.hashes {
            return Err(tree_error(location, first.max(self.tree.hashes), "missing"));
        }
        let mut bytes = vec![0u8; out.len() * 32];
        read_at(&self.file, &mut bytes, HEADER + first * 32)
            .map_err(StoreError::io(location, "read the tree file"))?;
        for (slot, chunk) in out.iter_mut().zip(bytes.chunks_exact(32)) {
            *slot = MerkleHash::from_slice(chunk).unwrap_or_default();
        }
        Ok(())
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(unix)]
fn write_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(not(unix))]
fn write_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, Write};
    let mut f = file.try_clone()?;
    f.seek(std::io::SeekFrom::Start(offset))?;
    f.write_all(buf)
}

#[cfg(not(unix))]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek};
    let mut f = file.try_clone()?;
    f.seek(std::io::SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

/// Makes what was written to the tree file of the store at `path` durable (nothing when it
/// has none).
pub(super) fn sync(path: &Path) -> std::io::Result<()> {
    match File::open(sidecar_path(path)) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Appends `hashes` at index `first` of the tree file of the store at `path` (creating it,
/// with `base`, when there is none), cutting off first what does not complete a record; with
/// `sync`, makes it durable (a new file always is). `opened`: the file as the transaction
/// opened it ([`Sidecar::open_writable`]), if it did. The caller holds the store's write lock.
/// Returns the file written to, for the handle's next transaction ([`Sidecar::reuse`]);
/// `None` when it was created (the next transaction opens it).
pub(super) fn append(
    path: &Path,
    location: &str,
    (base, first, hashes): (u64, u64, &[MerkleHash]),
    sync: bool,
    opened: Option<Sidecar>,
) -> Result<Option<Sidecar>, StoreError> {
    let side = sidecar_path(path);
    let io = |action: &'static str| StoreError::io(location, action);
    let bytes: Vec<u8> = hashes.iter().flat_map(|h| h.as_bytes().to_vec()).collect();
    let existing = match opened {
        Some(sidecar) if sidecar.writable => Some(sidecar),
        _ => Sidecar::open_writable(path, location)?,
    };
    let Some(existing) = existing else {
        if first != 0 {
            return Err(tree_error(
                location,
                first,
                "written to a store without a tree",
            ));
        }
        // A new tree file appears whole (temporary file, fsync, link, directory fsync): a
        // crash never leaves one without its complete header, and one that appeared meanwhile
        // is never replaced. The lock is held: a creation that was killed left its temporary
        // file beside it.
        crate::atomic::remove_stale(&side);
        let mut whole = TAG.to_vec();
        whole.extend_from_slice(&base.to_be_bytes());
        whole.extend_from_slice(&bytes);
        // As private as the store itself.
        #[cfg(unix)]
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(path).map_or(0o600, |m| m.permissions().mode() & 0o777)
        };
        #[cfg(not(unix))]
        let mode = 0o600;
        return crate::atomic::write_new(&side, mode, &whole)
            .map(|()| None)
            .map_err(|e| {
                tree_error(
                    location,
                    first,
                    format!("the tree file cannot be created: {e}"),
                )
            });
    };
    if existing.tree.hashes != first {
        return Err(tree_error(
            location,
            first,
            format!(
                "written where the tree file holds {} hashes",
                existing.tree.hashes
            ),
        ));
    }
    if !existing.writable {
        // Opened for reading only: the file may not be written.
        OpenOptions::new()
            .write(true)
            .open(&side)
            .map_err(io("open the tree file"))?;
    }
    let file = &existing.file;
    // Bytes after the last complete record's hashes: a write that did not finish. (The
    // length is the one read under the lock at the start of the transaction.)
    let end = HEADER + first * 32;
    if existing.len != end {
        file.set_len(end).map_err(io("cut the tree file"))?;
    }
    write_at(file, &bytes, end).map_err(io("write the tree file"))?;
    if sync {
        file.sync_data().map_err(io("fsync the tree file"))?;
    }
    Ok(existing.writable.then_some(existing))
}

/// A snapshot's tree file, read apart from its record reader.
pub(super) struct DetachedSidecar {
    pub(super) sidecar: Sidecar,
    pub(super) location: String,
}

impl crate::TreeHashes for DetachedSidecar {
    fn read_tree_hashes(&mut self, first: u64, out: &mut [MerkleHash]) -> Result<(), StoreError> {
        self.sidecar.read(&self.location, first, out)
    }
}
