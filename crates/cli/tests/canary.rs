//! Secret canary. Every `trailseal` command, and the library's main paths, run with a canary
//! chain secret — given by `WEAVER_KERNEL_SECRET` in one pass and by `--secret-file` in another —
//! and a canary Ed25519 signing key made by `trailseal keygen`, on their success paths and on
//! their error paths (wrong secret, no secret, tampered store, unreadable store, bad trace
//! input, bad or misplaced key files). Nothing they print, nothing they write (stores, exports,
//! bundles, anchors, archives, `.pub` files, PostgreSQL tables; the signing key file itself and
//! the secret files aside) and no `{:?}` or `Display` of a library value may hold either secret
//! — nor the wrong secrets tried, nor a PostgreSQL password — raw, in hex (either case), or in
//! base64 (standard or URL-safe, padded or not, at each byte alignment inside a longer blob).
//!
//! Longer than 600 lines on purpose: every command on one canary secret and key, in one process,
//! so one scan of every output covers them all.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const CANARY: &str = "canary-S3cr3t-VALUE-51";
/// A wrong secret is a secret too: refusing it must not print it.
const WRONG: &str = "canary-WRONG-s3cr3t-77";
/// The password in PostgreSQL store URLs (the test server trusts every connection).
const PG_PASSWORD: &str = "canary-PGpw-93";

const STD64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Every form in which `secret` must not appear.
fn forms(label: &str, secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        (format!("{label} (raw)"), secret.to_vec()),
        (
            format!("{label} (raw, lowercased)"),
            secret.to_ascii_lowercase(),
        ),
        (
            format!("{label} (raw, uppercased)"),
            secret.to_ascii_uppercase(),
        ),
        (format!("{label} (hex)"), hex.clone().into_bytes()),
        (format!("{label} (HEX)"), hex.to_uppercase().into_bytes()),
    ];
    for (name, alphabet) in [("base64", STD64), ("base64url", URL64)] {
        out.push((
            format!("{label} ({name}, padded)"),
            base64(secret, alphabet, true).into_bytes(),
        ));
        out.push((
            format!("{label} ({name}, unpadded)"),
            base64(secret, alphabet, false).into_bytes(),
        ));
        // Inside a longer encoded blob the secret starts at byte 0, 1 or 2 of a 3-byte group;
        // the groups wholly inside it encode the same wherever the blob starts and ends.
        for shift in 0..3 {
            let mut shifted = vec![0u8; shift];
            shifted.extend_from_slice(secret);
            let encoded = base64(&shifted, alphabet, false);
            let first = if shift == 0 { 0 } else { 4 };
            out.push((
                format!("{label} ({name}, at byte {shift} of a longer blob)"),
                encoded.as_bytes()[first..shifted.len() / 3 * 4].to_vec(),
            ));
        }
    }
    out
}

/// What must not appear, and everything that was printed or written.
#[derive(Default)]
struct Canary {
    needles: Vec<(String, Vec<u8>)>,
    seen: Vec<(String, Vec<u8>)>,
}

impl Canary {
    fn new() -> Self {
        let mut c = Canary::default();
        c.secret("the chain secret", CANARY.as_bytes());
        c.secret("a wrong secret", WRONG.as_bytes());
        c.secret("the PostgreSQL password", PG_PASSWORD.as_bytes());
        c
    }

    fn secret(&mut self, label: &str, secret: &[u8]) {
        self.needles.extend(forms(label, secret));
    }

    /// Adds a signing key file's private material: the key string as written, the seed, and
    /// the encoded `0x01 ‖ seed`.
    fn signing_key(&mut self, path: &Path) {
        let text = std::fs::read_to_string(path).unwrap();
        let line = text.trim();
        let parts: Vec<&str> = line.splitn(5, '+').collect();
        assert_eq!(parts[..2], ["PRIVATE", "KEY"], "{}", path.display());
        let data = trailseal::core::base64::decode(parts[4]).unwrap();
        assert_eq!((data.len(), data[0]), (33, 1));
        let name = path.display().to_string();
        self.secret(&format!("signing key {name} (key string)"), line.as_bytes());
        self.secret(&format!("signing key {name} (seed)"), &data[1..]);
        self.secret(&format!("signing key {name} (0x01 ‖ seed)"), &data);
    }

    fn output(&mut self, label: &str, o: &Output) {
        self.seen
            .push((format!("{label}: stdout"), o.stdout.clone()));
        self.seen
            .push((format!("{label}: stderr"), o.stderr.clone()));
    }

    /// Every file under `root` but the `exempt` ones (which hold a secret by design).
    fn files(&mut self, root: &Path, exempt: &[PathBuf]) {
        let mut stack = vec![root.to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if !exempt.contains(&path) {
                    let bytes = std::fs::read(&path).unwrap_or_default();
                    self.seen.push((format!("file {}", path.display()), bytes));
                }
            }
        }
    }

    /// Panics with every leak found.
    fn assert_clean(&self, what: &str) {
        let mut leaks = Vec::new();
        for (place, bytes) in &self.seen {
            for (form, needle) in &self.needles {
                if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                    leaks.push(format!("{place}: {form}"));
                }
            }
        }
        assert!(
            leaks.is_empty(),
            "{what}: {} leak(s):\n{}",
            leaks.len(),
            leaks.join("\n")
        );
        let bytes: usize = self.seen.iter().map(|(_, b)| b.len()).sum();
        assert!(
            bytes > 50_000,
            "{what}: too little was checked ({bytes} bytes)"
        );
        eprintln!(
            "{what}: {} outputs and files checked against {} forms: clean",
            self.seen.len(),
            self.needles.len()
        );
    }
}

/// How the chain secret is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Env,
    File,
}

/// The commands that read the chain secret (`--secret-file` or `WEAVER_KERNEL_SECRET`).
const TAKES_SECRET: [&str; 15] = [
    "rotate",
    "repair",
    "checkpoint",
    "prove",
    "tiles",
    "demo",
    "append",
    "verify",
    "export",
    "prune",
    "policy",
    "retention",
    "anchor",
    "verify-bundle",
    "migrate",
];

/// Every command this test runs on purpose; others found in `--help` get a generic probe.
const KNOWN: [&str; 21] = [
    "rotate",
    "repair",
    "checkpoint",
    "prove",
    "consistency",
    "verify-proof",
    "tiles",
    "demo",
    "append",
    "verify",
    "list",
    "show",
    "export",
    "prune",
    "policy",
    "retention",
    "keygen",
    "anchor",
    "verify-bundle",
    "migrate",
    "canonical",
];

