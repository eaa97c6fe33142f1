//! Releases as the operator counts them: one whitelist line is one release.
//!
//! A line names one info hash or two (`V1HEX V2HEX name`, a hybrid BEP 52
//! torrent), each either 40 hex digits (a v1 info hash) or 64 (a v2 info
//! hash, the SHA-256 that qBittorrent and libtorrent show as "Info hash
//! v2"). A v2 hash is kept as what clients announce for it: its first 20
//! bytes. Both hashes are served and scraped on their own; the release — its
//! name, its row on the status page, its per-day downloads — is kept under
//! its first hash (the *primary*), and the second one (the *secondary*)
//! points at it through the [`Pairs`] table.

use crate::info_hash::InfoHash;
use crate::wire::hex_val;

/// Why a line is not a release.
pub const BAD_HASH: &str = "not a 40- or 64-hex info hash";

/// One parsed release line: its hashes and the text after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseLine<'a> {
    /// The first hash on the line (the release is kept under it).
    pub primary: InfoHash,
    /// A second hash on the same line (the other half of a hybrid), if any
    /// and if it differs from the first.
    pub secondary: Option<InfoHash>,
    /// What follows the hashes (a release name, or nothing).
    pub rest: &'a [u8],
}

/// A run of 40 or 64 hex digits at the start of `text`, ended by the end of
/// the text or a non-hex byte: the 20 bytes a client announces for it and
/// the text after it. `None` for any other start (a run of another length).
pub fn leading_hash(text: &[u8]) -> Option<(InfoHash, &[u8])> {
    let run = text.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    if run != 40 && run != 64 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in text[..40].chunks_exact(2).enumerate() {
        out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
    }
    Some((out, &text[run..]))
}

/// Hex digits of the hash at the start of `text` (40 or 64).
fn run_len(text: &[u8]) -> usize {
    text.iter().take_while(|c| c.is_ascii_hexdigit()).count()
}

/// Parses one access-list or FIFO line (without its newline). `None` for
/// blank lines and `#` comments, `Err` for a line that does not start with
/// a hash. A second hash counts only as a whole white-space separated word
/// right after the first, of the other kind (64 hex digits after a 40-hex
/// hash, or 40 after 64); anything else after the first hash is the release
/// name, as opentracker ignored it.
pub fn parse_line(raw: &[u8]) -> Option<Result<ReleaseLine<'_>, &'static str>> {
    let line = raw.trim_ascii();
    if line.is_empty() || line.starts_with(b"#") {
        return None;
    }
    let Some((primary, rest)) = leading_hash(line) else {
        return Some(Err(BAD_HASH));
    };
    let mut out = ReleaseLine {
        primary,
        secondary: None,
        rest,
    };
    let after = rest.trim_ascii_start();
    if after.len() < rest.len() {
        // One v1 and one v2 hash, either order: a name of 40 hex digits
        // after a v1 hash stays a name, as it always was.
        let other_kind = run_len(after) + run_len(line) == 104;
        if let Some((second, tail)) = leading_hash(after).filter(|_| other_kind) {
            if tail.is_empty() || tail[0].is_ascii_whitespace() {
                out.secondary = (second != primary).then_some(second);
                out.rest = tail;
            }
        }
    }
    Some(Ok(out))
}

/// Bytes one pair takes (it is kept twice: sorted by either hash).
pub const PAIR_BYTES: usize = 2 * 40;

/// The two-hash releases: each secondary hash with its primary, sorted both
/// ways for binary search. Its room is fixed when it is made (a part of the
/// label store's budget): pairs beyond it are left out and counted, and
/// their hashes are then shown and counted as releases of their own.
#[derive(Debug, Default)]
pub struct Pairs {
    /// (secondary, primary), sorted.
    by_secondary: Vec<(InfoHash, InfoHash)>,
    /// (primary, secondary), sorted.
    by_primary: Vec<(InfoHash, InfoHash)>,
    capacity: usize,
    dropped: usize,
}

