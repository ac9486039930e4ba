//! A minimal HTTP/1.1 client for witness requests: one `POST` per connection over
//! `std::net::TcpStream` (for `https`, over TLS: `super::tls`), `Connection: close`, a
//! `Content-Length` request body.
//!
//! Everything the server sends is bounded and read under one deadline for the whole exchange
//! (connect, write, read): a server that trickles bytes cannot stretch it. The response head
//! is at most [`MAX_HEAD_LEN`] bytes and [`MAX_HEADERS`] header lines; the body is read with
//! `Content-Length`, `Transfer-Encoding: chunked`, or to the end of the connection, and never
//! beyond the caller's limit plus one byte (so the caller can tell an oversized body from one
//! that fits exactly). Interim `1xx` answers are skipped (at most [`MAX_INTERIM`]). A response
//! that carries both `Content-Length` and `Transfer-Encoding`, two different lengths, another
//! transfer coding, or a body shorter than its length is refused. Nothing here panics,
//! whatever the server sends.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::url::{Scheme, WitnessUrl};

/// The largest response head (status line and headers) read, in bytes.
pub const MAX_HEAD_LEN: usize = 16 * 1024;
/// The most header lines read.
pub const MAX_HEADERS: usize = 100;
/// The most interim (`1xx`) responses skipped before the final one.
pub const MAX_INTERIM: usize = 8;
/// The longest chunk-size or trailer line read.
const MAX_CHUNK_LINE: usize = 1024;
/// The most trailer lines read after a chunked body.
const MAX_TRAILERS: usize = 32;
/// How much is read from the socket at once.
const READ_CHUNK: usize = 8 * 1024;

