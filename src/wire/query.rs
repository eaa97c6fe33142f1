//! URL query decoding for `/announce` and `/scrape` (BEP 3, 23, 48).
//!
//! Binary-safe: `info_hash` arrives percent-encoded and is decoded into a
//! fixed 20-byte array. Nothing here allocates.

use super::HEX;

/// Most info hashes one HTTP scrape may name (opentracker's limit too).
pub const MAX_SCRAPE_HASHES: usize = 64;

use crate::info_hash::InfoHash;

/// What a peer says about itself with `event=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A regular re-announce (no event, `empty` or `paused`).
    None,
    /// The peer just joined.
    Started,
    /// The peer finished downloading.
    Completed,
    /// The peer is leaving.
    Stopped,
}

/// A decoded `/announce` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceQuery {
    /// Which torrent.
    pub info_hash: InfoHash,
    /// The port the peer accepts connections on (never 0).
    pub port: u16,
    /// Bytes still to download; `None` when the client did not say.
    pub left: Option<u64>,
    /// The announce's event.
    pub event: Event,
    /// Peers wanted; `None` means the tracker's default.
    pub numwant: Option<u32>,
    /// Compact (BEP 23) peer lists; false only for `compact=0`.
    pub compact: bool,
}

/// Why a query was refused; the message goes into `failure reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    /// No `info_hash` parameter.
    MissingInfoHash,
    /// `info_hash` did not decode to exactly 20 bytes.
    BadInfoHash,
    /// No `port` parameter.
    MissingPort,
    /// `port` was not a number in 1..=65535.
    BadPort,
    /// A numeric parameter was not a number.
    BadNumber(&'static str),
    /// More info hashes than one scrape answers.
    TooManyHashes,
}

impl QueryError {
    /// Text for the bencoded `failure reason`.
    pub fn message(self) -> &'static str {
        match self {
            QueryError::MissingInfoHash => "missing info_hash",
            QueryError::BadInfoHash => "invalid info_hash (must be 20 bytes)",
            QueryError::MissingPort => "missing port",
            QueryError::BadPort => "invalid port",
            QueryError::BadNumber("left") => "invalid left",
            QueryError::BadNumber("numwant") => "invalid numwant",
            QueryError::BadNumber("uploaded") => "invalid uploaded",
            QueryError::BadNumber("downloaded") => "invalid downloaded",
            QueryError::BadNumber(_) => "invalid number",
            QueryError::TooManyHashes => "too many info_hash values in one scrape",
        }
    }
}

/// Iterates `key=value` pairs of a raw (still encoded) query string.
pub fn pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    Pairs { rest: Some(query) }
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(i) => (&p[..i], &p[i + 1..]),
            None => (p, &p[p.len()..]),
        })
}

/// The `&`-separated parts of a query, like `split(|&b| b == b'&')`, found
/// eight bytes at a time: a query is mostly two 60-byte escaped values.
struct Pairs<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match find_amp(rest) {
            Some(i) => {
                self.rest = rest.get(i + 1..);
                rest.get(..i)
            }
            None => self.rest.take(),
        }
    }
}

/// Where the first `&` of `s` is.
fn find_amp(s: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const AMPS: u64 = u64::from_ne_bytes([b'&'; 8]);
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        // Bytes equal to `&` become zero; the lowest set high bit of
        // (x - 1) & !x marks the first zero byte (later ones may be off,
        // which does not matter).
        let x = u64::from_le_bytes(w) ^ AMPS;
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = words.remainder();
    tail.iter().position(|&b| b == b'&').map(|i| at + i)
}

/// The byte of the escape `%<hi><lo>`, if both are hex digits.
fn escaped(hi: u8, lo: u8) -> Option<u8> {
    let (hi, lo) = (HEX[usize::from(hi)], HEX[usize::from(lo)]);
    ((hi | lo) < 16).then_some((hi << 4) | lo)
}

/// Percent-decodes `src` into `dst`, returning the decoded length, or
/// `None` on a malformed escape or when `dst` is too small. `+` is a space.
pub fn percent_decode(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    let mut i = 0;
    let mut n = 0;
    while i < src.len() {
        let b = match src[i] {
            b'%' => {
                let b = escaped(*src.get(i + 1)?, *src.get(i + 2)?)?;
                i += 2;
                b
            }
            b'+' => b' ',
            b => b,
        };
        *dst.get_mut(n)? = b;
        n += 1;
        i += 1;
    }
    Some(n)
}

/// Decodes a percent-encoded info hash; exactly 20 bytes or an error.
pub fn decode_info_hash(raw: &[u8]) -> Result<InfoHash, QueryError> {
    let mut out = [0u8; 20];
    // Most clients escape every byte (60 characters); those that escape
    // none send 20. Both are read without the general loop.
    if raw.len() == 60 {
        let mut all = true;
        for (o, e) in out.iter_mut().zip(raw.chunks_exact(3)) {
            match (e[0], escaped(e[1], e[2])) {
                (b'%', Some(b)) => *o = b,
                _ => all = false,
            }
        }
        if all {
            return Ok(out);
        }
    } else if raw.len() == 20 && !raw.iter().any(|&b| b == b'%' || b == b'+') {
        out.copy_from_slice(raw);
        return Ok(out);
    }
    match percent_decode(raw, &mut out) {
        Some(20) => Ok(out),
        _ => Err(QueryError::BadInfoHash),
    }
}