fn exec(args: &[String], stdin: &[u8], secret: Option<&OsStr>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailseal"));
    cmd.args(args)
        .env_remove("WEAVER_KERNEL_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(s) = secret {
        cmd.env("WEAVER_KERNEL_SECRET", s);
    }
    let mut child = cmd.spawn().unwrap();
    // The command may exit before reading stdin.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// An expected exit code: any failure (the exact code is not what this test is about).
const FAILS: i32 = -1;

/// Runs commands, checks their exit codes and keeps what they print.
struct Runner<'c> {
    canary: &'c mut Canary,
    via: Via,
    secret_file: String,
}

impl Runner<'_> {
    /// `trailseal ARGS` with the canary secret: in the environment, or (for commands that
    /// read one) by `--secret-file` with the environment variable unset.
    fn run(&mut self, args: &[&str], stdin: &[u8], code: i32) -> Output {
        let mut full: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let secret = if self.via == Via::File && TAKES_SECRET.contains(&args[0]) {
            full.push("--secret-file".into());
            full.push(self.secret_file.clone());
            None
        } else {
            Some(OsStr::new(CANARY))
        };
        self.exec(&full, stdin, secret, code)
    }

    /// `trailseal ARGS` with `WEAVER_KERNEL_SECRET` set to `secret` (or unset), no secret file.
    fn run_env(
        &mut self,
        args: &[&str],
        stdin: &[u8],
        secret: Option<&OsStr>,
        code: i32,
    ) -> Output {
        let full: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        self.exec(&full, stdin, secret, code)
    }

    fn exec(&mut self, args: &[String], stdin: &[u8], secret: Option<&OsStr>, code: i32) -> Output {
        let o = exec(args, stdin, secret);
        let label = format!("`trailseal {}` ({:?})", args.join(" "), self.via);
        let ok = match code {
            FAILS => o.status.code().is_some_and(|c| c != 0),
            _ => o.status.code() == Some(code),
        };
        assert!(
            ok,
            "{label}: exit {:?}, expected {code}\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        self.canary.output(&label, &o);
        o
    }
}

