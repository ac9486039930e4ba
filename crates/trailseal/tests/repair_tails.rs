//! `repair` against every kind of damaged tail, property-style: it removes exactly a tail that
//! is a strict prefix of the next record's line (what an append that died leaves), once every
//! record before it verifies, and refuses everything else with the file byte for byte as it
//! was. Run on records trailseal writes and on records weaver-kernel wrote (their layouts
//! differ), after `\n`, `\r\n` and bare `\r` line ends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::Path;

use trailseal::{AuditLog, ChainKey, Error, OpenMode, OpenOptions};

mod common;

const SECRET: &str = "repair-tails-secret";
const WEAVER_SECRET: &str = trailseal_testkit::VECTOR_SECRET;

/// A chain's record lines (without line ends) and its secret.
struct Base {
    name: &'static str,
    lines: Vec<Vec<u8>>,
    secret: &'static str,
}

fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn bases(dir: &Path) -> Vec<Base> {
    let path = dir.join("ours.jsonl");
    let mut log = common::open_with(&path, SECRET);
    for i in 0..5 {
        log.append_json(common::trace(i).as_bytes()).unwrap();
    }
    let weaver = std::fs::read(trailseal_testkit::vector("weaver-0.12.0/store.jsonl")).unwrap();
    vec![
        Base {
            name: "trailseal",
            lines: split_lines(&std::fs::read(&path).unwrap()),
            secret: SECRET,
        },
        Base {
            name: "weaver-kernel",
            lines: split_lines(&weaver)[..5].to_vec(),
            secret: WEAVER_SECRET,
        },
    ]
}

fn open(path: &Path, secret: &str) -> AuditLog {
    AuditLog::open(
        path.to_str().unwrap(),
        &OpenOptions {
            mode: OpenMode::Write { create: false },
            ..OpenOptions::default()
        },
    )
    .unwrap()
    .with_key(ChainKey::from_secret(secret.as_bytes()).unwrap())
}

/// The first `n` lines, each ended by the line end `ends` gives it.
fn body(lines: &[Vec<u8>], n: usize, ends: &dyn Fn(usize) -> &'static [u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, line) in lines[..n].iter().enumerate() {
        out.extend_from_slice(line);
        out.extend_from_slice(ends(i));
    }
    out
}

struct Case<'a> {
    dir: &'a Path,
    secret: &'a str,
    count: usize,
}

impl Case<'_> {
    fn write(&mut self, content: &[u8]) -> std::path::PathBuf {
        self.count += 1;
        let path = self.dir.join(format!("case-{}.jsonl", self.count));
        std::fs::write(&path, content).unwrap();
        path
    }

    /// `repair` removes everything after `keep` bytes, and the rest verifies with `records`.
    fn removed(&mut self, content: &[u8], keep: usize, records: u64, what: &str) {
        let path = self.write(content);
        let report = open(&path, self.secret)
            .repair(false)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(report.removed, "{what}: {report:?}");
        assert_eq!(report.torn.unwrap().offset, keep as u64, "{what}");
        assert_eq!(std::fs::read(&path).unwrap(), &content[..keep], "{what}");
        let v = open(&path, self.secret).verify();
        assert!(
            v.is_verified() && v.records_checked() == records,
            "{what}: {v:?}"
        );
        std::fs::remove_file(&path).unwrap();
    }

    /// `repair` refuses, and the file is unchanged.
    fn refused(&mut self, content: &[u8], what: &str) {
        let path = self.write(content);
        match open(&path, self.secret).repair(false) {
            Err(Error::NotRepairable { .. }) => {}
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            content,
            "{what}: a refused repair changed the file"
        );
        std::fs::remove_file(&path).unwrap();
    }

    /// `repair` finds nothing to remove (the store verifies as it is) and changes nothing.
    fn untouched(&mut self, content: &[u8], records: u64, what: &str) {
        let path = self.write(content);
        let report = open(&path, self.secret)
            .repair(false)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            report.torn.is_none() && !report.removed,
            "{what}: {report:?}"
        );
        assert_eq!(report.verdict.records_checked(), records, "{what}");
        assert_eq!(std::fs::read(&path).unwrap(), content, "{what}");
        std::fs::remove_file(&path).unwrap();
    }
}

const ENDINGS: [(&str, &[u8]); 3] = [("\\n", b"\n"), ("\\r\\n", b"\r\n"), ("\\r", b"\r")];

/// A line end for line `i`: all `\n`, all `\r\n`, all `\r`, or mixed.
fn ending(style: usize) -> impl Fn(usize) -> &'static [u8] {
    move |i| match style {
        0..=2 => ENDINGS[style].1,
        _ => ENDINGS[i % 3].1,
    }
}

#[test]
fn every_strict_prefix_of_the_next_record_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    for base in bases(dir.path()) {
        let mut case = Case {
            dir: dir.path(),
            secret: base.secret,
            count: 0,
        };
        let next = &base.lines[4];
        for style in 0..4 {
            let before = body(&base.lines, 4, &ending(style));
            // Every length for one style, a stride for the others (the lines are long).
            let step = if style == 3 { 1 } else { 7 };
            for cut in (1..next.len()).step_by(step) {
                let mut content = before.clone();
                content.extend_from_slice(&next[..cut]);
                let what = format!("{} lines, style {style}, {cut} bytes", base.name);
                case.removed(&content, before.len(), 4, &what);
            }
            // Complete but without its line end: a record, not a tail.
            let mut content = before.clone();
            content.extend_from_slice(next);
            case.untouched(&content, 5, &format!("{} complete last line", base.name));
        }
        // The first record torn: an empty store remains.
        for cut in [1, 9, base.lines[0].len() - 1] {
            case.removed(&base.lines[0][..cut], 0, 0, "first record torn");
        }
    }
}