/// Parses an unsigned decimal number (at most 20 digits, no sign).
pub fn parse_u64(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || raw.len() > 20 {
        return None;
    }
    raw.iter().try_fold(0u64, |acc, &c| {
        if c.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
        } else {
            None
        }
    })
}

fn number(raw: &[u8], name: &'static str) -> Result<u64, QueryError> {
    parse_u64(raw).ok_or(QueryError::BadNumber(name))
}

/// Parses an `/announce` query string.
pub fn parse_announce(query: &[u8]) -> Result<AnnounceQuery, QueryError> {
    let mut info_hash = None;
    let mut port = None;
    let mut left = None;
    let mut event = Event::None;
    let mut numwant = None;
    let mut compact = true;
    for (key, value) in pairs(query) {
        match key {
            b"info_hash" if info_hash.is_none() => info_hash = Some(decode_info_hash(value)?),
            b"port" => {
                port = match parse_u64(value) {
                    Some(p @ 1..=65535) => Some(p as u16),
                    _ => return Err(QueryError::BadPort),
                }
            }
            b"left" => left = Some(number(value, "left")?),
            b"uploaded" => {
                number(value, "uploaded")?;
            }
            b"downloaded" => {
                number(value, "downloaded")?;
            }
            // Some clients send -1 for "default"; anything else must be a number.
            b"numwant" if value != b"-1" => {
                let n = number(value, "numwant")?;
                numwant = Some(u32::try_from(n).unwrap_or(u32::MAX));
            }
            b"compact" => compact = value != b"0",
            b"event" => {
                event = match value {
                    b"started" => Event::Started,
                    b"completed" => Event::Completed,
                    b"stopped" => Event::Stopped,
                    // "", "empty", "paused" (BEP 21) and unknown words: a plain re-announce.
                    _ => Event::None,
                }
            }
            _ => {}
        }
    }
    Ok(AnnounceQuery {
        info_hash: info_hash.ok_or(QueryError::MissingInfoHash)?,
        port: port.ok_or(QueryError::MissingPort)?,
        left,
        event,
        numwant,
        compact,
    })
}

