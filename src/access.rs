//! White- and blacklists of info hashes, loaded from files and swapped whole
//! on reload.
//!
//! File format (opentracker's, plus comments): one 40-hex info hash per line,
//! any case; blank lines and lines starting with `#` are skipped; anything
//! after the hash (separated by a non-hex character) is ignored. A line may
//! also name a 64-hex v2 info hash (kept as the 20 bytes clients announce:
//! its first 20), or two hashes (`V1HEX V2HEX name`, a hybrid release, see
//! `releases`): both are listed. A UTF-8
//! byte-order mark (Notepad) before the first line is skipped. Any other
//! line is reported with `file:line` and its text, and skipped, never fatal.

pub mod changes;
pub mod fifo_lines;

use crate::info_hash::InfoHash;
use std::path::Path;
use std::time::SystemTime;

/// What refusing announces looks like, in opentracker's words.
pub const NOT_AUTHORIZED: &str = "Requested download is not authorized for use with this tracker.";

/// Whether the list names the torrents served or the ones refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only listed hashes are served.
    Whitelist,
    /// Listed hashes are refused.
    Blacklist,
}

/// A loaded access list: sorted hashes for binary search (20 bytes each,
/// no table overhead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessList {
    /// White or black.
    pub mode: Mode,
    hashes: Vec<InfoHash>,
    /// Hashes listed only as the second hash of a line (a hybrid's other
    /// half): the list names `hashes.len() - seconds` releases.
    seconds: usize,
}

/// One line that was not a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub reason: &'static str,
    /// The line as read, escaped and cut (see [`quote`]).
    pub text: String,
}

/// Bytes of a bad line quoted in its message.
pub const QUOTE_MAX: usize = 64;

/// `text` without a leading UTF-8 byte-order mark.
pub fn strip_bom(text: &[u8]) -> &[u8] {
    text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text)
}

