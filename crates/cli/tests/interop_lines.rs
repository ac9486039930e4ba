//! JSONL line boundaries against the real weaver-kernel 0.12.0 (see `interop_weaver.rs` for
//! how the tests drive it):
//!
//! - Python's own text-mode reader (`open(encoding="utf-8")`, iterate, `str.strip()`) and
//!   trailseal's [`LineReader`] + [`strip_line`] split and strip random byte soups (every line
//!   end, every kind of whitespace and near-whitespace, invalid UTF-8) identically;
//! - `str.isspace` and [`is_python_space`] agree on every code point;
//! - weaver-kernel stores rewritten with mixed line ends, blank lines of every kind, stray
//!   whitespace, raw CRs inside records, a BOM, invalid UTF-8 and a missing final newline get
//!   the same verdict from both tools (where weaver-kernel raises, trailseal does not verify);
//! - what trailseal appends to such a file is read identically by both.
//!
//! The random choices come from a seed printed at the start; `TRAILSEAL_INTEROP_SEED` replays
//! a run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;

use trailseal::core::jsonl::{Terminators, is_python_space, strip_line};
use trailseal::store::lines::LineReader;
use trailseal::{AuditLog, ChainKey, OpenMode, OpenOptions, TamperKind, Verdict};
use trailseal_testkit::{weaver_python, weaver_tool};

/// Long enough to start a new store; non-ASCII, as weaver-kernel secrets may be.
const SECRET: &str = "lines-secret-ü-Qm7v2KxR9tZp4LwN8cJd";

