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
    w.put(b"d")?;
    put_key_int(w, b"complete", seeders.into())?;
    put_key_int(w, b"downloaded", downloaded.into())?;
    put_key_int(w, b"incomplete", leechers.into())?;
    w.put(b"e")
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
