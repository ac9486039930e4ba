//! Witness URLs: `http://host[:port][/prefix]` and `https://host[:port][/prefix]`. The host is
//! a name, an IPv4 address or a bracketed IPv6 address; the prefix is a path of visible ASCII
//! (no spaces, `?` or `#`); user information (`user@`) is refused so that no credential can end
//! up in a message. `https` needs the `https` feature (TLS by rustls); a build without it
//! refuses `https://` URLs with their own error.

/// A URL that cannot be used for a witness.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    #[error(
        "witness url {url}: this build has no TLS (the `https` feature); use http:// (for example over a local tunnel)"
    )]
    HttpsUnsupported { url: String },
    #[error("witness url {url}: {why}")]
    Invalid { url: String, why: &'static str },
}

/// How a witness is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// Plain HTTP/1.1 over TCP.
    Http,
    /// HTTP/1.1 over TLS 1.2 or 1.3, the server's certificate checked against the platform's
    /// trust store for the URL's host.
    Https,
}

impl Scheme {
    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// A parsed `http://` or `https://` witness URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessUrl {
    text: String,
    scheme: Scheme,
    host: String,
    port: u16,
    prefix: String,
}

impl WitnessUrl {
    /// Reads `http[s]://host[:port][/prefix]` (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let invalid = |why| UrlError::Invalid {
            url: shown(text),
            why,
        };
        if text.len() > 2048 {
            return Err(invalid("longer than 2048 bytes"));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "not visible ASCII (no spaces or control characters)",
            ));
        }
        let lower = text.to_ascii_lowercase();
        let (scheme, rest) = if lower.starts_with("https://") {
            if cfg!(not(feature = "https")) {
                return Err(UrlError::HttpsUnsupported { url: shown(text) });
            }
            (Scheme::Https, text.get("https://".len()..))
        } else if lower.starts_with("http://") {
            (Scheme::Http, text.get("http://".len()..))
        } else {
            (Scheme::Http, None)
        };
        let rest = rest.ok_or_else(|| invalid("not an http:// or https:// url"))?;
        if rest.contains(['?', '#']) {
            return Err(invalid("a query or fragment is not allowed"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(invalid("user information (user@) is not allowed"));
        }
        let (host, port) = split_authority(authority, scheme.default_port())
            .ok_or_else(|| invalid("bad host or port"))?;
        let prefix = path.trim_end_matches('/').to_owned();
        Ok(Self {
            text: text.to_owned(),
            scheme,
            host,
            port,
            prefix,
        })
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host (an IPv6 address without its brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The port (80 for `http`, 443 for `https` when none is given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path of `endpoint` (for example `add-checkpoint`) under the prefix.
    pub fn path(&self, endpoint: &str) -> String {
        format!("{}/{endpoint}", self.prefix)
    }

    /// The `Host` header's value.
    pub(crate) fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl std::fmt::Display for WitnessUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// At most 200 characters of a refused URL, for messages, with any user information (what
/// comes between `://` and the last `@`) hidden.
fn shown(text: &str) -> String {
    let hidden;
    let text = match (text.find("://"), text.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            hidden = format!(
                "{}://(hidden)@{}",
                text.get(..start).unwrap_or_default(),
                text.get(at + 1..).unwrap_or_default()
            );
            hidden.as_str()
        }
        _ => text,
    };
    text.chars()
        .take(200)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

fn split_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = split_host_port(authority)?;
    Some((host, port.unwrap_or(default_port)))
}

/// `host[:port]` or `[v6][:port]`: the host (a name, an IPv4 address, or an IPv6 address
/// without its brackets) and the port when one is given (1–65535). Also read by the proxy
/// variables.
pub(super) fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        host.parse::<std::net::Ipv6Addr>().ok()?;
        if after.is_empty() {
            (host, None)
        } else {
            (host, Some(after.strip_prefix(':')?))
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && (host.contains(':')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')));
    if !host_ok {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().ok().filter(|&p: &u16| p != 0)?)
        }
        Some(_) => return None,
    };
    Some((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_are_read() {
        let u = WitnessUrl::parse("http://127.0.0.1:7380").unwrap();
        assert_eq!((u.host(), u.port()), ("127.0.0.1", 7380));
        assert_eq!(u.path("add-checkpoint"), "/add-checkpoint");
        assert_eq!(u.host_header(), "127.0.0.1:7380");
        let u = WitnessUrl::parse("HTTP://witness.example/w1/").unwrap();
        assert_eq!((u.host(), u.port()), ("witness.example", 80));
        assert_eq!(u.path("add-checkpoint"), "/w1/add-checkpoint");
        assert_eq!(u.host_header(), "witness.example");
        let u = WitnessUrl::parse("http://[::1]:81/p").unwrap();
        assert_eq!((u.host(), u.port()), ("::1", 81));
        assert_eq!(u.host_header(), "[::1]:81");
    }

    #[cfg(feature = "https")]
    #[test]
    fn https_urls_are_read() {
        let u = WitnessUrl::parse("HTTPS://witness.example/w1/").unwrap();
        assert_eq!(u.scheme(), Scheme::Https);
        assert_eq!((u.host(), u.port()), ("witness.example", 443));
        assert_eq!(u.path("add-checkpoint"), "/w1/add-checkpoint");
        assert_eq!(u.host_header(), "witness.example");
        let u = WitnessUrl::parse("https://127.0.0.1:8443").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.host_header().as_str()),
            ("127.0.0.1", 8443, "127.0.0.1:8443")
        );
        // Port 80 is not the default of https, nor 443 of http.
        assert_eq!(
            WitnessUrl::parse("https://h:80").unwrap().host_header(),
            "h:80"
        );
        assert_eq!(
            WitnessUrl::parse("http://h:443").unwrap().host_header(),
            "h:443"
        );
        assert_eq!(
            WitnessUrl::parse("http://h").unwrap().scheme(),
            Scheme::Http
        );
        for bad in [
            "https://",
            "https://h:0",
            "https://user:pw@h",
            "https://h/p?q",
        ] {
            assert!(
                matches!(WitnessUrl::parse(bad), Err(UrlError::Invalid { .. })),
                "{bad:?}"
            );
        }
    }

    #[cfg(not(feature = "https"))]
    #[test]
    fn https_without_tls_has_its_own_error() {
        assert!(matches!(
            WitnessUrl::parse("https://w.example"),
            Err(UrlError::HttpsUnsupported { .. })
        ));
        let e = WitnessUrl::parse("https://w.example").unwrap_err();
        assert!(e.to_string().contains("this build has no TLS"), "{e}");
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "",
            "ftp://x",
            "http://",
            "https:/h",
            "http://:80",
            "http://h:",
            "http://h:0",
            "http://h:65536",
            "http://h:+80",
            "http://user:pw@h",
            "http://h/p?q",
            "http://h/p#f",
            "http://h /p",
            "http://h\r\nX: y",
            "http://[zz]:1",
            "http://[::1]x",
            "http://h\u{e9}",
        ] {
            assert!(
                matches!(WitnessUrl::parse(bad), Err(UrlError::Invalid { .. })),
                "{bad:?}"
            );
        }
        let e = WitnessUrl::parse("http://user:secret@h").unwrap_err();
        assert!(
            e.to_string().starts_with("witness url http://(hidden)@h: "),
            "{e}"
        );
        assert!(!format!("{e} {e:?}").contains("secret"), "{e}");
    }
}
