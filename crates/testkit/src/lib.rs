//! Test support shared by trailseal's test suites.
//!
//! - [`Trace`], [`key`], [`signer`], [`VECTOR_SECRET`]: fixtures (a trace builder in the
//!   export shape, chain keys, deterministic signers, the vectors' secret) instead of a copy
//!   in every test file.
//! - [`vectors_dir`] and [`vector`]: the test vectors checked in under `crates/testkit/vectors`
//!   (see its README for how each file was made).
//! - [`weaver_python`]: a Python with `weaver-kernel==0.12.0`: `TRAILSEAL_WEAVER_PYTHON` when
//!   set (`.ci/run` sets it), else a virtual environment under `target/weaver-venv`, created on
//!   first use (needs `python3` and access to PyPI). Tests that need it fail loudly when it
//!   cannot be provided; they are never skipped silently.
//! - [`weaver_tool`]: runs `interop/weaver_tool.py` with that Python.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

mod fixtures;
mod pg;
pub mod tlog_scales;
pub mod tls;
pub mod witness;
pub use fixtures::{Trace, VECTOR_SECRET, key, signer, unwrite_last_tree_hashes};
pub use pg::{pg_fresh_schema_url, pg_url};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The test vectors, checked into the repository (`crates/testkit/vectors`).
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// One vector file, by its path under [`vectors_dir`]; fails naming the path when it is missing.
pub fn vector(relative: &str) -> PathBuf {
    let path = vectors_dir().join(relative);
    assert!(
        path.is_file(),
        "test vector {} is missing (the vectors live in the repository: see crates/testkit/vectors/README.md)",
        path.display()
    );
    path
}

const WEAVER_PIN: &str = "weaver-kernel==0.12.0";

fn provision_venv() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    std::fs::create_dir_all(&target).unwrap();
    let venv = target.join("weaver-venv");
    let python = venv.join("bin/python");
    let marker = venv.join(".trailseal-installed");
    // Test binaries run in parallel: one creates the venv, the others wait on the lock.
    let lock = std::fs::File::create(target.join("weaver-venv.lock")).unwrap();
    lock.lock().unwrap();
    if !marker.exists() {
        eprintln!(
            "creating {} with {WEAVER_PIN} (set TRAILSEAL_WEAVER_PYTHON to use another)",
            venv.display()
        );
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap_or_else(|e| panic!("cannot run python3 to create the weaver-kernel venv: {e}"));
        assert!(
            status.success(),
            "python3 -m venv {} failed",
            venv.display()
        );
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                WEAVER_PIN,
            ])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "pip install {WEAVER_PIN} failed (is PyPI reachable?)"
        );
        std::fs::write(&marker, WEAVER_PIN).unwrap();
    }
    python
}

/// A Python interpreter that has weaver-kernel 0.12.0 installed.
pub fn weaver_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| match std::env::var_os("TRAILSEAL_WEAVER_PYTHON") {
            Some(p) => PathBuf::from(p),
            None => provision_venv(),
        })
        .clone()
}

/// Runs `interop/weaver_tool.py ARGS` with `secret` in `WEAVER_KERNEL_SECRET`; returns the one
/// JSON object it prints.
pub fn weaver_tool(args: &[&str], secret: &str) -> serde_json::Value {
    let stdout = weaver_tool_text(args, secret);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("weaver_tool {args:?}: {e}: {stdout}"))
}

/// [`weaver_tool`]'s output as text (for values `serde_json` would round, such as integers
/// beyond 64 bits).
pub fn weaver_tool_text(args: &[&str], secret: &str) -> String {
    let output = Command::new(weaver_python())
        .arg(workspace_root().join("interop/weaver_tool.py"))
        .args(args)
        .env("WEAVER_KERNEL_SECRET", secret)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "weaver_tool {args:?} failed ({}): {}\n{stdout}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

const GO_NOTE_SRC: &str = "/usr/share/gocode/src/golang.org/x/mod/sumdb/note/note.go";

/// Go's reference signed-note implementation, built from `interop/notecheck/main.go` (see
/// [`go_interop`]).
pub fn go_notecheck() -> PathBuf {
    go_interop("notecheck")
}

/// Go's reference signed notes and tree descriptions (`sumdb/note`, `sumdb/tlog`) reading and
/// writing C2SP checkpoints, built from `interop/checkpointcheck/main.go` (see [`go_interop`]).
pub fn go_checkpointcheck() -> PathBuf {
    go_interop("checkpointcheck")
}

/// Go's reference transparency-log implementation (`golang.org/x/mod/sumdb/tlog`), built from
/// `interop/tlogcheck/main.go` (see [`go_interop`]). It reads commands on stdin and answers
/// each with one line (see the program's header).
pub fn go_tlogcheck() -> PathBuf {
    go_interop("tlogcheck")
}

/// The Go program `interop/<program>/main.go`, built once per target directory (again when
/// its source is newer than the binary) against Debian's `golang-golang-x-mod-dev`. When Go
/// or that package is missing and the tests run as root, they are installed with apt-get (the
/// Debian registry is reachable in CI); otherwise the test fails with what to install.
pub fn go_interop(program: &str) -> PathBuf {
    static BINS: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut bins = BINS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(bin) = bins.get(program) {
        return bin.clone();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    std::fs::create_dir_all(&target).unwrap();
    let lock = std::fs::File::create(target.join(format!("{program}.lock"))).unwrap();
    lock.lock().unwrap();
    let bin = target.join(program);
    let source = workspace_root().join(format!("interop/{program}/main.go"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&bin).is_some() && modified(&bin) >= modified(&source) {
        bins.insert(program.to_owned(), bin.clone());
        return bin;
    }
    let have_go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_go || !Path::new(GO_NOTE_SRC).exists() {
        assert!(
            is_root(),
            "the Go interop tests need Go and golang.org/x/mod: apt-get install golang-go golang-golang-x-mod-dev"
        );
        eprintln!("installing golang-go and golang-golang-x-mod-dev with apt-get");
        let install = || {
            Command::new("apt-get")
                .args([
                    "install",
                    "-y",
                    "-q",
                    "golang-go",
                    "golang-golang-x-mod-dev",
                ])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|s| s.success())
        };
        if !install() {
            let _ = Command::new("apt-get").args(["update", "-q"]).status();
            assert!(
                install(),
                "apt-get install golang-go golang-golang-x-mod-dev failed"
            );
        }
    }
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(&source)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", target.join("go-cache"))
        .status()
        .unwrap();
    assert!(status.success(), "go build interop/{program} failed");
    bins.insert(program.to_owned(), bin.clone());
    bin
}
