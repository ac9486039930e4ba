//! The Python package (`python/`), built from this checkout and tested with pytest.
//!
//! One test: `pip install ./python` into a venv under `target/` (created on first use with
//! `python/tests/requirements.txt` from PyPI; `TRAILSEAL_PYTHON_VENV` names another),
//! then `python -m pytest python/tests` with a PostgreSQL server in `TRAILSEAL_TEST_PG`. The
//! wheel is built by maturin in its own target directory (`target/python`), so the build
//! never waits for the lock of the one this test runs from. pytest's own output is shown.

use std::path::{Path, PathBuf};
use std::process::Command;

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
            Command::new(venv.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg("-r")
                .arg(workspace_root().join("python/tests/requirements.txt")),
        );
        std::fs::write(&marker, wanted).unwrap();
    }
    venv
}

fn with_venv_path(command: &mut Command, venv: &Path) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![venv.join("bin")];
    dirs.extend(std::env::split_paths(&path));
    command.env("PATH", std::env::join_paths(dirs).unwrap());
}

#[test]
fn the_python_package_builds_installs_and_passes_its_tests() {
    let root = workspace_root();
    let venv = venv();
    let python = venv.join("bin/python");

    // `pip install ./python`, as a user would (maturin from the venv: no download per run).
    let mut install = Command::new(&python);
    install
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--no-build-isolation", "--no-deps", "--force-reinstall"])
        .arg(root.join("python"))
        .env("CARGO_TARGET_DIR", target_dir().join("python"))
        .current_dir(&root);
    with_venv_path(&mut install, &venv);
    run("pip install ./python", &mut install);

    let mut pytest = Command::new(&python);
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs"])
        .arg(root.join("python/tests"))
        .env("TRAILSEAL_TEST_PG", pg_url())
        .env("TRAILSEAL_SDIST_CACHE", target_dir().join("weaver-sdist"))
        .env_remove("WEAVER_KERNEL_SECRET")
        .current_dir(root.join("python/tests"));
    with_venv_path(&mut pytest, &venv);
    run("pytest python/tests", &mut pytest);
}
