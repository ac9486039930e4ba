//! C2SP tlog-tiles with height 8: which tiles a tree has, their paths, their contents from the
//! stored hashes, and reading stored hashes back from tiles checked against a root (Go's
//! `TileHashReader`).
//!
//! A hash tile at level `L`, number `N` holds the stored hashes at tree level `8·L` for
//! leaves `[N·256, N·256 + W)` of that level, concatenated (32 bytes each). A full tile
//! (`W = 256`) never changes; a partial tile (`1 <= W <= 255`) is replaced as the tree grows,
//! is only ever checked against the root, and is never hashed upward into a parent tile.

use std::collections::BTreeMap;

use super::hash::{HASH_SIZE, MerkleHash, node_hash};
use super::stored::{
    HashReader, MAX_TREE_SIZE, combine, split_stored_hash_index, stored_hash_count,
    stored_hash_index, subtree_indexes,
};
use super::{InputError, TreeError};

/// Tile height: a full tile covers 2^8 = 256 hashes.
pub const TILE_HEIGHT: u32 = 8;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u16 = 256;

/// Whether a tile holds hashes (and at which tile level) or entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// A hash tile at tile level `0..=63` (tree level `8·level`).
    Hash(u8),
    /// An entry bundle (`tile/entries/...`).
    Entries,
}

/// A tile: its kind, its number `N` within its level and its width `W` (`1..=256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    kind: TileKind,
    n: u64,
    width: u16,
}

/// A tile path that is not the canonical C2SP path of a tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tile path {path:?}: not a canonical C2SP tile path")]
pub struct TilePathError {
    /// The path (as given).
    pub path: String,
}

impl Tile {
    /// A tile, or `None` when the width is not in `1..=256` or the level above 63.
    pub fn new(kind: TileKind, n: u64, width: u16) -> Option<Tile> {
        let level_ok = match kind {
            TileKind::Hash(level) => level <= 63,
            TileKind::Entries => true,
        };
        (level_ok && (1..=TILE_WIDTH).contains(&width)).then_some(Tile { kind, n, width })
    }

    /// Hash tile or entry bundle.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// The tile's number within its level.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// How many hashes (or entries) it holds.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile is full (immutable).
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The C2SP path: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, `N` in 3-digit
    /// groups with an `x` before all but the last (`x001/x234/067`).
    pub fn path(&self) -> String {
        let mut groups = vec![format!("{:03}", self.n % 1000)];
        let mut n = self.n / 1000;
        while n > 0 {
            groups.push(format!("x{:03}", n % 1000));
            n /= 1000;
        }
        groups.reverse();
        let level = match self.kind {
            TileKind::Hash(level) => level.to_string(),
            TileKind::Entries => "entries".to_owned(),
        };
        let partial = if self.is_full() {
            String::new()
        } else {
            format!(".p/{}", self.width)
        };
        format!("tile/{level}/{}{partial}", groups.join("/"))
    }

    /// Parses a C2SP tile path; only the canonical form [`Tile::path`] writes is accepted
    /// (no leading zeros, no `x000` leading group, no `.p/256`, no `.p/0`).
    pub fn parse_path(path: &str) -> Result<Tile, TilePathError> {
        Self::parse_inner(path)
            .filter(|tile| tile.path() == path)
            .ok_or_else(|| TilePathError {
                path: path.to_owned(),
            })
    }

    fn parse_inner(path: &str) -> Option<Tile> {
        let rest = path.strip_prefix("tile/")?;
        let (level, rest) = rest.split_once('/')?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            TileKind::Hash(decimal(level)?.try_into().ok()?)
        };
        let (number, width) = match rest.split_once(".p/") {
            Some((number, width)) => (number, u16::try_from(decimal(width)?).ok()?),
            None => (rest, TILE_WIDTH),
        };
        if width >= TILE_WIDTH && number.len() != rest.len() {
            return None;
        }
        let mut n: u64 = 0;
        let mut groups = number.split('/').peekable();
        while let Some(group) = groups.next() {
            let digits = if groups.peek().is_some() {
                group.strip_prefix('x')?
            } else {
                group
            };
            if digits.len() != 3 {
                return None;
            }
            n = n.checked_mul(1000)?.checked_add(decimal(digits)?)?;
        }
        Tile::new(kind, n, width)
    }
}

