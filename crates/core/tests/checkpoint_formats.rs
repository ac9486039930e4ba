//! The transparency-log formats of issue 15, each in its own file: the tree leaf, C2SP
//! checkpoints, `c2sp.org/tlog-proof@v1` files and tlog-cosignature/v1 witness cosignatures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod checkpoint_formats {
    pub(crate) mod checkpoint;
    pub(crate) mod cosignature;
    pub(crate) mod leaf;
    pub(crate) mod proof;
}