/// A line for a log message: at most [`QUOTE_MAX`] bytes of it, printable
/// ASCII as is, anything else (control bytes, UTF-8, a stray `\r`) as
/// `\xNN`, and `...` when it was cut.
pub fn quote(line: &[u8]) -> String {
    let mut out = String::with_capacity(QUOTE_MAX + 8);
    for &b in line.iter().take(QUOTE_MAX) {
        match b {
            b'\\' => out.push_str("\\\\"),
            b' '..=b'~' => out.push(char::from(b)),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\x");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
    if line.len() > QUOTE_MAX {
        out.push_str("...");
    }
    out
}

impl AccessList {
    /// An empty list (a whitelist that refuses everything).
    pub fn empty(mode: Mode) -> Self {
        AccessList {
            mode,
            hashes: Vec::new(),
            seconds: 0,
        }
    }

    /// Whether the list names `hash` (white or black).
    pub fn lists(&self, hash: &InfoHash) -> bool {
        self.hashes.binary_search(hash).is_ok()
    }

    /// Parses file contents; bad lines are returned, not fatal.
    pub fn parse(mode: Mode, text: &[u8]) -> (AccessList, Vec<BadLine>) {
        let mut hashes = Vec::new();
        let (mut firsts, mut seconds) = (Vec::new(), Vec::new());
        let mut bad = Vec::new();
        for (i, raw) in strip_bom(text).split(|&b| b == b'\n').enumerate() {
            match crate::releases::parse_line(raw) {
                None => {}
                Some(Ok(r)) => {
                    hashes.push(r.primary);
                    hashes.extend(r.secondary);
                    firsts.push(r.primary);
                    seconds.extend(r.secondary);
                }
                Some(Err(reason)) => bad.push(BadLine {
                    line: i + 1,
                    reason,
                    text: quote(raw.trim_ascii()),
                }),
            }
        }
        hashes.sort_unstable();
        hashes.dedup();
        hashes.shrink_to_fit();
        // Second hashes that no line names first.
        seconds.sort_unstable();
        seconds.dedup();
        firsts.sort_unstable();
        let seconds = seconds
            .iter()
            .filter(|h| firsts.binary_search(h).is_err())
            .count();
        (
            AccessList {
                mode,
                hashes,
                seconds,
            },
            bad,
        )
    }

    /// Reads and parses `path`.
    pub fn load(mode: Mode, path: &Path) -> std::io::Result<(AccessList, Vec<BadLine>)> {
        let text = std::fs::read(path)?;
        Ok(Self::parse(mode, &text))
    }

    /// Whether announces for `hash` are served.
    pub fn allows(&self, hash: &InfoHash) -> bool {
        let listed = self.hashes.binary_search(hash).is_ok();
        match self.mode {
            Mode::Whitelist => listed,
            Mode::Blacklist => !listed,
        }
    }

    /// Hashes listed.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Releases listed: hashes, the second hash of a two-hash line not
    /// counted apart.
    pub fn releases(&self) -> usize {
        self.hashes.len() - self.seconds
    }

    /// True when no hash is listed.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// What identifies a version of a file for the mtime-based reload.
pub fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse_hex20;

    const A: &str = "0123456789abcdef0123456789abcdef01234567";
    const B: &str = "FEDCBA9876543210FEDCBA9876543210FEDCBA98";

    #[test]
    fn hashes_comments_and_trailing_text() {
        let text = format!("# releases\n\n{A}\n  {B}  my-release.iso\n{A}#dup\n");
        let (list, bad) = AccessList::parse(Mode::Whitelist, text.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!((list.len(), list.releases()), (2, 2));
        assert!(list.allows(&parse_hex20(A.as_bytes()).unwrap()));
        assert!(list.allows(&parse_hex20(B.as_bytes()).unwrap()));
        assert!(!list.allows(&[0; 20]));
    }

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let text = format!("{A}\nnot a hash\n{}\n{A}0\n{B}\r\n", &B[..39]);
        let (list, bad) = AccessList::parse(Mode::Whitelist, text.as_bytes());
        assert_eq!(list.len(), 2, "CRLF line endings are fine");
        assert_eq!(
            bad.iter().map(|b| b.line).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
    }

    #[test]
    fn a_byte_order_mark_does_not_cost_the_first_hash() {
        let text = format!("\u{feff}{A} first release\r\n{B}\r\n");
        let (list, bad) = AccessList::parse(Mode::Whitelist, text.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(list.len(), 2);
        assert!(list.allows(&parse_hex20(A.as_bytes()).unwrap()));
    }

    #[test]
    fn a_bad_line_is_quoted_escaped_and_cut() {
        let long = "x".repeat(100);
        let text = format!("{A}\n{}\tr\u{e9}\\\n{long}\n", &B[..39]);
        let (_, bad) = AccessList::parse(Mode::Whitelist, text.as_bytes());
        assert_eq!(bad[0].text, format!("{}\\x09r\\xc3\\xa9\\\\", &B[..39]));
        assert_eq!(bad[1].text, format!("{}...", &long[..QUOTE_MAX]));
        assert_eq!(quote(b"ok"), "ok");
    }

    #[test]
    fn v2_and_two_hash_lines_list_every_hash() {
        let v2 = "ab".repeat(32);
        let text = format!(
            "{v2} v2 only\n{A} {} hybrid.iso\n{}\n{A}{v2}\n",
            v2.replace("ab", "cd"),
            &v2[..50]
        );
        let (list, bad) = AccessList::parse(Mode::Whitelist, text.as_bytes());
        assert_eq!(list.len(), 3);
        assert!(
            list.allows(&[0xab; 20]),
            "a v2 hash is served as its first 20 bytes"
        );
        assert!(list.allows(&[0xcd; 20]));
        assert!(list.allows(&parse_hex20(A.as_bytes()).unwrap()));
        assert_eq!(list.releases(), 2, "the hybrid is one release");
        assert_eq!(
            bad.iter().map(|b| (b.line, b.reason)).collect::<Vec<_>>(),
            vec![
                (3, crate::releases::BAD_HASH),
                (4, crate::releases::BAD_HASH)
            ]
        );
    }

    #[test]
    fn blacklist_inverts() {
        let (list, _) = AccessList::parse(Mode::Blacklist, A.as_bytes());
        assert!(!list.allows(&parse_hex20(A.as_bytes()).unwrap()));
        assert!(list.allows(&[0; 20]));
        assert!(!AccessList::empty(Mode::Whitelist).allows(&[0; 20]));
    }
}
