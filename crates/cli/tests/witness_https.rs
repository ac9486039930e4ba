//! `https://` witnesses (the `https` feature): `trailseal checkpoint --witness https://…`
//! through a TLS-terminating proxy (OpenSSL, via Python's `ssl`: `interop/tls/proxy.py`) in
//! front of a real aics-witness, its certificate issued by a throwaway CA made with the
//! `openssl` command and trusted through `SSL_CERT_FILE`. A certificate from another CA or for
//! another name is refused and nothing is written; a server that stalls the handshake hits the
//! deadline.

#![cfg(feature = "https")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use trailseal::core::checkpoint::Checkpoint;
use trailseal::core::note::NoteVerifier;
use trailseal_testkit::Trace;
use trailseal_testkit::tls::{ConnectProxy, TestCa, TlsProxy};
use trailseal_testkit::witness::{AicsWitness, aics_witness_or_skip};

use common::{bin, run_with, text};

const SECRET: &str = "witness-https-test: 4be1c07a9d23f58e61b0c94d7a2e3f18";
const ORIGIN: &str = "trailseal.test/https-log/tree";
const WITNESS: &str = "witness.test/tls";
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

struct Log {
    dir: tempfile::TempDir,
    store: String,
    key: String,
    next: u64,
}

impl Log {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("log-key").display().to_string();
        let out = run_with(
            &[
                "keygen",
                "--out",
                &key,
                "--name",
                "trailseal.test/https-log",
            ],
            None,
            b"",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        Self {
            store: dir.path().join("s.db").display().to_string(),
            key,
            dir,
            next: 0,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn public(&self) -> String {
        std::fs::read_to_string(format!("{}.pub", self.key))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn append(&mut self, n: u64) {
        let mut input = String::new();
        for _ in 0..n {
            input.push_str(&Trace::new(format!("tls-{}", self.next)).json());
            input.push('\n');
            self.next += 1;
        }
        let out = run_with(
            &["append", "--store", &self.store],
            Some(SECRET),
            input.as_bytes(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    /// `trailseal checkpoint --witness ENDPOINT` with `SSL_CERT_FILE=ca` and no proxy.
    fn checkpoint(&self, endpoint: &str, ca: &Path, timeout: &str) -> Output {
        self.checkpoint_with(endpoint, ca, timeout, &[])
    }

    /// The same with the proxy variables `proxy_env` (all others removed).
    fn checkpoint_with(
        &self,
        endpoint: &str,
        ca: &Path,
        timeout: &str,
        proxy_env: &[(&str, &str)],
    ) -> Output {
        let mut cmd = bin();
        cmd.args([
            "checkpoint",
            "--store",
            &self.store,
            "--signing-key",
            &self.key,
            "--origin",
            ORIGIN,
            "--out",
            &self.path("cp"),
            "--witness",
            endpoint,
            "--witness-state",
            &self.path("witness-state"),
            "--witness-timeout",
            timeout,
        ])
        .env("WEAVER_KERNEL_SECRET", SECRET)
        .env("SSL_CERT_FILE", ca)
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::null());
        for name in PROXY_VARS {
            cmd.env_remove(name);
        }
        for (name, value) in proxy_env {
            cmd.env(name, value);
        }
        cmd.output().unwrap()
    }

    fn published(&self) -> Option<Checkpoint> {
        let note = std::fs::read_to_string(self.path("cp")).ok()?;
        let verifier = NoteVerifier::parse(&self.public()).unwrap();
        Some(Checkpoint::open(&note, &verifier).unwrap())
    }
}

fn cosignatures_by(note: &str, name: &str) -> usize {
    note.lines()
        .filter(|l| l.starts_with(&format!("\u{2014} {name} ")))
        .count()
}

#[test]
fn a_witness_behind_https_cosigns_and_untrusted_certificates_are_refused() {
    let Some(venv) = aics_witness_or_skip("a_witness_behind_https") else {
        return;
    };
    let mut log = Log::new();
    log.append(5);
    let wdir = log.dir.path().join("witness");
    std::fs::create_dir(&wdir).unwrap();
    let witness = AicsWitness::start(&venv, &wdir, WITNESS, &[(ORIGIN, &log.public())]);
    let ca = TestCa::new(&log.dir.path().join("ca"), "trailseal test CA");
    let (cert, key) = ca.issue("by-ip", "IP:127.0.0.1");
    let proxy = TlsProxy::start(&cert, &key, witness.url());
    let endpoint = format!("{}={}", proxy.url(), witness.vkey());

    // Trusted: cosigned over TLS.
    let out = log.checkpoint(&endpoint, &ca.cert(), "20s");
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    let first = log.published().unwrap();
    assert_eq!(first.size(), 5);
    let note = std::fs::read_to_string(log.path("cp")).unwrap();
    assert_eq!(cosignatures_by(&note, WITNESS), 1, "{note}");
    // The store's verification counts that cosignature.
    let public = format!("{}.pub", log.key);
    let out = run_with(
        &[
            "verify",
            "--store",
            &log.store,
            "--checkpoint",
            &log.path("cp"),
            "--public-key",
            &public,
            "--witness-key",
            witness.vkey(),
            "--json",
        ],
        Some(SECRET),
        b"",
    );
    assert!(out.status.success(), "{}", text(&out.stdout));

    // A certificate from a CA the client does not trust: refused, nothing written.
    log.append(2);
    let other = TestCa::new(&log.dir.path().join("other-ca"), "another CA");
    let out = log.checkpoint(&endpoint, &other.cert(), "20s");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("tls: invalid peer certificate"), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    eprintln!("another CA: {stderr}");
    assert_eq!(
        log.published().unwrap().size(),
        5,
        "the checkpoint file is untouched"
    );

    // A certificate of the trusted CA for another name: refused.
    let (cert, key) = ca.issue("by-name", "DNS:localhost");
    let misnamed = TlsProxy::start(&cert, &key, witness.url());
    let out = log.checkpoint(
        &format!("{}={}", misnamed.url(), witness.vkey()),
        &ca.cert(),
        "20s",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("tls: invalid peer certificate"), "{stderr}");
    assert!(
        stderr.contains("certificate not valid for name \"127.0.0.1\""),
        "{stderr}"
    );
    assert_eq!(log.published().unwrap().size(), 5);

    // The trusted endpoint again: the new size is cosigned, from the size the witness holds.
    let out = log.checkpoint(&endpoint, &ca.cert(), "20s");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let note = std::fs::read_to_string(log.path("cp")).unwrap();
    assert_eq!(log.published().unwrap().size(), 7);
    assert_eq!(cosignatures_by(&note, WITNESS), 1, "{note}");
}

#[test]
fn a_server_that_trickles_the_handshake_hits_the_deadline() {
    let mut log = Log::new();
    log.append(3);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // One byte of a TLS record every 200 ms, for up to a minute: each read gets a byte in
    // time, so only a deadline over the whole handshake stops it.
    let server = std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
        let mut hello = [0u8; 4096];
        let _ = stream.read(&mut hello);
        let record = [0x16u8, 0x03, 0x03, 0x40, 0x00];
        for i in 0..300usize {
            let byte = record.get(i).copied().unwrap_or(0x02);
            if stream.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let vkey =
        trailseal::core::cosignature::WitnessSigner::from_seed("witness.test/slow", &[5; 32])
            .unwrap()
            .witness_key()
            .to_vkey();
    let ca = TestCa::new(&log.dir.path().join("ca"), "trailseal test CA");
    let start = Instant::now();
    let out = log.checkpoint(
        &format!("https://127.0.0.1:{port}={vkey}"),
        &ca.cert(),
        "2s",
    );
    let elapsed = start.elapsed();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("timed out after 2000 ms while the TLS handshake"),
        "{stderr}"
    );
    // Functional, not a speed figure: the trickle would last a minute.
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    assert!(log.published().is_none(), "nothing was written");
    drop(server); // the thread ends when the client's connection is closed
}

#[test]
fn a_witness_behind_a_connect_proxy_is_reached_by_name_and_credentials_never_show() {
    let Some(venv) = aics_witness_or_skip("a_witness_behind_a_connect_proxy") else {
        return;
    };
    let mut log = Log::new();
    log.append(4);
    let wdir = log.dir.path().join("witness");
    std::fs::create_dir(&wdir).unwrap();
    let witness = AicsWitness::start(&venv, &wdir, WITNESS, &[(ORIGIN, &log.public())]);
    let ca = TestCa::new(&log.dir.path().join("ca"), "trailseal test CA");
    // The witness by a name no DNS knows: only the proxy can reach it.
    let (cert, key) = ca.issue("by-name", "DNS:witness.test");
    let tls = TlsProxy::start(&cert, &key, witness.url());
    let requests = log.dir.path().join("proxy-requests.jsonl");
    let proxy = ConnectProxy::start(tls.url(), Some("alice:s3cret-proxy-pw"), &requests);
    let port = proxy.url().rsplit(':').next().unwrap().to_owned();
    let endpoint = format!("https://witness.test={}", witness.vkey());
    let with_credentials = format!("http://alice:s3cret-proxy-pw@127.0.0.1:{port}");

    let out = log.checkpoint_with(
        &endpoint,
        &ca.cert(),
        "20s",
        &[("HTTPS_PROXY", &with_credentials)],
    );
    let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
    let note = std::fs::read_to_string(log.path("cp")).unwrap();
    assert_eq!(cosignatures_by(&note, WITNESS), 1, "{note}");
    let seen: Vec<serde_json::Value> = std::fs::read_to_string(&requests)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!seen.is_empty());
    for request in &seen {
        assert_eq!(
            request["request"], "CONNECT witness.test:443 HTTP/1.1",
            "{request}"
        );
        assert_eq!(request["authorized"], true, "{request}");
    }

    // Without the credentials: the proxy's 407, named with the proxy, nothing written.
    log.append(1);
    let out = log.checkpoint_with(
        &endpoint,
        &ca.cert(),
        "20s",
        &[("https_proxy", &format!("127.0.0.1:{port}"))],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "proxy http://127.0.0.1:{port}: CONNECT witness.test:443 answered 407"
        )),
        "{stderr}"
    );
    assert_eq!(log.published().unwrap().size(), 4);

    // NO_PROXY names the witness: it is asked directly, and its name does not resolve.
    let out = log.checkpoint_with(
        &endpoint,
        &ca.cert(),
        "20s",
        &[
            ("HTTPS_PROXY", &with_credentials),
            ("NO_PROXY", "example.org, .test"),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("resolve witness.test"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");

    // An unusable proxy variable is refused by name, its value never shown.
    let out = log.checkpoint_with(
        &endpoint,
        &ca.cert(),
        "20s",
        &[("HTTPS_PROXY", "https://alice:s3cret-proxy-pw@127.0.0.1:1")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("HTTPS_PROXY: only http:// proxies"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");

    // Through the proxy again: the new size is cosigned.
    let out = log.checkpoint_with(
        &endpoint,
        &ca.cert(),
        "20s",
        &[("HTTPS_PROXY", &with_credentials)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(log.published().unwrap().size(), 5);
}
