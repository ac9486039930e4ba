//! The conformance suite against every backend of this crate.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::PathBuf;

use trailseal_store::conformance::{Backend, Fixture};
use trailseal_store::{OpenMode, Store};

struct Memory;

impl Backend for Memory {
    fn fresh(&self) -> Fixture {
        Fixture {
            store: Box::new(trailseal_store::memory::MemoryStore::new()),
            guard: Box::new(()),
        }
    }
    fn reopen(&self, _: &Fixture) -> Option<Box<dyn Store>> {
        None
    }
}

struct File(&'static str);

impl File {
    fn path(f: &Fixture, ext: &str) -> PathBuf {
        f.guard
            .downcast_ref::<tempfile::TempDir>()
            .unwrap()
            .path()
            .join(format!("store.{ext}"))
    }
}

impl Backend for File {
    fn fresh(&self) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("store.{}", self.0));
        let store = trailseal_store::open(
            path.to_str().unwrap(),
            None,
            OpenMode::Write { create: true },
        )
        .unwrap();
        Fixture {
            store,
            guard: Box::new(dir),
        }
    }
    fn reopen(&self, f: &Fixture) -> Option<Box<dyn Store>> {
        // Like a second process appending to the same store: it may not exist yet (a store
        // is created by its first write), so this handle may create it too.
        let path = Self::path(f, self.0);
        Some(
            trailseal_store::open(
                path.to_str().unwrap(),
                None,
                OpenMode::Write { create: true },
            )
            .unwrap(),
        )
    }
}

mod memory {
    use super::*;
    trailseal_store::conformance_tests!(Memory);
}

mod jsonl {
    use super::*;
    trailseal_store::conformance_tests!(File("jsonl"));
}

mod sqlite {
    use super::*;
    trailseal_store::conformance_tests!(File("db"));
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    /// Each fixture is a fresh schema in the test server; the guard keeps its URL.
    struct Pg;

    impl Backend for Pg {
        fn fresh(&self) -> Fixture {
            let url = trailseal_testkit::pg_fresh_schema_url();
            let store =
                trailseal_store::open(&url, None, OpenMode::Write { create: true }).unwrap();
            Fixture {
                store,
                guard: Box::new(url),
            }
        }
        fn reopen(&self, f: &Fixture) -> Option<Box<dyn Store>> {
            let url = f.guard.downcast_ref::<String>().unwrap();
            Some(trailseal_store::open(url, None, OpenMode::Write { create: false }).unwrap())
        }
    }

    trailseal_store::conformance_tests!(Pg);
}
