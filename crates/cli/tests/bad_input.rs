//! Bad input gets a typed error that names the line (or trace index) and the field, a non-zero
//! exit code, and leaves the store byte for byte as it was: every kind of bad trace appended to
//! a SQLite and a JSONL store that already hold records (through `trailseal append` and through
//! `AuditLog::prepare`/`append` and `SharedLog`); files that are not stores, or are stores of a
//! newer format, given to `verify`, `list`, `show` and `append`; and a wrong secret given to every
//! command that takes one.
//!
//! Two behaviours are deliberate, as in weaver-kernel 0.12.0: an empty `.jsonl` file is an empty
//! JSONL store (verified with the caveat `store is empty`), and `append` to an empty `.db` file
//! creates the store in it (an empty file is an empty SQLite database); reading commands still
//! refuse an empty `.db` file as having no traces table.
//!
//! Longer than 600 lines on purpose: one table of bad traces run through every entry point and
//! backend; the rows are its length.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;

use std::path::Path;
use std::process::Output;

use trailseal::core::trace::{DEFAULT_MAX_TRACE_BYTES, DEFAULT_MAX_TRACE_DEPTH};
use trailseal::{AuditLog, ChainKey, OpenMode, OpenOptions, SharedLog, TraceLimits};

// Strong (32 random bytes as base64url), so no weak-secret warning precedes the errors checked.
const SECRET: &str = "Tq3vX8kLm2Zp7RwN4cYb9HsJ6dFg1AeU0oKiVxWyQ5t";

