//! A C2SP tile directory written from the core's functions alone (stored hashes, tiles, entry
//! bundles, checkpoint): what `trailseal tiles` is to write, for checkers that read any
//! directory laid out that way.

use std::path::Path;

use trailseal_core::Hash32;
use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::leaf::{LEAF_LEN, Leaf};
use trailseal_core::note::NoteSigner;
use trailseal_core::tree::{
    MerkleHash, Tile, append_stored_hashes, entry_tiles, hash_tiles, leaf_hash, push_bundle_entry,
    tile_data, tree_hash,
};

use crate::key;

/// The tree leaves of a real chain of `n` records keyed by `secret` (traces
/// `{"action_id":"a-<seq>"}`), 120 bytes each.
pub fn chain_leaves(secret: &str, n: u64) -> Vec<[u8; LEAF_LEN]> {
    let chain = key(secret);
    let mut prev = Hash32::GENESIS;
    (0..n)
        .map(|seq| {
            let trace = format!(r#"{{"action_id":"a-{seq}"}}"#);
            let record = chain.record_hash(seq, prev.as_bytes(), trace.as_bytes());
            let leaf = Leaf::for_record(&chain, seq, &prev, &record, trace.as_bytes());
            prev = record;
            leaf.to_bytes()
        })
        .collect()
}

/// Every stored hash (Go tlog's layout) of the tree of `entries`.
pub fn stored_hashes<E: AsRef<[u8]>>(entries: &[E]) -> Vec<MerkleHash> {
    let mut stored = Vec::new();
    let mut added = Vec::new();
    for (n, entry) in (0u64..).zip(entries) {
        added.clear();
        append_stored_hashes(n, leaf_hash(entry.as_ref()), &mut stored, &mut added).unwrap();
        stored.extend_from_slice(&added);
    }
    stored
}

/// The entry bundle `tile` (an entries tile) of the tree of `entries`.
pub fn entry_bundle<E: AsRef<[u8]>>(tile: &Tile, entries: &[E]) -> Vec<u8> {
    let first = usize::try_from(tile.n() * 256).unwrap();
    let mut bundle = Vec::new();
    for entry in entries
        .get(first..first + usize::from(tile.width()))
        .unwrap()
    {
        push_bundle_entry(&mut bundle, entry.as_ref()).unwrap();
    }
    bundle
}

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
    let mut stored = stored_hashes(entries);
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
        write(&tile.path(), &entry_bundle(&tile, entries));
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
