//! The client side of C2SP tlog-witness (`trailseal_core::witness`): request bodies, response
//! classification, merging cosignatures, the per-witness state and its submission rules, the
//! quorum count, and a full simulated exchange with a fake witness written here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod witness_protocol {
    pub(crate) mod common;
    pub(crate) mod exchange;
    pub(crate) mod merge;
    pub(crate) mod request;
    pub(crate) mod response;
    pub(crate) mod state;
}
