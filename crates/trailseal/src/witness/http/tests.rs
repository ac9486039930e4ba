//! The client against a tiny in-test server that sends exactly what each test scripts:
//! well-formed answers, garbage, huge heads, slow bodies, wrong lengths.

use super::*;
use std::net::TcpListener;
use std::thread::JoinHandle;

enum Step {
    Send(Vec<u8>),
    Sleep(u64),
}

fn send(bytes: impl AsRef<[u8]>) -> Step {
    Step::Send(bytes.as_ref().to_vec())
}

/// Reads the request head and its Content-Length body (so the client's write never fails).
fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            if got.len() >= end + 4 + length {
                return got;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Serves one connection with `steps`; returns the URL and the request the server read.
fn serve(steps: Vec<Step>) -> (WitnessUrl, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = WitnessUrl::parse(&format!("http://{}/w", listener.local_addr().unwrap())).unwrap();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let request = read_request(&mut stream);
        for step in steps {
            match step {
                Step::Send(bytes) => {
                    if stream.write_all(&bytes).is_err() {
                        break;
                    }
                }
                Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(ms)),
            }
        }
        request
    });
    (url, handle)
}

const T: Duration = Duration::from_secs(5);

fn exchange(steps: Vec<Step>, timeout: Duration, max: usize) -> Result<Response, HttpError> {
    timed_exchange(steps, timeout, max).0
}

/// The result and how long the client took (the server may go on sleeping after).
fn timed_exchange(
    steps: Vec<Step>,
    timeout: Duration,
    max: usize,
) -> (Result<Response, HttpError>, Duration) {
    let (url, server) = serve(steps);
    let start = Instant::now();
    let result = post(&url, "add-checkpoint", b"old 0\n\nbody", timeout, max);
    let took = start.elapsed();
    drop(server.join());
    (result, took)
}

#[test]
fn the_request_is_a_post_with_a_length_and_close() {
    let (url, server) = serve(vec![send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")]);
    let r = post(&url, "add-checkpoint", b"old 0\n\nbody", T, 100).unwrap();
    assert_eq!((r.status, r.body.as_slice()), (200, b"ok".as_slice()));
    let request = String::from_utf8(server.join().unwrap()).unwrap();
    assert!(
        request.starts_with("POST /w/add-checkpoint HTTP/1.1\r\nHost: 127.0.0.1:"),
        "{request}"
    );
    assert!(request.contains("\r\nContent-Length: 11\r\n"), "{request}");
    assert!(request.contains("\r\nConnection: close\r\n"), "{request}");
    assert!(request.ends_with("\r\n\r\nold 0\n\nbody"), "{request}");
}

#[test]
fn content_length_chunked_and_read_to_the_end() {
    let r = exchange(
        vec![send(
            "HTTP/1.1 409 Conflict\r\ncontent-type: text/x.tlog.size\r\nContent-Length: 3\r\n\r\n12\n",
        )],
        T,
        100,
    )
    .unwrap();
    assert_eq!(r.status, 409);
    assert_eq!(r.content_type.as_deref(), Some("text/x.tlog.size"));
    assert_eq!(r.body, b"12\n");
    let r = exchange(
        vec![
            send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n"),
            Step::Sleep(20),
            send("2\r\nde\r\n0\r\nTrailer: x\r\n\r\n"),
        ],
        T,
        100,
    )
    .unwrap();
    assert_eq!(r.body, b"abcde");
    let r = exchange(vec![send("HTTP/1.0 200 OK\n\nto the end")], T, 100).unwrap();
    assert_eq!(r.body, b"to the end");
    let r = exchange(
        vec![send(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
        )],
        T,
        100,
    )
    .unwrap();
    assert_eq!((r.status, r.body.len()), (204, 0));
}

#[test]
fn bodies_are_bounded_at_the_limit_plus_one() {
    let big = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{}",
        "x".repeat(100_000)
    );
    let r = exchange(vec![send(&big)], T, 10).unwrap();
    assert_eq!(r.body.len(), 11);
    let r = exchange(
        vec![send(format!(
            "HTTP/1.1 200 OK\r\n\r\n{}",
            "y".repeat(50_000)
        ))],
        T,
        10,
    )
    .unwrap();
    assert_eq!(r.body.len(), 11);
    let r = exchange(
        vec![send(format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffff\r\n{}",
            "z".repeat(30)
        ))],
        T,
        10,
    )
    .unwrap();
    assert_eq!(r.body.len(), 11);
    // A length that fits exactly is read whole.
    let r = exchange(
        vec![send(
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
        )],
        T,
        10,
    )
    .unwrap();
    assert_eq!(r.body, b"0123456789");
}

