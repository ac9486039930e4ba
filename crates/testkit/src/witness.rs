//! A real C2SP tlog-witness for the tests: `aics-witness==0.1.0` from PyPI (a tlog-witness
//! v1.1 server nobody here wrote), listening on 127.0.0.1 only.
//!
//! - [`aics_witness_venv`]: a venv with it, `TRAILSEAL_AICS_WITNESS` when set (a venv
//!   directory holding `bin/aics-witness`), else `target/aics-witness-venv`, created on first
//!   use with CPython 3.12 or later ([`cpython`]: `python3.N` on the PATH or pyenv's) and pip.
//!   [`aics_witness_or_skip`] turns a failure into a skip with a message, unless
//!   `TRAILSEAL_REQUIRE_EXTERNAL` is set (CI), where it fails the test.
//! - [`AicsWitness::start`]: `aics-witness init --name`, `add-log --origin --vkey` for each
//!   log, then `serve --listen 127.0.0.1:0`; ready when it logs the URL it listens on (at most
//!   [`READY_WAIT`]). The server runs in its own process group, killed when the guard is
//!   dropped, also when the test fails.
//! - [`aics_verify_checkpoint`]: a cosigned note checked by aics-tlog (the witness's own
//!   library), as a second, independent verifier of what trailseal merged.
//! - [`MemoryLog`]: a growing in-memory tree whose checkpoints the tests submit.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::leaf::{LEAF_LEN, LEAF_TAG};
use trailseal_core::note::{NoteSigner, NoteVerifier};
use trailseal_core::tree::{Frontier, MerkleHash, MissingHash, TreeError, leaf_hash, prove_tree};

use crate::{signer, workspace_root};

/// What is installed from PyPI.
pub const AICS_WITNESS_PIN: &str = "aics-witness==0.1.0";
/// The longest a witness may take to start listening.
pub const READY_WAIT: Duration = Duration::from_secs(60);

/// A CPython `3.<minor>`: `python3.<minor>` on the PATH, else the newest pyenv build of it
/// (`$PYENV_ROOT/versions/3.<minor>.*`, `~/.pyenv` by default).
pub fn cpython(minor: u32) -> Option<PathBuf> {
    let name = format!("3.{minor}");
    let on_path = Command::new(format!("python{name}"))
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    on_path.or_else(|| {
        let root = std::env::var_os("PYENV_ROOT")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("versions"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{name}.")))
            })
            .collect();
        dirs.sort();
        dirs.pop()
            .map(|d| d.join("bin/python3"))
            .filter(|p| p.is_file())
    })
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn run(what: &str, command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn provision() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("TRAILSEAL_AICS_WITNESS") {
        let dir = PathBuf::from(dir);
        return if dir.join("bin/aics-witness").is_file() {
            Ok(dir)
        } else {
            Err(format!(
                "TRAILSEAL_AICS_WITNESS={}: no bin/aics-witness there",
                dir.display()
            ))
        };
    }
    let target = target_dir();
    std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    let venv = target.join("aics-witness-venv");
    let marker = venv.join(".trailseal-installed");
    // Test binaries run in parallel: one creates the venv, the others wait on the lock.
    let lock = std::fs::File::create(target.join("aics-witness-venv.lock"))
        .map_err(|e| format!("aics-witness venv lock: {e}"))?;
    lock.lock()
        .map_err(|e| format!("aics-witness venv lock: {e}"))?;
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(AICS_WITNESS_PIN) {
        return Ok(venv);
    }
    let python = [12, 13, 14]
        .into_iter()
        .find_map(cpython)
        .ok_or("no CPython 3.12 or later (python3.12 on the PATH, or pyenv's)")?;
    eprintln!(
        "creating {} with {AICS_WITNESS_PIN} on {} (set TRAILSEAL_AICS_WITNESS to use another)",
        venv.display(),
        python.display()
    );
    run(
        "python -m venv",
        Command::new(&python)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
    )?;
    run(
        &format!("pip install {AICS_WITNESS_PIN} (is PyPI reachable?)"),
        Command::new(venv.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            AICS_WITNESS_PIN,
        ]),
    )?;
    std::fs::write(&marker, AICS_WITNESS_PIN).map_err(|e| format!("{}: {e}", marker.display()))?;
    Ok(venv)
}

