//! tlog-scales 0.0.3 (PyPI), a second tree implementation nobody here wrote, reading a C2SP
//! tile directory through `interop/tlogscales/check.py` (its header says what it checks and
//! what tlog-scales cannot do).
//!
//! - [`tlog_scales_python`]: a Python with [`TLOG_SCALES_PIN`]: the venv named by
//!   `TRAILSEAL_TLOG_SCALES_VENV` when set, else one under `target/tlog-scales-venv`,
//!   created on first use with the first Python >= 3.11 found (`python3`, `python3.1N`,
//!   pyenv's versions) and PyPI.
//! - [`tlog_scales_or_skip`]: that Python, or `None` with a message on stderr when it cannot
//!   be provided and neither `TRAILSEAL_REQUIRE_EXTERNAL` nor `TRAILSEAL_TLOG_SCALES_VENV` is
//!   set (with either set, the test fails).
//! - [`check_tile_dir`]: runs the checker on a directory.
//! - [`grow_with_tlog_scales`]: the other way round, tlog-scales' own writer grows a tile
//!   directory (`interop/tlogscales/write.py`) for trailseal to read.
//! - [`write_tile_dir`]: a tile directory written from the core's functions, for a checker
//!   that does not care who wrote the directory (with [`chain_leaves`], the leaves of a real
//!   chain, [`stored_hashes`] and [`entry_bundle`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod tile_dir;
pub use tile_dir::{TileDir, chain_leaves, entry_bundle, stored_hashes, write_tile_dir};

use crate::workspace_root;

/// What the venv installs (tlog-scales pulls `cryptography` and `requests`).
pub const TLOG_SCALES_PIN: &str = "tlog-scales==0.0.3";

/// The venv's directory name under the target directory.
const VENV_DIR: &str = "tlog-scales-venv";

/// A Python interpreter that has tlog-scales 0.0.3, provisioned once per test process.
pub fn tlog_scales_python() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| match std::env::var_os("TRAILSEAL_TLOG_SCALES_VENV") {
            Some(venv) => {
                let python = PathBuf::from(venv).join("bin/python");
                has_tlog_scales(&python)
                    .then_some(python.clone())
                    .ok_or_else(|| {
                        format!(
                            "TRAILSEAL_TLOG_SCALES_VENV: {} cannot import tlog_scales {}",
                            python.display(),
                            version_of(TLOG_SCALES_PIN)
                        )
                    })
            }
            None => {
                let target = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| workspace_root().join("target"));
                pip_venv(&target, VENV_DIR, &[TLOG_SCALES_PIN], (3, 11))
            }
        })
        .clone()
}

/// [`tlog_scales_python`], or `None` after saying on stderr why `test` is skipped. With
/// `TRAILSEAL_REQUIRE_EXTERNAL` set, a Python that cannot be provided fails the test instead,
/// and so does a `TRAILSEAL_TLOG_SCALES_VENV` that does not have tlog-scales (it was asked
/// for).
pub fn tlog_scales_or_skip(test: &str) -> Option<PathBuf> {
    match tlog_scales_python() {
        Ok(python) => Some(python),
        Err(why) => {
            assert!(
                std::env::var_os("TRAILSEAL_REQUIRE_EXTERNAL").is_none()
                    && std::env::var_os("TRAILSEAL_TLOG_SCALES_VENV").is_none(),
                "{test}: {TLOG_SCALES_PIN} cannot be provided: {why}"
            );
            eprintln!(
                "SKIPPED {test}: {TLOG_SCALES_PIN} cannot be provided ({why}); set TRAILSEAL_TLOG_SCALES_VENV to a venv that has it; TRAILSEAL_REQUIRE_EXTERNAL=1 makes this a failure"
            );
            None
        }
    }
}

fn version_of(pin: &str) -> &str {
    pin.split_once("==").map_or(pin, |(_, v)| v)
}

