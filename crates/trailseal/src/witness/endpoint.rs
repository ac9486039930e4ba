//! A witness as configured on the command line: `URL=VKEY`, the witness's `http://` URL (its
//! tlog-witness prefix) and its cosignature verifier key. The text is split at the first `=`,
//! so the URL cannot contain one. Messages name the URL, never the key text (a private key
//! pasted by mistake must not be echoed).

use trailseal_core::cosignature::{CosignatureError, WitnessKey};

use super::url::{UrlError, WitnessUrl};

/// A `URL=VKEY` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    #[error("witness {0:?}: expected URL=VKEY")]
    Syntax(String),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error("witness {url}: the verifier key: {source}")]
    Key {
        url: String,
        #[source]
        source: CosignatureError,
    },
}

/// One witness: where to send checkpoints and the key its cosignatures must verify with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessEndpoint {
    pub url: WitnessUrl,
    pub key: WitnessKey,
}

impl WitnessEndpoint {
    /// Reads `URL=VKEY`.
    pub fn parse(text: &str) -> Result<Self, EndpointError> {
        let Some((url, vkey)) = text.split_once('=') else {
            // Only the part that can be a URL is shown.
            let shown: String = text
                .chars()
                .take_while(|c| *c != '+')
                .take(100)
                .filter(char::is_ascii_graphic)
                .collect();
            return Err(EndpointError::Syntax(shown));
        };
        let url = WitnessUrl::parse(url)?;
        let key = WitnessKey::parse_vkey(vkey).map_err(|source| EndpointError::Key {
            url: url.to_string(),
            source,
        })?;
        Ok(Self { url, key })
    }

    /// `<name> (<url>)`, for messages.
    pub fn label(&self) -> String {
        format!("{} ({})", self.key.name(), self.url)
    }
}

impl std::str::FromStr for WitnessEndpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailseal_core::cosignature::WitnessSigner;

    #[test]
    fn url_equals_vkey() {
        let key = WitnessSigner::from_seed("w.example/w1", &[3; 32])
            .unwrap()
            .witness_key()
            .clone();
        let e =
            WitnessEndpoint::parse(&format!("http://127.0.0.1:7380/p={}", key.to_vkey())).unwrap();
        assert_eq!(e.key, key);
        assert_eq!(e.url.path("add-checkpoint"), "/p/add-checkpoint");
        assert_eq!(e.label(), "w.example/w1 (http://127.0.0.1:7380/p)");
        let https = WitnessEndpoint::parse(&format!("https://w.example={}", key.to_vkey()));
        if cfg!(feature = "https") {
            let https = https.unwrap();
            assert_eq!(https.label(), "w.example/w1 (https://w.example)");
            assert_eq!(https.url.port(), 443);
        } else {
            assert!(matches!(
                https,
                Err(EndpointError::Url(UrlError::HttpsUnsupported { .. }))
            ));
        }
    }

    #[test]
    fn key_text_is_never_echoed() {
        for bad in [
            "http://127.0.0.1:1=PRIVATE+KEY+w+0123abcd+AVerySecretSeedValue",
            "http://127.0.0.1:1=w+00000000+AAAA",
            "PRIVATE+KEY+w+0123abcd+AVerySecretSeedValue",
        ] {
            let e = WitnessEndpoint::parse(bad).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(
                !shown.contains("AVerySecret") && !shown.contains("AAAA"),
                "{shown}"
            );
        }
    }
}
