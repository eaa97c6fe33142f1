//! Lines read from an access FIFO, assembled from whatever pieces the reads
//! return, in a fixed buffer. One line is one release, as in the list file
//! (see `releases::parse_line`): a 40- or 64-hex info hash, any case, or two
//! of them, then the end of the line or a non-hex character (anything after
//! it is the release name); blank lines and `#` comments are
//! skipped. Writers that write whole lines of at most `PIPE_BUF` bytes
//! (4096 on Linux) per write never interleave, so several may share a FIFO.

use crate::info_hash::InfoHash;

/// Longest line kept (one `PIPE_BUF`); longer ones are reported and dropped.
pub const LINE_MAX: usize = 4096;

/// What one line said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// An info hash, a second one of the same release (a hybrid), and the
    /// text after them (a release name on a whitelist).
    Hash(InfoHash, Option<InfoHash>, &'a [u8]),
    /// Not a hash: the line (cut to [`LINE_MAX`]) and why.
    Bad(&'a [u8], &'static str),
}

/// Parses one line (without its newline); `None` for blank lines and comments.
pub fn parse_line(raw: &[u8]) -> Option<Line<'_>> {
    Some(match crate::releases::parse_line(raw)? {
        Ok(r) => Line::Hash(r.primary, r.secondary, r.rest),
        Err(why) => Line::Bad(raw.trim_ascii(), why),
    })
}

/// Collects bytes into lines.
#[derive(Debug)]
pub struct Lines {
    buf: [u8; LINE_MAX],
    len: usize,
    /// The line being read is longer than the buffer: drop it up to its end.
    too_long: bool,
}

impl Default for Lines {
    fn default() -> Self {
        Lines {
            buf: [0; LINE_MAX],
            len: 0,
            too_long: false,
        }
    }
}

impl Lines {
    /// Feeds bytes read; `each` sees every complete line.
    pub fn feed(&mut self, mut bytes: &[u8], each: &mut impl FnMut(Line<'_>)) {
        while !bytes.is_empty() {
            let (piece, rest, ends) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..i], &bytes[i + 1..], true),
                None => (bytes, &bytes[bytes.len()..], false),
            };
            bytes = rest;
            if !self.too_long {
                let room = LINE_MAX - self.len;
                if piece.len() > room {
                    self.buf[self.len..].copy_from_slice(&piece[..room]);
                    self.len = LINE_MAX;
                    self.too_long = true;
                } else {
                    self.buf[self.len..self.len + piece.len()].copy_from_slice(piece);
                    self.len += piece.len();
                }
            }
            if ends {
                self.end_line(each);
            }
        }
    }

    /// The writers are gone: a last line without its newline still counts.
    pub fn finish(&mut self, each: &mut impl FnMut(Line<'_>)) {
        if self.len > 0 || self.too_long {
            self.end_line(each);
        }
    }

    fn end_line(&mut self, each: &mut impl FnMut(Line<'_>)) {
        if self.too_long {
            each(Line::Bad(&self.buf[..64], "line longer than 4096 bytes"));
        } else if let Some(line) = parse_line(&self.buf[..self.len]) {
            each(line);
        }
        self.len = 0;
        self.too_long = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef01234567";

    fn collect(pieces: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::default();
        let mut out = Vec::new();
        let mut each = |l: Line<'_>| {
            out.push(match l {
                Line::Hash(h, None, _) => format!("hash {:02x}", h[0]),
                Line::Hash(h, Some(s), _) => format!("hashes {:02x} {:02x}", h[0], s[0]),
                Line::Bad(text, why) => format!("bad {} ({why})", String::from_utf8_lossy(text)),
            })
        };
        for p in pieces {
            lines.feed(p, &mut each);
        }
        lines.finish(&mut each);
        out
    }

    #[test]
    fn lines_split_across_reads_and_the_last_without_newline() {
        let text = format!("{A}\n\n# c\n{}  release.iso\r\nxyz\n{A}", A.to_uppercase());
        let b = text.as_bytes();
        for cut in [1, 7, 40, 41, 43, b.len() - 1] {
            assert_eq!(
                collect(&[&b[..cut], &b[cut..]]),
                vec![
                    "hash 01",
                    "hash 01",
                    "bad xyz (not a 40- or 64-hex info hash)",
                    "hash 01"
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn overlong_lines_are_reported_once_and_dropped() {
        let long = vec![b'a'; LINE_MAX * 2 + 10];
        let got = collect(&[&long, &long, b"\n", A.as_bytes(), b"\n"]);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].ends_with("(line longer than 4096 bytes)"));
        assert_eq!(got[1], "hash 01");
        assert!(parse_line(format!("{A}0").as_bytes()).is_some_and(|l| matches!(l, Line::Bad(..))));
    }

    #[test]
    fn v2_and_two_hash_lines() {
        let v2 = "fe".repeat(32);
        let text = format!("{v2} v2.iso\n{A} {v2} hybrid.iso\n{v2}0\n");
        assert_eq!(
            collect(&[text.as_bytes()]),
            vec![
                "hash fe",
                "hashes 01 fe",
                "bad fefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefe0 (not a 40- or 64-hex info hash)"
            ]
        );
        assert_eq!(
            parse_line(format!("{A} {v2} hybrid.iso").as_bytes()),
            Some(Line::Hash(
                [
                    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
                    0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67
                ],
                Some([0xfe; 20]),
                b" hybrid.iso"
            ))
        );
    }
}
