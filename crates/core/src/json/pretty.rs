//! Re-indenting a compact JSON text as Python's `json.dumps(..., indent=n)` lays it out.

use super::scan::end_of_string;

/// Re-indents a compact JSON text (such as the canonical form) the way Python's
/// `json.dumps(..., indent=indent)` lays it out: one member or element a line, `": "` after
/// keys, empty containers kept as `{}` and `[]`. Strings are copied as they are.
pub fn pretty(compact: &[u8], indent: usize) -> String {
    let mut out = Vec::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut i = 0;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * indent));
    };
    while let Some(&b) = compact.get(i) {
        match b {
            b'"' => {
                let end = end_of_string(compact, i).unwrap_or(compact.len());
                out.extend_from_slice(compact.get(i..end).unwrap_or_default());
                i = end;
                continue;
            }
            b'{' | b'[' => {
                let close = if b == b'{' { b'}' } else { b']' };
                if compact.get(i + 1) == Some(&close) {
                    out.extend_from_slice(&[b, close]);
                    i += 2;
                    continue;
                }
                out.push(b);
                depth += 1;
                newline(&mut out, depth);
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b',');
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_matches_python_indent() {
        let text = br#"{"a":[1,{"b":"x,:{"}],"c":{},"d":[]}"#;
        assert_eq!(
            pretty(text, 2),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"x,:{\"\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}"
        );
    }
}
