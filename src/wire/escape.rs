//! Escaping untrusted text (release labels) for the pages that show it:
//! HTML text and attribute values, JSON strings, Prometheus label values.
//!
//! Each writer takes any bytes and emits output that cannot end the
//! surrounding string, tag or attribute, whatever the input holds. Labels are
//! cleaned to UTF-8 without control characters when loaded
//! (`labels::clean`); these writers still escape whatever a caller passes.

use super::{Overflow, Writer};

/// Writes `text`, each byte that `rep` maps (into a scratch buffer, returning
/// the length) replaced by its mapping, and invalid UTF-8 as U+FFFD.
fn put_escaped(
    w: &mut Writer<'_>,
    text: &[u8],
    rep: fn(u8, &mut [u8; 6]) -> Option<usize>,
) -> Result<(), Overflow> {
    for chunk in text.utf8_chunks() {
        let valid = chunk.valid().as_bytes();
        let mut start = 0;
        for (i, &b) in valid.iter().enumerate() {
            let mut tmp = [0u8; 6];
            let Some(n) = rep(b, &mut tmp) else {
                continue;
            };
            w.put(&valid[start..i])?;
            w.put(&tmp[..n])?;
            start = i + 1;
        }
        w.put(&valid[start..])?;
        if !chunk.invalid().is_empty() {
            w.put("\u{FFFD}".as_bytes())?;
        }
    }
    Ok(())
}

fn set(tmp: &mut [u8; 6], s: &[u8]) -> Option<usize> {
    tmp[..s.len()].copy_from_slice(s);
    Some(s.len())
}

/// Writes `text` for HTML text or a double- or single-quoted attribute value:
/// `& < > " '` become character references, control characters a space,
/// invalid UTF-8 U+FFFD.
pub fn put_html(w: &mut Writer<'_>, text: &[u8]) -> Result<(), Overflow> {
    put_escaped(w, text, |b, tmp| match b {
        b'&' => set(tmp, b"&amp;"),
        b'<' => set(tmp, b"&lt;"),
        b'>' => set(tmp, b"&gt;"),
        b'"' => set(tmp, b"&quot;"),
        b'\'' => set(tmp, b"&#39;"),
        0..=0x1F | 0x7F => set(tmp, b" "),
        _ => None,
    })
}

/// Writes `text` as the inside of a JSON string: `"` and `\` escaped, control
/// characters as `\uXXXX`, `<` `>` `&` as `\u003c` … (so a JSON document
/// pasted into a page cannot open a tag). Invalid UTF-8 becomes U+FFFD.
pub fn put_json(w: &mut Writer<'_>, text: &[u8]) -> Result<(), Overflow> {
    put_escaped(w, text, |b, tmp| match b {
        b'"' => set(tmp, b"\\\""),
        b'\\' => set(tmp, b"\\\\"),
        b'\n' => set(tmp, b"\\n"),
        b'\r' => set(tmp, b"\\r"),
        b'\t' => set(tmp, b"\\t"),
        0..=0x1F | 0x7F | b'<' | b'>' | b'&' => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]];
            set(tmp, &[b'\\', b'u', b'0', b'0', hex[0], hex[1]])
        }
        _ => None,
    })
}

/// Writes `text` as a Prometheus label value (inside its double quotes):
/// `\` `"` and newline escaped as the text format requires, other control
/// characters dropped, invalid UTF-8 as U+FFFD (the format is UTF-8).
pub fn put_prometheus(w: &mut Writer<'_>, text: &[u8]) -> Result<(), Overflow> {
    put_escaped(w, text, |b, tmp| match b {
        b'\\' => set(tmp, b"\\\\"),
        b'"' => set(tmp, b"\\\""),
        b'\n' => set(tmp, b"\\n"),
        0..=0x1F | 0x7F => Some(0),
        _ => None,
    })
}

/// Writes `bytes` as lower-case hex (info hashes on the JSON and HTML pages).
pub fn put_hex_lower(w: &mut Writer<'_>, bytes: &[u8]) -> Result<(), Overflow> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        w.put(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: fn(&mut Writer<'_>, &[u8]) -> Result<(), Overflow>, input: &[u8]) -> Vec<u8> {
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        f(&mut w, input).unwrap();
        w.written().to_vec()
    }

    #[test]
    fn html_escapes_markup_quotes_and_controls() {
        assert_eq!(
            run(put_html, b"<script>alert('x')</script>"),
            b"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(
            run(put_html, b"a\"b&c\n\x00d"),
            b"a&quot;b&amp;c  d".as_slice()
        );
        assert_eq!(
            run(put_html, "caf\u{e9} 1.0".as_bytes()),
            "caf\u{e9} 1.0".as_bytes()
        );
        assert_eq!(run(put_html, b"x\xe9y"), "x\u{FFFD}y".as_bytes());
    }

    #[test]
    fn json_escapes_quotes_backslashes_controls_and_bad_utf8() {
        assert_eq!(run(put_json, b"a\"b\\c"), b"a\\\"b\\\\c");
        assert_eq!(run(put_json, b"l1\nl2\t\x01"), b"l1\\nl2\\t\\u0001");
        assert_eq!(
            run(put_json, b"</script>"),
            b"\\u003c/script\\u003e".as_slice()
        );
        assert_eq!(
            run(put_json, b"ok\xff\xfeend"),
            "ok\u{FFFD}\u{FFFD}end".as_bytes()
        );
        assert_eq!(
            run(put_json, "\u{e9}\u{1F600}".as_bytes()),
            "\u{e9}\u{1F600}".as_bytes()
        );
    }

    #[test]
    fn prometheus_escapes_what_the_text_format_requires() {
        assert_eq!(run(put_prometheus, b"a\\b\"c\nd"), b"a\\\\b\\\"c\\nd");
        assert_eq!(run(put_prometheus, b"x\x07y\x7f"), b"xy");
        assert_eq!(run(put_prometheus, b"\xc3("), "\u{FFFD}(".as_bytes());
    }

    #[test]
    fn overflow_is_reported() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        assert_eq!(put_html(&mut w, b"<<"), Err(Overflow));
    }
}
