//! Release names: the text after the hash on a whitelist line
//! (`0123…cdef  driverpacks-11.09-main.7z`) labels that torrent on the status
//! page, in the JSON stats and in per-release Prometheus series.
//!
//! Labels are untrusted text from a file a CMS writes. Each is cleaned once,
//! when loaded ([`clean`]): trimmed, invalid UTF-8 replaced by U+FFFD, control
//! characters dropped, cut to [`LABEL_MAX`] bytes at a character boundary.
//! Text starting with `#` is a comment, not a label.
//!
//! The store is one mapping of a fixed number of bytes, taken out of
//! `tracker.max_memory` when a whitelist is configured and sized once at
//! start-up: sorted entries (hash, text offset and length: 24 bytes) followed
//! by the label bytes. It is rebuilt in place when the whitelist is reloaded;
//! labels that do not fit are left out and counted.
//!
//! A line with two hashes (a hybrid release, see `releases`) labels its
//! first hash; the pair is kept in a [`Pairs`] table that takes an eighth of
//! the store's budget and is rebuilt with it.

use crate::info_hash::InfoHash;
use crate::region::Words;
use crate::releases::Pairs;

/// Longest label kept, in bytes of UTF-8.
pub const LABEL_MAX: usize = 64;
/// Words per entry: five for the hash, one for offset (24 bits) and length.
const ENTRY_WORDS: usize = 6;

/// A label as stored: at most [`LABEL_MAX`] bytes of UTF-8.
pub type Label = heapless::Vec<u8, LABEL_MAX>;

/// What cleaning changed in a label (each is reported with `file:line`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cleaned {
    /// Longer than [`LABEL_MAX`] bytes: cut at a character boundary.
    pub cut: bool,
    /// Control characters were dropped.
    pub controls: bool,
    /// Invalid UTF-8 was replaced by U+FFFD.
    pub invalid_utf8: bool,
}

impl Cleaned {
    /// Whether anything was changed.
    pub fn any(self) -> bool {
        self.cut || self.controls || self.invalid_utf8
    }

    /// What was changed, one message each.
    pub fn messages(self) -> impl Iterator<Item = &'static str> {
        [
            (self.invalid_utf8, "label: invalid UTF-8 replaced"),
            (self.controls, "label: control characters dropped"),
            (self.cut, "label: cut to 64 bytes"),
        ]
        .into_iter()
        .filter_map(|(on, m)| on.then_some(m))
    }
}

/// Cleans raw label text (see the module comment).
pub fn clean(raw: &[u8]) -> (Label, Cleaned) {
    let mut out = Label::new();
    let mut note = Cleaned::default();
    let push = |c: char, out: &mut Label, note: &mut Cleaned| {
        if c.is_control() {
            note.controls = true;
            return;
        }
        let mut tmp = [0u8; 4];
        let bytes = c.encode_utf8(&mut tmp).as_bytes();
        if out.is_empty() && c.is_whitespace() {
            return;
        }
        if note.cut || out.extend_from_slice(bytes).is_err() {
            note.cut = true;
        }
    };
    for chunk in raw.trim_ascii().utf8_chunks() {
        for c in chunk.valid().chars() {
            push(c, &mut out, &mut note);
        }
        if !chunk.invalid().is_empty() {
            note.invalid_utf8 = true;
            push('\u{FFFD}', &mut out, &mut note);
        }
    }
    // Trailing white space (exposed by dropped characters or the cut).
    while let Some(c) = std::str::from_utf8(&out)
        .ok()
        .and_then(|s| s.chars().last())
    {
        if !c.is_whitespace() {
            break;
        }
        out.truncate(out.len() - c.len_utf8());
    }
    (out, note)
}

/// One whitelist line whose label was changed by cleaning, or left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelNote {
    /// 1-based line number.
    pub line: usize,
    /// What happened to it.
    pub what: &'static str,
}

/// Result of a rebuild.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Labels stored.
    pub stored: usize,
    /// Labels left out because the store was full.
    pub dropped: usize,
    /// Lines whose label was cleaned.
    pub notes: Vec<LabelNote>,
}

/// The label store (see the module comment).
pub struct Labels {
    words: Option<Words>,
    pairs: Pairs,
    len: usize,
    text_bytes: usize,
    dropped: usize,
}

impl Labels {
    /// A store that holds no labels.
    pub fn none() -> Labels {
        Labels {
            words: None,
            pairs: Pairs::default(),
            len: 0,
            text_bytes: 0,
            dropped: 0,
        }
    }

