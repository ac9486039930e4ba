//! Helpers shared by the command-line tests.

// Each test file uses its own part of these.
#![allow(dead_code)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

/// The `trailseal` binary under test, without a secret inherited from the environment.
pub(crate) fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailseal"));
    cmd.env_remove("WEAVER_KERNEL_SECRET")
        .env_remove("WEAVER_KERNEL_SECRETS")
        .env_remove("WEAVER_KERNEL_ACTIVE_KEY");
    cmd
}

/// Runs `trailseal ARGS` with `secret` in `WEAVER_KERNEL_SECRET` (none if `None`), `stdin`
/// on its standard input; its output.
pub(crate) fn run_with(args: &[&str], secret: Option<&str>, stdin: &[u8]) -> Output {
    let mut cmd = bin();
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(s) = secret {
        cmd.env("WEAVER_KERNEL_SECRET", s);
    }
    let mut child = cmd.spawn().unwrap();
    // The command may exit before reading all of stdin (e.g. without a secret).
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

/// Bytes as text, for messages and comparisons.
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Standard error without the weak-secret warning (the vectors' and some fixtures' secrets are
/// weaver-kernel secrets under 32 bytes: every command warns about them; `tests/secrets.rs`
/// checks the warning itself).
pub(crate) fn stderr_without_secret_warning(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.starts_with("warning: the chain secret "))
        .map(|l| format!("{l}\n"))
        .collect()
}