/// An HTTP exchange that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    #[error("resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: io::Error,
    },
    #[error("resolve {host}: no address")]
    NoAddress { host: String },
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("timed out after {} ms while {action}", after.as_millis())]
    Timeout {
        action: &'static str,
        after: Duration,
    },
    #[error("{action}: {source}")]
    Io {
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the connection closed while {action}")]
    Closed { action: &'static str },
    #[error("malformed response: {why}")]
    Malformed { why: &'static str },
    #[error("response head larger than {MAX_HEAD_LEN} bytes or {MAX_HEADERS} header lines")]
    HeadTooLarge,
    /// TLS refused the connection: the server's certificate is not trusted or not for the
    /// host, or the handshake failed.
    #[error("tls: {why}")]
    Tls { why: String },
    /// The proxy variable `from` (for example `HTTPS_PROXY`) does not name a usable proxy.
    #[error("{from}: {why}")]
    ProxyConfig {
        from: &'static str,
        why: &'static str,
    },
    /// The proxy could not be reached or did not open the tunnel.
    #[error("proxy {proxy}: {why}")]
    Proxy { proxy: String, why: String },
}

/// A final response: the status, the `Content-Type` header if any, and at most the caller's
/// limit plus one byte of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Sends `POST <url prefix>/<endpoint>` with `body` and reads the answer, all within
/// `timeout` (the TLS handshake of an `https` URL included); at most `max_body + 1` bytes of
/// the answer's body are kept.
pub fn post(
    url: &WitnessUrl,
    endpoint: &str,
    body: &[u8],
    timeout: Duration,
    max_body: usize,
) -> Result<Response, HttpError> {
    let deadline = Deadline {
        start: Instant::now(),
        timeout,
    };
    let proxy = super::proxy::proxy_for(url, &|name| std::env::var(name).ok())?;
    let stream = match &proxy {
        None => connect(url.host(), url.port(), &deadline)?,
        Some(p) => connect(&p.host, p.port, &deadline).map_err(|e| HttpError::Proxy {
            proxy: p.shown(),
            why: e.to_string(),
        })?,
    };
    let mut socket = DeadlineSocket {
        stream,
        deadline: &deadline,
    };
    if let Some(p) = &proxy {
        tunnel(&mut socket, url, p, &deadline)?;
    }
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: trailseal/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.path(endpoint),
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    match url.scheme() {
        Scheme::Http => exchange(socket, &request, &deadline, max_body),
        #[cfg(feature = "https")]
        Scheme::Https => {
            let tls = super::tls::handshake(url.host(), socket, &deadline)?;
            exchange(tls, &request, &deadline, max_body)
        }
        // `WitnessUrl::parse` refuses `https://` in a build without TLS.
        #[cfg(not(feature = "https"))]
        Scheme::Https => Err(malformed("https needs the `https` feature")),
        #[allow(unreachable_patterns)]
        _ => Err(malformed("a scheme this build cannot speak")),
    }
}

/// Opens a `CONNECT` tunnel through the proxy to the witness: the proxy must answer `2xx`
/// and send nothing after its answer before the witness speaks.
fn tunnel(
    socket: &mut DeadlineSocket<'_>,
    url: &WitnessUrl,
    proxy: &super::proxy::Proxy,
    deadline: &Deadline,
) -> Result<(), HttpError> {
    let failed = |why: String| HttpError::Proxy {
        proxy: proxy.shown(),
        why,
    };
    let authority = if url.host().contains(':') {
        format!("[{}]:{}", url.host(), url.port())
    } else {
        format!("{}:{}", url.host(), url.port())
    };
    let request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{}User-Agent: trailseal/{}\r\n\r\n",
        proxy.authorization().unwrap_or_default(),
        env!("CARGO_PKG_VERSION"),
    );
    socket
        .write_all(request.as_bytes())
        .and_then(|()| socket.flush())
        .map_err(|e| failed(deadline.classify(e, "sending CONNECT").to_string()))?;
    let mut reader = Reader {
        stream: &mut *socket,
        buf: Vec::new(),
        pos: 0,
        deadline,
    };
    let head = read_head(&mut reader).map_err(|e| failed(format!("its answer to CONNECT: {e}")))?;
    if !(200..300).contains(&head.status) {
        let hint = if head.status == 407 {
            " (it wants credentials: give them in the proxy URL, http://user:password@host:port)"
        } else {
            ""
        };
        return Err(failed(format!(
            "CONNECT {authority} answered {}{hint}",
            head.status
        )));
    }
    if !reader.buffered().is_empty() {
        return Err(failed(
            "it sent data after its answer to CONNECT, before the witness spoke".into(),
        ));
    }
    Ok(())
}

/// Writes `request` and reads the final response from `stream`.
fn exchange<S: Read + Write>(
    mut stream: S,
    request: &[u8],
    deadline: &Deadline,
    max_body: usize,
) -> Result<Response, HttpError> {
    stream
        .write_all(request)
        .and_then(|()| stream.flush())
        .map_err(|e| deadline.classify(e, "sending the request"))?;
    let mut reader = Reader {
        stream,
        buf: Vec::new(),
        pos: 0,
        deadline,
    };
    read_response(&mut reader, max_body)
}

/// One deadline for a whole exchange.
pub(crate) struct Deadline {
    start: Instant,
    timeout: Duration,
}

impl Deadline {
    fn left(&self) -> Option<Duration> {
        self.timeout
            .checked_sub(self.start.elapsed())
            .filter(|d| !d.is_zero())
    }

    pub(crate) fn remaining(&self, action: &'static str) -> Result<Duration, HttpError> {
        self.left().ok_or(HttpError::Timeout {
            action,
            after: self.timeout,
        })
    }

    pub(crate) fn classify(&self, e: io::Error, action: &'static str) -> HttpError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HttpError::Timeout {
                action,
                after: self.timeout,
            },
            _ => HttpError::Io { action, source: e },
        }
    }
}

/// A TCP connection whose every read and write waits at most until the deadline: whatever
/// runs over it (HTTP, a TLS handshake of many small records) cannot outlast the deadline,
/// however slowly the server trickles bytes.
pub(crate) struct DeadlineSocket<'d> {
    stream: TcpStream,
    deadline: &'d Deadline,
}

impl DeadlineSocket<'_> {
    fn left(&self) -> io::Result<Duration> {
        self.deadline
            .left()
            .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))
    }
}

impl Read for DeadlineSocket<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.left()?))?;
        self.stream.read(buf)
    }
}

impl Write for DeadlineSocket<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.left()?))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

fn connect(host: &str, port: u16, deadline: &Deadline) -> Result<TcpStream, HttpError> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| HttpError::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        let remaining = deadline.remaining("connecting")?;
        match TcpStream::connect_timeout(&addr, remaining) {
            Ok(stream) => {
                // Small requests: send them at once.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                last = Some(HttpError::Timeout {
                    action: "connecting",
                    after: deadline.timeout,
                });
            }
            Err(source) => last = Some(HttpError::Connect { addr, source }),
        }
    }
    Err(last.unwrap_or_else(|| HttpError::NoAddress {
        host: host.to_owned(),
    }))
}

