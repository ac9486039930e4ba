//! Witnesses behind an HTTP proxy, as curl and Go find one: `HTTPS_PROXY` (or `https_proxy`)
//! for `https://` witnesses, `HTTP_PROXY` (or `http_proxy`) for `http://` ones, unless
//! `NO_PROXY` (or `no_proxy`) names the witness's host. Loopback witnesses (`localhost`,
//! `127.0.0.0/8`, `::1`) are always reached directly, as Go does.
//!
//! The proxy is an `http://[user:password@]host[:port]` URL (port 80 by default; a bare
//! `host:port` is read as `http://host:port`). Both schemes are tunnelled with `CONNECT
//! host:port`, so the proxy never sees a request, only TLS for `https` witnesses. User
//! information (percent-decoded) goes in a `Proxy-Authorization: Basic` header and never into
//! a message: proxies are shown as `http://host:port`.
//!
//! `NO_PROXY` is a comma-separated list: `*` (no proxy at all), host names (each also matching
//! its subdomains; a leading `.` is allowed), IP addresses, each optionally with `:port`, and
//! CIDR blocks (`10.0.0.0/8`, `fd00::/8`).

use std::net::IpAddr;

use super::http::HttpError;
use super::url::{Scheme, WitnessUrl};

/// A proxy to tunnel through.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `user:password`, percent-decoded (as curl and Go read user information).
    credentials: Option<Vec<u8>>,
    /// Which variable named it.
    pub(crate) from: &'static str,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("proxy", &self.shown())
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// `http://host:port`, for messages (never the credentials).
    pub(crate) fn shown(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }

    /// The `Proxy-Authorization` header line, if the proxy URL had user information.
    pub(crate) fn authorization(&self) -> Option<String> {
        self.credentials.as_ref().map(|c| {
            format!(
                "Proxy-Authorization: Basic {}\r\n",
                trailseal_core::base64::encode(c)
            )
        })
    }
}

/// The proxy for `url` given the environment `var` reads, `None` to connect directly.
pub(crate) fn proxy_for(
    url: &WitnessUrl,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, HttpError> {
    if is_loopback(url.host()) {
        return Ok(None);
    }
    let names: [&'static str; 2] = match url.scheme() {
        Scheme::Https => ["HTTPS_PROXY", "https_proxy"],
        _ => ["HTTP_PROXY", "http_proxy"],
    };
    let Some((from, value)) = names
        .iter()
        .find_map(|&n| var(n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)))
    else {
        return Ok(None);
    };
    let no_proxy = var("NO_PROXY")
        .or_else(|| var("no_proxy"))
        .unwrap_or_default();
    if excluded(&no_proxy, url.host(), url.port()) {
        return Ok(None);
    }
    parse_proxy(value.trim(), from).map(Some)
}

fn bad(from: &'static str, why: &'static str) -> HttpError {
    HttpError::ProxyConfig { from, why }
}

fn parse_proxy(text: &str, from: &'static str) -> Result<Proxy, HttpError> {
    if text.len() > 2048 || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(from, "not a URL of visible ASCII"));
    }
    let lower = text.to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        text.get("http://".len()..).unwrap_or_default()
    } else if lower.contains("://") {
        return Err(bad(
            from,
            "only http:// proxies are supported (a TLS connection to the proxy is not)",
        ));
    } else {
        text
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err(bad(from, "a proxy URL has no path, query or fragment"));
    }
    let (credentials, authority) = match rest.rsplit_once('@') {
        Some((user, host)) => (
            Some(percent_decode(user).ok_or_else(|| {
                bad(
                    from,
                    "the user information has a % not followed by two hex digits",
                )
            })?),
            host,
        ),
        None => (None, rest),
    };
    let (host, port) = split_host_port(authority).ok_or_else(|| bad(from, "bad host or port"))?;
    Ok(Proxy {
        host,
        port: port.unwrap_or(80),
        credentials,
        from,
    })
}

/// `%XX` sequences decoded; `None` for a `%` without two hex digits after it.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).and_then(|&d| char::from(d).to_digit(16));
            let (hi, lo) = (hex(i + 1)?, hex(i + 2)?);
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

/// `host[:port]`, the host in lower case.
fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    super::url::split_host_port(authority).map(|(host, port)| (host.to_ascii_lowercase(), port))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `NO_PROXY` sends `host:port` directly.
fn excluded(no_proxy: &str, host: &str, port: u16) -> bool {
    let host = host.to_ascii_lowercase();
    no_proxy
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            if let Some((net, bits)) = entry.split_once('/') {
                return in_block(net, bits, &host);
            }
            let Some((name, entry_port)) =
                split_host_port(entry.strip_prefix('.').unwrap_or(entry))
            else {
                return false;
            };
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            match (name.parse::<IpAddr>(), host.parse::<IpAddr>()) {
                (Ok(a), Ok(b)) => a == b,
                (Ok(_), Err(_)) | (Err(_), Ok(_)) => false,
                (Err(_), Err(_)) => host == name || host.ends_with(&format!(".{name}")),
            }
        })
}

/// Whether the IP address `host` is in the CIDR block `net/bits` (`10.0.0.0/8`,
/// `fd00::/8`); a host name never is.
fn in_block(net: &str, bits: &str, host: &str) -> bool {
    let Ok(bits) = bits.parse::<u32>() else {
        return false;
    };
    let net = net.trim_start_matches('[').trim_end_matches(']');
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match (net.parse::<IpAddr>(), host.parse::<IpAddr>()) {
        (Ok(IpAddr::V4(n)), Ok(IpAddr::V4(h))) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(h) & mask
        }
        (Ok(IpAddr::V6(n)), Ok(IpAddr::V6(h))) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(h) & mask
        }
        _ => false,
    }
}