fn has_tlog_scales(python: &Path) -> bool {
    let probe = format!(
        "import importlib.metadata as m, tlog_scales.reader; assert m.version('tlog-scales') == '{}'",
        version_of(TLOG_SCALES_PIN)
    );
    Command::new(python)
        .args(["-I", "-c", &probe])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A Python at least `min` (major, minor): `python3`, `python3.N` on the PATH, then pyenv's
/// installed versions, newest first.
fn find_python(min: (u32, u32)) -> Option<PathBuf> {
    let good = |python: &Path| {
        let probe = format!("import sys; sys.exit(sys.version_info[:2] < {min:?})");
        Command::new(python)
            .args(["-c", &probe])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let on_path = [
        "python3",
        "python3.14",
        "python3.13",
        "python3.12",
        "python3.11",
    ]
    .into_iter()
    .map(PathBuf::from);
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")));
    let mut versions: Vec<PathBuf> = pyenv
        .and_then(|root| std::fs::read_dir(root.join("versions")).ok())
        .into_iter()
        .flatten()
        .filter_map(|entry| Some(entry.ok()?.path().join("bin/python3")))
        .collect();
    versions.sort();
    versions.reverse();
    on_path.chain(versions).find(|p| good(p))
}

/// A venv `target/<name>` with exactly `requirements` pip-installed, made with a Python of at
/// least `min_python`; returns its interpreter. A marker file records what was installed; a
/// venv whose marker differs is recreated. Test binaries run in parallel: one creates the
/// venv while the others wait on a lock file.
pub fn pip_venv(
    target: &Path,
    name: &str,
    requirements: &[&str],
    min_python: (u32, u32),
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(target).map_err(|e| format!("{}: {e}", target.display()))?;
    let venv = target.join(name);
    let python = venv.join("bin/python");
    let marker = venv.join(".trailseal-installed");
    let wanted = requirements.join("\n") + "\n";
    let lock_path = target.join(format!("{name}.lock"));
    let lock =
        std::fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("{}: {e}", lock_path.display()))?;
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Ok(python);
    }
    let base = find_python(min_python).ok_or_else(|| {
        format!(
            "no Python >= {}.{} found (python3, python3.N, pyenv)",
            min_python.0, min_python.1
        )
    })?;
    eprintln!(
        "creating {} with {} (Python {})",
        venv.display(),
        requirements.join(" "),
        base.display()
    );
    let run = |what: &str, command: &mut Command| -> Result<(), String> {
        let output = command
            .output()
            .map_err(|e| format!("{what}: cannot run: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    };
    run(
        "python -m venv",
        Command::new(&base)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
    )?;
    run(
        "pip install (is PyPI reachable?)",
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(requirements),
    )?;
    std::fs::write(&marker, wanted).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(python)
}

/// What to ask the checker besides its fixed checks (checkpoint, files, root, every tile
/// and entry).
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    /// The log's note verifier key (`name+id+base64(0x01 ‖ key)`).
    pub vkey: String,
    /// Witness vkeys (`name+id+base64(0x04 ‖ key)`): each must have cosigned.
    pub witnesses: Vec<String>,
    /// Sizes whose root to report (`roots` in the answer).
    pub roots: Vec<u64>,
    /// `(size, index)`: inclusion proofs to compute and check.
    pub inclusion: Vec<(u64, u64)>,
    /// `(old, new)`: consistency proofs to compute and check.
    pub consistency: Vec<(u64, u64)>,
}

/// The checker's refusal: the stage that failed (`checkpoint`, `signature`, `witness`,
/// `files`, `root`, `tiles`, `entries`, `inclusion`, `consistency`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The stage that refused.
    pub stage: String,
    /// Why (tlog-scales' words).
    pub error: String,
}

/// Runs `interop/tlogscales/check.py` with `python` on `dir`: the JSON answer when every
/// check passed, the refusal otherwise. Panics when the checker itself fails (bad usage, a
/// crash), so a broken checker never passes for a refusal.
pub fn check_tile_dir(
    python: &Path,
    dir: &Path,
    request: &CheckRequest,
) -> Result<serde_json::Value, Refusal> {
    let mut command = Command::new(python);
    command
        .arg("-I")
        .arg(workspace_root().join("interop/tlogscales/check.py"))
        .arg(dir)
        .args(["--vkey", &request.vkey]);
    for w in &request.witnesses {
        command.args(["--witness", w]);
    }
    for s in &request.roots {
        command.arg(format!("--root={s}"));
    }
    for (s, n) in &request.inclusion {
        command.arg(format!("--inclusion={s}:{n}"));
    }
    for (old, new) in &request.consistency {
        command.arg(format!("--consistency={old}:{new}"));
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let answer: Option<serde_json::Value> = serde_json::from_str(stdout.trim()).ok();
    let field = |answer: &serde_json::Value, name| {
        answer
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let ok = |answer: &serde_json::Value| answer.get("ok").and_then(serde_json::Value::as_bool);
    match (output.status.code(), answer) {
        (Some(0), Some(answer)) if ok(&answer) == Some(true) => Ok(answer),
        (Some(1), Some(answer)) if ok(&answer) == Some(false) => Err(Refusal {
            stage: field(&answer, "stage"),
            error: field(&answer, "error"),
        }),
        (code, _) => panic!(
            "tlogscales/check.py on {} failed (exit {code:?}):\n{stdout}\n{stderr}",
            dir.display()
        ),
    }
}

/// One commit of [`grow_with_tlog_scales`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The tree size after it.
    pub size: u64,
    /// The tile and bundle paths it wrote, sorted.
    pub written: Vec<String>,
    /// The checkpoint it signed.
    pub checkpoint: String,
}

/// Runs `interop/tlogscales/write.py` with `python`: tlog-scales' `TilesWriter` creates `dir`
/// (which must not exist) and commits `entries` (all of one length) up to each of `sizes` in
/// turn, signing each checkpoint for `origin` with the Ed25519 note key `name` of `seed`.
pub fn grow_with_tlog_scales<E: AsRef<[u8]>>(
    python: &Path,
    dir: &Path,
    entries: &[E],
    sizes: &[u64],
    origin: &str,
    (name, seed): (&str, &[u8; 32]),
) -> Vec<Commit> {
    use std::io::Write;
    let width = entries.first().map_or(0, |e| e.as_ref().len());
    assert!(entries.iter().all(|e| e.as_ref().len() == width));
    let sizes: Vec<String> = sizes.iter().map(u64::to_string).collect();
    let seed: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let mut child = Command::new(python)
        .arg("-I")
        .arg(workspace_root().join("interop/tlogscales/write.py"))
        .arg(dir)
        .arg(format!("--entry-size={width}"))
        .arg(format!("--sizes={}", sizes.join(",")))
        .arg(format!("--origin={origin}"))
        .arg(format!("--name={name}"))
        .env("TLOG_SCALES_SEED_HEX", seed)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data: Vec<u8> = entries.iter().flat_map(|e| e.as_ref().to_vec()).collect();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tlogscales/write.py failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    answer
        .get("commits")
        .and_then(serde_json::Value::as_array)
        .unwrap()
        .iter()
        .map(|c| Commit {
            size: c.get("size").and_then(serde_json::Value::as_u64).unwrap(),
            written: c
                .get("written")
                .and_then(serde_json::Value::as_array)
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect(),
            checkpoint: c
                .get("checkpoint")
                .and_then(serde_json::Value::as_str)
                .unwrap()
                .to_owned(),
        })
        .collect()
}
