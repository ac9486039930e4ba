//! A hostile 72 MiB line: `verify`, `repair`, `migrate` and `verify-bundle` report it as
//! `malformed` at its seq without reading it into memory (peak RSS of the command measured
//! with `/usr/bin/time`, or from `/proc` when that is missing).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use trailseal::{AuditLog, ChainKey, OpenMode, OpenOptions};

const SECRET: &str = "huge-line-secret";
const HUGE: usize = 72 << 20;
/// Far below the line's size: what a command that buffered the line would need at least.
const RSS_LIMIT_KIB: u64 = 48 << 10;

fn trace(n: u64) -> String {
    trailseal_testkit::Trace::minimal(format!("t{n}"))
        .invoked_at(format!("2026-01-01T00:00:0{n}Z"))
        .args(format!(r#"{{"n":{n}}}"#))
        .json()
}

/// Runs `trailseal ARGS` with the secret; (exit code, stdout, peak RSS in KiB).
fn measured(args: &[&str]) -> (i32, String, u64) {
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f")
            .arg("peak-rss-kib=%M")
            .arg(env!("CARGO_BIN_EXE_trailseal"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_trailseal"))
    };
    cmd.args(args)
        .env("WEAVER_KERNEL_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut polled = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(hwm) = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))
        {
            polled = polled.max(
                hwm.trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse()
                    .unwrap_or(0),
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kib="))
        .map_or(polled, |v| v.trim().parse().unwrap());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("trailseal {args:?}: peak RSS {rss} KiB; {}", stdout.trim());
    (out.status.code().unwrap_or(-1), stdout + &stderr, rss)
}

/// A store of 3 records, then a 72 MiB line claiming seq 3, then one more line.
fn hostile_store(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("huge.jsonl");
    let mut log = AuditLog::open(
        path.to_str().unwrap(),
        &OpenOptions {
            mode: OpenMode::Write { create: true },
            ..OpenOptions::default()
        },
    )
    .unwrap()
    .with_key(ChainKey::from_secret(SECRET.as_bytes()).unwrap());
    for i in 0..3 {
        log.append_json(trace(i).as_bytes()).unwrap();
    }
    drop(log);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let zeros = "0".repeat(64);
    write!(
        file,
        r#"{{"seq":3,"prev_hash":"{zeros}","record_hash":"{zeros}","trace":{{"args":{{"pad":""#
    )
    .unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..HUGE >> 20 {
        file.write_all(&chunk).unwrap();
    }
    writeln!(file, "\"}}}}}}").unwrap();
    writeln!(file, r#"{{"seq":4}}"#).unwrap();
    path
}

#[test]
fn a_huge_line_is_malformed_at_its_seq_and_never_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let store = hostile_store(dir.path());
    let location = store.to_str().unwrap();
    let size = std::fs::metadata(&store).unwrap().len();

    for limit in [None, Some("1048576")] {
        let mut args = vec!["verify", "--store", location, "--json"];
        if let Some(l) = limit {
            args.extend(["--max-record-bytes", l]);
        }
        let (code, out, rss) = measured(&args);
        assert_eq!(code, 1, "{out}");
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(v["status"], "tampered", "{v}");
        assert_eq!(v["kind"], "malformed", "{v}");
        assert_eq!(v["first_bad_seq"], 3, "{v}");
        assert!(
            v["detail"].as_str().unwrap().contains("over the limit"),
            "{v}"
        );
        assert!(rss < RSS_LIMIT_KIB, "verify {limit:?}: peak RSS {rss} KiB");
    }

    // repair refuses (the line is complete, and too large to be a record) and changes nothing.
    let (code, out, rss) =
        measured(&["repair", "--store", location, "--max-record-bytes", "65536"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("seq 3"), "{out}");
    assert_eq!(std::fs::metadata(&store).unwrap().len(), size);
    assert!(rss < RSS_LIMIT_KIB, "repair: peak RSS {rss} KiB");

    // migrate refuses the source and creates nothing.
    let to = dir.path().join("copy.db");
    let (code, out, rss) = measured(&["migrate", "--from", location, "--to", to.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("malformed") || out.contains("seq 3"), "{out}");
    assert!(!to.exists());
    assert!(rss < RSS_LIMIT_KIB, "migrate: peak RSS {rss} KiB");

    // Raised above the line's size, the limit lets the line be read: it is then checked as a
    // record (and fails its MAC, as it was never sealed).
    let (code, out, _) = measured(&[
        "verify",
        "--store",
        location,
        "--json",
        "--max-record-bytes",
        "100000000",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("over the limit"), "{out}");
    assert!(out.contains("\"first_bad_seq\":3"), "{out}");
}

#[test]
fn a_huge_bundle_line_is_malformed_and_never_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.jsonl");
    let location = store.to_str().unwrap();
    let mut log = AuditLog::open(
        location,
        &OpenOptions {
            mode: OpenMode::Write { create: true },
            ..OpenOptions::default()
        },
    )
    .unwrap()
    .with_key(ChainKey::from_secret(SECRET.as_bytes()).unwrap());
    for i in 0..4 {
        log.append_json(trace(i).as_bytes()).unwrap();
    }
    drop(log);
    let key = dir.path().join("k");
    let key_s = key.to_str().unwrap();
    let (code, out, _) = measured(&["keygen", "--out", key_s]);
    assert_eq!(code, 0, "{out}");
    let bundle = dir.path().join("b.bundle");
    let (code, out, _) = measured(&[
        "export",
        "--store",
        location,
        "--bundle",
        bundle.to_str().unwrap(),
        "--signing-key",
        key_s,
    ]);
    assert_eq!(code, 0, "{out}");
    let clean = std::fs::read(&bundle).unwrap();
    let public = format!("{key_s}.pub");
    let (code, out, _) = measured(&[
        "verify-bundle",
        bundle.to_str().unwrap(),
        "--public-key",
        &public,
    ]);
    assert_eq!(code, 0, "{out}");

    // Entry 2 (seq 1) replaced by a 72 MiB line.
    let text = String::from_utf8(clean).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut file = std::fs::File::create(&bundle).unwrap();
    file.write_all(lines[..2].concat().as_bytes()).unwrap();
    file.write_all(br#"{"seq":1,"pad":""#).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..HUGE >> 20 {
        file.write_all(&chunk).unwrap();
    }
    file.write_all(b"\"}\n").unwrap();
    file.write_all(lines[3..].concat().as_bytes()).unwrap();
    drop(file);
    let (code, out, rss) = measured(&[
        "verify-bundle",
        bundle.to_str().unwrap(),
        "--public-key",
        &public,
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["kind"], "malformed", "{v}");
    assert_eq!(v["first_bad_seq"], 1, "{v}");
    assert!(rss < RSS_LIMIT_KIB, "verify-bundle: peak RSS {rss} KiB");
}

#[test]
fn appends_never_write_a_record_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.jsonl");
    let location = store.to_str().unwrap();
    let mut log = AuditLog::open(
        location,
        &OpenOptions {
            mode: OpenMode::Write { create: true },
            max_record_bytes: 4096,
            ..OpenOptions::default()
        },
    )
    .unwrap()
    .with_key(ChainKey::from_secret(SECRET.as_bytes()).unwrap());
    log.append_json(trace(0).as_bytes()).unwrap();
    let before = std::fs::read(&store).unwrap();
    let big = trace(1).replace(r#""n":1"#, &format!(r#""pad":"{}""#, "é".repeat(1500)));
    match log.append_json(big.as_bytes()) {
        Err(trailseal::Error::Store(trailseal::StoreError::RecordTooLarge {
            seq: 1,
            limit: 4096,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&store).unwrap(), before);
    // The same through the command line, with the limit raised the append goes through.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trailseal"))
        .args(["append", "--store", location, "--max-record-bytes", "4096"])
        .env("WEAVER_KERNEL_SECRET", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(big.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("over the limit of 4096 bytes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&store).unwrap(), before);
    log.append_json(trace(2).as_bytes()).unwrap();
    let (code, out, _) = measured(&["verify", "--store", location]);
    assert_eq!(code, 0, "{out}");
}
