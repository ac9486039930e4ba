//! A C2SP tile directory written from the core's functions alone (stored hashes, tiles, entry
//! bundles, checkpoint): what `trailseal tiles` is to write, for checkers that read any
//! directory laid out that way.

use std::path::Path;

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::note::NoteSigner;
use trailseal_core::tree::{
    MerkleHash, append_stored_hashes, entry_tiles, hash_tiles, leaf_hash, push_bundle_entry,
    tile_data, tree_hash,
};

/// What [`write_tile_dir`] wrote.
#[derive(Debug, Clone)]
pub struct TileDir {
    /// The tree size (number of entries).
    pub size: u64,
    /// The tree's root.
    pub root: MerkleHash,
    /// Every stored hash of the tree (Go tlog's layout), for proofs.
    pub stored: Vec<MerkleHash>,
    /// The signed checkpoint note written to `DIR/checkpoint`.
    pub checkpoint: String,
}

/// Writes the tree of `entries` into `dir` as C2SP tlog-tiles lays it out: `checkpoint` (for
/// `origin`, signed by `signer`), every hash tile `tile/<L>/<N>[.p/<W>]` and every entry
/// bundle `tile/entries/<N>[.p/<W>]`. `dir` is created if needed.
pub fn write_tile_dir<E: AsRef<[u8]>>(
    dir: &Path,
    entries: &[E],
    origin: &str,
    signer: &NoteSigner,
) -> TileDir {
    let size = entries.len() as u64;
    let mut stored = Vec::new();
    let mut added = Vec::new();
    for (n, entry) in (0u64..).zip(entries) {
        added.clear();
        append_stored_hashes(n, leaf_hash(entry.as_ref()), &mut stored, &mut added).unwrap();
        stored.extend_from_slice(&added);
    }
    let root = tree_hash(size, &mut stored).unwrap();
    let write = |relative: &str, bytes: &[u8]| {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    };
    for tile in hash_tiles(0, size) {
        write(&tile.path(), &tile_data(&tile, &mut stored).unwrap());
    }
    for tile in entry_tiles(0, size) {
        let first = usize::try_from(tile.n() * 256).unwrap();
        let mut bundle = Vec::new();
        for entry in entries
            .get(first..first + usize::from(tile.width()))
            .unwrap()
        {
            push_bundle_entry(&mut bundle, entry.as_ref()).unwrap();
        }
        write(&tile.path(), &bundle);
    }
    let checkpoint = Checkpoint::new(origin, size, root.0)
        .unwrap()
        .sign(signer)
        .unwrap();
    write("checkpoint", checkpoint.as_bytes());
    TileDir {
        size,
        root,
        stored,
        checkpoint,
    }
}