#[test]
fn every_other_tail_is_refused_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    for base in bases(dir.path()) {
        let mut case = Case {
            dir: dir.path(),
            secret: base.secret,
            count: 0,
        };
        let name = base.name;
        let next = base.lines[4].clone();
        for style in 0..4 {
            let before = body(&base.lines, 4, &ending(style));
            let with = |tail: &[u8]| {
                let mut c = before.clone();
                c.extend_from_slice(tail);
                c
            };
            let cuts: Vec<usize> = (1..next.len()).step_by(29).collect();

            // A complete value followed by more bytes, and two records on one line.
            for extra in [
                &b"x"[..],
                b"}",
                b"{",
                b",",
                b"\0",
                b"\xff",
                b" {\"seq\"",
                &next[..],
                &next[..next.len() / 2],
            ] {
                let mut tail = next.clone();
                tail.extend_from_slice(extra);
                case.refused(&with(&tail), &format!("{name}: complete + {extra:?}"));
            }
            let mut two = base.lines[3].clone();
            two.extend_from_slice(&next[..40]);
            let content = [&body(&base.lines, 3, &ending(style))[..], &two].concat();
            case.refused(
                &content,
                &format!("{name}: a record and a torn one on one line"),
            );

            // A strict prefix with a byte no writer writes, anywhere in it.
            for &cut in &cuts {
                for (k, bad) in [b'\0', 0x01, 0x1f, b'\t', 0x80, 0xff]
                    .into_iter()
                    .enumerate()
                {
                    let mut tail = next[..cut].to_vec();
                    let at = (cut * (k + 1) / 7).min(cut - 1);
                    tail[at] = bad;
                    let what = format!("{name}: {cut} bytes, {bad:#x} at {at}");
                    if tail.iter().all(|b| b"\t\x1f".contains(b)) {
                        // Only whitespace is left: a blank line.
                        case.untouched(&with(&tail), 4, &what);
                    } else {
                        case.refused(&with(&tail), &what);
                    }
                }
                // Ended by a line end (`\r` too): a complete, corrupt line.
                for (label, end) in ENDINGS {
                    let mut tail = next[..cut].to_vec();
                    tail.extend_from_slice(end);
                    case.refused(&with(&tail), &format!("{name}: {cut} bytes + {label}"));
                }
                // Not where a record line starts.
                let tail = [&b" "[..], &next[..cut]].concat();
                case.refused(&with(&tail), &format!("{name}: {cut} bytes after a space"));
            }

            // Garbage.
            for garbage in [&b"seq 5 garbage"[..], b"\0\0\0\0", b"[", b"\"seq\"", b"{}x"] {
                case.refused(&with(garbage), &format!("{name}: garbage {garbage:?}"));
            }

            // A prefix that claims another place in the chain: the seq or prev_hash of the
            // record before it (an old line copied to the end and cut).
            let old = &base.lines[3];
            for cut in [20, 40, 100] {
                case.refused(
                    &with(&old[..cut]),
                    &format!("{name}: old record cut at {cut}"),
                );
            }

            // The next record's beginning, but linked to another hash.
            let key = next
                .windows(11)
                .position(|w| w == b"\"prev_hash\"")
                .unwrap()
                + 11;
            let first_hex = key + next[key..].iter().position(|b| *b == b'"').unwrap() + 1;
            for cut in [first_hex + 1, first_hex + 30, next.len() - 5] {
                let mut tail = next[..cut].to_vec();
                tail[first_hex] = if tail[first_hex] == b'0' { b'1' } else { b'0' };
                case.refused(
                    &with(&tail),
                    &format!("{name}: another prev_hash, cut at {cut}"),
                );
            }
        }

        // The records before a torn tail do not verify: edited, removed, wrong secret.
        let before = body(&base.lines, 4, &ending(0));
        let tail = &next[..next.len() / 2];
        let text = String::from_utf8(before.clone()).unwrap();
        let edited = text
            .replacen("\"action_id\":\"", "\"action_id\":\"x", 1)
            .replacen("\"action_id\": \"", "\"action_id\": \"x", 1);
        assert_ne!(edited, text);
        case.refused(
            &[edited.as_bytes(), tail].concat(),
            &format!("{name}: edited record before a torn tail"),
        );
        let gap = [
            &body(&base.lines, 2, &ending(0))[..],
            &base.lines[3],
            b"\n",
            tail,
        ]
        .concat();
        case.refused(
            &gap,
            &format!("{name}: a record missing before a torn tail"),
        );
        let mut wrong = Case {
            dir: dir.path(),
            secret: "another secret",
            count: 1000,
        };
        wrong.refused(
            &[&before[..], tail].concat(),
            &format!("{name}: wrong secret"),
        );

        // Whitespace left unterminated at the end is a blank line: nothing to remove.
        for blank in [&b"   "[..], b"\t", "\u{3000}".as_bytes(), b"\x0b\x0c"] {
            case.untouched(
                &[&before[..], blank].concat(),
                4,
                &format!("{name}: {blank:?}"),
            );
        }
    }
}