#[cfg(all(test, feature = "https"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn pick(url: &str, pairs: &[(&str, &str)]) -> Option<Proxy> {
        proxy_for(&WitnessUrl::parse(url).unwrap(), &env(pairs)).unwrap()
    }

    #[test]
    fn the_scheme_chooses_the_variable() {
        let vars = [
            ("HTTPS_PROXY", "http://tls-proxy:3128"),
            ("HTTP_PROXY", "plain-proxy:8080"),
        ];
        let p = pick("https://w.example", &vars).unwrap();
        assert_eq!(
            (p.shown(), p.from),
            ("http://tls-proxy:3128".into(), "HTTPS_PROXY")
        );
        let p = pick("http://w.example", &vars).unwrap();
        assert_eq!(
            (p.shown(), p.from),
            ("http://plain-proxy:8080".into(), "HTTP_PROXY")
        );
        // Lower case too; upper case first; empty is none.
        let p = pick("https://w.example", &[("https_proxy", "http://lower:1")]).unwrap();
        assert_eq!(p.from, "https_proxy");
        assert!(pick("https://w.example", &[("HTTPS_PROXY", " ")]).is_none());
        assert!(pick("https://w.example", &[("HTTP_PROXY", "http://p:1")]).is_none());
    }

    #[test]
    fn loopback_and_no_proxy_go_direct() {
        let vars = |no: &'static str| vec![("HTTPS_PROXY", "http://p:3128"), ("NO_PROXY", no)];
        for url in [
            "https://127.0.0.1:9",
            "https://[::1]",
            "https://localhost:7",
            "https://a.localhost",
        ] {
            assert!(pick(url, &vars("")).is_none(), "{url}");
        }
        for (no, url) in [
            ("*", "https://w.example"),
            ("example", "https://w.example"),
            (".example", "https://w.example"),
            ("w.example", "https://W.EXAMPLE"),
            ("other, w.example:443", "https://w.example"),
            ("10.0.0.7", "https://10.0.0.7"),
            ("[2001:db8::1]", "https://[2001:db8::1]"),
            ("10.0.0.0/8", "https://10.200.3.4"),
            ("192.168.4.0/22", "https://192.168.7.255"),
            ("0.0.0.0/0", "https://203.0.113.9"),
            ("2001:db8::/32", "https://[2001:db8:ffff::1]"),
        ] {
            assert!(pick(url, &vars(no)).is_none(), "{no} / {url}");
        }
        for (no, url) in [
            ("ample", "https://w.example"),
            ("w.example:8443", "https://w.example"),
            ("10.0.0.8", "https://10.0.0.7"),
            ("x.w.example", "https://w.example"),
            ("10.0.0.0/8", "https://11.0.0.1"),
            ("192.168.4.0/22", "https://192.168.8.0"),
            ("10.0.0.0/8", "https://w.example"),
            ("10.0.0.0/33", "https://10.0.0.1"),
            ("10.0.0.0/x", "https://10.0.0.1"),
            ("2001:db8::/32", "https://[2001:db9::1]"),
            ("10.0.0.0/8", "https://[::ffff:10.0.0.1]"),
        ] {
            assert!(pick(url, &vars(no)).is_some(), "{no} / {url}");
        }
        let lower = [("HTTPS_PROXY", "http://p:3128"), ("no_proxy", "w.example")];
        assert!(pick("https://w.example", &lower).is_none());
    }

    #[test]
    fn credentials_are_sent_and_never_shown() {
        let p = pick(
            "https://w.example",
            &[("HTTPS_PROXY", "http://alice:s3cret@proxy.example:3128/")],
        )
        .unwrap();
        assert_eq!(p.shown(), "http://proxy.example:3128");
        assert!(!format!("{p:?}").contains("s3cret"));
        assert_eq!(
            p.authorization().unwrap(),
            format!(
                "Proxy-Authorization: Basic {}\r\n",
                trailseal_core::base64::encode(b"alice:s3cret")
            )
        );
        let p = pick("https://w.example", &[("HTTPS_PROXY", "http://p")]).unwrap();
        assert_eq!((p.port, p.authorization()), (80, None));
        // User information is percent-decoded, as curl and Go do; the last `@` ends it.
        let p = pick(
            "https://w.example",
            &[("HTTPS_PROXY", "http://bob:p%40ss%3Aw0rd@x@proxy:8080")],
        )
        .unwrap();
        assert_eq!(p.shown(), "http://proxy:8080");
        assert_eq!(
            p.authorization().unwrap(),
            format!(
                "Proxy-Authorization: Basic {}\r\n",
                trailseal_core::base64::encode(b"bob:p@ss:w0rd@x")
            )
        );
    }

    #[test]
    fn unusable_proxies_are_refused_by_variable() {
        for bad in [
            "https://p:3128",
            "socks5://p:1080",
            "http://p:0",
            "http://p:99999",
            "http://p/path",
            "http://p x",
            "http://[zz]:1",
            "http://",
            "http://u:pw%4@p:1",
            "http://u:pw%zz@p:1",
        ] {
            let e = proxy_for(
                &WitnessUrl::parse("https://w.example").unwrap(),
                &env(&[("HTTPS_PROXY", bad)]),
            )
            .unwrap_err();
            assert!(e.to_string().starts_with("HTTPS_PROXY: "), "{bad}: {e}");
            assert!(!e.to_string().contains(bad), "{bad}: {e}");
        }
    }
}