/// Collects every `info_hash` of a `/scrape` query into `out`.
/// An empty result means "no info_hash given" (a full scrape request).
pub fn parse_scrape(
    query: &[u8],
    out: &mut heapless::Vec<InfoHash, MAX_SCRAPE_HASHES>,
) -> Result<(), QueryError> {
    out.clear();
    for (key, value) in pairs(query) {
        if key == b"info_hash" {
            let h = decode_info_hash(value)?;
            if !out.contains(&h) {
                out.push(h).map_err(|_| QueryError::TooManyHashes)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH_Q: &[u8] = b"%124Vx%9A%BC%DE%F1%23Eg%89%AB%CD%EF%124Vx%9A";
    const HASH: InfoHash = [
        0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf1, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        0x12, 0x34, 0x56, 0x78, 0x9a,
    ];

    fn q(rest: &str) -> Vec<u8> {
        let mut v = b"info_hash=".to_vec();
        v.extend_from_slice(HASH_Q);
        v.extend_from_slice(rest.as_bytes());
        v
    }

    #[test]
    fn full_announce_query() {
        let a = parse_announce(&q(
            "&peer_id=-lt2080-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=4294967296&event=started&numwant=200&compact=1&no_peer_id=1&key=1a2b3c4d",
        ))
        .unwrap();
        assert_eq!(a.info_hash, HASH);
        assert_eq!(a.port, 6881);
        assert_eq!(a.left, Some(4_294_967_296));
        assert_eq!(a.event, Event::Started);
        assert_eq!(a.numwant, Some(200));
        assert!(a.compact);
    }

    #[test]
    fn compact_zero_and_defaults() {
        let a = parse_announce(&q("&port=1&compact=0")).unwrap();
        assert!(!a.compact);
        assert_eq!(a.left, None);
        assert_eq!(a.numwant, None);
        assert_eq!(a.event, Event::None);
        let a = parse_announce(&q("&port=1&numwant=-1&event=paused")).unwrap();
        assert_eq!(a.numwant, None);
        assert_eq!(a.event, Event::None);
    }

    #[test]
    fn info_hash_errors() {
        assert_eq!(parse_announce(b"port=1"), Err(QueryError::MissingInfoHash));
        assert_eq!(
            parse_announce(b"info_hash=abc&port=1"),
            Err(QueryError::BadInfoHash)
        );
        assert_eq!(
            parse_announce(b"info_hash=%zz345678901234567890&port=1"),
            Err(QueryError::BadInfoHash)
        );
        assert_eq!(
            parse_announce(b"info_hash=123456789012345678901&port=1"),
            Err(QueryError::BadInfoHash)
        );
        assert_eq!(
            parse_announce(b"info_hash=%12%3"),
            Err(QueryError::BadInfoHash)
        );
    }

    #[test]
    fn port_errors() {
        assert_eq!(parse_announce(&q("")), Err(QueryError::MissingPort));
        assert_eq!(parse_announce(&q("&port=0")), Err(QueryError::BadPort));
        assert_eq!(parse_announce(&q("&port=65536")), Err(QueryError::BadPort));
        assert_eq!(parse_announce(&q("&port=-5")), Err(QueryError::BadPort));
        assert_eq!(parse_announce(&q("&port=")), Err(QueryError::BadPort));
    }

    #[test]
    fn number_errors() {
        assert_eq!(
            parse_announce(&q("&port=1&left=x")),
            Err(QueryError::BadNumber("left"))
        );
        assert_eq!(
            parse_announce(&q("&port=1&left=99999999999999999999999")),
            Err(QueryError::BadNumber("left"))
        );
        assert_eq!(QueryError::BadNumber("left").message(), "invalid left");
    }

    #[test]
    fn plus_is_space_and_plain_bytes_pass() {
        let mut out = [0u8; 8];
        assert_eq!(percent_decode(b"a+b%20c", &mut out), Some(5));
        assert_eq!(&out[..5], b"a b c");
        assert_eq!(percent_decode(b"123456789", &mut out), None);
    }

    #[test]
    fn pairs_split_at_every_ampersand_wherever_it_falls_in_a_word() {
        // '&' at each offset of the first and second 8-byte word, runs of
        // them, and at the ends: the parts are those of a plain split.
        for len in 0..20 {
            for amp in 0..len {
                for second in [None, Some(amp + 1), Some(len - 1), Some(amp + 9)] {
                    let mut q: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    q[amp] = b'&';
                    if let Some(j) = second.filter(|&j| j < len) {
                        q[j] = b'&';
                    }
                    let got: Vec<&[u8]> = Pairs { rest: Some(&q) }.collect();
                    let want: Vec<&[u8]> = q.split(|&b| b == b'&').collect();
                    assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&q));
                }
            }
        }
        let got: Vec<_> = pairs(b"a=1&&b&c=&=d&").collect();
        let want: Vec<(&[u8], &[u8])> = vec![(b"a", b"1"), (b"b", b""), (b"c", b""), (b"", b"d")];
        assert_eq!(got, want);
    }

    #[test]
    fn info_hashes_escaped_in_full_or_not_at_all_and_mixed() {
        let full: String = HASH.iter().map(|b| format!("%{b:02x}")).collect();
        assert_eq!(decode_info_hash(full.as_bytes()), Ok(HASH));
        assert_eq!(decode_info_hash(full.to_uppercase().as_bytes()), Ok(HASH));
        assert_eq!(decode_info_hash(HASH_Q), Ok(HASH), "mixed");
        assert_eq!(
            decode_info_hash(b"ABCDEFGHIJKLMNOPQRST"),
            Ok(*b"ABCDEFGHIJKLMNOPQRST")
        );
        assert_eq!(
            decode_info_hash(b"ABCDEFGHIJ+LMNOPQRST"),
            Ok(*b"ABCDEFGHIJ LMNOPQRST"),
            "'+' is a space"
        );
        for bad in [3 * 7, 3 * 7 + 1, 3 * 19 + 2] {
            let mut b = full.clone().into_bytes();
            b[bad] = b'g';
            assert_eq!(decode_info_hash(&b), Err(QueryError::BadInfoHash), "{bad}");
        }
        let mut b = full.into_bytes();
        b[30] = b'x'; // an escape's '%' replaced: 60 bytes, no longer 20
        assert_eq!(decode_info_hash(&b), Err(QueryError::BadInfoHash));
        assert_eq!(decode_info_hash(b""), Err(QueryError::BadInfoHash));
        assert_eq!(decode_info_hash(b"%1"), Err(QueryError::BadInfoHash));
    }

    #[test]
    fn scrape_collects_distinct_hashes() {
        let mut out = heapless::Vec::new();
        let mut query = q("&info_hash=");
        query.extend_from_slice(HASH_Q);
        query.extend_from_slice(b"&info_hash=ABCDEFGHIJKLMNOPQRST");
        parse_scrape(&query, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], HASH);
        assert_eq!(&out[1], b"ABCDEFGHIJKLMNOPQRST");
        parse_scrape(b"", &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(
            parse_scrape(b"info_hash=short", &mut out),
            Err(QueryError::BadInfoHash)
        );
    }

    #[test]
    fn scrape_caps_hash_count() {
        let mut query = Vec::new();
        for i in 0..=MAX_SCRAPE_HASHES {
            query.extend_from_slice(format!("info_hash={:020}&", i).as_bytes());
        }
        let mut out = heapless::Vec::new();
        assert_eq!(
            parse_scrape(&query, &mut out),
            Err(QueryError::TooManyHashes)
        );
    }
}
