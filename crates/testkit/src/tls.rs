//! TLS for the https witness tests: a throwaway certificate authority made by the `openssl`
//! command (OpenSSL, not the rustls the client uses), a TLS-terminating proxy
//! (`interop/tls/proxy.py`, Python's `ssl`) in front of a plain-HTTP witness, and an HTTP
//! `CONNECT` proxy (`interop/tls/connect_proxy.py`). Each runs in its own process group and is
//! killed when dropped, also when the test fails.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::workspace_root;

/// A certificate authority in a directory: `ca.pem` (what a client trusts) and its key.
#[derive(Debug)]
pub struct TestCa {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "openssl {}: {e} (is the openssl command installed?)",
                args.join(" ")
            )
        });
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl req` arguments for a new unencrypted P-256 key.
const NEW_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
];

impl TestCa {
    /// A new CA (P-256, valid for two days) in `dir`, which is created.
    pub fn new(dir: &Path, name: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        openssl(
            dir,
            &[
                "req",
                "-x509",
                NEW_KEY[0],
                NEW_KEY[1],
                NEW_KEY[2],
                NEW_KEY[3],
                NEW_KEY[4],
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Self {
            dir: dir.to_owned(),
        }
    }

    /// The CA certificate (PEM): what `SSL_CERT_FILE` names for a client that trusts it.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A server certificate and key signed by this CA for `san` (for example `IP:127.0.0.1`
    /// or `DNS:localhost`), as `(cert.pem, key.pem)` named after `label`.
    pub fn issue(&self, label: &str, san: &str) -> (PathBuf, PathBuf) {
        let (cert, key, csr, ext) = (
            format!("{label}.pem"),
            format!("{label}.key"),
            format!("{label}.csr"),
            format!("{label}.ext"),
        );
        std::fs::write(
            self.dir.join(&ext),
            format!(
                "subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .unwrap();
        openssl(
            &self.dir,
            &[
                "req",
                NEW_KEY[0],
                NEW_KEY[1],
                NEW_KEY[2],
                NEW_KEY[3],
                NEW_KEY[4],
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={label}"),
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
        (self.dir.join(cert), self.dir.join(key))
    }
}

/// A Python script of `interop/tls/` run with the machine's `python3` in its own process
/// group, once it prints `listening on <url>`; killed when dropped.
#[derive(Debug)]
struct Listening {
    child: Child,
    url: String,
}

impl Listening {
    fn start(script: &str, args: &[&std::ffi::OsStr]) -> Self {
        let mut command = Command::new("python3");
        command
            .arg(workspace_root().join("interop/tls").join(script))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (ready, listening) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = ready.send(url.trim().to_owned());
                }
            }
        });
        let mut this = Self {
            child,
            url: String::new(),
        };
        // `this` is dropped (the process killed) if waiting fails.
        match listening.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => this.url = url,
            Err(e) => panic!("{script} did not start listening: {e}"),
        }
        this
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        crate::witness::stop_group(&mut self.child);
    }
}

/// `interop/tls/proxy.py` serving `cert`/`key` on a free loopback port, forwarding to an
/// `http://` upstream.
#[derive(Debug)]
pub struct TlsProxy(Listening);

impl TlsProxy {
    /// Starts the proxy; waits until it listens.
    pub fn start(cert: &Path, key: &Path, upstream: &str) -> Self {
        Self(Listening::start(
            "proxy.py",
            &[cert.as_os_str(), key.as_os_str(), upstream.as_ref()],
        ))
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.0.url
    }
}

/// `interop/tls/connect_proxy.py`: an HTTP `CONNECT` proxy on a free loopback port that
/// tunnels every request to `upstream`, optionally requiring `user:password`, logging each
/// request to `log` (one JSON object a line: `request`, `authorized`, `credentials_sent`).
#[derive(Debug)]
pub struct ConnectProxy(Listening);

impl ConnectProxy {
    /// Starts the proxy; waits until it listens.
    pub fn start(upstream: &str, require_auth: Option<&str>, log: &Path) -> Self {
        let mut args: Vec<&std::ffi::OsStr> =
            vec![upstream.as_ref(), "--log".as_ref(), log.as_os_str()];
        if let Some(auth) = require_auth {
            args.extend(["--require-auth".as_ref(), std::ffi::OsStr::new(auth)]);
        }
        Self(Listening::start("connect_proxy.py", &args))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.0.url
    }
}