    /// A store of `budget` bytes (0: no labels, no mapping): an eighth for
    /// the release pairs, the rest for labels.
    pub fn new(budget: usize) -> Result<Labels, String> {
        let mut labels = Labels::none();
        let pairs = budget / 8;
        labels.pairs = Pairs::new(pairs)?;
        let rest = budget - pairs;
        if rest >= 4 {
            let words = Words::new(rest / 4).map_err(|e| format!("label store: {e}"))?;
            labels.words = Some(words);
        }
        Ok(labels)
    }

    /// Bytes the store may use.
    pub fn budget(&self) -> usize {
        self.words.as_ref().map_or(0, |w| w.len() * 4) + self.pairs.budget()
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.len * ENTRY_WORDS * 4 + self.text_bytes + self.pairs.used()
    }

    /// The two-hash releases.
    pub fn pairs(&self) -> &Pairs {
        &self.pairs
    }

    /// Makes `secondary` the second hash of `primary`'s release (an added
    /// FIFO line with two hashes); false when the pair table is full.
    pub fn pair(&mut self, primary: InfoHash, secondary: InfoHash) -> bool {
        self.pairs.add(primary, secondary)
    }

    /// Forgets the pair `hash` is in (a FIFO deleted it).
    pub fn unpair(&mut self, hash: &InfoHash) {
        self.pairs.remove(hash);
    }

    /// Labels stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no torrent has a label.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Labels the last rebuild left out for lack of room.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Forgets every label.
    pub fn clear(&mut self) {
        self.pairs.clear();
        self.len = 0;
        self.text_bytes = 0;
        self.dropped = 0;
    }

    /// Replaces the labels with those of whitelist `text` (lines as
    /// `access::AccessList::parse` reads them; a hash listed twice keeps its
    /// last label). Nothing else reads the store meanwhile: the tracker is
    /// single-threaded and a rebuild runs to its end.
    pub fn rebuild(&mut self, text: &[u8]) -> Rebuilt {
        let mut found: Vec<(InfoHash, Label)> = Vec::new();
        let mut pairs: Vec<(InfoHash, InfoHash, usize)> = Vec::new();
        let mut notes = Vec::new();
        for (i, raw) in crate::access::strip_bom(text)
            .split(|&b| b == b'\n')
            .enumerate()
        {
            let Some(Ok(line)) = crate::releases::parse_line(raw) else {
                continue;
            };
            let (hash, rest) = (line.primary, line.rest.trim_ascii());
            if let Some(second) = line.secondary {
                pairs.push((hash, second, i + 1));
            }
            if rest.is_empty() || rest.starts_with(b"#") {
                continue;
            }
            let (label, note) = clean(rest);
            for what in note.messages() {
                notes.push(LabelNote { line: i + 1, what });
            }
            if !label.is_empty() {
                found.push((hash, label));
            }
        }
        // Hashes in order (sorted as the access list sorts its own), each
        // with the last label the file gave it.
        let mut order: Vec<InfoHash> = found.iter().map(|f| f.0).collect();
        order.sort_unstable();
        order.dedup();
        let mut last = vec![0usize; order.len()];
        for (k, (hash, _)) in found.iter().enumerate() {
            if let Ok(i) = order.binary_search(hash) {
                last[i] = k;
            }
        }
        let kept: Vec<&(InfoHash, Label)> = last.iter().map(|&k| &found[k]).collect();
        self.clear();
        for (primary, secondary, line) in pairs {
            if !self.pairs.add(primary, secondary) {
                notes.push(LabelNote {
                    line,
                    what: "second hash not tied to the first: the release pair table is full \
                           (both hashes are served; raise tracker.label_memory)",
                });
            }
        }
        let budget = self.words.as_ref().map_or(0, |w| w.len() * 4);
        let mut text_total = 0;
        let mut fit = 0;
        for (_, label) in &kept {
            let need = (fit + 1) * ENTRY_WORDS * 4 + text_total + label.len();
            if need > budget || text_total + label.len() >= 1 << 24 {
                break;
            }
            fit += 1;
            text_total += label.len();
        }
        self.dropped = kept.len() - fit;
        if let Some(words) = self.words.as_mut() {
            let base = fit * ENTRY_WORDS * 4;
            let mut at = 0usize;
            for (k, (hash, label)) in kept[..fit].iter().enumerate() {
                let e = &mut words[k * ENTRY_WORDS..(k + 1) * ENTRY_WORDS];
                for (j, c) in hash.chunks_exact(4).enumerate() {
                    e[j] = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                }
                e[5] = ((at as u32) << 8) | label.len() as u32;
                for (j, &b) in label.iter().enumerate() {
                    put_byte(words, base + at + j, b);
                }
                at += label.len();
            }
            self.len = fit;
            self.text_bytes = text_total;
        }
        Rebuilt {
            stored: self.len,
            dropped: self.dropped,
            notes,
        }
    }

