//! Finding a top-level member of a JSON text without parsing the rest.

pub(super) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws_at(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(|b| is_ws(*b)) {
        i += 1;
    }
    i
}

/// Index just past the closing quote of the string whose opening quote is at `i`.
pub(super) fn end_of_string(text: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', text.get(j..)?)?;
        match text.get(k)? {
            b'\\' => j = k + 2,
            _ => return Some(k + 1),
        }
    }
}

/// Index just past the value starting at `i`.
fn skip_value(text: &[u8], i: usize) -> Option<usize> {
    match text.get(i)? {
        b'"' => end_of_string(text, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match text.get(j)? {
                    b'"' => {
                        j = end_of_string(text, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while text
                .get(j)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !is_ws(*b))
            {
                j += 1;
            }
            Some(j)
        }
    }
}

/// Whether `text` is one JSON object or array whose closing bracket is its last byte, as far
/// as brackets and strings go (the values in it are not checked): what a reader that takes
/// the rest of a line after a key as that key's value must know. Never panics.
pub fn is_one_bracketed_value(text: &[u8]) -> bool {
    matches!(text.first(), Some(b'{' | b'[')) && skip_value(text, 0) == Some(text.len())
}

/// Finds the top-level member `key` of a JSON object text and returns the raw (still escaped)
/// content of its string value, without parsing the rest. `key` must be plain ASCII without
/// characters that need escaping. Returns `None` when the member is absent, is not a string,
/// or the text is not a well-formed object. Never panics.
pub fn find_top_level_string<'t>(text: &'t [u8], key: &str) -> Option<&'t [u8]> {
    let mut i = skip_ws_at(text, 0);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws_at(text, i + 1);
    if text.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        if text.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = end_of_string(text, i)?;
        let found = text.get(i + 1..key_end - 1)?;
        i = skip_ws_at(text, key_end);
        if text.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws_at(text, i + 1);
        if found == key.as_bytes() {
            if text.get(i) != Some(&b'"') {
                return None;
            }
            let end = end_of_string(text, i)?;
            return text.get(i + 1..end - 1);
        }
        i = skip_ws_at(text, skip_value(text, i)?);
        match text.get(i)? {
            b',' => i = skip_ws_at(text, i + 1),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_string_scan() {
        let text = br#"{"a":{"action_id":"no"},"action_id":"x\"y","b":[1,"]"],"invoked_at":"t"}"#;
        assert_eq!(
            find_top_level_string(text, "action_id"),
            Some(&br#"x\"y"#[..])
        );
        assert_eq!(find_top_level_string(text, "invoked_at"), Some(&b"t"[..]));
        assert_eq!(find_top_level_string(text, "b"), None);
        assert_eq!(find_top_level_string(text, "zz"), None);
        for cut in 0..text.len() {
            let _ = find_top_level_string(&text[..cut], "invoked_at");
        }
    }
}