#[test]
fn huge_heads_are_refused() {
    let long_header = format!(
        "HTTP/1.1 200 OK\r\nX: {}\r\n\r\n",
        "a".repeat(MAX_HEAD_LEN + 10)
    );
    assert!(matches!(
        exchange(vec![send(long_header)], T, 10),
        Err(HttpError::HeadTooLarge)
    ));
    let many = format!(
        "HTTP/1.1 200 OK\r\n{}\r\n",
        "X: y\r\n".repeat(MAX_HEADERS + 1)
    );
    assert!(matches!(
        exchange(vec![send(many)], T, 10),
        Err(HttpError::HeadTooLarge)
    ));
    // A head that never ends (no newline at all).
    let endless = vec![send(vec![b'H'; MAX_HEAD_LEN * 2])];
    assert!(matches!(
        exchange(endless, T, 10),
        Err(HttpError::HeadTooLarge)
    ));
}

#[test]
fn wrong_lengths_and_codings_are_refused() {
    let cases: &[&str] = &[
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        "HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
        "HTTP/1.1 101 Switching\r\n\r\n",
        "HTTP/2 200\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 999 Big\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "SSH-2.0-OpenSSH\r\n\r\n",
        "",
        "HTTP/1.1 200 OK\r\n",
    ];
    for case in cases {
        let r = exchange(vec![send(case)], T, 100);
        assert!(
            matches!(
                r,
                Err(HttpError::Malformed { .. } | HttpError::Closed { .. })
            ),
            "{case:?}: {r:?}"
        );
    }
    let interim = "HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM + 1);
    assert!(matches!(
        exchange(vec![send(interim)], T, 10),
        Err(HttpError::Malformed { .. })
    ));
}

#[test]
fn slow_servers_hit_the_deadline_for_the_whole_exchange() {
    let timeout = Duration::from_millis(400);
    // Silent.
    let (r, took) = timed_exchange(vec![Step::Sleep(1500)], timeout, 10);
    assert!(matches!(r, Err(HttpError::Timeout { .. })), "{r:?}");
    assert!(took < Duration::from_millis(1000), "{took:?}");
    // A body trickled one byte every 50 ms: each read is quick, the whole is not.
    let mut steps = vec![send("HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")];
    for _ in 0..40 {
        steps.push(Step::Sleep(50));
        steps.push(send("x"));
    }
    let (r, took) = timed_exchange(steps, timeout, 100);
    assert!(matches!(r, Err(HttpError::Timeout { .. })), "{r:?}");
    assert!(took < Duration::from_millis(1000), "{took:?}");
    let e = r.unwrap_err().to_string();
    assert!(e.starts_with("timed out after 400 ms while reading"), "{e}");
}

#[test]
fn a_closed_port_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = WitnessUrl::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let r = post(&url, "add-checkpoint", b"x", T, 10);
    assert!(matches!(r, Err(HttpError::Connect { .. })), "{r:?}");
}

#[test]
fn random_garbage_never_panics() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = WitnessUrl::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let prefixes: [&[u8]; 4] = [
        b"",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 409 Conflict\r\nContent-Length: 5\r\n",
    ];
    let alphabet = b"HTP/1. 0249\r\n:;,xXaf-";
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let cases: Vec<Vec<u8>> = (0..300)
        .map(|i| {
            let mut bytes = prefixes[i % prefixes.len()].to_vec();
            let len = (next() % 300) as usize;
            for _ in 0..len {
                let r = next();
                bytes.push(if r % 3 == 0 {
                    (r >> 8) as u8
                } else {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                });
            }
            bytes
        })
        .collect();
    let count = cases.len();
    let server = std::thread::spawn(move || {
        for case in cases {
            let (mut stream, _) = listener.accept().unwrap();
            read_request(&mut stream);
            let _ = stream.write_all(&case);
        }
    });
    let mut answered = 0;
    for _ in 0..count {
        if post(&url, "add-checkpoint", b"old 0\n\nx", T, 64).is_ok() {
            answered += 1;
        }
    }
    server.join().unwrap();
    assert!(answered < count);
}
