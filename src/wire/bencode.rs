//! Bencoding (BEP 3), emit side only: a tracker never needs to parse it.

use super::{Overflow, Writer};

/// Appends a byte string: `<len>:<bytes>`.
pub fn put_bytes(w: &mut Writer<'_>, s: &[u8]) -> Result<(), Overflow> {
    w.put_dec(s.len() as u64)?;
    w.put(b":")?;
    w.put(s)
}

/// Appends an integer: `i<n>e`.
pub fn put_int(w: &mut Writer<'_>, n: u64) -> Result<(), Overflow> {
    w.put(b"i")?;
    w.put_dec(n)?;
    w.put(b"e")
}

/// Appends a dictionary key followed by an integer value.
pub fn put_key_int(w: &mut Writer<'_>, key: &[u8], n: u64) -> Result<(), Overflow> {
    put_bytes(w, key)?;
    put_int(w, n)
}

/// Appends a whole `d14:failure reason<len>:<msg>e` dictionary.
pub fn put_failure(w: &mut Writer<'_>, msg: &str) -> Result<(), Overflow> {
    w.put(b"d")?;
    put_bytes(w, b"failure reason")?;
    put_bytes(w, msg.as_bytes())?;
    w.put(b"e")
}

/// Appends one torrent's scrape dictionary (BEP 48):
/// `d8:completei<seeders>e10:downloadedi<downloaded>e10:incompletei<leechers>ee`.
pub fn put_scrape_counts(
    w: &mut Writer<'_>,
    seeders: u32,
    downloaded: u32,
    leechers: u32,
) -> Result<(), Overflow> {
    put_counts(w, seeders, downloaded, leechers)?;
    w.put(b"ee")
}

/// Appends the start of an announce answer, up to and including the key
/// of its peers: the counts as in a scrape, then
/// `8:intervali<interval>e12:min intervali<interval / 2>e5:peers`.
pub fn put_announce_head(
    w: &mut Writer<'_>,
    seeders: u32,
    downloaded: u32,
    leechers: u32,
    interval: u32,
) -> Result<(), Overflow> {
    put_counts(w, seeders, downloaded, leechers)?;
    w.put(b"e8:intervali")?;
    w.put_dec(interval.into())?;
    w.put(b"e12:min intervali")?;
    w.put_dec((interval / 2).into())?;
    w.put(b"e5:peers")
}

/// `d8:completei<s>e10:downloadedi<d>e10:incompletei<l>` with the keys
/// written out (a third of the writes of a `put_key_int` each: this is on
/// every HTTP answer). The caller closes the last integer.
fn put_counts(w: &mut Writer<'_>, s: u32, d: u32, l: u32) -> Result<(), Overflow> {
    w.put(b"d8:completei")?;
    w.put_dec(s.into())?;
    w.put(b"e10:downloadedi")?;
    w.put_dec(d.into())?;
    w.put(b"e10:incompletei")?;
    w.put_dec(l.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reason_dictionary() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        put_failure(&mut w, "tracker is full").unwrap();
        assert_eq!(w.written(), b"d14:failure reason15:tracker is fulle");
    }

    #[test]
    fn ints_and_strings() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        put_key_int(&mut w, b"interval", 1800).unwrap();
        put_bytes(&mut w, b"").unwrap();
        assert_eq!(w.written(), b"8:intervali1800e0:");
    }

    #[test]
    fn announce_head_is_the_counts_then_intervals_then_the_peers_key() {
        let mut buf = [0u8; 128];
        let mut w = Writer::new(&mut buf);
        put_announce_head(&mut w, 3, 0, 4_294_967_295, 1801).unwrap();
        let want: &[u8] = b"d8:completei3e10:downloadedi0e10:incompletei4294967295e\
            8:intervali1801e12:min intervali900e5:peers";
        assert_eq!(w.written(), want);
        // The same bytes as written key by key.
        let mut buf2 = [0u8; 128];
        let mut w2 = Writer::new(&mut buf2);
        w2.put(b"d").unwrap();
        for (k, n) in [
            (&b"complete"[..], 3),
            (b"downloaded", 0),
            (b"incomplete", 4_294_967_295),
            (b"interval", 1801),
            (b"min interval", 900),
        ] {
            put_key_int(&mut w2, k, n).unwrap();
        }
        put_bytes(&mut w2, b"peers").unwrap();
        assert_eq!(w2.written(), want);
        // Too small a buffer is an Overflow, not a panic.
        let mut small = [0u8; 40];
        assert_eq!(
            put_announce_head(&mut Writer::new(&mut small), 1, 2, 3, 4),
            Err(Overflow)
        );
    }

    #[test]
    fn scrape_counts_dictionary_has_sorted_keys() {
        let mut buf = [0u8; 80];
        let mut w = Writer::new(&mut buf);
        put_scrape_counts(&mut w, 3, 5, 4).unwrap();
        assert_eq!(
            w.written(),
            b"d8:completei3e10:downloadedi5e10:incompletei4ee"
        );
    }
}
