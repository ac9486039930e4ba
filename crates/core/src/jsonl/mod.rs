//! The JSONL store format, without I/O: weaver-kernel 0.12.0's `JsonlTraceStore` layout, one
//! record a line, as trailseal reads and writes it.
//!
//! weaver-kernel writes `json.dumps({"seq", "prev_hash", "record_hash", "trace"})` with
//! default separators; trailseal writes
//! `{"seq":N,"prev_hash":"…","record_hash":"…","kid":"…","trace":<canonical trace>}` — the
//! same record, compact, with the trace in canonical form (so it is MAC'd without parsing) and
//! the key id (`kid`, ignored by weaver-kernel). A store that does not start at genesis, or
//! carries a retention log, starts with a [`Header`] line.
//!
//! - [`text`]: splitting and stripping lines exactly as weaver-kernel's reader does (Python's
//!   text mode: universal newlines, `str.strip()`, blank lines skipped);
//! - [`line`](mod@line): reading one line as a record ([`parse_line`]: a fast path for the layout
//!   trailseal writes, the general JSON reader otherwise);
//! - [`header`]: the header line;
//! - [`write`](mod@write): writing a record line;
//! - [`torn`]: telling an interrupted write at the end of a file from damage.
//!
//! The backend (`trailseal-store`'s `jsonl` module) does the I/O around these: locking,
//! `fsync`, atomic rewrites and what to do with a torn tail.

pub mod header;
pub mod line;
pub mod text;
pub mod torn;
pub mod write;

pub use header::{HEADER_FORMAT, Header, HeaderError};
pub use line::{BadLine, LineRecord, ReadLine, action_id_of, parse_line, parse_line_ended};
pub use text::{
    LineProblem, SliceLine, Terminators, is_blank, is_python_space, lstrip, split_lines, strip_line,
};
pub use torn::{claimed_prev_hash, claimed_seq, is_strict_record_prefix, is_torn_after};
pub use write::write_record_line;
