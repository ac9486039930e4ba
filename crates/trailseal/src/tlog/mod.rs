//! The transparency log over a store's Merkle tree: publishing it (tiles).

mod tile_dir;
pub mod tiles;

pub use tiles::{TilesError, TilesReport};