/// The connection's bytes, read on demand under the deadline.
struct Reader<'d, S> {
    stream: S,
    buf: Vec<u8>,
    pos: usize,
    deadline: &'d Deadline,
}

impl<S: Read> Reader<'_, S> {
    fn buffered(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Reads more from the socket; `Ok(false)` at the end of the connection.
    fn fill(&mut self, action: &'static str) -> Result<bool, HttpError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.deadline.remaining(action)?;
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.deadline.classify(e, action)),
            }
        }
    }

    /// One line without its `\n` (and `\r`), at most `max` bytes; `None` when it is longer.
    fn line(&mut self, max: usize, action: &'static str) -> Result<Option<Vec<u8>>, HttpError> {
        loop {
            let buffered = self.buffered();
            if let Some(end) = buffered.iter().position(|&b| b == b'\n') {
                if end > max {
                    return Ok(None);
                }
                let line = buffered.get(..end).unwrap_or_default();
                let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
                self.pos += end + 1;
                return Ok(Some(line));
            }
            if buffered.len() > max {
                return Ok(None);
            }
            if !self.fill(action)? {
                return Err(HttpError::Closed { action });
            }
        }
    }

    /// Exactly `n` bytes appended to `out`.
    fn exact(
        &mut self,
        n: usize,
        out: &mut Vec<u8>,
        action: &'static str,
    ) -> Result<(), HttpError> {
        let mut left = n;
        while left > 0 {
            if self.buffered().is_empty() && !self.fill(action)? {
                return Err(HttpError::Closed { action });
            }
            let take = left.min(self.buffered().len());
            out.extend_from_slice(self.buffered().get(..take).unwrap_or_default());
            self.pos += take;
            left -= take;
        }
        Ok(())
    }

    /// Everything up to the end of the connection, at most `limit` bytes appended to `out`.
    fn until_closed(&mut self, limit: usize, out: &mut Vec<u8>) -> Result<(), HttpError> {
        loop {
            let take = (limit - out.len().min(limit)).min(self.buffered().len());
            out.extend_from_slice(self.buffered().get(..take).unwrap_or_default());
            self.pos += take;
            if out.len() >= limit || !self.fill("reading the body")? {
                return Ok(());
            }
        }
    }
}

fn malformed(why: &'static str) -> HttpError {
    HttpError::Malformed { why }
}

/// The head of one response: status and the headers the client uses.
struct Head {
    status: u16,
    content_type: Option<String>,
    length: Option<u64>,
    chunked: bool,
}

fn read_response<S: Read>(
    reader: &mut Reader<'_, S>,
    max_body: usize,
) -> Result<Response, HttpError> {
    let mut interim = 0;
    let head = loop {
        let head = read_head(reader)?;
        if !(100..200).contains(&head.status) {
            break head;
        }
        if head.status == 101 {
            return Err(malformed("101 switching protocols"));
        }
        interim += 1;
        if interim > MAX_INTERIM {
            return Err(malformed("too many interim (1xx) responses"));
        }
    };
    let limit = max_body.saturating_add(1);
    let mut body = Vec::new();
    if matches!(head.status, 204 | 304) {
        // No body, whatever the headers say.
    } else if head.chunked {
        read_chunked(reader, limit, &mut body)?;
    } else if let Some(length) = head.length {
        let take = usize::try_from(length).unwrap_or(usize::MAX).min(limit);
        reader.exact(take, &mut body, "reading the body")?;
    } else {
        reader.until_closed(limit, &mut body)?;
    }
    Ok(Response {
        status: head.status,
        content_type: head.content_type,
        body,
    })
}

fn read_head<S: Read>(reader: &mut Reader<'_, S>) -> Result<Head, HttpError> {
    let mut budget = MAX_HEAD_LEN;
    let mut next_line = |reader: &mut Reader<'_, S>| -> Result<Vec<u8>, HttpError> {
        let line = reader
            .line(budget, "reading the response head")?
            .ok_or(HttpError::HeadTooLarge)?;
        budget = budget.saturating_sub(line.len() + 2);
        Ok(line)
    };
    let status = parse_status_line(&next_line(reader)?)?;
    let mut head = Head {
        status,
        content_type: None,
        length: None,
        chunked: false,
    };
    let mut coding = false;
    for _ in 0..=MAX_HEADERS {
        let line = next_line(reader)?;
        if line.is_empty() {
            if coding && head.length.is_some() {
                return Err(malformed("both Content-Length and Transfer-Encoding"));
            }
            return Ok(head);
        }
        let (name, value) = parse_header(&line)?;
        if name.eq_ignore_ascii_case("content-length") {
            let length = parse_length(value)?;
            if head.length.is_some_and(|l| l != length) {
                return Err(malformed("two different Content-Length headers"));
            }
            head.length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if coding || !value.eq_ignore_ascii_case("chunked") {
                return Err(malformed("a transfer coding other than chunked"));
            }
            coding = true;
            head.chunked = true;
        } else if name.eq_ignore_ascii_case("content-type") {
            if head.content_type.is_some() {
                return Err(malformed("two Content-Type headers"));
            }
            head.content_type = Some(value.to_owned());
        }
    }
    Err(HttpError::HeadTooLarge)
}

