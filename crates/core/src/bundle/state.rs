//! The running state of a bundle's signed blocks, shared by the writer and the verifier: both
//! hash the same entry lines into the same blocks, so both derive a trailer's fields and the
//! manifest's counts from this one type.

use sha2::{Digest, Sha256};

use super::BLOCK_ENTRIES;
use super::lines::{TrailerFields, hex, sha256};

/// Where the bundle is in its blocks.
#[derive(Debug, Default)]
pub(super) struct BlockState {
    /// SHA-256 of the header line.
    pub(super) header_hash: [u8; 32],
    /// The open block's number.
    pub(super) block: u64,
    /// The index (from 0) of the open block's first entry.
    pub(super) block_first: u64,
    /// Entries in the open block.
    pub(super) block_count: u64,
    block_hasher: Sha256,
    /// SHA-256 of the last trailer line (zeros before the first).
    pub(super) prev_trailer: [u8; 32],
    /// Entries so far.
    pub(super) entries: u64,
    /// Disclosed entries so far.
    pub(super) disclosed: u64,
}

impl BlockState {
    /// The state right after `header` (the header line, newline included).
    pub(super) fn after_header(header: &[u8]) -> Self {
        Self {
            header_hash: sha256(header),
            ..Self::default()
        }
    }

    /// Whether the open block holds [`BLOCK_ENTRIES`] entries (its trailer is due).
    pub(super) fn block_is_full(&self) -> bool {
        self.block_count == BLOCK_ENTRIES
    }

    /// Adds an entry line (newline included) to the open block.
    pub(super) fn add_entry(&mut self, line: &[u8], disclosed: bool) {
        self.block_hasher.update(line);
        self.block_count += 1;
        self.entries += 1;
        if disclosed {
            self.disclosed += 1;
        }
    }

    /// The fields of the open block's trailer, signed by the key with hash `key`; takes the
    /// block's digest (the block hasher starts over).
    pub(super) fn close_block(&mut self, key: u32) -> TrailerFields {
        let digest: [u8; 32] = std::mem::take(&mut self.block_hasher).finalize().into();
        TrailerFields {
            block: self.block,
            bundle: self.header_hash,
            count: self.block_count,
            digest,
            first: self.block_first,
            key,
            prev: self.prev_trailer,
        }
    }

    /// Opens the next block after the trailer line `trailer` (newline included).
    pub(super) fn next_block(&mut self, trailer: &[u8]) {
        self.prev_trailer = sha256(trailer);
        self.block += 1;
        self.block_first = self.entries;
        self.block_count = 0;
    }

    /// The manifest's `entries` value: `N disclosed D withheld W`.
    pub(super) fn counts(&self) -> String {
        format!(
            "{} disclosed {} withheld {}",
            self.entries,
            self.disclosed,
            self.entries.saturating_sub(self.disclosed)
        )
    }

    /// The manifest's `blocks` value: the number of blocks and the last trailer's digest.
    pub(super) fn blocks(&self) -> String {
        format!("{} {}", self.block, hex(&self.prev_trailer))
    }
}