    /// Labels `hash` with the text after it on an added FIFO line (cleaned
    /// as in [`Labels::rebuild`]; a blank or `#` text changes nothing).
    /// Entries after it move up by one, in place; a replaced label's old text
    /// stays as garbage until the next rebuild. False when the store is full.
    pub fn set(&mut self, hash: &InfoHash, rest: &[u8]) -> bool {
        let rest = rest.trim_ascii();
        if rest.is_empty() || rest.starts_with(b"#") {
            return true;
        }
        let (label, _) = clean(rest);
        if label.is_empty() {
            return true;
        }
        let i = self.lower_bound(hash);
        let exists = i < self.len && self.hash_at(i) == *hash;
        let len = self.len + usize::from(!exists);
        let text = self.text_bytes + label.len();
        let Some(words) = self.words.as_mut() else {
            return false;
        };
        if len * ENTRY_WORDS + text.div_ceil(4) > words.len() || text >= 1 << 24 {
            return false;
        }
        if !exists {
            // The text moves up by one entry, then the entries after `i`.
            let base = self.len * ENTRY_WORDS;
            let text_words = self.text_bytes.div_ceil(4);
            words.copy_within(base..base + text_words, base + ENTRY_WORDS);
            words.copy_within(i * ENTRY_WORDS..base, (i + 1) * ENTRY_WORDS);
            for (j, c) in hash.chunks_exact(4).enumerate() {
                words[i * ENTRY_WORDS + j] = u32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        let base = len * ENTRY_WORDS * 4;
        for (j, &b) in label.iter().enumerate() {
            put_byte(words, base + self.text_bytes + j, b);
        }
        words[i * ENTRY_WORDS + 5] = ((self.text_bytes as u32) << 8) | label.len() as u32;
        self.len = len;
        self.text_bytes = text;
        true
    }

    fn hash_at(&self, i: usize) -> InfoHash {
        let mut h = [0u8; 20];
        if let Some(words) = &self.words {
            for (j, c) in h.chunks_exact_mut(4).enumerate() {
                c.copy_from_slice(&words[i * ENTRY_WORDS + j].to_ne_bytes());
            }
        }
        h
    }

    /// Position of the first entry above `after` (of all when `None`).
    fn first_above(&self, after: Option<&InfoHash>) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if after.is_some_and(|a| self.hash_at(mid) <= *a) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn label_at(&self, i: usize) -> Label {
        let mut out = Label::new();
        if let Some(words) = &self.words {
            let meta = words[i * ENTRY_WORDS + 5];
            let start = self.len * ENTRY_WORDS * 4 + (meta >> 8) as usize;
            for p in start..start + (meta & 0xFF) as usize {
                let b = words[p / 4].to_ne_bytes()[p % 4];
                let _ = out.push(b);
            }
        }
        out
    }

    /// The label of `hash`, if it has one.
    pub fn get(&self, hash: &InfoHash) -> Option<Label> {
        let i = self.lower_bound(hash);
        (i < self.len && self.hash_at(i) == *hash).then(|| self.label_at(i))
    }

    fn lower_bound(&self, hash: &InfoHash) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.hash_at(mid) < *hash {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Whether `hash` has a label.
    pub fn contains(&self, hash: &InfoHash) -> bool {
        let i = self.lower_bound(hash);
        i < self.len && self.hash_at(i) == *hash
    }

    /// The labelled torrent with the smallest hash above `after` (the
    /// smallest of all when `None`), with its label: walks labels in hash
    /// order without allocating, unaffected by rebuilds in between.
    pub fn next_after(&self, after: Option<&InfoHash>) -> Option<(InfoHash, Label)> {
        let i = self.first_above(after);
        (i < self.len).then(|| (self.hash_at(i), self.label_at(i)))
    }
}

fn put_byte(words: &mut [u32], p: usize, b: u8) {
    let mut bytes = words[p / 4].to_ne_bytes();
    bytes[p % 4] = b;
    words[p / 4] = u32::from_ne_bytes(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse_hex20;

    const A: &str = "0123456789abcdef0123456789abcdef01234567";
    const B: &str = "fedcba9876543210fedcba9876543210fedcba98";

    fn hash(hex: &str) -> InfoHash {
        parse_hex20(hex.as_bytes()).unwrap()
    }

    #[test]
    fn clean_keeps_plain_names() {
        let (l, n) = clean(b"  driverpacks-11.09-main.7z \r");
        assert_eq!(&l[..], b"driverpacks-11.09-main.7z");
        assert!(!n.any());
        let (l, n) = clean("Caf\u{e9} \u{1F600} \u{65e5}\u{672c}".as_bytes());
        assert_eq!(&l[..], "Caf\u{e9} \u{1F600} \u{65e5}\u{672c}".as_bytes());
        assert!(!n.any());
    }

    #[test]
    fn clean_drops_controls_and_replaces_invalid_utf8() {
        let (l, n) = clean(b"a\x00b\x1b[31mc\x7f\td");
        assert_eq!(&l[..], b"ab[31mcd");
        assert!(n.controls && !n.cut && !n.invalid_utf8);
        let (l, n) = clean(b"bad\xff\xfe\xc3(x");
        assert_eq!(
            std::str::from_utf8(&l).unwrap(),
            "bad\u{FFFD}\u{FFFD}\u{FFFD}(x"
        );
        assert!(n.invalid_utf8 && !n.controls);
        // C1 controls (U+0080..U+009F) are control characters too.
        let (l, _) = clean("x\u{85}y".as_bytes());
        assert_eq!(&l[..], b"xy");
    }

    #[test]
    fn clean_cuts_at_a_character_boundary() {
        let (l, n) = clean("a".repeat(100).as_bytes());
        assert_eq!(l.len(), 64);
        assert!(n.cut);
        // 63 ASCII bytes then a 2-byte character: it does not fit and is left out whole.
        let text = format!("{}\u{e9}zzz", "b".repeat(63));
        let (l, n) = clean(text.as_bytes());
        assert_eq!(&l[..], "b".repeat(63).as_bytes());
        assert!(n.cut);
        assert!(std::str::from_utf8(&l).is_ok());
        let (l, _) = clean("\u{20ac}".repeat(30).as_bytes());
        assert_eq!(l.len(), 63, "21 three-byte characters");
        let (l, _) = clean(format!("{} x", "c".repeat(64)).as_bytes());
        assert_eq!(l.len(), 64);
        let (l, _) = clean(format!("{} x", "c".repeat(63)).as_bytes());
        assert_eq!(l.len(), 63, "trailing space after the cut trimmed");
    }

    #[test]
    fn rebuild_reads_labels_like_the_whitelist_and_keeps_the_last() {
        let mut s = Labels::new(4096).unwrap();
        let text = format!(
            "# header\n{A}  first name\n{B}\n{A}\tsecond name\nnot a hash\n{B}0 nope\n{B}  # a comment\n"
        );
        let r = s.rebuild(text.as_bytes());
        assert_eq!((r.stored, r.dropped), (1, 0));
        assert!(r.notes.is_empty());
        assert_eq!(s.get(&hash(A)).as_deref(), Some(&b"second name"[..]));
        assert_eq!(s.get(&hash(B)), None);
        assert!(!s.contains(&hash(B)));
        // Upper-case hex and CRLF work as in the whitelist.
        let text = format!("{}  Upper\r\n{B}:with colon\n", A.to_uppercase());
        let r = s.rebuild(text.as_bytes());
        assert_eq!(r.stored, 2);
        assert_eq!(s.get(&hash(A)).as_deref(), Some(&b"Upper"[..]));
        assert_eq!(s.get(&hash(B)).as_deref(), Some(&b":with colon"[..]));
    }

    #[test]
    fn rebuild_reports_cleaned_lines_with_their_number() {
        let mut s = Labels::new(4096).unwrap();
        let text = format!("{A} ok\n{B} {}\n", "x".repeat(70));
        let r = s.rebuild(text.as_bytes());
        assert_eq!(r.notes.len(), 1);
        assert_eq!(r.notes[0].line, 2);
        assert_eq!(r.notes[0].what, "label: cut to 64 bytes");
    }

    #[test]
    fn walk_is_in_hash_order_and_survives_rebuilds() {
        let mut s = Labels::new(1 << 16).unwrap();
        let mut text = String::new();
        for i in (0..200u32).rev() {
            text.push_str(&format!("{i:040x} release-{i}\n"));
        }
        s.rebuild(text.as_bytes());
        let mut after = None;
        let mut seen = Vec::new();
        while let Some((h, l)) = s.next_after(after.as_ref()) {
            let n = u32::from_be_bytes(h[16..].try_into().unwrap());
            let expect = if seen.len() < 100 {
                format!("release-{n}")
            } else {
                "b".into()
            };
            assert_eq!(l, expect.as_bytes());
            seen.push(h);
            after = Some(h);
            if seen.len() == 100 {
                // Mid-walk, the list changes: the walk continues from its hash.
                s.rebuild(format!("{:040x} a\n{:040x} b\n", 50, 150).as_bytes());
            }
        }
        assert_eq!(seen.len(), 101);
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn set_inserts_in_order_and_replaces() {
        let mut s = Labels::new(1024).unwrap();
        s.rebuild(format!("{:040x} ten\n{:040x} thirty\n", 10, 30).as_bytes());
        let h = |n: u32| {
            let mut h = [0u8; 20];
            h[16..].copy_from_slice(&n.to_be_bytes());
            h
        };
        assert!(s.set(&h(20), b"  twenty\x01 "));
        assert!(s.set(&h(5), b"five"));
        assert!(s.set(&h(40), b"forty"));
        assert!(s.set(&h(10), b"TEN"), "replaces");
        assert!(s.set(&h(50), b"# a comment"));
        assert!(s.set(&h(50), b""));
        let mut all = Vec::new();
        let mut after = None;
        while let Some((hash, label)) = s.next_after(after.as_ref()) {
            all.push((
                u32::from_be_bytes(hash[16..].try_into().unwrap()),
                label.to_vec(),
            ));
            after = Some(hash);
        }
        let want: Vec<(u32, Vec<u8>)> = [
            (5, "five"),
            (10, "TEN"),
            (20, "twenty"),
            (30, "thirty"),
            (40, "forty"),
        ]
        .iter()
        .map(|(n, l)| (*n, l.as_bytes().to_vec()))
        .collect();
        assert_eq!(all, want);
        assert!(s.used() <= s.budget());
        // Full: refused, nothing changed.
        let mut small = Labels::new(64).unwrap();
        assert!(small.set(&h(1), &[b'a'; 30]));
        assert!(!small.set(&h(2), &[b'b'; 20]));
        assert_eq!(small.len(), 1);
        assert_eq!(small.get(&h(1)).map(|l| l.len()), Some(30));
        assert!(!Labels::none().set(&h(1), b"x"));
    }

    #[test]
    fn hybrid_lines_pair_their_hashes_and_label_the_first() {
        let v2 = "cd".repeat(32);
        let mut s = Labels::new(1 << 12).unwrap();
        let text = format!(
            "{A} {v2}  hybrid.iso\n{v2}\n{B} {} v2 first\n",
            "ef".repeat(32)
        );
        let r = s.rebuild(text.as_bytes());
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        assert_eq!(s.get(&hash(A)).as_deref(), Some(&b"hybrid.iso"[..]));
        assert_eq!(s.get(&[0xcd; 20]), None);
        assert_eq!(s.pairs().primary_of(&[0xcd; 20]), hash(A));
        assert_eq!(s.pairs().secondary_of(&hash(A)), Some([0xcd; 20]));
        assert_eq!(s.pairs().primary_of(&[0xef; 20]), hash(B));
        assert_eq!(s.pairs().len(), 2);
        // A reload without the pair unties it.
        s.rebuild(format!("{A} hybrid.iso\n").as_bytes());
        assert!(s.pairs().is_empty());
        // No room for pairs (a budget under 8 x 80 bytes): noted, line by line.
        let mut small = Labels::new(600).unwrap();
        let r = small.rebuild(text.as_bytes());
        assert_eq!(
            r.notes.iter().map(|n| n.line).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert!(r.notes[0].what.contains("pair table is full"));
        assert_eq!(small.get(&hash(A)).as_deref(), Some(&b"hybrid.iso"[..]));
        assert!(small.used() <= small.budget());
    }

    #[test]
    fn store_is_bounded_by_its_budget() {
        // 100 bytes: entries of 24 bytes plus text.
        let mut s = Labels::new(100).unwrap();
        let text = format!("{A} {}\n{B} {}\n", "a".repeat(20), "b".repeat(20));
        let r = s.rebuild(text.as_bytes());
        assert_eq!((r.stored, r.dropped), (2, 0));
        assert_eq!(s.used(), 2 * 24 + 40);
        let text = format!("{A} {}\n{B} {}\n", "a".repeat(40), "b".repeat(40));
        let r = s.rebuild(text.as_bytes());
        assert_eq!((r.stored, r.dropped), (1, 1));
        assert!(s.used() <= s.budget());
        assert_eq!(s.get(&hash(A)).map(|l| l.len()), Some(40));
        let mut none = Labels::new(0).unwrap();
        let r = none.rebuild(text.as_bytes());
        assert_eq!((r.stored, r.dropped), (0, 2));
        assert_eq!(none.get(&hash(A)), None);
        assert_eq!(none.next_after(None), None);
    }
}
