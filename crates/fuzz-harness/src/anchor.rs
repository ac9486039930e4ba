//! `anchor`: the bytes as keys, signed notes and anchors.

use super::*;

/// `anchor`: the bytes as a key string (both kinds), as a signed note opened with the fixed
/// public key, as an anchor; and as a note body signed here, so that the anchor body parser
/// is reached behind a valid signature. An anchor that opens signs and opens to itself.
pub fn anchor(data: &[u8]) {
    let f = fixtures();
    let text = String::from_utf8_lossy(data);
    if let Ok(public) = NoteVerifier::parse(&text) {
        assert_eq!(
            NoteVerifier::parse(&public.to_key_string()).as_ref(),
            Ok(&public)
        );
        let _ = public.verify_bytes(data, &[0; 64]);
    }
    if let Ok(signer) = NoteSigner::parse(&text) {
        let again = NoteSigner::parse(&signer.to_key_string()).map(|s| s.verifier());
        assert_eq!(again, Ok(signer.verifier()));
    }
    if let Ok(body) = f.public.open(&text) {
        assert!(text.starts_with(body), "an opened note's body is its start");
        signed_bytes_alone_decide(&text, body);
    }
    let _ = Anchor::open(&text, &f.public);
    let Ok(note) = f.signer.sign(&text) else {
        return;
    };
    assert_eq!(
        f.public.open(&note),
        Ok(&*text),
        "a note signed here opens to its body"
    );
    if let Ok(anchor) = Anchor::open(&note, &f.public) {
        let _ = anchor.head_seq();
        if let Ok(resigned) = anchor.sign(&f.signer) {
            assert_eq!(
                Anchor::open(&resigned, &f.public).as_ref(),
                Ok(&anchor),
                "an anchor does not survive signing and opening"
            );
        }
    }
}

/// For a note that opens: what is read from it depends on its signed body alone — the anchor
/// it holds is the one the body signed here gives — and nothing added after its signatures
/// changes the body or the anchor (it is refused, or it is another signature line).
fn signed_bytes_alone_decide(text: &str, body: &str) {
    let f = fixtures();
    let anchor = Anchor::open(text, &f.public).ok();
    if let Ok(note) = f.signer.sign(body) {
        assert_eq!(
            Anchor::open(&note, &f.public).ok(),
            anchor,
            "an anchor is read from more than its signed body"
        );
    }
    let our_line = text
        .get(body.len()..)
        .unwrap_or_default()
        .trim_start_matches('\n');
    let suffixes = [
        "x\n".to_owned(),
        "\n\u{2014} other AAAAAAAAAA==\n".to_owned(),
        format!("{body}\n"),
        our_line.to_owned(),
    ];
    for suffix in &suffixes {
        let longer = format!("{text}{suffix}");
        if let Ok(opened) = f.public.open(&longer) {
            assert_eq!(
                opened, body,
                "text after a note's signatures changed its body"
            );
            assert_eq!(
                Anchor::open(&longer, &f.public).ok(),
                anchor,
                "text after a note's signatures changed its anchor"
            );
        }
    }
}