impl Pairs {
    /// Room for `bytes / PAIR_BYTES` pairs, allocated now.
    pub fn new(bytes: usize) -> Result<Pairs, String> {
        let capacity = bytes / PAIR_BYTES;
        let mut p = Pairs {
            capacity,
            ..Pairs::default()
        };
        for v in [&mut p.by_secondary, &mut p.by_primary] {
            v.try_reserve_exact(capacity)
                .map_err(|e| format!("release pairs: {e}"))?;
        }
        Ok(p)
    }

    /// Bytes reserved.
    pub fn budget(&self) -> usize {
        self.capacity * PAIR_BYTES
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.by_primary.len() * PAIR_BYTES
    }

    /// Pairs stored.
    pub fn len(&self) -> usize {
        self.by_primary.len()
    }

    /// True when no release has two hashes.
    pub fn is_empty(&self) -> bool {
        self.by_primary.is_empty()
    }

    /// Pairs left out for lack of room since the last [`Pairs::clear`].
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Forgets every pair.
    pub fn clear(&mut self) {
        self.by_secondary.clear();
        self.by_primary.clear();
        self.dropped = 0;
    }

    /// Adds (or, for a hash already paired, replaces) a pair; false when
    /// there is no room. A hash is in at most one pair: the last line wins.
    pub fn add(&mut self, primary: InfoHash, secondary: InfoHash) -> bool {
        if primary == secondary {
            return true;
        }
        if self.primary_of(&secondary) == primary {
            return true;
        }
        self.remove(&primary);
        self.remove(&secondary);
        if self.by_primary.len() >= self.capacity {
            self.dropped += 1;
            return false;
        }
        for (v, e) in [
            (&mut self.by_primary, (primary, secondary)),
            (&mut self.by_secondary, (secondary, primary)),
        ] {
            let at = v.partition_point(|x| x.0 < e.0);
            v.insert(at, e);
        }
        true
    }

    /// Removes the pair `hash` is in, either side.
    pub fn remove(&mut self, hash: &InfoHash) {
        if let Some(other) = self.sibling(hash) {
            for v in [&mut self.by_primary, &mut self.by_secondary] {
                v.retain(|e| e.0 != *hash && e.0 != other);
            }
        }
    }

    /// The release `hash` belongs to: its primary hash (itself when it is
    /// not a secondary).
    pub fn primary_of(&self, hash: &InfoHash) -> InfoHash {
        match self.by_secondary.binary_search_by(|e| e.0.cmp(hash)) {
            Ok(i) => self.by_secondary[i].1,
            Err(_) => *hash,
        }
    }

    /// Whether `hash` is the second hash of a release.
    pub fn is_secondary(&self, hash: &InfoHash) -> bool {
        self.by_secondary
            .binary_search_by(|e| e.0.cmp(hash))
            .is_ok()
    }

    /// The secondary hash of the release whose primary is `hash`.
    pub fn secondary_of(&self, hash: &InfoHash) -> Option<InfoHash> {
        let i = self.by_primary.binary_search_by(|e| e.0.cmp(hash)).ok()?;
        Some(self.by_primary[i].1)
    }