fn trace(i: usize) -> String {
    let principal = ["agent:support", "agent:finance", "agent:devops"][i % 3];
    let capability = ["crm.search", "billing.refund"][i % 2];
    let email = if i.is_multiple_of(4) {
        r#","email":"ops@example.com""#
    } else {
        ""
    };
    let error = if i % 5 == 4 {
        r#","error":"upstream timeout""#
    } else {
        ""
    };
    trailseal_testkit::Trace::new(format!("act-{i:03}"))
        .capability(capability)
        .principal(principal)
        .token(format!("tok-{i}"))
        .invoked_at(format!(
            "2026-03-{:02}T{:02}:00:00+00:00",
            1 + i / 24,
            i % 24
        ))
        .args(format!(r#"{{"n":{i}{email}}}"#))
        .extra(error)
        .json()
}

fn traces(range: std::ops::Range<usize>) -> Vec<u8> {
    range
        .map(|i| trace(i) + "\n")
        .collect::<String>()
        .into_bytes()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// The subcommands `trailseal --help` lists.
fn listed_commands() -> Vec<String> {
    let o = exec(&["--help".to_owned()], b"", None);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

/// A PostgreSQL URL with the canary password for a fresh schema, when a server is available.
fn pg_url_with_password() -> Option<String> {
    let available = std::env::var_os("TRAILSEAL_TEST_PG").is_some()
        || Path::new("/usr/lib/postgresql/15/bin/initdb").exists();
    if !available {
        eprintln!("no PostgreSQL (set TRAILSEAL_TEST_PG): its part of the canary is skipped");
        return None;
    }
    let url = trailseal_testkit::pg_fresh_schema_url();
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let user = user.split(':').next().unwrap();
    Some(format!("{scheme}://{user}:{PG_PASSWORD}@{host}"))
}

/// Everything in the schema's tables, as text.
fn pg_dump(url: &str) -> Vec<u8> {
    let schema = url.split("schema=").nth(1).unwrap().to_owned();
    let mut client =
        postgres::Client::connect(&trailseal_testkit::pg_url(), postgres::NoTls).unwrap();
    let mut out = String::new();
    for table in ["trailseal_traces", "trailseal_meta", "trailseal_retention"] {
        for row in client
            .query(&format!("SELECT t::text FROM {schema}.{table} t"), &[])
            .unwrap()
        {
            out.push_str(row.get::<_, &str>(0));
            out.push('\n');
        }
    }
    out.into_bytes()
}

/// Edits the newest record's payload behind the chain's back.
fn tamper_sqlite(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let n = conn
        .execute(
            "UPDATE traces SET payload = replace(payload, 'tok-', 'tok-X') \
             WHERE seq = (SELECT MAX(seq) FROM traces)",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
}

fn edit_first_token(text: &str) -> String {
    assert!(text.contains(r#""token_id":"tok-"#));
    text.replacen(r#""token_id":"tok-"#, r#""token_id":"tok-X"#, 1)
}

/// Every command, with the secret given `via` the environment or a file.
fn cli_pass(via: Via) {
    let mut canary = Canary::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p = |name: &str| s(&dir.join(name));
    for sub in [
        "keys", "stores", "out", "anchors", "archive", "mig", "demo", "bad",
    ] {
        std::fs::create_dir(dir.join(sub)).unwrap();
    }
    // Readable by others on purpose: the warning about it must not show the secret either.
    let secret_file = dir.join("chain.secret");
    std::fs::write(&secret_file, format!("{CANARY}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let wrong_file = dir.join("wrong.secret");
    std::fs::write(&wrong_file, WRONG).unwrap();
    let not_utf8 = dir.join("not-utf8.secret");
    std::fs::write(&not_utf8, [CANARY.as_bytes(), b"\xff"].concat()).unwrap();
    let empty_secret = dir.join("empty.secret");
    std::fs::write(&empty_secret, "").unwrap();
    let key = dir.join("keys/ops-anchor");
    let bad_key = dir.join("keys/ops-anchor-wrong-hash");
    let mut exempt = vec![
        secret_file.clone(),
        wrong_file.clone(),
        not_utf8.clone(),
        key.clone(),
        bad_key.clone(),
    ];
    let mut r = Runner {
        canary: &mut canary,
        via,
        secret_file: s(&secret_file),
    };
    let (k, kpub) = (s(&key), format!("{}.pub", s(&key)));

    // keygen
    r.run(&["keygen", "--out", &k, "--name", "ops-anchor"], b"", 0);
    r.run(&["keygen", "--out", &k], b"", 2);
    r.run(&["keygen", "--out", &p("nowhere/key")], b"", 2);
    // keygen --secret: the secret it makes is never printed or written anywhere else either.
    let generated = dir.join("keys/generated.secret");
    r.run(&["keygen", "--secret", "--out", &s(&generated)], b"", 0);
    r.run(&["keygen", "--secret", "--out", &s(&generated)], b"", 2);
    let made = std::fs::read_to_string(&generated).unwrap();
    r.canary
        .secret("a secret made by keygen --secret", made.trim().as_bytes());
    exempt.push(generated);
    {
        // PRIVATE+KEY+<name>+<hash>+<data>, with a key hash that does not match the key.
        let text = std::fs::read_to_string(&key).unwrap();
        let parts: Vec<&str> = text.trim().splitn(5, '+').collect();
        let wrong_hash = if parts[3] == "00000000" {
            "00000001"
        } else {
            "00000000"
        };
        std::fs::write(
            &bad_key,
            format!("PRIVATE+KEY+{}+{wrong_hash}+{}\n", parts[2], parts[4]),
        )
        .unwrap();
    }

    // demo (with the canary), then a demo that makes its own secret: that one is a secret too.
    r.run(&["demo", "--store", &p("demo/audit.db")], b"", 0);
    r.run(&["demo", "--store", &p("demo/audit.db")], b"", 2);
    if via == Via::Env {
        r.run_env(&["demo", "--store", &p("demo/own.db")], b"", None, 0);
        let own = dir.join("demo/own.db.secret");
        r.canary.secret(
            "the demo's own secret",
            std::fs::read(&own).unwrap().trim_ascii(),
        );
        exempt.push(own);
    }

    // append, verify, list, show on both file formats
    let (db, jl) = (p("stores/s.db"), p("stores/s.jsonl"));
    for store in [&db, &jl] {
        r.run(&["append", "--store", store], &traces(0..20), 0);
        r.run(&["append", "--store", store, "--json"], &traces(20..22), 0);
        r.run(
            &["append", "--store", store, "--quiet", "--commit-every", "2"],
            &traces(22..26),
            0,
        );
        r.run(&["verify", "--store", store], b"", 0);
        r.run(&["verify", "--store", store, "--json"], b"", 0);
        r.run(&["verify", "--store", store, "--quiet"], b"", 0);
        r.run(&["list", "--store", store], b"", 0);
        r.run(
            &[
                "list",
                "--store",
                store,
                "--json",
                "--principal",
                "agent:finance",
                "--capability",
                "crm.search",
                "--status",
                "succeeded",
                "--since",
                "2026-03-01",
                "--until",
                "2026-03-02T00:00:00Z",
                "--limit",
                "3",
            ],
            b"",
            0,
        );
        r.run(&["show", "act-004", "--store", store], b"", 0);
        r.run(&["show", "act-005", "--store", store, "--json"], b"", 0);
        r.run(&["show", "act-999", "--store", store], b"", 2);
    }

    // export, anchors, append with anchors, bundles
    r.run(
        &["export", "--store", &db, "--out", &p("out/export.jsonl")],
        b"",
        0,
    );
    r.run(
        &["verify", "--store", &p("out/export.jsonl"), "--json"],
        b"",
        0,
    );
    // tiles: published, then up to date, then refused for another origin (exit 2).
    let tiles_dir = p("tiles");
    for origin in [
        "audit.example/canary/tree",
        "audit.example/canary/tree",
        "other",
    ] {
        let args = [
            "tiles",
            "--store",
            &db,
            "--signing-key",
            &k,
            "--out",
            &tiles_dir,
            "--origin",
            origin,
        ];
        r.run(&args, b"", if origin == "other" { 2 } else { 0 });
    }
    let head = p("anchors/head.note");
    r.run(
        &[
            "anchor",
            "--store",
            &db,
            "--signing-key",
            &k,
            "--out",
            &head,
        ],
        b"",
        0,
    );
    r.run(
        &[
            "anchor",
            "--store",
            &jl,
            "--signing-key",
            &k,
            "--origin",
            "audit.example/canary",
        ],
        b"",
        0,
    );
    // transparency log: checkpoints, a proof with its trace and salt, a consistency proof
    let cp = p("anchors/tree.checkpoint");
    r.run(
        &[
            "checkpoint",
            "--store",
            &db,
            "--signing-key",
            &k,
            "--out",
            &cp,
        ],
        b"",
        0,
    );
    r.run(&["checkpoint", "--store", &jl, "--signing-key", &k], b"", 0);
    let proof = p("out/seq3.tlog-proof");
    r.run(
        &[
            "prove",
            "--store",
            &db,
            "--seq",
            "3",
            "--checkpoint",
            &cp,
            "--signing-key",
            &k,
            "--out",
            &proof,
            "--with-trace",
        ],
        b"",
        0,
    );
    r.run(
        &[
            "prove",
            "--store",
            &db,
            "--seq",
            "3",
            "--checkpoint",
            &cp,
            "--public-key",
            &kpub,
        ],
        b"",
        0,
    );
    r.run(
        &["verify-proof", &proof, "--public-key", &kpub, "--json"],
        b"",
        0,
    );
    r.run(&["consistency", "--store", &db, "--old", "1"], b"", 0);
    r.run(
        &[
            "verify",
            "--store",
            &db,
            "--anchor",
            &head,
            "--public-key",
            &kpub,
            "--json",
        ],
        b"",
        0,
    );
    r.run(
        &[
            "append",
            "--store",
            &db,
            "--anchor-dir",
            &p("anchors/auto"),
            "--signing-key",
            &k,
            "--anchor-every",
            "2",
            "--anchor-interval",
            "1s",
            "--origin",
            "audit.example/canary",
        ],
        &traces(26..30),
        0,
    );
    let auto = p("anchors/auto/anchor-000000000030.note");
    r.run(
        &[
            "verify",
            "--store",
            &db,
            "--anchor",
            &auto,
            "--anchor",
            &head,
            "--public-key",
            &kpub,
        ],
        b"",
        0,
    );
    let (all, finance, range) = (
        p("out/all.bundle"),
        p("out/finance.bundle"),
        p("out/range.bundle"),
    );
    r.run(
        &[
            "export",
            "--store",
            &db,
            "--bundle",
            &all,
            "--signing-key",
            &k,
        ],
        b"",
        0,
    );
    r.run(
        &[
            "export",
            "--store",
            &db,
            "--bundle",
            &finance,
            "--signing-key",
            &k,
            "--since",
            "2026-03-01T02:00:00Z",
            "--until",
            "2026-03-02",
            "--principal",
            "agent:finance",
            "--redact",
            "args.email",
            "--redact",
            "error",
            "--origin",
            "audit.example/canary",
        ],
        b"",
        0,
    );
    r.run(
        &[
            "export",
            "--store",
            &jl,
            "--bundle",
            &range,
            "--signing-key",
            &k,
            "--from-seq",
            "2",
            "--to-seq",
            "9",
            "--capability",
            "crm.search",
        ],
        b"",
        0,
    );
    for bundle in [&all, &finance, &range] {
        r.run(&["verify-bundle", bundle, "--public-key", &kpub], b"", 0);
        r.run(
            &["verify-bundle", bundle, "--public-key", &kpub, "--json"],
            b"",
            0,
        );
        r.run(
            &["verify-bundle", bundle, "--public-key", &kpub, "--quiet"],
            b"",
            0,
        );
        r.run(
            &[
                "verify-bundle",
                bundle,
                "--public-key",
                &kpub,
                "--no-secret",
            ],
            b"",
            0,
        );
        r.run_env(
            &["verify-bundle", bundle, "--public-key", &kpub, "--json"],
            b"",
            None,
            0,
        );
    }

    // retention
    r.run(&["policy", "--store", &db, "--min-retention", "1d"], b"", 0);
    r.run(&["policy", "--store", &db], b"", 0);
    r.run(&["policy", "--store", &db, "--json"], b"", 0);
    r.run(
        &["prune", "--store", &db, "--keep-last", "10", "--dry-run"],
        b"",
        0,
    );
    r.run(
        &[
            "prune",
            "--store",
            &db,
            "--keep-last",
            "20",
            "--archive",
            &p("archive/a.jsonl"),
            "--json",
        ],
        b"",
        0,
    );
    r.run(
        &[
            "prune",
            "--store",
            &jl,
            "--before",
            "2026-03-01T05:00:00Z",
            "--archive",
            &p("archive/b.jsonl"),
        ],
        b"",
        0,
    );
    r.run(&["prune", "--store", &jl, "--older-than", "100d"], b"", 0);
    r.run(&["policy", "--store", &db, "--clear"], b"", 2);
    r.run(
        &[
            "policy",
            "--store",
            &db,
            "--clear",
            "--allow-decrease",
            "--json",
        ],
        b"",
        0,
    );
    r.run(&["retention", "--store", &db], b"", 0);
    r.run(&["retention", "--store", &jl, "--json"], b"", 0);
    r.run_env(&["retention", "--store", &db], b"", None, 0);
    // A rotation to another secret (from two secret files), of a copy of the store, refused
    // without an archive and then made: the canary is the old key.
    let next_secret = p("next.secret");
    let next = "the-next-chain-secret-for-the-canary-test-0123";
    std::fs::write(&next_secret, next).unwrap();
    r.canary
        .secret("the secret a rotation moves to", next.as_bytes());
    exempt.push(dir.join("next.secret"));
    let canary_file = s(&secret_file);
    std::fs::copy(&db, p("stores/rot.db")).unwrap();
    let rot = p("stores/rot.db");
    let ring = ["--secret-file", &canary_file, "--secret-file", &next_secret];
    let rotate = |extra: &[&str]| {
        let mut a = vec!["rotate", "--store", rot.as_str()];
        a.extend_from_slice(&ring);
        a.extend_from_slice(&["--to", next_secret.as_str(), "--segment"]);
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let refused = rotate(&[]);
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    r.run_env(&refused, b"", None, 2);
    let made = rotate(&["--archive", &p("archive/rot-old.db"), "--json"]);
    let made: Vec<&str> = made.iter().map(String::as_str).collect();
    r.run_env(&made, b"", None, 0);
    r.run_env(
        &["verify", "--store", &rot, "--secret-file", &canary_file],
        b"",
        None,
        2,
    );
    // The same rotation in place, on another copy: both secrets verify all of it.
    std::fs::copy(&db, p("stores/rot-in-place.db")).unwrap();
    let in_place = p("stores/rot-in-place.db");
    let mut a = vec!["rotate", "--store", in_place.as_str()];
    a.extend_from_slice(&ring);
    a.extend_from_slice(&["--to", next_secret.as_str(), "--json"]);
    r.run_env(&a, b"", None, 0);
    let mut a = vec!["verify", "--store", in_place.as_str()];
    a.extend_from_slice(&ring);
    r.run_env(&a, b"", None, 0);
    r.run(
        &["verify", "--store", &p("archive/a.jsonl"), "--json"],
        b"",
        0,
    );
    r.run(
        &["verify", "--store", &p("archive/b.jsonl"), "--json"],
        b"",
        0,
    );

    // migrate SQLite -> JSONL -> SQLite (and PostgreSQL)
    let (m1, m2) = (p("mig/m.jsonl"), p("mig/m.db"));
    r.run(&["migrate", "--from", &db, "--to", &m1], b"", 0);
    r.run(&["migrate", "--from", &m1, "--to", &m2], b"", 0);
    r.run(&["verify", "--store", &m2, "--json"], b"", 0);
    if let Some(pg) = pg_url_with_password() {
        r.run(&["migrate", "--from", &db, "--to", &pg], b"", 0);
        r.run(&["verify", "--store", &pg, "--json"], b"", 0);
        r.run(&["list", "--store", &pg], b"", 0);
        r.run(&["show", "act-025", "--store", &pg], b"", 0);
        r.run(&["append", "--store", &pg], &traces(30..34), 0);
        r.run(&["anchor", "--store", &pg, "--signing-key", &k], b"", 0);
        r.run(
            &["export", "--store", &pg, "--out", &p("out/pg.jsonl")],
            b"",
            0,
        );
        r.run(
            &[
                "export",
                "--store",
                &pg,
                "--bundle",
                &p("out/pg.bundle"),
                "--signing-key",
                &k,
            ],
            b"",
            0,
        );
        r.run(&["policy", "--store", &pg, "--min-retention", "1d"], b"", 0);
        r.run(&["prune", "--store", &pg, "--keep-last", "5"], b"", 0);
        r.run(&["retention", "--store", &pg], b"", 0);
        r.run(
            &["migrate", "--from", &pg, "--to", &p("mig/from-pg.jsonl")],
            b"",
            0,
        );
        r.run_env(&["verify", "--store", &pg], b"", Some(OsStr::new(WRONG)), 2);
        r.run_env(
            &["append", "--store", &pg],
            &traces(40..41),
            Some(OsStr::new(WRONG)),
            2,
        );
        let dump = pg_dump(&pg);
        assert!(!dump.is_empty());
        r.canary
            .seen
            .push((format!("PostgreSQL tables of {pg}"), dump));
        // An unreachable server: the error names the URL, never its password.
        let down = format!("postgres://auditor:{PG_PASSWORD}@127.0.0.1:1/audit");
        r.run(&["verify", "--store", &down], b"", 2);
        r.run(&["append", "--store", &down], &traces(0..1), 2);
    }

    // canonical
    r.run(
        &["canonical"],
        b"{\"b\": 1.0, \"a\": \"\\u00e9\"}\n[1e16]\n",
        0,
    );
    r.run(&["canonical"], b"[NaN]\n", 2);

    // repair: an interrupted write at the end of a JSONL store, and a store with none.
    let commands = listed_commands();
    if commands.iter().any(|c| c == "repair") {
        let torn = p("bad/torn.jsonl");
        let mut text = std::fs::read(dir.join("mig/m.jsonl")).unwrap();
        // The next record cut inside its prev_hash (the head's record_hash).
        let head: serde_json::Value = serde_json::from_slice(
            text.trim_ascii_end()
                .rsplit(|b| *b == b'\n')
                .next()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(head["seq"], 29);
        let hash = head["record_hash"].as_str().unwrap();
        text.extend_from_slice(format!("{{\"seq\":30,\"prev_hash\":\"{}", &hash[..2]).as_bytes());
        std::fs::write(&torn, text).unwrap();
        r.run(&["verify", "--store", &torn], b"", 1);
        r.run(&["repair", "--store", &torn, "--dry-run"], b"", 0);
        r.run_env(
            &["repair", "--store", &torn],
            b"",
            Some(OsStr::new(WRONG)),
            2,
        );
        r.run(&["repair", "--store", &torn, "--json"], b"", 0);
        r.run(&["repair", "--store", &torn], b"", 0);
        r.run(&["verify", "--store", &torn], b"", 0);
    }

    // Commands added since this test was written: a generic probe with the same secret.
    for command in commands {
        if KNOWN.contains(&command.as_str()) {
            continue;
        }
        eprintln!("canary: probing the newer command `{command}` generically");
        r.run(&[&command, "--help"], b"", 0);
        for store in [&db, &jl] {
            let copy = format!("{store}.{command}-probe");
            std::fs::copy(store, &copy).unwrap();
            let ext = if store.ends_with(".db") {
                "sqlite"
            } else {
                "jsonl"
            };
            let full = [
                command.clone(),
                "--store".into(),
                copy,
                "--format".into(),
                ext.into(),
            ];
            let o = exec(&full, &traces(50..52), Some(OsStr::new(CANARY)));
            r.canary
                .output(&format!("`trailseal {}`", full.join(" ")), &o);
        }
    }

    // Error paths. Wrong secrets, given both ways: refused, and the store is not changed.
    let wrong = OsStr::new(WRONG);
    let wrong_file_arg = s(&wrong_file);
    for secret in [Some(wrong), None] {
        let with = |args: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            if secret.is_none() {
                v.push("--secret-file".into());
                v.push(wrong_file_arg.clone());
            }
            v
        };
        for (args, stdin, code) in [
            (with(&["verify", "--store", &db]), traces(0..0), 2),
            (with(&["verify", "--store", &jl, "--json"]), vec![], 2),
            (with(&["append", "--store", &db]), traces(60..61), 2),
            (with(&["append", "--store", &jl]), traces(60..61), 2),
            (
                with(&["prune", "--store", &db, "--keep-last", "1"]),
                vec![],
                2,
            ),
            (
                with(&["policy", "--store", &db, "--min-retention", "2d"]),
                vec![],
                2,
            ),
            (
                with(&["policy", "--store", &jl, "--min-retention", "2d"]),
                vec![],
                2,
            ),
            (with(&["retention", "--store", &db]), vec![], 2),
            (
                with(&["anchor", "--store", &db, "--signing-key", &k]),
                vec![],
                2,
            ),
            (
                with(&[
                    "export",
                    "--store",
                    &db,
                    "--bundle",
                    &p("out/w.bundle"),
                    "--signing-key",
                    &k,
                ]),
                vec![],
                2,
            ),
            (
                // Another secret than the bundle's chain: unverifiable, not tampered.
                with(&["verify-bundle", &all, "--public-key", &kpub]),
                vec![],
                2,
            ),
            (
                with(&["migrate", "--from", &db, "--to", &p("mig/w.jsonl")]),
                vec![],
                2,
            ),
        ] {
            r.exec(&args, &stdin, secret, code);
        }
    }
    r.run(&["verify", "--store", &db, "--json"], b"", 0);
    r.run(&["verify", "--store", &jl, "--json"], b"", 0);
    // No secret, an empty one, one that is not UTF-8 (the canary plus a 0xff byte).
    r.run_env(&["verify", "--store", &db], b"", None, 2);
    r.run_env(&["append", "--store", &db], &traces(60..61), None, 2);
    r.run_env(&["verify", "--store", &db], b"", Some(OsStr::new("")), 2);
    #[cfg(unix)]
    let bad_env = {
        use std::os::unix::ffi::OsStrExt;
        let mut v = OsString::from(CANARY);
        v.push(OsStr::from_bytes(b"\xff"));
        v
    };
    #[cfg(not(unix))]
    let bad_env = OsString::new();
    r.run_env(&["verify", "--store", &db], b"", Some(&bad_env), 2);
    r.run_env(
        &["append", "--store", &db],
        &traces(60..61),
        Some(&bad_env),
        2,
    );
    for file in [
        &not_utf8,
        &empty_secret,
        &dir.join("missing.secret"),
        &dir.join("keys"),
    ] {
        let f = s(file);
        r.run_env(
            &["verify", "--store", &db, "--secret-file", &f],
            b"",
            None,
            2,
        );
        r.run_env(
            &["append", "--store", &db, "--secret-file", &f],
            &traces(60..61),
            None,
            2,
        );
    }
    // The signing key given as the chain secret is a wrong secret, and is not printed.
    r.run_env(
        &["verify", "--store", &db, "--secret-file", &k],
        b"",
        None,
        2,
    );

    // A tampered store.
    let t = p("bad/t.db");
    std::fs::copy(dir.join("mig/m.db"), &t).unwrap();
    tamper_sqlite(Path::new(&t));
    r.run(&["verify", "--store", &t], b"", 1);
    r.run(&["verify", "--store", &t, "--json"], b"", 1);
    r.run(&["prune", "--store", &t, "--keep-last", "1"], b"", 1);
    r.run(&["anchor", "--store", &t, "--signing-key", &k], b"", 1);
    r.run(
        &[
            "export",
            "--store",
            &t,
            "--bundle",
            &p("bad/t.bundle"),
            "--signing-key",
            &k,
        ],
        b"",
        1,
    );
    r.run(
        &["migrate", "--from", &t, "--to", &p("bad/t-copy.jsonl")],
        b"",
        1,
    );
    r.run(&["list", "--store", &t], b"", 0);
    let tj = p("bad/t.jsonl");
    let text = std::fs::read_to_string(dir.join("mig/m.jsonl")).unwrap();
    std::fs::write(&tj, edit_first_token(&text)).unwrap();
    r.run(&["verify", "--store", &tj], b"", 1);
    let tb = p("bad/t.bundle2");
    let text = std::fs::read_to_string(&all).unwrap();
    std::fs::write(&tb, edit_first_token(&text)).unwrap();
    r.run(&["verify-bundle", &tb, "--public-key", &kpub], b"", 1);

    // Unreadable or foreign stores: missing, a directory, below a file, the secret file itself.
    let missing = p("bad/missing.db");
    let folder = p("bad/folder.db");
    std::fs::create_dir(&folder).unwrap();
    let below_file = format!("{}/x.db", s(&secret_file));
    for store in [&missing, &folder, &below_file] {
        r.run(&["verify", "--store", store], b"", 2);
        r.run(&["list", "--store", store], b"", 2);
        r.run(
            &["export", "--store", store, "--out", &p("bad/x.jsonl")],
            b"",
            2,
        );
        if store != &missing {
            r.run(&["append", "--store", store], &traces(0..1), 2);
        }
    }
    for format in ["jsonl", "sqlite"] {
        for file in [&secret_file, &key] {
            let f = s(file);
            r.run(
                &["verify", "--store", &f, "--format", format, "--json"],
                b"",
                2,
            );
            r.run(&["list", "--store", &f, "--format", format], b"", 2);
            r.run(&["show", "x", "--store", &f, "--format", format], b"", 2);
        }
    }

    // Bad trace input.
    let deep = format!(
        "{{\"action_id\":\"d\",\"args\":{}{}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    for bad in [
        b"not json\n".to_vec(),
        trace(70).replace("\"n\":70", "\"n\":NaN").into_bytes(),
        deep.into_bytes(),
        b"{\"action_id\":\"x\xff\"}\n".to_vec(),
        traces(90..91).repeat(2),
        trace(71)
            .replace("\"driver_id\"", "\"extra\":1,\"driver_id\"")
            .into_bytes(),
    ] {
        r.run(&["append", "--store", &db], &bad, 2);
        r.run(&["append", "--store", &jl], &bad, 2);
    }
    r.run(
        &["append", "--store", &db, "--max-trace-bytes", "100"],
        &traces(72..73),
        2,
    );

    // Bad or misplaced key files.
    let secret_path = s(&secret_file);
    let bk = s(&bad_key);
    // A copy of the signing key that every user may write: refused, the key never shown.
    let loose = dir.join("keys/loose");
    std::fs::copy(&key, &loose).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    exempt.push(loose.clone());
    let loose = s(&loose);
    for signing_key in [&secret_path, &kpub, &bk, &p("keys/missing"), &loose] {
        r.run(
            &["anchor", "--store", &db, "--signing-key", signing_key],
            b"",
            2,
        );
        r.run(
            &[
                "export",
                "--store",
                &db,
                "--bundle",
                &p("bad/k.bundle"),
                "--signing-key",
                signing_key,
            ],
            b"",
            2,
        );
        r.run(
            &[
                "append",
                "--store",
                &db,
                "--anchor-dir",
                &p("bad/anchors"),
                "--signing-key",
                signing_key,
            ],
            &traces(80..81),
            2,
        );
    }
    for public in [&k, &secret_path, &p("keys/missing.pub")] {
        r.run(
            &[
                "verify",
                "--store",
                &db,
                "--anchor",
                &auto,
                "--public-key",
                public,
            ],
            b"",
            2,
        );
        r.run(&["verify-bundle", &all, "--public-key", public], b"", 2);
    }
    for anchor in [&k, &secret_path] {
        r.run(
            &[
                "verify",
                "--store",
                &db,
                "--anchor",
                anchor,
                "--public-key",
                &kpub,
            ],
            b"",
            2,
        );
    }
    for bundle in [&k, &secret_path] {
        r.run(
            &["verify-bundle", bundle, "--public-key", &kpub],
            b"",
            FAILS,
        );
    }

    drop(r);
    canary.signing_key(&key);
    canary.files(dir, &exempt);
    canary.assert_clean(&format!("the command line, secret via {via:?}"));
}

#[test]
fn the_detector_finds_every_form() {
    let mut canary = Canary::new();
    // Each form alone, and the secret inside longer blobs encoded in hex and base64.
    let forms = forms("x", CANARY.as_bytes());
    for (i, (_, needle)) in forms.iter().enumerate() {
        canary
            .seen
            .push((format!("form {i}"), [b"..", &needle[..], b".."].concat()));
    }
    for prefix in 0..3 {
        for suffix in 0..3 {
            let blob = [
                &vec![7u8; prefix][..],
                CANARY.as_bytes(),
                &vec![9u8; suffix],
            ]
            .concat();
            for alphabet in [STD64, URL64] {
                let encoded = base64(&blob, alphabet, true);
                canary
                    .seen
                    .push((format!("base64 {prefix}/{suffix}"), encoded.into_bytes()));
            }
            let hex: String = blob.iter().map(|b| format!("{b:02X}")).collect();
            canary
                .seen
                .push((format!("HEX {prefix}/{suffix}"), hex.into_bytes()));
        }
    }
    let missed: Vec<&String> = canary
        .seen
        .iter()
        .filter(|(_, bytes)| {
            !canary
                .needles
                .iter()
                .any(|(_, n)| bytes.windows(n.len()).any(|w| w == n.as_slice()))
        })
        .map(|(place, _)| place)
        .collect();
    assert!(missed.is_empty(), "{missed:?}");
    assert_eq!(forms.len(), 5 + 2 * 5);
}

#[test]
fn no_command_leaks_the_secret_given_in_the_environment() {
    cli_pass(Via::Env);
}

#[test]
fn no_command_leaks_the_secret_given_in_a_file() {
    cli_pass(Via::File);
}

/// Set in the child process that runs [`library_paths`].
const CHILD_DIR: &str = "TRAILSEAL_CANARY_LIBRARY_DIR";

/// The library's paths, in a child process whose environment holds the canary secret (tests
/// cannot set environment variables safely); everything shown goes to stderr.
#[test]
fn library_child() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        library_paths(Path::new(&dir));
    }
}

#[test]
fn no_library_value_leaks_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = Command::new(std::env::current_exe().unwrap())
        .args([
            "library_child",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("WEAVER_KERNEL_SECRET", CANARY)
        .env(CHILD_DIR, dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "{}{stderr}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(stderr.contains("library paths done"), "{stderr}");
    let mut canary = Canary::new();
    canary.output("the library child", &o);
    canary.signing_key(&dir.join("keys/lib-signer"));
    let exempt = vec![
        dir.join("chain.secret"),
        dir.join("not-utf8.secret"),
        dir.join("keys/lib-signer"),
    ];
    canary.files(dir, &exempt);
    canary.assert_clean("the library");
}

fn library_paths(dir: &Path) {
    use trailseal::core::note::{NoteSigner, NoteVerifier};
    use trailseal::signing;
    use trailseal::{
        AuditLog, BundleSelection, ChainKey, CutoffSpec, Filter, OpenMode, OpenOptions,
        PruneRequest, SharedLog, Timestamp, secret,
    };

    fn show(label: &str, value: &dyn std::fmt::Debug) {
        eprintln!("{label}: {value:?}");
    }
    fn show_err<T: std::fmt::Debug, E: std::fmt::Debug + std::fmt::Display>(
        label: &str,
        result: Result<T, E>,
    ) {
        match result {
            Ok(v) => panic!("{label}: expected an error, got {v:?}"),
            Err(e) => eprintln!("{label}: {e:?} / {e}"),
        }
    }
    let now = Timestamp::from_unix_micros(1_795_000_000_000_000);
    let write = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();

    // Keys: from the environment, from a file, and the ways loading fails.
    let key = secret::key_from_env().unwrap().unwrap();
    show("ChainKey from the environment", &key);
    show("resolve_key(None)", &secret::resolve_key(None));
    let secret_file = dir.join("chain.secret");
    std::fs::write(&secret_file, format!("{CANARY}\r\n")).unwrap();
    let from_file = secret::key_from_file(&secret_file).unwrap();
    assert_eq!(from_file.key_id(), key.key_id());
    show("ChainKey from a file", &from_file);
    show(
        "resolve_key(file)",
        &secret::resolve_key(Some(&secret_file)),
    );
    show("file_is_shared", &secret::file_is_shared(&secret_file));
    show("strength", &from_file.strength());
    let not_utf8 = dir.join("not-utf8.secret");
    std::fs::write(&not_utf8, [CANARY.as_bytes(), b"\xff"].concat()).unwrap();
    show_err("key_from_file(not UTF-8)", secret::key_from_file(&not_utf8));
    show_err(
        "key_from_file(missing)",
        secret::key_from_file(&dir.join("missing")),
    );
    show_err("key_from_file(a directory)", secret::key_from_file(dir));
    show_err(
        "ChainKey::from_secret(not UTF-8)",
        ChainKey::from_secret(&[CANARY.as_bytes(), b"\xff"].concat()),
    );
    show_err("ChainKey::from_secret(empty)", ChainKey::from_secret(b""));
    let wrong = ChainKey::from_secret(WRONG.as_bytes()).unwrap();
    show("wrong ChainKey", &wrong);

    // Signing keys.
    let signer = signing::generate_signing_key("lib-signer").unwrap();
    let key_path = dir.join("keys/lib-signer");
    std::fs::write(&key_path, signer.to_key_string() + "\n").unwrap();
    std::fs::write(
        dir.join("keys/lib-signer.pub"),
        signer.verifier().to_key_string() + "\n",
    )
    .unwrap();
    show("NoteSigner", &signer);
    let read = signing::read_signing_key(&key_path).unwrap();
    show("read_signing_key", &read);
    let verifier: NoteVerifier =
        signing::read_public_key(&dir.join("keys/lib-signer.pub")).unwrap();
    show("NoteVerifier", &verifier);
    show_err(
        "read_signing_key(secret file)",
        signing::read_signing_key(&secret_file),
    );
    show_err(
        "read_signing_key(public key)",
        signing::read_signing_key(&dir.join("keys/lib-signer.pub")),
    );
    show_err(
        "read_public_key(signing key)",
        signing::read_public_key(&key_path),
    );
    show_err(
        "read_public_key(secret file)",
        signing::read_public_key(&secret_file),
    );
    show_err("NoteSigner::parse(secret)", NoteSigner::parse(CANARY));
    let key_text = std::fs::read_to_string(&key_path).unwrap();
    show_err(
        "NoteSigner::parse(truncated key)",
        NoteSigner::parse(&key_text[..key_text.len() - 6]),
    );
    show_err(
        "NoteVerifier::parse(signing key)",
        NoteVerifier::parse(&key_text),
    );

    let lines: Vec<String> = (0..12).map(trace).collect();
    for name in ["lib.db", "lib.jsonl"] {
        let path = s(&dir.join(name));
        let mut log = AuditLog::open(&path, &write).unwrap().with_key(key.clone());
        show("AuditLog", &log);
        let batch = log
            .prepare(lines.iter().take(10).map(|l| l.as_bytes()))
            .unwrap();
        show("prepared", &batch);
        show("append", &log.append(&batch).unwrap());
        show(
            "append_json",
            &log.append_json(lines[10].as_bytes()).unwrap(),
        );
        let bad = [lines[11].as_bytes(), &b"{\"action_id\":NaN}"[..]];
        show_err("prepare(bad)", log.prepare(bad));
        show_err("append(duplicate)", log.append(&batch));
        show("verify", &log.verify());
        show(
            "verify_with",
            &log.verify_with(
                &mut trailseal::VerifyOptions::new().progress(|p| show("progress", &p)),
            ),
        );
        log.list(&Filter::default(), &mut |e| {
            show("list", e);
            trailseal::core::verify::Flow::Continue
        })
        .unwrap();
        show("find", &log.find("act-003").unwrap());
        show(
            "export_jsonl",
            &log.export_jsonl(&dir.join(format!("out/{name}.export.jsonl")))
                .unwrap(),
        );
        let mut exported = Vec::new();
        log.export_jsonl_to(&mut exported).unwrap();
        eprintln!("export_jsonl_to: {}", String::from_utf8_lossy(&exported));
        show(
            "set_min_retention",
            &log.set_min_retention(Some(86_400_000_000), now, false)
                .unwrap(),
        );
        show("retention", &log.retention().unwrap());
        let (anchor, note) = log.anchor(&signer, "audit.example/lib", now, true).unwrap();
        show("anchor", &anchor);
        eprintln!("anchor note: {note}");
        let anchors = [("head".to_owned(), note)];
        show(
            "verify_with(anchors)",
            &log.verify_with(
                &mut trailseal::VerifyOptions::new().anchor_notes(&anchors, &verifier),
            ),
        );
        let mut bundle = Vec::new();
        let selection = BundleSelection {
            principal: Some("agent:finance".into()),
            redact: vec!["args.email".into()],
            ..BundleSelection::default()
        };
        show(
            "export_bundle",
            &log.export_bundle(
                &mut bundle,
                &signer,
                "audit.example/lib",
                now,
                &selection,
                &mut |_| {},
            )
            .unwrap(),
        );
        eprintln!("bundle: {}", String::from_utf8_lossy(&bundle));
        show(
            "verify_bundle",
            &trailseal::verify_bundle(&mut &bundle[..], &verifier, Some(&key), &mut |_| {})
                .unwrap(),
        );
        show(
            "verify_bundle(no key)",
            &trailseal::verify_bundle(&mut &bundle[..], &verifier, None, &mut |_| {}).unwrap(),
        );
        show(
            "verify_bundle(wrong key)",
            &trailseal::verify_bundle(&mut &bundle[..], &verifier, Some(&wrong), &mut |_| {})
                .unwrap(),
        );
        let prune = |archive: Option<PathBuf>, dry_run| PruneRequest {
            cutoff: CutoffSpec::KeepLast(8),
            now,
            dry_run,
            archive,
        };
        show("prune(dry run)", &log.prune(&prune(None, true)).unwrap());
        show(
            "prune",
            &log.prune(&prune(
                Some(dir.join(format!("out/{name}.archive.jsonl"))),
                false,
            ))
            .unwrap(),
        );
        let mut to = trailseal::store::open(
            &s(&dir.join(format!("out/{name}.migrated.jsonl"))),
            None,
            OpenMode::Write { create: true },
        )
        .unwrap();
        show(
            "migrate_to",
            &log.migrate_to(to.as_mut(), &mut |_| {}).unwrap(),
        );

        // The wrong key and no key: refused, with values that do not show it.
        let mut other = AuditLog::open(&path, &write)
            .unwrap()
            .with_key(wrong.clone());
        show("AuditLog(wrong key)", &other);
        show_err("append(wrong key)", other.append_json(trace(40).as_bytes()));
        show("verify(wrong key)", &other.verify());
        show_err("prune(wrong key)", other.prune(&prune(None, false)));
        show_err(
            "set_min_retention(wrong key)",
            other.set_min_retention(Some(172_800_000_000), now, false),
        );
        show_err("anchor(wrong key)", other.anchor(&signer, "o", now, true));
        show_err(
            "export_bundle(wrong key)",
            other.export_bundle(
                &mut Vec::new(),
                &signer,
                "o",
                now,
                &BundleSelection::default(),
                &mut |_| {},
            ),
        );
        let mut to =
            trailseal::store::open(":memory:", None, OpenMode::Write { create: true }).unwrap();
        show_err(
            "migrate_to(wrong key)",
            other.migrate_to(to.as_mut(), &mut |_| {}),
        );
        let mut keyless = AuditLog::open(&path, &write).unwrap();
        show_err("append(no key)", keyless.append_json(trace(41).as_bytes()));
        show("verify(no key)", &keyless.verify());
        assert!(
            log.verify().is_verified(),
            "{name}: the refusals changed nothing"
        );

        // Group commit.
        let shared = std::sync::Arc::new(SharedLog::new(log));
        show("SharedLog", &shared);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let shared = shared.clone();
                scope.spawn(move || {
                    show(
                        "SharedLog::append_json",
                        &shared.append_json(trace(100 + t).as_bytes()).unwrap(),
                    )
                });
            }
        });
        show_err("SharedLog::append_json(bad)", shared.append_json(b"[1]"));
        show_err(
            "SharedLog::append_json(duplicate)",
            shared.append_json(trace(100).as_bytes()),
        );
        show("SharedLog stats", &shared.stats());
        show("SharedLog verify", &shared.with_log(|l| l.verify()));
        let log = std::sync::Arc::into_inner(shared).unwrap().into_inner();
        show("SharedLog::into_inner", &log);
    }

    // A tampered store, and stores that cannot be read.
    let db = dir.join("lib.db");
    tamper_sqlite(&db);
    let mut log = AuditLog::open(&s(&db), &write)
        .unwrap()
        .with_key(key.clone());
    let tampered = log.verify();
    assert!(
        matches!(tampered, trailseal::Verdict::Tampered(_)),
        "{tampered:?}"
    );
    show("verify(tampered)", &tampered);
    show_err(
        "prune(tampered)",
        log.prune(&PruneRequest {
            cutoff: CutoffSpec::KeepLast(1),
            now,
            dry_run: false,
            archive: None,
        }),
    );
    show_err("anchor(tampered)", log.anchor(&signer, "o", now, true));
    show_err(
        "export_bundle(tampered)",
        log.export_bundle(
            &mut Vec::new(),
            &signer,
            "o",
            now,
            &BundleSelection::default(),
            &mut |_| {},
        ),
    );
    let both = [OpenMode::Read, OpenMode::Write { create: true }];
    for (location, format, modes) in [
        (s(&dir.join("missing.db")), None, &both[..1]),
        (format!("{}/x.db", s(&secret_file)), None, &both[..]),
        (s(dir), Some(trailseal::Format::Sqlite), &both[..]),
        (s(&secret_file), Some(trailseal::Format::Jsonl), &both[..]),
        (s(&secret_file), Some(trailseal::Format::Sqlite), &both[..]),
        (s(&key_path), Some(trailseal::Format::Jsonl), &both[..]),
    ] {
        for &mode in modes {
            let options = OpenOptions {
                format,
                mode,
                ..OpenOptions::default()
            };
            match AuditLog::open(&location, &options) {
                Ok(log) => panic!("{location}: opened {log:?}"),
                Err(trailseal::Error::Store(e)) => {
                    show("open(unreadable)", &e);
                    eprintln!("{e}");
                    show(
                        "verdict_of_store_error",
                        &trailseal::verdict_of_store_error(&e),
                    );
                }
                Err(e) => show("open(unreadable)", &e),
            }
        }
    }
    eprintln!("library paths done");
}
