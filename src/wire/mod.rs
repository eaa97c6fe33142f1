//! Wire formats: parse and emit bytes, nothing else. No sockets, no state,
//! no allocation — every function works on caller-supplied buffers.

pub mod bencode;
pub mod escape;
pub mod http;
pub mod query;
pub mod stats_query;
pub mod udp;

/// The output buffer was too small for what was being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// An append-only cursor over a caller-owned byte buffer.
///
/// Responses are built in fixed buffers so that answering a request never
/// allocates; a write that does not fit fails with [`Overflow`] and leaves
/// the bytes written so far in place.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Writer<'a> {
    /// Starts writing at the beginning of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends `bytes`, or fails without writing anything.
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        let end = self.len.checked_add(bytes.len()).ok_or(Overflow)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Overflow)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Appends `n` in decimal.
    pub fn put_dec(&mut self, n: u64) -> Result<(), Overflow> {
        let mut tmp = [0u8; 20];
        self.put(dec(n, &mut tmp))
    }

    /// Appends `template` with each [`FILL`] byte in it replaced by the next
    /// of `values` in decimal (0 once they run out). Fixed pages written this
    /// way are one string and one array instead of a call per piece.
    pub fn put_filled(&mut self, template: &[u8], values: &[u64]) -> Result<(), Overflow> {
        let mut values = values.iter();
        for part in template.split_inclusive(|&b| b == FILL) {
            match part.split_last() {
                Some((&FILL, text)) => {
                    self.put(text)?;
                    self.put_dec(values.next().copied().unwrap_or(0))?;
                }
                _ => self.put(part)?,
            }
        }
        Ok(())
    }

    /// Appends a big-endian u16.
    pub fn put_u16(&mut self, n: u16) -> Result<(), Overflow> {
        self.put(&n.to_be_bytes())
    }

    /// Appends a big-endian u32.
    pub fn put_u32(&mut self, n: u32) -> Result<(), Overflow> {
        self.put(&n.to_be_bytes())
    }

    /// Appends a big-endian u64.
    pub fn put_u64(&mut self, n: u64) -> Result<(), Overflow> {
        self.put(&n.to_be_bytes())
    }
}

/// The placeholder byte of [`Writer::put_filled`] templates.
pub const FILL: u8 = 0x01;

/// Formats `n` in decimal into `tmp`, returning the digits.
pub fn dec(mut n: u64, tmp: &mut [u8; 20]) -> &[u8] {
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &tmp[i..];
        }
    }
}

/// Appends `bytes` as upper-case hex.
pub fn put_hex_upper(w: &mut Writer<'_>, bytes: &[u8]) -> Result<(), Overflow> {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        w.put(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])?;
    }
    Ok(())
}

/// Parses 40 hex digits (any case) into a 20-byte hash.
pub fn parse_hex20(text: &[u8]) -> Option<[u8; 20]> {
    if text.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
    }
    Some(out)
}

/// The value of one hex digit.
pub fn hex_val(c: u8) -> Option<u8> {
    let v = HEX[usize::from(c)];
    (v < 16).then_some(v)
}

/// The value of each hex digit; 0xFF for other bytes.
pub(crate) const HEX: [u8; 256] = {
    let mut t = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_refuses_overflow_and_keeps_what_fit() {
        let mut buf = [0u8; 5];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.put(b"abc"), Ok(()));
        assert_eq!(w.put(b"def"), Err(Overflow));
        assert_eq!(w.written(), b"abc");
        assert_eq!(w.remaining(), 2);
    }

    #[test]
    fn templates_take_their_numbers_in_order() {
        let mut buf = [0u8; 32];
        let mut w = Writer::new(&mut buf);
        w.put_filled(b"a\x01 b\x01\x01\n", &[7, 0, 123]).unwrap();
        assert_eq!(w.written(), b"a7 b0123\n");
        let mut w = Writer::new(&mut buf);
        w.put_filled(b"\x01:\x01", &[5]).unwrap();
        assert_eq!(w.written(), b"5:0", "missing values are 0");
        let mut small = [0u8; 4];
        let mut w = Writer::new(&mut small);
        assert_eq!(w.put_filled(b"ab\x01", &[123]), Err(Overflow));
    }

    #[test]
    fn decimal_formatting() {
        let mut t = [0u8; 20];
        assert_eq!(dec(0, &mut t), b"0");
        assert_eq!(dec(1800, &mut t), b"1800");
        assert_eq!(dec(u64::MAX, &mut t), b"18446744073709551615");
    }

    #[test]
    fn hex_round_trip() {
        let h = parse_hex20(b"0123456789abcdefABCDEF0123456789abcdef01").unwrap();
        let mut buf = [0u8; 40];
        let mut w = Writer::new(&mut buf);
        put_hex_upper(&mut w, &h).unwrap();
        assert_eq!(w.written(), b"0123456789ABCDEFABCDEF0123456789ABCDEF01");
        assert_eq!(parse_hex20(b"0123"), None);
        assert_eq!(
            parse_hex20(b"g123456789abcdefABCDEF0123456789abcdef01"),
            None
        );
    }
}