    /// The other hash of `hash`'s release, either side.
    pub fn sibling(&self, hash: &InfoHash) -> Option<InfoHash> {
        self.secondary_of(hash).or_else(|| {
            let i = self.by_secondary.binary_search_by(|e| e.0.cmp(hash)).ok()?;
            Some(self.by_secondary[i].1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse_hex20;

    const V1: &str = "0123456789abcdef0123456789abcdef01234567";
    const V2: &str = "FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210";

    fn h(hex: &str) -> InfoHash {
        parse_hex20(&hex.as_bytes()[..40]).unwrap()
    }

    #[test]
    fn a_v2_hash_is_its_first_20_bytes() {
        let l = parse_line(V2.as_bytes()).unwrap().unwrap();
        assert_eq!(l.primary, h(V2));
        assert_eq!(l.primary[..2], [0xfe, 0xdc]);
        assert_eq!(l.secondary, None);
        assert_eq!(l.rest, b"");
        let line = format!("{}  debian.iso", V2.to_lowercase());
        let l = parse_line(line.as_bytes()).unwrap().unwrap();
        assert_eq!((l.primary, l.rest), (h(V2), &b"  debian.iso"[..]));
    }

    #[test]
    fn two_hashes_on_a_line_are_one_release() {
        let line = format!("  {V1} {V2}\thybrid release.iso\r");
        let l = parse_line(line.as_bytes()).unwrap().unwrap();
        assert_eq!(l.primary, h(V1));
        assert_eq!(l.secondary, Some(h(V2)));
        assert_eq!(l.rest.trim_ascii(), b"hybrid release.iso");
        // Either order, either length; the same hash twice is one.
        let line = format!("{V2} {V1}");
        let l = parse_line(line.as_bytes()).unwrap().unwrap();
        assert_eq!(
            (l.primary, l.secondary, l.rest),
            (h(V2), Some(h(V1)), &b""[..])
        );
        // Two of the same kind: the second is a name (as before hybrids).
        let line = format!("{V1} {V1} x");
        let l = parse_line(line.as_bytes()).unwrap().unwrap();
        assert_eq!((l.secondary, l.rest), (None, format!(" {V1} x").as_bytes()));
        let line = format!("{V2} {V2}");
        assert_eq!(
            parse_line(line.as_bytes()).unwrap().unwrap().secondary,
            None
        );
        // A name that merely starts with hex digits is a name.
        let line = format!("{V1} {}.iso", &V2[..40]);
        let l = parse_line(line.as_bytes()).unwrap().unwrap();
        assert_eq!(l.secondary, None);
        assert_eq!(l.rest, format!(" {}.iso", &V2[..40]).as_bytes());
        let line = format!("{V1} deadbeef");
        assert_eq!(
            parse_line(line.as_bytes()).unwrap().unwrap().secondary,
            None
        );
    }

    #[test]
    fn bad_lines_blank_lines_and_comments() {
        assert_eq!(parse_line(b""), None);
        assert_eq!(parse_line(b"   \r"), None);
        assert_eq!(parse_line(b"# 0123"), None);
        for bad in [
            V1[..39].to_string(),
            format!("{V1}0"),
            V2[..63].to_string(),
            format!("{V2}0"),
            format!("x{V1}"),
            "not a hash".to_string(),
        ] {
            assert_eq!(parse_line(bad.as_bytes()), Some(Err(BAD_HASH)), "{bad}");
        }
        // A bad second word is part of the name, not an error.
        let line = format!("{V1} {}", &V2[..50]);
        let l = parse_line(line.as_bytes()).unwrap().unwrap();
        assert_eq!(l.secondary, None);
    }

    #[test]
    fn pairs_map_both_ways_and_stay_in_their_room() {
        let mut p = Pairs::new(2 * PAIR_BYTES).unwrap();
        let (a, b, c, d) = ([1; 20], [2; 20], [3; 20], [4; 20]);
        assert!(p.add(a, b));
        assert!(p.add(d, c));
        assert_eq!(p.primary_of(&b), a);
        assert_eq!(p.primary_of(&a), a);
        assert_eq!(p.primary_of(&c), d);
        assert_eq!(p.sibling(&a), Some(b));
        assert_eq!(p.sibling(&b), Some(a));
        assert_eq!(p.secondary_of(&b), None);
        assert!(p.is_secondary(&c) && !p.is_secondary(&d));
        assert!(!p.add([5; 20], [6; 20]), "full");
        assert_eq!(p.dropped(), 1);
        assert_eq!(p.used(), p.budget());
        // Re-pairing a hash replaces its old pair.
        assert!(p.add(a, c));
        assert_eq!(p.sibling(&d), None);
        assert_eq!(p.sibling(&b), None);
        assert_eq!(p.primary_of(&c), a);
        assert_eq!(p.len(), 1);
        p.clear();
        assert!(p.is_empty());
        assert_eq!(Pairs::new(0).unwrap().budget(), 0);
    }
}