fn run(args: &[&str], stdin: &[u8]) -> Output {
    common::run_with(args, Some(SECRET), stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn trace(id: &str) -> String {
    trailseal_testkit::Trace::new(id).json()
}

/// The members of the bad trace's base: a valid trace whose parts the cases replace.
const MEMBERS: [(&str, &str); 8] = [
    ("action_id", r#""bad-1""#),
    ("capability_id", r#""crm.search""#),
    ("principal_id", r#""agent-7""#),
    ("token_id", r#""tok-1""#),
    ("invoked_at", r#""2026-03-01T09:30:00+00:00""#),
    ("args", r#"{"q":"acme"}"#),
    ("response_mode", r#""summary""#),
    ("driver_id", r#""http""#),
];

fn object<'a>(members: impl Iterator<Item = &'a (&'a str, &'a str)>) -> String {
    let inner: Vec<String> = members.map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", inner.join(","))
}

fn base() -> String {
    object(MEMBERS.iter())
}

/// `base()` with the first `from` replaced by `to`.
fn with(from: &str, to: &str) -> Vec<u8> {
    let b = base();
    assert!(b.contains(from), "{from}");
    b.replacen(from, to, 1).into_bytes()
}

/// `base()` without one member.
fn without(field: &str) -> Vec<u8> {
    object(MEMBERS.iter().filter(|(k, _)| *k != field)).into_bytes()
}

/// The byte offset of `pat` in `line`.
fn at(line: &[u8], pat: &str) -> usize {
    line.windows(pat.len())
        .position(|w| w == pat.as_bytes())
        .unwrap_or_else(|| panic!("{pat} not in {}", text(line)))
}

struct Case {
    what: &'static str,
    line: Vec<u8>,
    /// The message after `line N: ` (CLI) or `trace N: ` (library).
    error: String,
    /// `--max-trace-bytes` (`TraceLimits::max_bytes`), when not the default.
    max_bytes: Option<usize>,
}

fn case(what: &'static str, line: Vec<u8>, error: impl Into<String>) -> Case {
    Case {
        what,
        line,
        error: error.into(),
        max_bytes: None,
    }
}

fn cases() -> Vec<Case> {
    let deep = |open: &str, close: &str| {
        with(
            r#"{"q":"acme"}"#,
            &format!("{}1{}", open.repeat(100_000), close.repeat(100_000)),
        )
    };
    let mut cases = Vec::new();
    // Size.
    let big = with("acme", &"x".repeat(DEFAULT_MAX_TRACE_BYTES));
    cases.push(case(
        "over the default size limit (1 MiB)",
        big.clone(),
        format!(
            "trace is {} bytes, over the limit of {DEFAULT_MAX_TRACE_BYTES} bytes",
            big.len()
        ),
    ));
    let line = with("acme", &"x".repeat(300));
    cases.push(Case {
        max_bytes: Some(300),
        ..case(
            "over a configured size limit (--max-trace-bytes 300)",
            line.clone(),
            format!("trace is {} bytes, over the limit of 300 bytes", line.len()),
        )
    });
    // Encoding and values without a canonical form.
    let utf8 = |from: &str, to: &[u8]| {
        let b = base();
        let i = b.find(from).unwrap();
        let b = b.as_bytes();
        [&b[..i], to, &b[i + from.len()..]].concat()
    };
    let line = utf8("agent-7", b"agent-\xff7");
    cases.push(case(
        "invalid UTF-8 in a field",
        line.clone(),
        format!(
            "field `principal_id`: not valid JSON: byte {}: invalid UTF-8",
            at(&line, "agent-") + 6
        ),
    ));
    let line = utf8("acme", b"ac\xc3\x28me");
    cases.push(case(
        "invalid UTF-8 inside args",
        line.clone(),
        format!(
            "field `args`: not valid JSON: byte {}: invalid UTF-8",
            at(&line, "\"q\":\"ac") + 7
        ),
    ));
    let line = utf8("action_id", b"action\xed\xa0\x80_id");
    cases.push(case(
        "invalid UTF-8 (an encoded surrogate) in a key",
        line.clone(),
        format!(
            "not valid JSON: byte {}: invalid UTF-8",
            at(&line, "action") + 6
        ),
    ));
    for (what, value, pat) in [
        ("NaN", r#"{"q":NaN}"#, "NaN"),
        ("Infinity", r#"{"q":[1,Infinity]}"#, "Infinity"),
        ("-Infinity", r#"{"q":{"r":-Infinity}}"#, "-Infinity"),
        (
            "a number that overflows to infinity",
            r#"{"q":1e999}"#,
            "1e999",
        ),
    ] {
        let line = with(r#"{"q":"acme"}"#, value);
        cases.push(case(
            what,
            line.clone(),
            format!(
                "field `args`: not valid JSON: byte {}: NaN and Infinity are not valid in the canonical form",
                at(&line, pat)
            ),
        ));
    }
    let line = with(r#""tok-1""#, "NaN");
    cases.push(case(
        "NaN as a required string field",
        line.clone(),
        format!(
            "field `token_id`: not valid JSON: byte {}: NaN and Infinity are not valid in the canonical form",
            at(&line, "NaN")
        ),
    ));
    let line = with(r#""acme""#, r#""a\ud800""#);
    cases.push(case(
        "a lone surrogate",
        line.clone(),
        format!(
            "field `args`: not valid JSON: byte {}: lone surrogate in string (not representable in UTF-8)",
            at(&line, r#""a\ud800"#)
        ),
    ));
    // Nesting: an error at the limit (128), never a stack overflow.
    let line = deep("[", "]");
    cases.push(case(
        "arrays nested 100,000 deep in args",
        line.clone(),
        format!(
            "field `args`: not valid JSON: byte {}: nesting deeper than {DEFAULT_MAX_TRACE_DEPTH} levels",
            at(&line, "[") + DEFAULT_MAX_TRACE_DEPTH - 1
        ),
    ));
    let line = deep(r#"{"a":"#, "}");
    cases.push(case(
        "objects nested 100,000 deep in args",
        line.clone(),
        format!(
            "field `args`: not valid JSON: byte {}: nesting deeper than {DEFAULT_MAX_TRACE_DEPTH} levels",
            at(&line, r#"{"a":"#) + 5 * (DEFAULT_MAX_TRACE_DEPTH - 1)
        ),
    ));
    cases.push(case(
        "a line that is only brackets, 100,000 deep",
        ("[".repeat(100_000) + &"]".repeat(100_000)).into_bytes(),
        format!(
            "not valid JSON: byte {DEFAULT_MAX_TRACE_DEPTH}: nesting deeper than {DEFAULT_MAX_TRACE_DEPTH} levels"
        ),
    ));
    // Duplicate keys.
    cases.push(case(
        "a duplicate field",
        with(r#","driver_id""#, r#","args":{},"driver_id""#),
        r#"key "args" appears twice in one object"#,
    ));
    cases.push(case(
        "a duplicate key inside args",
        with(r#"{"q":"acme"}"#, r#"{"q":"acme","q":"evil"}"#),
        r#"key "q" appears twice in one object"#,
    ));
    // Wrong types and values.
    for (what, from, to, error) in [
        (
            "action_id not a string",
            r#""bad-1""#,
            "7",
            "field `action_id` must be a string, found integer",
        ),
        (
            "action_id empty",
            r#""bad-1""#,
            r#""""#,
            "field `action_id`: must not be empty",
        ),
        (
            "token_id a boolean",
            r#""tok-1""#,
            "false",
            "field `token_id` must be a string, found boolean",
        ),
        (
            "driver_id null",
            r#""http""#,
            "null",
            "field `driver_id` must be a string, found null",
        ),
        (
            "invoked_at a number",
            r#""2026-03-01T09:30:00+00:00""#,
            "1.5",
            "field `invoked_at` must be a string, found float",
        ),
        (
            "invoked_at without an offset",
            "+00:00",
            "",
            "field `invoked_at`: \"2026-03-01T09:30:00\": ",
        ),
        (
            "args a string",
            r#"{"q":"acme"}"#,
            r#""acme""#,
            "field `args` must be an object, found string",
        ),
        (
            "args an array",
            r#"{"q":"acme"}"#,
            "[]",
            "field `args` must be an object, found array",
        ),
        (
            "response_mode unknown",
            r#""summary""#,
            r#""loud""#,
            "field `response_mode`: \"loud\" is not one of summary, table, handle_only, raw",
        ),
        (
            "error a number",
            r#","driver_id""#,
            r#","error":5,"driver_id""#,
            "field `error` must be a string or null, found integer",
        ),
        (
            "result_summary an array",
            r#","driver_id""#,
            r#","result_summary":[],"driver_id""#,
            "field `result_summary` must be an object or null, found array",
        ),
        (
            "sensitivity unknown",
            r#","driver_id""#,
            r#","sensitivity":"TOP","driver_id""#,
            "field `sensitivity`: \"TOP\" is not one of NONE, PII, PCI, SECRETS, MEMORY",
        ),
        (
            "event_type unknown",
            r#","driver_id""#,
            r#","event_type":"oops","driver_id""#,
            "field `event_type`: \"oops\" is not one of invoke, expand, deny",
        ),
        (
            "status contradicting error",
            r#","driver_id""#,
            r#","status":"failed","driver_id""#,
            "field `status` is \"failed\" but `error` is null, so it must be \"succeeded\"",
        ),
        (
            "an unknown field",
            r#","driver_id""#,
            r#","bogus":1,"driver_id""#,
            "unknown field \"bogus\" (the export shape has exactly the 16 ActionTrace fields)",
        ),
    ] {
        cases.push(case(what, with(from, to), error));
    }
    for field in [
        "action_id",
        "capability_id",
        "principal_id",
        "token_id",
        "invoked_at",
        "args",
        "response_mode",
        "driver_id",
    ] {
        cases.push(case(
            "a missing required field",
            without(field),
            format!("field `{field}` is missing"),
        ));
    }
    // Not a trace at all.
    for (what, line, error) in [
        (
            "an empty object",
            "{}".to_owned(),
            "field `action_id` is missing".to_owned(),
        ),
        (
            "an array",
            "[1,2]".to_owned(),
            "a trace must be a JSON object, found array".to_owned(),
        ),
        (
            "a string",
            r#""trace""#.to_owned(),
            "a trace must be a JSON object, found string".to_owned(),
        ),
        (
            "null",
            "null".to_owned(),
            "a trace must be a JSON object, found null".to_owned(),
        ),
        (
            "cut off",
            r#"{"action_id":"x","#.to_owned(),
            "not valid JSON: byte 17: expecting property name enclosed in double quotes".to_owned(),
        ),
        (
            "trailing data",
            format!("{} x", base()),
            format!(
                "not valid JSON: byte {}: extra data after the value",
                base().len() + 1
            ),
        ),
        (
            "a trailing comma",
            base().replacen(r#""acme"}"#, r#""acme",}"#, 1),
            format!(
                "field `args`: not valid JSON: byte {}: expecting property name enclosed in double quotes",
                base().find(r#""acme"}"#).unwrap() + 7
            ),
        ),
        (
            "a byte order mark",
            format!("\u{feff}{}", base()),
            "not valid JSON: byte 0: unexpected UTF-8 byte order mark".to_owned(),
        ),
        (
            "not JSON",
            "action_id=x".to_owned(),
            "not valid JSON: byte 0: expecting value".to_owned(),
        ),
    ] {
        cases.push(case(what, line.into_bytes(), error));
    }
    cases
}

/// Every file in `dir`, by name, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn key() -> ChainKey {
    trailseal_testkit::key(SECRET)
}

fn write_options(max_bytes: Option<usize>) -> OpenOptions {
    OpenOptions {
        mode: OpenMode::Write { create: true },
        limits: TraceLimits {
            max_bytes: max_bytes.unwrap_or(DEFAULT_MAX_TRACE_BYTES),
            ..TraceLimits::default()
        },
        ..OpenOptions::default()
    }
}

#[test]
fn every_bad_trace_is_refused_by_line_and_field_and_changes_nothing() {
    assert_eq!(
        TraceLimits::default(),
        TraceLimits {
            max_bytes: 1 << 20,
            max_depth: 128
        },
        "the documented defaults"
    );
    let cases = cases();
    assert!(cases.len() >= 40, "{}", cases.len());
    for name in ["s.db", "s.jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join(name).to_str().unwrap().to_owned();
        let o = run(
            &["append", "--store", &store],
            format!("{}\n{}\n", trace("first-0"), trace("first-1")).as_bytes(),
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let before = snapshot(dir.path());
        let mut failures = Vec::new();
        for c in &cases {
            // The bad trace is line 2, between two good ones: the whole batch is refused.
            let input = [
                trace("ok-1").as_bytes(),
                b"\n",
                &c.line,
                b"\n",
                trace("ok-2").as_bytes(),
                b"\n",
            ]
            .concat();
            let limit = c.max_bytes.map(|n| n.to_string());
            let mut args = vec!["append", "--store", &store];
            if let Some(l) = &limit {
                args.extend(["--max-trace-bytes", l]);
            }
            let o = run(&args, &input);
            let err = text(&o.stderr);
            let first = err.lines().next().unwrap_or("");
            let expected = format!("error: line 2: {}", c.error);
            if o.status.code() != Some(2) || !first.starts_with(&expected) {
                failures.push(format!(
                    "{name}: {}: exit {:?}, stderr {first:?}, expected {expected:?}",
                    c.what,
                    o.status.code()
                ));
            }
            if !err.contains("hint: ") || !o.stdout.is_empty() {
                failures.push(format!(
                    "{name}: {}: no hint or stdout {:?}",
                    c.what,
                    text(&o.stdout)
                ));
            }
            if snapshot(dir.path()) != before {
                failures.push(format!("{name}: {}: the store changed", c.what));
            }

            // The library: the same error, naming the trace's index, and nothing written.
            let log = AuditLog::open(&store, &write_options(c.max_bytes))
                .unwrap()
                .with_key(key());
            let texts = [
                trace("ok-1").into_bytes(),
                c.line.clone(),
                trace("ok-2").into_bytes(),
            ];
            match log.prepare(texts.iter().map(Vec::as_slice)) {
                Err(e @ trailseal::Error::Trace { index: 1, .. }) => {
                    if !e.to_string().starts_with(&format!("trace 1: {}", c.error)) {
                        failures.push(format!("{name}: {}: library: {e}", c.what));
                    }
                }
                other => failures.push(format!("{name}: {}: library: {other:?}", c.what)),
            }
            let shared = SharedLog::new(log);
            match shared.append_json(&c.line) {
                Err(e @ trailseal::Error::Trace { index: 0, .. }) => {
                    if !e.to_string().starts_with(&format!("trace 0: {}", c.error)) {
                        failures.push(format!("{name}: {}: SharedLog: {e}", c.what));
                    }
                }
                other => failures.push(format!("{name}: {}: SharedLog: {other:?}", c.what)),
            }
            drop(shared);
            if snapshot(dir.path()) != before {
                failures.push(format!("{name}: {}: the library changed the store", c.what));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));

        // Refused by the store, not the trace: an action_id already stored, or repeated.
        for (input, error) in [
            (
                format!("{}\n{}\n", trace("ok-1"), trace("first-1")),
                format!(
                    "error: {store}: action_id \"first-1\" is already in the store; nothing was written"
                ),
            ),
            (
                format!("{}\n{}\n", trace("ok-1"), trace("ok-1")),
                format!(
                    "error: {store}: action_id \"ok-1\" is already in the store; nothing was written"
                ),
            ),
        ] {
            let o = run(&["append", "--store", &store], input.as_bytes());
            assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
            assert!(
                text(&o.stderr).starts_with(&error),
                "{}\nexpected {error}",
                text(&o.stderr)
            );
            assert!(snapshot(dir.path()) == before, "{name}: {input}");
        }
        let o = run(&["verify", "--store", &store, "--json"], b"");
        assert_eq!(o.status.code(), Some(0));
        assert!(
            text(&o.stdout).contains(r#""records_checked":2,"#),
            "{}",
            text(&o.stdout)
        );
    }
}

#[test]
fn the_size_limit_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("big.db").to_str().unwrap().to_owned();
    // 1.5 MiB: over the default, within --max-trace-bytes 2000000.
    let big = String::from_utf8(with("acme", &"x".repeat(1_500_000))).unwrap();
    let o = run(&["append", "--store", &store], big.as_bytes());
    assert_eq!(o.status.code(), Some(2));
    let o = run(
        &["append", "--store", &store, "--max-trace-bytes", "2000000"],
        big.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = run(&["verify", "--store", &store, "--quiet"], b"");
    assert_eq!(o.status.code(), Some(0));
    // The library: OpenOptions::limits or AuditLog::with_limits.
    let mut log = AuditLog::open(&store, &write_options(None))
        .unwrap()
        .with_key(key());
    let bigger = big.replace("bad-1", "bad-2");
    assert!(matches!(
        log.append_json(bigger.as_bytes()),
        Err(trailseal::Error::Trace { index: 0, .. })
    ));
    let mut log = log.with_limits(TraceLimits {
        max_bytes: 2_000_000,
        ..TraceLimits::default()
    });
    log.append_json(bigger.as_bytes()).unwrap();
    assert!(log.verify().is_verified());
}

/// A SQLite store trailseal wrote, its schema_version raised to 2.
fn newer_sqlite(path: &Path) {
    let o = run(
        &["append", "--store", path.to_str().unwrap()],
        trace("n-0").as_bytes(),
    );
    assert_eq!(o.status.code(), Some(0));
    let conn = rusqlite::Connection::open(path).unwrap();
    let n = conn
        .execute(
            "UPDATE trailseal_meta SET value = '2' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
}

/// A JSONL store whose header line says format 2.
fn newer_jsonl(path: &Path) {
    let o = run(
        &["append", "--store", path.to_str().unwrap()],
        trace("n-0").as_bytes(),
    );
    assert_eq!(o.status.code(), Some(0));
    let records = std::fs::read_to_string(path).unwrap();
    let header = r#"{"trailseal":{"format":2,"start":{"kind":"genesis","prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","seq":0}}}"#;
    std::fs::write(path, format!("{header}\n{records}")).unwrap();
}

#[test]
fn files_that_are_not_stores_or_are_newer_are_refused_unchanged() {
    const NOT_SQLITE: &str =
        "not a trailseal or weaver-kernel store: the file is not a SQLite database";
    const NO_TABLE: &str = "not a trailseal or weaver-kernel store: it has no traces table";
    const NOT_JSONL: &str = "not a trailseal or weaver-kernel store: its first line is not a JSON object (is this a JSONL store?)";
    const NEWER: &str = "store format version 2 is newer than this trailseal reads (up to 1)";
    type Make = fn(&Path);
    let cases: [(&str, Make, &str, &str); 8] = [
        (
            "text.db",
            |p| std::fs::write(p, "meeting notes, not a database\n".repeat(40)).unwrap(),
            NOT_SQLITE,
            NOT_SQLITE,
        ),
        (
            "random.sqlite3",
            |p| {
                std::fs::write(
                    p,
                    (0..8192u32)
                        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                        .collect::<Vec<_>>(),
                )
                .unwrap()
            },
            NOT_SQLITE,
            NOT_SQLITE,
        ),
        (
            "other.db",
            |p| {
                rusqlite::Connection::open(p)
                    .unwrap()
                    .execute_batch(
                        "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hello');",
                    )
                    .unwrap();
            },
            NO_TABLE,
            "not a trailseal or weaver-kernel store: it has other tables (notes) but no traces table; refusing to add a chain to it",
        ),
        ("empty.db", |p| std::fs::write(p, "").unwrap(), NO_TABLE, ""),
        (
            "text.jsonl",
            |p| std::fs::write(p, "hello\nworld\n").unwrap(),
            NOT_JSONL,
            NOT_JSONL,
        ),
        (
            "binary.jsonl",
            |p| std::fs::write(p, [0u8, 159, 146, 150, 255, 10, 1, 2]).unwrap(),
            NOT_JSONL,
            NOT_JSONL,
        ),
        ("newer.db", newer_sqlite, NEWER, NEWER),
        ("newer.jsonl", newer_jsonl, NEWER, NEWER),
    ];
    for (name, make, read_error, append_error) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        make(&path);
        let store = path.to_str().unwrap().to_owned();
        let before = snapshot(dir.path());
        let o = run(&["verify", "--store", &store, "--json"], b"");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(o.status.code(), Some(2), "{name}: {v}");
        assert_eq!(
            (v["status"].as_str(), v["reason"].as_str()),
            (Some("unverifiable"), Some("unknown store")),
            "{name}: {v}"
        );
        assert_eq!(v["detail"], format!("{store}: {read_error}"), "{name}");
        let o = run(&["verify", "--store", &store], b"");
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(
            text(&o.stdout).starts_with(&format!(
                "UNVERIFIABLE (unknown store): {store}: {read_error}"
            )),
            "{name}: {}",
            text(&o.stdout)
        );
        for args in [
            vec!["list", "--store", &store],
            vec!["show", "n-0", "--store", &store],
        ] {
            let o = run(&args, b"");
            assert_eq!(o.status.code(), Some(2), "{name}: {args:?}");
            assert_eq!(
                text(&o.stderr).lines().next(),
                Some(format!("error: {store}: {read_error}").as_str()),
                "{name}: {args:?}"
            );
        }
        // Read commands leave the file as it was and create nothing beside it.
        assert!(
            snapshot(dir.path()) == before,
            "{name}: a read command changed something"
        );
        // (An empty file opened for writing becomes a store: see below.)
        let modes = if append_error.is_empty() {
            &[OpenMode::Read][..]
        } else {
            &[OpenMode::Read, OpenMode::Write { create: true }][..]
        };
        for &mode in modes {
            let options = OpenOptions {
                mode,
                ..OpenOptions::default()
            };
            match AuditLog::open(&store, &options) {
                Err(trailseal::Error::Store(e)) if e.is_unknown_store() => {
                    let expected = if mode == OpenMode::Read {
                        read_error
                    } else {
                        append_error
                    };
                    assert_eq!(
                        e.to_string(),
                        format!("{store}: {expected}"),
                        "{name}: {mode:?}"
                    );
                }
                other => panic!("{name}: {mode:?}: {other:?}"),
            }
        }
        assert!(
            snapshot(dir.path()) == before,
            "{name}: opening changed something"
        );
        let o = run(&["append", "--store", &store], trace("a-1").as_bytes());
        if append_error.is_empty() {
            // An empty file is an empty SQLite database: appending creates the store in it, as
            // weaver-kernel 0.12.0 does.
            assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o.stderr));
            continue;
        }
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert_eq!(
            text(&o.stderr).lines().next(),
            Some(format!("error: {store}: {append_error}").as_str()),
            "{name}"
        );
        assert!(
            snapshot(dir.path()) == before,
            "{name}: append changed something"
        );
    }
}

#[test]
fn an_empty_jsonl_file_is_an_empty_store_and_a_missing_one_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    // weaver-kernel reads an empty JSONL file as an empty store; so does trailseal, and says so.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let e = empty.to_str().unwrap();
    let o = run(&["verify", "--store", e, "--json"], b"");
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["caveats"][0],
        serde_json::json!({"code": "empty-store", "message": "store is empty"}),
        "{v}"
    );
    let o = run(&["list", "--store", e], b"");
    assert!(text(&o.stdout).ends_with("no traces matched\n"));
    assert_eq!(std::fs::read(&empty).unwrap(), b"");
    let o = run(&["append", "--store", e], trace("a-1").as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));

    for name in ["missing.db", "missing.jsonl"] {
        let path = dir.path().join(name);
        let store = path.to_str().unwrap();
        let before = snapshot(dir.path());
        for args in [
            vec!["verify", "--store", store],
            vec!["list", "--store", store],
            vec!["show", "x", "--store", store],
            vec!["retention", "--store", store],
            vec!["policy", "--store", store],
            vec!["prune", "--store", store, "--keep-last", "1", "--dry-run"],
            vec!["prune", "--store", store, "--keep-last", "1"],
            vec!["export", "--store", store, "--out", "/dev/null"],
        ] {
            let o = run(&args, b"");
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            let all = text(&o.stdout) + &text(&o.stderr);
            assert!(
                all.contains(&format!("{store}: no such store")),
                "{args:?}: {all}"
            );
        }
        assert!(snapshot(dir.path()) == before, "{name} was created");
    }
}

/// `trailseal ARGS` with `secret` in `WEAVER_KERNEL_SECRET`.
fn run_as(secret: &str, args: &[&str], stdin: &[u8]) -> Output {
    common::run_with(args, Some(secret), stdin)
}

#[test]
fn a_wrong_secret_is_refused_by_every_command_and_changes_nothing() {
    const WRONG: &str = "not-the-secret";
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("k").to_str().unwrap().to_owned();
    assert_eq!(run(&["keygen", "--out", &key], b"").status.code(), Some(0));
    let bundle = keys.path().join("x.bundle").to_str().unwrap().to_owned();
    // Stores with records and a policy receipt, and stores whose records were all pruned (a
    // JSONL store then records no key id: its receipts confirm the key).
    for (name, prune_all) in [
        ("w.db", false),
        ("w.jsonl", false),
        ("pruned.db", true),
        ("pruned.jsonl", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join(name).to_str().unwrap().to_owned();
        let input = format!("{}\n{}\n", trace("w-0"), trace("w-1"));
        assert_eq!(
            run(&["append", "--store", &store], input.as_bytes())
                .status
                .code(),
            Some(0)
        );
        let o = run(&["policy", "--store", &store, "--min-retention", "1d"], b"");
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        if prune_all {
            let o = run(&["prune", "--store", &store, "--keep-last", "0"], b"");
            assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        }
        let before = snapshot(dir.path());
        let copy_db = dir.path().join("copy.db").to_str().unwrap().to_owned();
        let copy_jsonl = dir.path().join("copy.jsonl").to_str().unwrap().to_owned();
        for args in [
            vec!["verify", "--store", &store],
            vec!["migrate", "--from", &store, "--to", &copy_db],
            vec!["migrate", "--from", &store, "--to", &copy_jsonl],
            vec!["append", "--store", &store],
            vec!["policy", "--store", &store, "--min-retention", "2d"],
            vec!["prune", "--store", &store, "--keep-last", "1"],
            vec!["retention", "--store", &store],
            vec!["anchor", "--store", &store, "--signing-key", &key],
            vec![
                "export",
                "--store",
                &store,
                "--bundle",
                &bundle,
                "--signing-key",
                &key,
            ],
        ] {
            let o = run_as(WRONG, &args, trace("w-2").as_bytes());
            let all = text(&o.stdout) + &text(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{name}: {args:?}: {all}");
            let said =
                all.contains("this secret") || (prune_all && all.contains("no record to export"));
            assert!(said, "{name}: {args:?}: {all}");
            assert!(
                snapshot(dir.path()) == before,
                "{name}: {args:?} changed the store"
            );
        }
        let o = run_as(WRONG, &["verify", "--store", &store, "--json"], b"");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["reason"], "wrong secret", "{name}: {v}");
        let o = run(&["verify", "--store", &store], b"");
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o.stdout));
    }
}

#[test]
fn a_bad_signing_key_creates_neither_store_nor_anchor_folder() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not a key\n").unwrap();
    let before = snapshot(dir.path());
    for name in ["new.db", "new.jsonl"] {
        let store = dir.path().join(name);
        let anchors = dir.path().join("anchors");
        let o = run(
            &[
                "append",
                "--store",
                store.to_str().unwrap(),
                "--anchor-dir",
                anchors.to_str().unwrap(),
                "--signing-key",
                bad.to_str().unwrap(),
            ],
            trace("k-0").as_bytes(),
        );
        assert_eq!(o.status.code(), Some(2), "{name}");
        let err = text(&o.stderr);
        assert!(err.contains("bad.key: malformed key"), "{name}: {err}");
        assert!(
            snapshot(dir.path()) == before,
            "{name}: something was created"
        );
    }
}

#[test]
fn migrate_into_a_store_that_is_not_empty_says_so_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.db").to_str().unwrap().to_owned();
    let input = format!("{}\n{}\n", trace("m-0"), trace("m-1"));
    let o = run(&["append", "--store", &source], input.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    for (name, holds) in [
        ("full.db", "3 records, seq 0 to 2"),
        ("full.jsonl", "the last record at seq 2"),
    ] {
        let dest = dir.path().join(name).to_str().unwrap().to_owned();
        let input = format!("{}\n{}\n{}\n", trace("d-0"), trace("d-1"), trace("d-2"));
        let o = run(&["append", "--store", &dest], input.as_bytes());
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let before = snapshot(dir.path());
        let o = run(&["migrate", "--from", &source, "--to", &dest], b"");
        let all = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {all}");
        assert!(
            all.contains(&format!("{dest}: the destination is not empty (it holds ")),
            "{name}: {all}"
        );
        assert!(all.contains(holds), "{name}: {all}");
        assert!(
            all.contains("migrate into a new store or an empty one"),
            "{name}: {all}"
        );
        assert!(
            !all.contains("retry") && !all.contains("again"),
            "{name}: {all}"
        );
        assert!(
            snapshot(dir.path()) == before,
            "{name}: migrate changed a file"
        );
    }
}

#[test]
fn a_refused_first_append_creates_no_file() {
    let ok = trace("f-0");
    let late = trace("f-1").replace("2026-03-01T09:30:00+00:00", "0001-01-01T00:30:00+01:00");
    // (what, stdin, secret, extra arguments)
    type Input<'a> = (&'a str, Vec<u8>, Option<&'a str>, Vec<&'a str>);
    let inputs: Vec<Input<'_>> = vec![
        ("not JSON", b"nope\n".to_vec(), Some(SECRET), vec![]),
        (
            "a good line, then a bad one",
            format!("{ok}\n{{\"x\":1}}\n").into_bytes(),
            Some(SECRET),
            vec![],
        ),
        (
            "a repeated action_id",
            format!("{ok}\n{ok}\n").into_bytes(),
            Some(SECRET),
            vec![],
        ),
        (
            "an invoked_at Python cannot hold in UTC",
            format!("{late}\n").into_bytes(),
            Some(SECRET),
            vec![],
        ),
        (
            "a trace over the size limit",
            format!("{ok}\n").into_bytes(),
            Some(SECRET),
            vec!["--max-trace-bytes", "100"],
        ),
        ("no secret", format!("{ok}\n").into_bytes(), None, vec![]),
        ("nothing on stdin", Vec::new(), Some(SECRET), vec![]),
    ];
    for name in ["new.db", "new.sqlite", "new.jsonl"] {
        for (what, stdin, secret, extra) in &inputs {
            let dir = tempfile::tempdir().unwrap();
            let store = dir.path().join(name).to_str().unwrap().to_owned();
            let mut args = vec!["append", "--store", store.as_str()];
            args.extend(extra.iter().copied());
            let o = common::run_with(&args, *secret, stdin);
            let files = snapshot(dir.path());
            assert!(
                files.is_empty(),
                "{name}: {what}: left {:?} ({})",
                files.keys().collect::<Vec<_>>(),
                text(&o.stderr)
            );
            if !stdin.is_empty() {
                assert_eq!(o.status.code(), Some(2), "{name}: {what}");
            }
        }
        // The library too: opened to create, a refused append leaves nothing.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let mut log = AuditLog::open(path.to_str().unwrap(), &write_options(None))
            .unwrap()
            .with_key(key());
        assert!(log.append_json(b"{}").is_err());
        assert!(log.append_json(late.as_bytes()).is_err());
        let twice = log.prepare([ok.as_bytes(), ok.as_bytes()]).unwrap();
        assert!(log.append(&twice).is_err());
        assert!(log.verify().is_verified(), "a new store reads as empty");
        assert!(
            snapshot(dir.path()).is_empty(),
            "{name}: the library left a file"
        );
        // The first write that succeeds creates it, and the chain verifies.
        log.append_json(ok.as_bytes()).unwrap();
        drop(log);
        assert!(path.exists(), "{name}");
        let o = run(&["verify", "--store", path.to_str().unwrap()], b"");
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o.stderr));
    }
}
