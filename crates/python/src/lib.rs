//! `trailseal._native`: the Rust core of the `trailseal` Python package.
//!
//! The public API is the pure-Python package around it (`trailseal`, `trailseal.weaver`);
//! this module stays small: one class for an open store (`Log`) and a few functions.
//! Results are returned as the JSON documents the command line prints (parsed on the Python
//! side) or as tuples; errors as the exceptions of `trailseal.errors`.

mod errors;
mod functions;
mod log;
mod records;
mod tlog;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<log::Log>()?;
    m.add_function(wrap_pyfunction!(functions::verify_bundle, m)?)?;
    m.add_function(wrap_pyfunction!(tlog::verify_proof, m)?)?;
    m.add_function(wrap_pyfunction!(functions::keygen, m)?)?;
    m.add_function(wrap_pyfunction!(functions::keygen_secret, m)?)?;
    m.add_function(wrap_pyfunction!(functions::cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(functions::canonical_json, m)?)?;
    m.add_function(wrap_pyfunction!(functions::redact_location, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "MAX_PROOF_FILE_BYTES",
        trailseal::core::tlog_proof::MAX_FILE_LEN,
    )?;
    m.add(
        "MAX_TRACE_BYTES",
        trailseal::core::trace::DEFAULT_MAX_RECORD_BYTES,
    )?;
    Ok(())
}
