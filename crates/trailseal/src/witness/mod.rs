//! Witness cosigning over HTTP (format.md §12.4): the I/O around the pure protocol in
//! [`trailseal_core::witness`].
//!
//! - [`url`]: `http[s]://host[:port][/prefix]` witness URLs (`https` with the `https` feature).
//! - [`endpoint`]: a witness as `URL=VKEY`.
//! - [`http`]: a minimal, bounded HTTP/1.1 client over `TcpStream` (or TLS, `tls`), with
//!   one deadline per exchange.
//! - `tls`: the TLS client of `https` witnesses (the `https` feature).
//! - `proxy`: `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`, tunnelled with `CONNECT`.
//! - [`state_file`]: the state file, locked for a whole submission and written crash-safely.
//! - [`mod@cosign`] ([`cosign()`]): one checkpoint submitted to every witness, `409`s followed, cosignatures
//!   recorded and merged, the quorum evaluated.
//! - [`outcome`]: per-witness outcomes, the report, the errors.

pub mod cosign;
pub mod endpoint;
pub mod http;
pub mod outcome;
mod proxy;
pub mod state_file;
#[cfg(feature = "https")]
mod tls;
pub mod url;

pub use cosign::{CosignOptions, cosign};
pub use endpoint::{EndpointError, WitnessEndpoint};
pub use http::HttpError;
pub use outcome::{CosignError, Cosigning, Event, WitnessOutcome, WitnessReport};
pub use state_file::{StateFile, StateFileError};
pub use url::{Scheme, UrlError, WitnessUrl};
