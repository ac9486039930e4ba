//! A throwaway PostgreSQL cluster for tests, stopped when the last test process using it ends.
//!
//! The cluster lives under `target/pg` and is shared by the test processes that run at the
//! same time. Each registers itself in `target/pg/users` (pid and start time) under
//! `target/pg.lock`. A supervisor (`pg_supervisor.sh`, in its own session so that Ctrl-C on
//! the tests does not kill it first) polls those processes and stops the cluster once none
//! has been alive for a second — whether the tests passed, failed or panicked: a process
//! that ends, however it ends, is no longer alive. Nothing needs a destructor at exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::{is_root, workspace_root};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const SUPERVISOR: &str = include_str!("pg_supervisor.sh");

fn pg_ready(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Field 22 of `/proc/PID/stat`: when the process started (constant across `exec`).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split(' ').nth(19).map(str::to_owned)
}

/// Whether `file` names a live process: `PID START` with START its current start time.
fn names_live_process(file: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let mut parts = text.split_whitespace();
    match (
        parts.next().and_then(|p| p.parse::<u32>().ok()),
        parts.next(),
    ) {
        (Some(pid), Some(start)) => start_time(pid).as_deref() == Some(start),
        _ => false,
    }
}

/// The directory of the cluster: `$CARGO_TARGET_DIR/pg` (default `target/pg`).
fn cluster_dir() -> PathBuf {
    target_dir().join("pg")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `program` from PostgreSQL's bin directory, run as the postgres user when we are root
/// (PostgreSQL refuses to run as root).
fn pg_command(program: &str) -> Vec<String> {
    let path = format!("{PG_BIN}/{program}");
    if is_root() {
        vec![
            "runuser".into(),
            "-u".into(),
            "postgres".into(),
            "--".into(),
            path,
        ]
    } else {
        vec![path]
    }
}

fn as_pg(program: &str) -> Command {
    let argv = pg_command(program);
    let (program, args) = argv.split_first().expect("a command");
    let mut cmd = Command::new(program);
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Starts the supervisor unless one is running.
#[allow(
    clippy::zombie_processes,
    reason = "the supervisor outlives this process on purpose; init reaps it"
)]
fn ensure_supervisor(lock: &Path, dir: &Path) {
    let marker = dir.join("supervisor");
    if names_live_process(&marker) {
        return;
    }
    let script = dir.join("supervisor.sh");
    std::fs::write(&script, SUPERVISOR).unwrap();
    let child = Command::new("setsid")
        .arg("sh")
        .arg(&script)
        .arg(lock)
        .arg(dir)
        .args(pg_command("pg_ctl"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the PostgreSQL supervisor (setsid sh): {e}"));
    let pid = child.id();
    let start = start_time(pid).expect("the supervisor's start time");
    std::fs::write(&marker, format!("{pid} {start}\n")).unwrap();
}

fn start_cluster() -> String {
    let target = target_dir();
    let dir = cluster_dir();
    let users = dir.join("users");
    std::fs::create_dir_all(&users).unwrap();
    let lock_path = target.join("pg.lock");
    let lock = std::fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();
    // This process uses the cluster until it ends.
    let me = std::process::id();
    let start = start_time(me).expect("/proc/self/stat");
    std::fs::write(users.join(me.to_string()), format!("{start}\n")).unwrap();

    let port_file = dir.join("port");
    if let Some(port) = std::fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        && pg_ready(port)
    {
        ensure_supervisor(&lock_path, &dir);
        return format!("postgres://postgres@127.0.0.1:{port}/postgres");
    }
    let root = is_root();
    if root {
        let _ = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&dir)
            .status();
    }
    let data = dir.join("data");
    if !data.join("PG_VERSION").exists() {
        let _ = std::fs::remove_dir_all(&data);
        let status = as_pg("initdb").args(["-A", "trust", "-E", "UTF8", "-U", "postgres", "-D"]).arg(&data).status().unwrap_or_else(|e| {
            panic!("cannot run {PG_BIN}/initdb ({e}); install PostgreSQL 15 or set TRAILSEAL_TEST_PG")
        });
        assert!(status.success(), "initdb failed");
    }
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=on -c max_connections=100",
        dir.display()
    );
    // The supervisor first: should this process die from here on, the cluster still stops.
    ensure_supervisor(&lock_path, &dir);
    let status = as_pg("pg_ctl")
        .args(["-w", "-D"])
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-o", &options, "start"])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "pg_ctl start failed; see {}",
        dir.join("log").display()
    );
    std::fs::write(&port_file, port.to_string()).unwrap();
    eprintln!(
        "started a throwaway PostgreSQL on 127.0.0.1:{port} ({}); it stops when the last test process using it ends",
        data.display()
    );
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

/// A PostgreSQL server for tests: `TRAILSEAL_TEST_PG` when set (`.ci/run` starts one), else a
/// throwaway cluster under `target/pg`, started on first use and stopped by a supervisor once
/// no test process using it is alive (see the module documentation).
pub fn pg_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| std::env::var("TRAILSEAL_TEST_PG").unwrap_or_else(|_| start_cluster()))
        .clone()
}

/// A URL naming a schema no other test uses.
pub fn pg_fresh_schema_url() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let base = pg_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}schema=t_{}_{n}_{nanos}", std::process::id())
}