fn parse_status_line(line: &[u8]) -> Result<u16, HttpError> {
    let bad = || malformed("not an HTTP/1.x status line");
    let rest = line.strip_prefix(b"HTTP/1.").ok_or_else(bad)?;
    let (minor, rest) = rest.split_first().ok_or_else(bad)?;
    let rest = rest.strip_prefix(b" ").ok_or_else(bad)?;
    let (code, reason) = rest.split_at_checked(3).ok_or_else(bad)?;
    if !minor.is_ascii_digit()
        || !code.iter().all(u8::is_ascii_digit)
        || !(reason.is_empty() || reason.starts_with(b" "))
    {
        return Err(bad());
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Err(bad());
    }
    Ok(status)
}

fn parse_header(line: &[u8]) -> Result<(&str, &str), HttpError> {
    let text = std::str::from_utf8(line).map_err(|_| malformed("a header is not UTF-8"))?;
    if text.starts_with([' ', '\t']) {
        return Err(malformed("a folded header line"));
    }
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| malformed("a header line without a colon"))?;
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(malformed("a header name that is not a token"));
    }
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(malformed("a control character in a header value"));
    }
    Ok((name, value.trim_matches([' ', '\t'])))
}

fn parse_length(value: &str) -> Result<u64, HttpError> {
    // Some servers repeat the length in one header ("5, 5"): every item must be the same.
    let mut length = None;
    for item in value.split(',').map(|v| v.trim_matches([' ', '\t'])) {
        let n = (!item.is_empty() && item.len() <= 19 && item.bytes().all(|b| b.is_ascii_digit()))
            .then(|| item.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| malformed("Content-Length is not a decimal number"))?;
        if length.is_some_and(|l| l != n) {
            return Err(malformed("two different Content-Length values"));
        }
        length = Some(n);
    }
    length.ok_or_else(|| malformed("an empty Content-Length"))
}

/// A chunked body (RFC 9112 §7.1): chunk extensions and trailers are read and ignored; at
/// most `limit` bytes are kept, and reading stops there.
fn read_chunked<S: Read>(
    reader: &mut Reader<'_, S>,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), HttpError> {
    const ACTION: &str = "reading the chunked body";
    loop {
        let line = reader
            .line(MAX_CHUNK_LINE, ACTION)?
            .ok_or_else(|| malformed("a chunk-size line that is too long"))?;
        let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
        let size_text = size_text.trim_ascii();
        if size_text.is_empty()
            || size_text.len() > 15
            || !size_text.iter().all(u8::is_ascii_hexdigit)
        {
            return Err(malformed("a chunk size that is not hexadecimal"));
        }
        let size = size_text.iter().fold(0u64, |n, &d| {
            n * 16 + u64::from(char::from(d).to_digit(16).unwrap_or_default())
        });
        if size == 0 {
            break;
        }
        let room = limit - out.len().min(limit);
        let take = usize::try_from(size).unwrap_or(usize::MAX).min(room);
        reader.exact(take, out, ACTION)?;
        if out.len() >= limit {
            // Larger than the caller reads: the rest is never looked at.
            return Ok(());
        }
        if reader.line(2, ACTION)? != Some(Vec::new()) {
            return Err(malformed("chunk data longer than its size"));
        }
    }
    for _ in 0..MAX_TRAILERS {
        match reader.line(MAX_CHUNK_LINE, ACTION)? {
            Some(line) if line.is_empty() => return Ok(()),
            Some(_) => {}
            None => return Err(malformed("a trailer line that is too long")),
        }
    }
    Err(malformed("too many trailer lines"))
}

#[cfg(test)]
mod tests;