/// ASCII decimal digits only (no sign, no space), at most 19 of them.
fn decimal(text: &str) -> Option<u64> {
    (!text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// The tiles of one level of the tree of size `new` that the tree of size `old` does not have.
fn level_tiles(kind: TileKind, shift: u32, old: u64, new: u64) -> impl Iterator<Item = Tile> {
    let count = new >> shift;
    let old_count = old >> shift;
    let full = count >> TILE_HEIGHT;
    let old_full = (old_count >> TILE_HEIGHT).min(full);
    let width = (count % u64::from(TILE_WIDTH)) as u16;
    let partial = (width > 0 && old_count != count).then_some(Tile {
        kind,
        n: full,
        width,
    });
    (old_full..full)
        .map(move |n| Tile {
            kind,
            n,
            width: TILE_WIDTH,
        })
        .chain(partial)
}

/// The hash tiles of the tree of size `new_size` that the tree of size `old_size` does not
/// have (all of them for `old_size = 0`): the full tiles completed in between and the current
/// partial tile of each level, level by level from 0. Writing exactly these keeps a tile
/// directory current; full tiles already written never need rewriting.
pub fn hash_tiles(old_size: u64, new_size: u64) -> impl Iterator<Item = Tile> {
    (0u8..8)
        .take_while(move |&level| new_size >> (TILE_HEIGHT * u32::from(level)) > 0)
        .flat_map(move |level| {
            level_tiles(
                TileKind::Hash(level),
                TILE_HEIGHT * u32::from(level),
                old_size,
                new_size,
            )
        })
}

/// The entry bundles of the tree of size `new_size` that the tree of size `old_size` does not
/// have (the same numbers and widths as the level-0 hash tiles).
pub fn entry_tiles(old_size: u64, new_size: u64) -> impl Iterator<Item = Tile> {
    level_tiles(TileKind::Entries, 0, old_size, new_size)
}

/// The contents of a hash tile: its `W` stored hashes, 32 bytes each, read from `reader`.
pub fn tile_data<R: HashReader + ?Sized>(
    tile: &Tile,
    reader: &mut R,
) -> Result<Vec<u8>, TreeError<R::Error>> {
    let TileKind::Hash(level) = tile.kind else {
        return Err(InputError::EntryTile { path: tile.path() }.into());
    };
    let out_of_range = || InputError::TileOutOfRange { path: tile.path() };
    let level = TILE_HEIGHT * u32::from(level);
    let start = tile
        .n
        .checked_mul(u64::from(TILE_WIDTH))
        .ok_or_else(out_of_range)?;
    let indexes = (0..u64::from(tile.width))
        .map(|i| {
            start
                .checked_add(i)
                .and_then(|n| stored_hash_index(level, n))
        })
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(out_of_range)?;
    let mut hashes = vec![MerkleHash::default(); indexes.len()];
    reader
        .read_hashes(&indexes, &mut hashes)
        .map_err(TreeError::Read)?;
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// The tile that holds stored hash `index` (with the smallest width that holds it) and the
/// byte range within the tile data whose hashes combine into it (Go's `tileForIndex`).
fn tile_for_index(index: u64) -> Option<(Tile, usize, usize)> {
    let (level, n) = split_stored_hash_index(index)?;
    let tile_level = level / TILE_HEIGHT;
    let within = level - tile_level * TILE_HEIGHT;
    let tile_n = (n << within) >> TILE_HEIGHT;
    let n_in_tile = n - ((tile_n << TILE_HEIGHT) >> within);
    let width = u16::try_from((n_in_tile + 1) << within).ok()?;
    let start = usize::try_from(n_in_tile << within).ok()? * HASH_SIZE;
    let end = usize::try_from((n_in_tile + 1) << within).ok()? * HASH_SIZE;
    let tile = Tile::new(
        TileKind::Hash(u8::try_from(tile_level).ok()?),
        tile_n,
        width,
    )?;
    Some((tile, start, end))
}

/// The hash of consecutive stored hashes of one tile (a power of two of them).
fn tile_hash(data: &[u8]) -> Option<MerkleHash> {
    if data.len() == HASH_SIZE {
        return MerkleHash::from_slice(data);
    }
    let half = (data.len() / HASH_SIZE / 2) * HASH_SIZE;
    if half == 0 || half * 2 != data.len() {
        return None;
    }
    let (left, right) = data.split_at_checked(half)?;
    Some(node_hash(&tile_hash(left)?, &tile_hash(right)?))
}

/// Stored hash `index` from the data of `tile`, when the tile holds it (Go's `HashFromTile`).
fn hash_from_tile(tile: &Tile, data: &[u8], index: u64) -> Option<MerkleHash> {
    let (needed, start, end) = tile_for_index(index)?;
    if needed.kind != tile.kind || needed.n != tile.n || tile.width < needed.width {
        return None;
    }
    tile_hash(data.get(start..end)?)
}

/// The `k`-th ancestor tile of `tile` as the tree of size `size` has it (full, or partial at
/// the right edge), or `None` when the tree has no such tile (Go's `tileParent`).
fn tile_parent(tile: &Tile, k: u32, size: u64) -> Option<Tile> {
    let TileKind::Hash(level) = tile.kind else {
        return None;
    };
    let level = u32::from(level) + k;
    let n = tile.n.checked_shr(k * TILE_HEIGHT).unwrap_or(0);
    let max = size.checked_shr(level * TILE_HEIGHT).unwrap_or(0);
    let first = n.checked_mul(u64::from(TILE_WIDTH))?;
    if first >= max {
        return None;
    }
    let width = u16::try_from((max - first).min(u64::from(TILE_WIDTH))).ok()?;
    Tile::new(TileKind::Hash(u8::try_from(level).ok()?), n, width)
}

/// Tiles in first-use order, with their positions.
#[derive(Default)]
struct TileSet {
    tiles: Vec<Tile>,
    order: BTreeMap<Tile, usize>,
}

impl TileSet {
    fn add(&mut self, tile: Tile) -> usize {
        let next = self.tiles.len();
        let at = *self.order.entry(tile).or_insert(next);
        if at == next {
            self.tiles.push(tile);
        }
        at
    }

    fn find(&self, tile: &Tile) -> Option<usize> {
        self.order.get(tile).copied()
    }
}

/// Where tile data comes from (files, HTTP, memory): the bytes of one tile.
pub trait TileSource {
    /// What reading can fail with.
    type Error;

    /// The data of `tile` (its C2SP path is [`Tile::path`]).
    fn read_tile(&mut self, tile: &Tile) -> Result<Vec<u8>, Self::Error>;
}

/// Tiles that cannot be read or do not agree with the tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError<E> {
    /// The request describes no tree or index.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The [`TileSource`] failed.
    #[error("tiles: {0}")]
    Source(E),
    /// A tile with another length than its width says.
    #[error("tile {path}: {got} bytes, expected {expected}")]
    WrongLength {
        /// The tile's path.
        path: String,
        /// Bytes read.
        got: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// The tiles at the right edge do not lead to the tree's root.
    #[error("tiles: do not lead to the tree's root")]
    RootMismatch,
    /// A full tile whose hash is not the one its parent tile holds.
    #[error("tile {path}: does not match its parent tile")]
    Inconsistent {
        /// The tile's path.
        path: String,
    },
    /// The tile arithmetic disagreed with itself (a bug in this module; never expected).
    #[error("tiles: internal index mismatch")]
    Internal,
}

/// Reads stored hashes from the hash tiles of the tree of size `size` and root `root`,
/// checking every tile it uses (Go's `TileHashReader`): the tiles at the right edge of the
/// tree against the root, every other tile against the hash its parent tile holds. A partial
/// tile is only ever checked against the root, never hashed upward.
#[derive(Debug)]
pub struct TileHashReader<S> {
    size: u64,
    root: MerkleHash,
    source: S,
}

impl<S: TileSource> TileHashReader<S> {
    /// A reader for the tree of size `size` and root `root`, with tiles from `source`.
    pub fn new(size: u64, root: MerkleHash, source: S) -> Self {
        TileHashReader { size, root, source }
    }

    /// The tile source back.
    pub fn into_source(self) -> S {
        self.source
    }
}

impl<S: TileSource> HashReader for TileHashReader<S> {
    type Error = TileError<S::Error>;

    fn read_hashes(&mut self, indexes: &[u64], out: &mut [MerkleHash]) -> Result<(), Self::Error> {
        let size = self.size;
        if size > MAX_TREE_SIZE {
            return Err(InputError::TooLarge { size }.into());
        }
        let limit = stored_hash_count(size).ok_or(TileError::Internal)?;
        if let Some(&index) = indexes.iter().find(|&&i| i >= limit) {
            return Err(InputError::IndexNotInTree { index, size }.into());
        }
        if indexes.is_empty() {
            return Ok(());
        }
        let mut set = TileSet::default();
        // The tiles at the right edge: they hold the complete subtrees the root combines.
        let mut stx = Vec::new();
        subtree_indexes(0, size, &mut stx);
        let mut stx_tiles = Vec::with_capacity(stx.len());
        for &x in &stx {
            let (tile, _, _) = tile_for_index(x).ok_or(TileError::Internal)?;
            let tile = tile_parent(&tile, 0, size).ok_or(TileError::Internal)?;
            stx_tiles.push(set.add(tile));
        }
        let edge = set.tiles.len();
        // For each index, its tile and every full tile between it and an edge tile.
        let mut index_tiles = Vec::with_capacity(indexes.len());
        for &x in indexes {
            let (tile, _, _) = tile_for_index(x).ok_or(TileError::Internal)?;
            let mut chain = Vec::new();
            let mut found = None;
            for k in 0..=8 {
                let parent = tile_parent(&tile, k, size).ok_or(TileError::Internal)?;
                if let Some(j) = set.find(&parent) {
                    found = Some(j);
                    break;
                }
                if !parent.is_full() {
                    return Err(TileError::Internal);
                }
                chain.push(parent);
            }
            let mut j = found.ok_or(TileError::Internal)?;
            for parent in chain.into_iter().rev() {
                j = set.add(parent);
            }
            index_tiles.push(j);
        }
        let TileSet { tiles, order } = set;
        let mut data = Vec::with_capacity(tiles.len());
        for tile in &tiles {
            let bytes = self.source.read_tile(tile).map_err(TileError::Source)?;
            let expected = usize::from(tile.width) * HASH_SIZE;
            if bytes.len() != expected {
                return Err(TileError::WrongLength {
                    path: tile.path(),
                    got: bytes.len(),
                    expected,
                });
            }
            data.push(bytes);
        }
        let hash_at = |i: usize, x: u64| {
            let tile = tiles.get(i).ok_or(TileError::Internal)?;
            let bytes = data.get(i).ok_or(TileError::Internal)?;
            hash_from_tile(tile, bytes, x).ok_or(TileError::Internal)
        };
        let subtrees = stx
            .iter()
            .zip(&stx_tiles)
            .map(|(&x, &i)| hash_at(i, x))
            .collect::<Result<Vec<_>, _>>()?;
        if combine(&subtrees) != Some(self.root) {
            return Err(TileError::RootMismatch);
        }
        // Every tile that is not at the edge is full; check it against its parent's hash.
        for (tile, bytes) in tiles.iter().zip(&data).skip(edge) {
            let parent = tile_parent(tile, 1, size).ok_or(TileError::Internal)?;
            let j = *order.get(&parent).ok_or(TileError::Internal)?;
            let TileKind::Hash(level) = parent.kind else {
                return Err(TileError::Internal);
            };
            let index = stored_hash_index(u32::from(level) * TILE_HEIGHT, tile.n)
                .ok_or(TileError::Internal)?;
            let want = hash_at(j, index)?;
            if !tile.is_full() || tile_hash(bytes) != Some(want) {
                return Err(TileError::Inconsistent { path: tile.path() });
            }
        }
        for ((slot, &x), &i) in out.iter_mut().zip(indexes).zip(&index_tiles) {
            *slot = hash_at(i, x)?;
        }
        Ok(())
    }
}
