//! The Python package (`python/`), built from this checkout and tested with pytest.
//!
//! One test: `pip install ./python` into a venv under `target/` (created on first use with
//! `python/tests/requirements.txt` from PyPI; `TRAILSEAL_PYTHON_VENV` names another),
//! then `python -m pytest python/tests` with a PostgreSQL server in `TRAILSEAL_TEST_PG`. The
//! wheel is built by maturin in its own target directory (`target/python`), so the build
//! never waits for the lock of the one this test runs from. pytest's own output is shown.
//! A real C2SP witness for `test_witness.py` comes from the aics-witness venv the other witness
//! tests use (`TRAILSEAL_AICS_WITNESS_VENV`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use trailseal_testkit::witness::{aics_witness_or_skip, cpython};
use trailseal_testkit::{pg_url, workspace_root};

/// What the tests need besides the package (also what `.ci/run` installs).
const REQUIREMENTS: &str = include_str!("../../../python/tests/requirements.txt");

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn run(what: &str, command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(status.success(), "{what} failed ({status})");
}

/// The venv's directory, provisioned once (a marker file records what was installed).
fn venv() -> PathBuf {
    if let Some(dir) = std::env::var_os("TRAILSEAL_PYTHON_VENV") {
        return PathBuf::from(dir);
    }
    let venv = target_dir().join("python-venv");
    let marker = venv.join(".trailseal-installed");
    let wanted = REQUIREMENTS;
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted) {
        run(
            "python3 -m venv",
            Command::new("python3")
                .args(["-m", "venv", "--clear"])
                .arg(&venv),
        );
        run(
            "pip install the test requirements",
            pip_install(&venv.join("bin/python"))
                .arg("-r")
                .arg(workspace_root().join("python/tests/requirements.txt")),
        );
        std::fs::write(&marker, wanted).unwrap();
    }
    venv
}

/// `python -m pip install`, quietly.
fn pip_install(python: &Path) -> Command {
    let mut command = Command::new(python);
    command.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]);
    command
}

fn with_venv_path(command: &mut Command, venv: &Path) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![venv.join("bin")];
    dirs.extend(std::env::split_paths(&path));
    command.env("PATH", std::env::join_paths(dirs).unwrap());
}

/// The venv with the package installed by `pip install ./python`, once per test process.
fn installed() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let root = workspace_root();
        let venv = venv();
        // As a user would; maturin comes from the venv, not downloaded per run.
        let mut install = pip_install(&venv.join("bin/python"));
        install
            .args(["--no-build-isolation", "--no-deps", "--force-reinstall"])
            .arg(root.join("python"))
            .env("CARGO_TARGET_DIR", target_dir().join("python"))
            .current_dir(&root);
        with_venv_path(&mut install, &venv);
        run("pip install ./python", &mut install);
        venv
    })
}

#[test]
fn the_python_package_builds_installs_and_passes_its_tests() {
    let root = workspace_root();
    let venv = installed();
    let mut pytest = Command::new(venv.join("bin/python"));
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs"])
        .arg(root.join("python/tests"))
        .env("TRAILSEAL_TEST_PG", pg_url())
        .env("TRAILSEAL_SDIST_CACHE", target_dir().join("weaver-sdist"))
        .env_remove("WEAVER_KERNEL_SECRET")
        .current_dir(root.join("python/tests"));
    // The real witness of `test_witness.py` (skipped there without it, unless
    // TRAILSEAL_REQUIRE_EXTERNAL is set, which fails here first).
    if let Some(aics) = aics_witness_or_skip("python/tests/test_witness.py") {
        pytest.env("TRAILSEAL_AICS_WITNESS_VENV", aics);
    }
    with_venv_path(&mut pytest, venv);
    run("pytest python/tests", &mut pytest);
}

/// Other CPython versions on this machine: `python3.N` on the PATH, or pyenv's.
fn other_pythons() -> Vec<(String, PathBuf)> {
    [10, 12, 13]
        .into_iter()
        .filter_map(|minor| Some((format!("3.{minor}"), cpython(minor)?)))
        .collect()
}

const SMOKE: &str = r#"
import sys, tempfile, os, trailseal
d = tempfile.mkdtemp()
log = trailseal.open(os.path.join(d, "a.db"), "abi3-smoke-secret-0123456789abcdef")
log.append({"action_id": "a", "capability_id": "c", "principal_id": "p", "token_id": "t",
            "invoked_at": "2026-01-01T00:00:00+00:00", "args": {}, "response_mode": "summary",
            "driver_id": "d"})
v = log.verify()
assert v.verified and v.records_checked == 1, v
print(sys.version_info[:2], "ok")
"#;

#[test]
fn the_abi3_wheel_works_on_every_cpython_from_3_10() {
    let venv = installed();
    let wheels = target_dir().join("python/wheels");
    let _ = std::fs::remove_dir_all(&wheels);
    // The same build as `pip install ./python` (same target directory): seconds.
    let mut build = Command::new(venv.join("bin/maturin"));
    build
        .args(["build", "--release", "--quiet", "-o"])
        .arg(&wheels)
        .env("CARGO_TARGET_DIR", target_dir().join("python"))
        .current_dir(workspace_root().join("python"));
    with_venv_path(&mut build, venv);
    run("maturin build", &mut build);
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("maturin built no wheel");
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.contains("-cp310-abi3-"),
        "not an abi3 wheel for 3.10+: {name}"
    );
    let pythons = other_pythons();
    if pythons.is_empty() {
        eprintln!("no other CPython (3.10, 3.12, 3.13) found: only the venv's was tested");
    }
    for (version, python) in pythons {
        let dir = tempfile::tempdir().unwrap();
        run(
            &format!("Python {version}: pip install the wheel"),
            pip_install(&python)
                .args([
                    "--root-user-action=ignore",
                    "--no-deps",
                    "--no-index",
                    "--target",
                ])
                .arg(dir.path())
                .arg(&wheel),
        );
        run(
            &format!("Python {version}: open, append, verify"),
            Command::new(&python)
                .args(["-c", SMOKE])
                .env("PYTHONPATH", dir.path()),
        );
    }
}
