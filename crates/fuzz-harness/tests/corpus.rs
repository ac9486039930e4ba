#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

//! Replays the checked-in fuzz corpus (`fuzz/corpus/<target>/*`, seeds and minimised finds,
//! crash reproducers included) through the harnesses the fuzz targets run, so every input
//! libFuzzer kept stays a regression test on stable Rust.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

fn replay(target: &str) {
    let (_, harness) = trailseal_fuzz_harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no input", dir.display());
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        if catch_unwind(AssertUnwindSafe(|| harness(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} corpus inputs fail:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn every_target_has_a_test() {
    let names: Vec<_> = trailseal_fuzz_harness::TARGETS
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        names,
        [
            "canonical",
            "jsonl_line",
            "bundle",
            "anchor",
            "verifier",
            "number",
            "jsonl_format",
            "tlog"
        ]
    );
}

#[test]
fn canonical_corpus() {
    replay("canonical");
}

#[test]
fn jsonl_line_corpus() {
    replay("jsonl_line");
}

#[test]
fn bundle_corpus() {
    replay("bundle");
}

#[test]
fn anchor_corpus() {
    replay("anchor");
}

#[test]
fn verifier_corpus() {
    replay("verifier");
}

#[test]
fn number_corpus() {
    replay("number");
}

#[test]
fn jsonl_format_corpus() {
    replay("jsonl_format");
}

#[test]
fn tlog_corpus() {
    replay("tlog");
}