fn seed() -> u64 {
    let seed = std::env::var("TRAILSEAL_INTEROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            use std::hash::{BuildHasher, RandomState};
            RandomState::new().hash_one(std::time::SystemTime::now()) % 1_000_000
        });
    eprintln!("TRAILSEAL_INTEROP_SEED={seed}");
    seed
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Runs a Python snippet with weaver-kernel's interpreter; its stdout.
fn python(code: &str, args: &[&str]) -> String {
    let out = Command::new(weaver_python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Whitespace and near-whitespace, as UTF-8: every character Python strips, and some it does
/// not (NUL, BOM, U+200B, U+180E, U+0085's neighbours).
const SPACES: &[&str] = &[
    " ", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\u{85}", "\u{a0}", "\u{1680}",
    "\u{2000}", "\u{2007}", "\u{200a}", "\u{2028}", "\u{2029}", "\u{202f}", "\u{205f}", "\u{3000}",
];
const NOT_SPACES: &[&str] = &[
    "\0", "\u{feff}", "\u{200b}", "\u{180e}", "\u{84}", "\u{86}", "x",
];
const ENDS: &[&str] = &["\n", "\r\n", "\r"];

/// Splits each file as weaver-kernel's reader does, in Python: per file, the non-blank lines
/// as `[lineno, stripped text]`, or `"error"` when reading raises.
const PY_SPLIT: &str = r#"
import json, sys
out = []
for path in open(sys.argv[1], encoding="utf-8").read().split("\n"):
    if not path:
        continue
    try:
        lines = []
        with open(path, encoding="utf-8") as handle:
            for lineno, raw in enumerate(handle, start=1):
                line = raw.strip()
                if line:
                    lines.append([lineno, line])
        out.append(lines)
    except UnicodeDecodeError:
        out.append("error")
print(json.dumps(out))
"#;

/// The same in trailseal.
fn rust_split(bytes: &[u8]) -> serde_json::Value {
    let mut reader = LineReader::new(
        BufReader::with_capacity(7, bytes),
        Terminators::Universal,
        usize::MAX,
        0,
        0,
    );
    let mut lines = Vec::new();
    while let Some(line) = reader.next_line().unwrap() {
        match strip_line(line.bytes) {
            Err(_) => return serde_json::Value::from("error"),
            Ok([]) => {}
            Ok(text) => lines.push(serde_json::json!([
                line.number,
                std::str::from_utf8(text).unwrap()
            ])),
        }
    }
    serde_json::Value::from(lines)
}

fn write_list(dir: &Path, paths: &[PathBuf]) -> PathBuf {
    let list = dir.join("paths.txt");
    let text: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    std::fs::write(&list, text.join("\n")).unwrap();
    list
}

#[test]
fn line_splitting_and_stripping_match_pythons_text_mode() {
    let mut rng = Rng(seed());
    let dir = tempfile::tempdir().unwrap();
    let pieces: Vec<&[u8]> = SPACES
        .iter()
        .chain(NOT_SPACES)
        .chain(ENDS)
        .map(|s| s.as_bytes())
        .chain([
            &b"{}"[..],
            b"ab",
            b"\r",
            b"\n",
            b"\xff",
            b"\xc2",
            b"\xe2\x80",
            b"\xed\xa0\x80",
        ])
        .collect();
    let mut files = Vec::new();
    for i in 0..600 {
        let mut bytes = Vec::new();
        for _ in 0..rng.below(40) {
            // Invalid UTF-8 in a few files only, so that most are compared line by line.
            let piece = rng.pick(&pieces);
            if std::str::from_utf8(piece).is_err() && !rng.chance(5) {
                continue;
            }
            bytes.extend_from_slice(piece);
        }
        let path = dir.path().join(format!("soup-{i}.txt"));
        std::fs::write(&path, &bytes).unwrap();
        files.push((path, bytes));
    }
    let paths: Vec<PathBuf> = files.iter().map(|f| f.0.clone()).collect();
    let list = write_list(dir.path(), &paths);
    let python: serde_json::Value =
        serde_json::from_str(&python(PY_SPLIT, &[list.to_str().unwrap()])).unwrap();
    for ((path, bytes), expected) in files.iter().zip(python.as_array().unwrap()) {
        assert_eq!(
            &rust_split(bytes),
            expected,
            "{}: {:?}",
            path.display(),
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn is_python_space_is_str_isspace() {
    let python = python(
        "import json; print(json.dumps([c for c in range(0x110000) if chr(c).isspace()]))",
        &[],
    );
    let expected: Vec<u32> = serde_json::from_str(&python).unwrap();
    let ours: Vec<u32> = (0..0x11_0000u32)
        .filter_map(char::from_u32)
        .filter(|c| is_python_space(*c))
        .map(u32::from)
        .collect();
    assert_eq!(ours, expected);
}

fn key() -> ChainKey {
    trailseal_testkit::key(SECRET)
}

fn verify(path: &Path) -> Option<Verdict> {
    AuditLog::open(path.to_str().unwrap(), &OpenOptions::default())
        .ok()
        .map(|log| log.with_key(key()).verify())
}

/// A store weaver-kernel wrote, as lines without their line ends.
fn weaver_lines(dir: &Path, seed: u64, count: u64) -> Vec<Vec<u8>> {
    let path = dir.join("weaver.jsonl");
    let (seed, count_s) = (seed.to_string(), count.to_string());
    let out = weaver_tool(
        &[
            "write",
            "--backend",
            "jsonl",
            "--path",
            path.to_str().unwrap(),
            "--count",
            &count_s,
            "--seed",
            &seed,
        ],
        SECRET,
    );
    assert_eq!(out["written"].as_u64(), Some(count), "{out}");
    let bytes = std::fs::read(&path).unwrap();
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// A store trailseal wrote (same secret), as lines.
fn trailseal_lines(dir: &Path, count: u64) -> Vec<Vec<u8>> {
    let path = dir.join("trailseal.jsonl");
    let mut log = AuditLog::open(
        path.to_str().unwrap(),
        &OpenOptions {
            mode: OpenMode::Write { create: true },
            ..OpenOptions::default()
        },
    )
    .unwrap()
    .with_key(key());
    for i in 0..count {
        let trace = format!(
            r#"{{"action_id":"ts-{i}","capability_id":"c","principal_id":"p","token_id":"t","invoked_at":"2026-01-01T00:00:{i:02}Z","args":{{"n":{i},"s":"é\u2028"}},"response_mode":"raw","driver_id":"d"}}"#
        );
        log.append_json(trace.as_bytes()).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Inserts `what` at a random place between two JSON tokens of a record line (after a `,` or
/// `:` outside strings).
fn insert_between_tokens(rng: &mut Rng, line: &[u8], what: &[u8]) -> Vec<u8> {
    let mut places = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in line.iter().enumerate() {
        if in_string {
            match (escaped, *b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if *b == b'"' {
            in_string = true;
        } else if matches!(*b, b',' | b':') {
            places.push(i + 1);
        }
    }
    let at = *rng.pick(&places);
    let mut out = line[..at].to_vec();
    out.extend_from_slice(what);
    out.extend_from_slice(&line[at..]);
    out
}

/// One generated file from the record lines: mixed line ends, blank lines, stray whitespace,
/// and (sometimes) one kind of damage. Returns the bytes and a label.
fn mangle(rng: &mut Rng, lines: &[Vec<u8>]) -> (Vec<u8>, String) {
    let mut labels = Vec::new();
    let mut out = Vec::new();
    let damage = rng.below(10);
    let damaged_line = rng.below(lines.len());
    if damage == 0 {
        out.extend_from_slice("\u{feff}".as_bytes());
        labels.push("bom".to_owned());
    }
    for (i, line) in lines.iter().enumerate() {
        // Blank lines of every kind before the record.
        for _ in 0..rng.below(3) {
            for _ in 0..rng.below(4) {
                out.extend_from_slice(rng.pick(SPACES).as_bytes());
            }
            out.extend_from_slice(rng.pick(ENDS).as_bytes());
        }
        let mut line = line.clone();
        if i == damaged_line {
            match damage {
                1 => {
                    line = insert_between_tokens(rng, &line, b"\r");
                    labels.push(format!("raw CR inside line {i}"));
                }
                2 => {
                    let what = rng.pick(&["\x0b", "\x0c", "\u{2028}", "\u{85}", "\x1c"]);
                    line = insert_between_tokens(rng, &line, what.as_bytes());
                    labels.push(format!("{what:?} inside line {i}"));
                }
                3 => {
                    let what = rng.pick(NOT_SPACES);
                    line.extend_from_slice(what.as_bytes());
                    labels.push(format!("{what:?} after line {i}"));
                }
                4 => {
                    line.extend_from_slice(b"\xff");
                    labels.push(format!("invalid UTF-8 after line {i}"));
                }
                5 => {
                    line.extend_from_slice(b"\r\n\xc3\x28\r\n");
                    labels.push(format!("invalid UTF-8 on a blank line after {i}"));
                }
                _ => {}
            }
        }
        // Stray whitespace around the record.
        for _ in 0..rng.below(2) {
            out.extend_from_slice(rng.pick(SPACES).as_bytes());
        }
        out.extend_from_slice(&line);
        for _ in 0..rng.below(2) {
            let space = rng.pick(SPACES).as_bytes().to_vec();
            out.extend_from_slice(&space);
        }
        let last = i + 1 == lines.len();
        if !(last && rng.chance(30)) {
            out.extend_from_slice(rng.pick(ENDS).as_bytes());
        } else {
            labels.push("no final line end".to_owned());
        }
    }
    if damage == 6 {
        // Cut inside the last record.
        let cut = rng.below(lines.last().unwrap().len() / 2) + 2;
        let len = out.len();
        out.truncate(len.saturating_sub(cut));
        labels.push(format!("last {cut} bytes cut"));
    }
    (out, labels.join(", "))
}

/// trailseal's verdict agrees with weaver-kernel's `result` on the same file.
fn assert_agree(context: &str, weaver: &serde_json::Value, ours: Option<&Verdict>) {
    let context = format!("{context}: weaver-kernel said {weaver}, trailseal said {ours:?}");
    if weaver.get("error").is_some() {
        // weaver-kernel raises: trailseal must not call it verified (a store it cannot even
        // open is not verified either).
        if let Some(v) = ours {
            assert!(!v.is_verified(), "{context}");
            if let Verdict::Tampered(t) = v {
                assert_eq!(t.kind, TamperKind::Malformed, "{context}");
            }
        }
    } else if weaver["ok"] == true {
        let v = ours.unwrap_or_else(|| panic!("{context}"));
        assert!(v.is_verified(), "{context}");
        assert_eq!(
            Some(v.records_checked()),
            weaver["records_checked"].as_u64(),
            "{context}"
        );
    } else {
        let v = ours.unwrap_or_else(|| panic!("{context}"));
        assert!(matches!(v, Verdict::Tampered(_)), "{context}");
        assert_eq!(
            v.first_bad_seq(),
            weaver["first_bad_seq"].as_u64(),
            "{context}"
        );
    }
}

fn weaver_verify_many(dir: &Path, paths: &[PathBuf]) -> Vec<serde_json::Value> {
    let list = write_list(dir, paths);
    let out = weaver_tool(
        &[
            "verify-many",
            "--backend",
            "jsonl",
            "--paths-from",
            list.to_str().unwrap(),
        ],
        SECRET,
    );
    out["results"].as_array().unwrap().clone()
}

#[test]
fn verdicts_agree_with_weaver_kernel_on_mixed_line_ends_and_blank_lines() {
    let seed = seed();
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let sources = [
        ("weaver", weaver_lines(dir.path(), seed, 6)),
        ("trailseal", trailseal_lines(dir.path(), 6)),
    ];
    let mut cases = Vec::new();
    for i in 0..300 {
        let (name, lines) = rng.pick(&sources);
        let (bytes, label) = mangle(&mut rng, lines);
        let path = dir.path().join(format!("case-{i}.jsonl"));
        std::fs::write(&path, &bytes).unwrap();
        cases.push((path, format!("case {i} ({name} lines; {label})")));
    }
    let paths: Vec<PathBuf> = cases.iter().map(|c| c.0.clone()).collect();
    let weaver = weaver_verify_many(dir.path(), &paths);
    let mut verified = Vec::new();
    let mut raised = 0;
    for ((path, label), weaver) in cases.iter().zip(&weaver) {
        let ours = verify(path);
        assert_agree(label, weaver, ours.as_ref());
        raised += usize::from(weaver.get("error").is_some());
        if ours.as_ref().is_some_and(Verdict::is_verified) {
            verified.push((path.clone(), label.clone()));
        }
    }
    eprintln!(
        "{} files: {} verified in both, {raised} raised in weaver-kernel",
        cases.len(),
        verified.len()
    );
    assert!(verified.len() > 50 && raised > 20, "too few of each kind");

    // trailseal appends to the files that verify (after a bare `\r`, a `\r\n`, a missing line
    // end, trailing whitespace): both tools then read one more record.
    let mut appended = Vec::new();
    for (i, (path, label)) in verified.iter().enumerate() {
        let mut log = AuditLog::open(
            path.to_str().unwrap(),
            &OpenOptions {
                mode: OpenMode::Write { create: false },
                ..OpenOptions::default()
            },
        )
        .unwrap()
        .with_key(key());
        let before = log.verify().records_checked();
        let trace = format!(
            r#"{{"action_id":"appended-{i}","capability_id":"c","principal_id":"p","token_id":"t","invoked_at":"2026-02-01T00:00:00Z","args":{{}},"response_mode":"raw","driver_id":"d"}}"#
        );
        log.append_json(trace.as_bytes()).unwrap();
        appended.push((
            path.clone(),
            format!("{label}, then a trailseal append"),
            before,
        ));
    }
    let paths: Vec<PathBuf> = appended.iter().map(|a| a.0.clone()).collect();
    let weaver = weaver_verify_many(dir.path(), &paths);
    for ((path, label, before), weaver) in appended.iter().zip(&weaver) {
        let ours = verify(path);
        assert_agree(label, weaver, ours.as_ref());
        assert_eq!(
            weaver["records_checked"].as_u64(),
            Some(before + 1),
            "{label}: {weaver}"
        );
    }
}
