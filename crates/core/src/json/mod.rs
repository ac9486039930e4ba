//! A JSON reader that accepts what Python's `json.loads` accepts, and the canonical writer of
//! chain format "1".
//!
//! The reader builds a flat *tape* ([`Doc`]) instead of a tree: no recursion while parsing,
//! writing or dropping, so a document nested 100,000 deep is a typed error, never a stack
//! overflow. Scalars are normalised while parsing (integers keep every digit, floats become
//! Python's `repr`, strings are decoded), so writing the canonical form is a single walk.
//! A float's value is the one Python's `float()` gives its text, for any length of mantissa
//! and exponent ([`crate::number::python_float`]); a float Python refuses (more than a billion
//! digits) is [`JsonErrorKind::FloatTooLong`], an integer it refuses (more than 4300 digits)
//! [`JsonErrorKind::IntegerTooLong`].
//!
//! The reader accepts everything Python's reader accepts, including `NaN`, `Infinity`, numbers
//! that overflow to infinity and lone surrogates (the arena holds WTF-8, so surrogates sort by
//! code point as in Python). Whether those values may be *written* depends on the [`Mode`]:
//! - [`Mode::Strict`] is the canonical form of chain format "1": writing one of them is a
//!   typed error ([`JsonErrorKind::NonFinite`], [`JsonErrorKind::LoneSurrogate`]), as are
//!   integers beyond Python's 4300-digit limit and nesting beyond [`ParseOptions::max_depth`].
//! - [`Mode::Python`] writes them as Python does (`NaN`, `Infinity`, `\ud800`), so records
//!   that weaver-kernel wrote with such values still verify.
//!
//! An error is raised only for values that reach the output: as in Python, a repeated key's
//! earlier value is dropped before anything is written.
//!
//! The module is split by job: [`parse`](parse_with) builds the tape, `doc` reads it,
//! `canonical` writes it back in canonical form, `escape` and `float` hold the canonical
//! string and float spellings, `scan` finds a top-level member without parsing, `pretty`
//! re-indents, `recanon` re-canonicalises `json.dumps` output in one pass, and `write` is the
//! canonical object writer for trailseal's own JSON (receipts, bundles, selections).

mod canonical;
mod doc;
mod error;
mod escape;
mod float;
mod parse;
mod pretty;
pub mod recanon;
mod scan;
pub mod write;

pub use canonical::{Mode, canonicalize};
pub use doc::{Doc, Kind, NodeRef};
pub use error::{JsonError, JsonErrorKind};
pub use escape::write_json_string;
pub use float::write_float_repr;
pub use parse::{DEFAULT_MAX_DEPTH, PYTHON_INT_MAX_DIGITS, ParseOptions, parse, parse_with};
pub use pretty::pretty;
pub use scan::{find_top_level_string, is_one_bracketed_value};
pub use write::{ArrayWriter, ObjectWriter, object, write_object, write_object_in_order};
