//! Choosing and opening a backend from a location string.

use std::path::Path;

use crate::jsonl::JsonlStore;
use crate::memory::MemoryStore;
use crate::{Store, StoreError};

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// For reading: the store must exist and is not modified.
    Read,
    /// For appending; `create` makes a new store when there is none.
    Write { create: bool },
}

/// A store format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// weaver-kernel's SQLite layout.
    Sqlite,
    /// weaver-kernel's JSONL layout.
    Jsonl,
    /// In memory (location `:memory:`).
    Memory,
    /// A PostgreSQL database (`postgres://…`, `postgresql://…`).
    Postgres,
}

impl Format {
    /// The format a location implies: `.db`, `.sqlite`, `.sqlite3` are SQLite, `.jsonl` is
    /// JSONL, `:memory:` is memory.
    pub fn from_location(location: &str) -> Option<Format> {
        if location == ":memory:" {
            return Some(Format::Memory);
        }
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            return Some(Format::Postgres);
        }
        let ext = Path::new(location)
            .extension()?
            .to_str()?
            .to_ascii_lowercase();
        match ext.as_str() {
            "db" | "sqlite" | "sqlite3" => Some(Format::Sqlite),
            "jsonl" => Some(Format::Jsonl),
            _ => None,
        }
    }

    /// Parses a `--format` value.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "sqlite" => Some(Format::Sqlite),
            "jsonl" => Some(Format::Jsonl),
            "memory" => Some(Format::Memory),
            "postgres" => Some(Format::Postgres),
            _ => None,
        }
    }
}

/// What a store reads, beyond its location, format and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// The longest record line a JSONL store reads, in bytes without its line end (see
    /// [`JsonlStore::with_max_record_bytes`]).
    pub max_record_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_record_bytes: crate::jsonl::DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// Opens the store at `location` in `format` (or the one its name implies), with the default
/// [`StoreOptions`]. A SQLite or JSONL file opened with `create` that does not exist yet is
/// created by the first write (it reads as empty until then), so a refused first append
/// creates nothing.
pub fn open(
    location: &str,
    format: Option<Format>,
    mode: OpenMode,
) -> Result<Box<dyn Store>, StoreError> {
    open_with(location, format, mode, &StoreOptions::default())
}

/// Opens the store at `location` in `format` (or the one its name implies).
pub fn open_with(
    location: &str,
    format: Option<Format>,
    mode: OpenMode,
    options: &StoreOptions,
) -> Result<Box<dyn Store>, StoreError> {
    let format = format.or_else(|| Format::from_location(location)).ok_or_else(|| StoreError::UnknownStore {
        location: location.to_owned(),
        reason: "cannot tell the format from the name (use .db, .sqlite, .sqlite3 or .jsonl, or name the format)".into(),
    })?;
    match format {
        #[cfg(feature = "sqlite")]
        Format::Sqlite => crate::deferred::open_file_store(
            Path::new(location),
            mode,
            Box::new(|p, m| Ok(Box::new(crate::sqlite::SqliteStore::open(p, m)?))),
        ),
        #[cfg(not(feature = "sqlite"))]
        Format::Sqlite => Err(StoreError::UnknownStore {
            location: location.to_owned(),
            reason: "this build of trailseal has no SQLite support".into(),
        }),
        Format::Jsonl => {
            let max = options.max_record_bytes;
            crate::deferred::open_file_store(
                Path::new(location),
                mode,
                Box::new(move |p, m| {
                    Ok(Box::new(JsonlStore::open(p, m)?.with_max_record_bytes(max)))
                }),
            )
        }
        Format::Memory => Ok(Box::new(MemoryStore::new())),
        #[cfg(feature = "postgres")]
        Format::Postgres => Ok(Box::new(crate::postgres::PgStore::open(location, mode)?)),
        #[cfg(not(feature = "postgres"))]
        Format::Postgres => Err(StoreError::UnknownStore {
            location: location.to_owned(),
            reason: "this build of trailseal has no PostgreSQL support (feature postgres)".into(),
        }),
    }
}

/// A location as messages show it: a database URL without its password.
pub fn redact_location(location: &str) -> String {
    #[cfg(feature = "postgres")]
    if Format::from_location(location) == Some(Format::Postgres) {
        return crate::postgres::redact_url(location);
    }
    location.to_owned()
}