/// The venv that holds `aics-witness` (see the module documentation), provisioned once per
/// test process.
pub fn aics_witness_venv() -> Result<PathBuf, String> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(provision).clone()
}

/// The venv, or `None` after printing why `test` is skipped; with `TRAILSEAL_REQUIRE_EXTERNAL`
/// set, a venv that cannot be provisioned fails the test instead.
pub fn aics_witness_or_skip(test: &str) -> Option<PathBuf> {
    match aics_witness_venv() {
        Ok(venv) => Some(venv),
        Err(why) if std::env::var_os("TRAILSEAL_REQUIRE_EXTERNAL").is_some() => {
            panic!("{test}: aics-witness is required (TRAILSEAL_REQUIRE_EXTERNAL is set): {why}")
        }
        Err(why) => {
            eprintln!(
                "SKIPPED {test}: aics-witness cannot be provisioned ({why}); set TRAILSEAL_REQUIRE_EXTERNAL to make this a failure"
            );
            None
        }
    }
}

/// Verifies a cosigned checkpoint `note` with aics-tlog (installed beside aics-witness: an
/// independent implementation of signed notes and cosignatures), through
/// `interop/aics/verify_checkpoint.py`: the log's signature by `log_vkey`, and `quorum`
/// valid cosignatures among `witness_vkeys`. Returns its answer: `ok`, `log_ok`,
/// `cosignature_count`, `witnesses` (names, sorted), `error`, `size`.
pub fn aics_verify_checkpoint(
    venv: &Path,
    note: &str,
    log_vkey: &str,
    witness_vkeys: &[&str],
    quorum: usize,
) -> serde_json::Value {
    use std::io::Write as _;
    let mut child = Command::new(venv.join("bin/python"))
        .arg(workspace_root().join("interop/aics/verify_checkpoint.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let request = serde_json::json!({
        "note": note,
        "log_vkey": log_vkey,
        "witness_vkeys": witness_vkeys,
        "quorum": quorum,
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "verify_checkpoint.py: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A running `aics-witness serve`, killed (with its process group) when dropped.
#[derive(Debug)]
pub struct AicsWitness {
    child: Child,
    venv: PathBuf,
    config: PathBuf,
    url: String,
    vkey: String,
    output: Arc<Mutex<Vec<String>>>,
}

impl AicsWitness {
    /// Creates a witness named `name` in `dir` (a fresh directory), trusting each log
    /// `(origin, note verifier key)`, and serves it on a free loopback port.
    pub fn start(venv: &Path, dir: &Path, name: &str, logs: &[(&str, &str)]) -> Self {
        let bin = venv.join("bin/aics-witness");
        let config = dir.join("witness.json");
        let command = |args: &[&str]| {
            let mut c = Command::new(&bin);
            c.args(args)
                .arg("--config")
                .arg(&config)
                .env_remove("WITNESS_SEED_HEX")
                .env_remove("AICS_WITNESS_CONFIG")
                .stdin(Stdio::null());
            c
        };
        let output = command(&["init", "--name", name, "--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "aics-witness init: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let vkey = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        for (origin, log_vkey) in logs {
            let output = command(&["add-log", "--origin", origin, "--vkey", log_vkey])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "aics-witness add-log {origin}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let mut serve = command(&["serve", "--listen", "127.0.0.1:0", "--log-level", "INFO"]);
        serve.stdout(Stdio::null()).stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut serve, 0);
        let mut child = serve.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let (ready, listening) = mpsc::channel();
        let lines = Arc::clone(&output);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line
                    .split("listening on ")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                {
                    let _ = ready.send(url.to_owned());
                }
                lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let mut this = Self {
            child,
            venv: venv.to_owned(),
            config,
            url: String::new(),
            vkey,
            output,
        };
        // `this` is dropped (the process killed) if waiting fails.
        match listening.recv_timeout(READY_WAIT) {
            Ok(url) => {
                assert!(
                    url.starts_with("http://127.0.0.1:"),
                    "aics-witness listens on {url}, not on loopback"
                );
                this.url = url;
            }
            Err(e) => panic!(
                "aics-witness did not start listening within {} s ({e}): {}",
                READY_WAIT.as_secs(),
                this.output().join("\n")
            ),
        }
        this
    }

    /// `http://127.0.0.1:<port>` (its tlog-witness prefix).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The witness's cosignature verifier key.
    /// [`MemoryLog::verifier`] as text (what `aics-witness add-log --vkey` takes).
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// `URL=VKEY`, as `--witness` takes it.
    pub fn endpoint(&self) -> String {
        format!("{}={}", self.url, self.vkey)
    }

    /// What the server logged so far (stderr lines).
    pub fn output(&self) -> Vec<String> {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `aics-witness evidence`: the log-signed requests it refused as inconsistent (JSON).
    pub fn evidence(&self) -> serde_json::Value {
        let output = Command::new(self.venv.join("bin/aics-witness"))
            .arg("evidence")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "aics-witness evidence: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

impl Drop for AicsWitness {
    fn drop(&mut self) {
        stop_group(&mut self.child);
    }
}

/// Kills `child`, started as the leader of its own process group, and everything in that
/// group, and reaps it.
pub(crate) fn stop_group(child: &mut Child) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The origin of [`MemoryLog`]'s checkpoints.
pub const ORIGIN: &str = "trailseal.test/witness-log/tree";

/// A growing log for witness tests: an in-memory tree (`trailseal_core::tree`: a
/// [`Frontier`] and the stored hashes in a `Vec`) of 120-byte entries, its checkpoints (origin
/// [`ORIGIN`]) signed with a deterministic note key. A [`fork`](MemoryLog::fork) grows from
/// the same prefix with other entries.
#[derive(Debug)]
pub struct MemoryLog {
    signer: NoteSigner,
    pub frontier: Frontier,
    pub hashes: Vec<MerkleHash>,
    fork_at: u64,
    variant: u8,
}

impl Default for MemoryLog {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self {
            signer: signer("trailseal.test/log", 41),
            frontier: Frontier::new(),
            hashes: Vec::new(),
            fork_at: u64::MAX,
            variant: 0,
        }
    }

    /// A copy of `self` grown from here with other entries.
    pub fn fork(&self) -> Self {
        Self {
            signer: signer("trailseal.test/log", 41),
            frontier: self.frontier.clone(),
            hashes: self.hashes.clone(),
            fork_at: self.frontier.size(),
            variant: 1,
        }
    }

    /// The log's note verifier key.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// [`MemoryLog::verifier`] as text (what `aics-witness add-log --vkey` takes).
    pub fn vkey(&self) -> String {
        self.verifier().to_key_string()
    }

    /// Appends entries until the tree has `to` leaves.
    pub fn grow(&mut self, to: u64) {
        while self.frontier.size() < to {
            let seq = self.frontier.size();
            let mut entry = [0u8; LEAF_LEN];
            entry[..16].copy_from_slice(LEAF_TAG);
            entry[16..24].copy_from_slice(&seq.to_be_bytes());
            entry[24] = if seq >= self.fork_at { self.variant } else { 0 };
            self.frontier
                .push(leaf_hash(&entry), &mut self.hashes)
                .unwrap();
        }
    }

    /// The signed checkpoint of the tree as it is.
    pub fn note(&self) -> String {
        Checkpoint::new(ORIGIN, self.frontier.size(), self.frontier.root().0)
            .unwrap()
            .sign(&self.signer)
            .unwrap()
    }

    /// `prove(old, size)`: the consistency proof between two sizes of the tree as it is.
    pub fn prover(
        &self,
    ) -> impl FnMut(u64, u64) -> Result<Vec<MerkleHash>, TreeError<MissingHash>> {
        let mut hashes = self.hashes.clone();
        move |old, size| prove_tree(size, old, &mut hashes)
    }
}
