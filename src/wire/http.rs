//! HTTP/1.x request heads (parsed by `httparse`) and response framing.

use super::{Overflow, Writer};

/// Most headers one request may carry.
const MAX_HEADERS: usize = 32;

/// The parts of a request head a tracker acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// Path without the query, e.g. `/announce`.
    pub path: &'a [u8],
    /// The raw query string after `?` (still percent-encoded).
    pub query: &'a [u8],
    /// Whether the connection may serve another request afterwards.
    pub keep_alive: bool,
    /// Last hop of `X-Forwarded-For`, if any.
    pub forwarded_for: Option<&'a [u8]>,
    /// `X-Real-IP`, if any.
    pub real_ip: Option<&'a [u8]>,
    /// Bytes of the buffer the head occupied.
    pub len: usize,
}

/// Why a request could not be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// More bytes are needed.
    Partial,
    /// Not a well-formed HTTP/1.x request (answered with 400).
    Malformed,
    /// A method other than GET (answered with 405).
    Method,
    /// The request carries a body, which no tracker request has (400).
    Body,
}

/// Parses a request head from the start of `buf`.
pub fn parse_head(buf: &[u8]) -> Result<RequestHead<'_>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(HeadError::Partial),
        Err(_) => return Err(HeadError::Malformed),
    };
    match req.method {
        Some("GET") => {}
        _ => return Err(HeadError::Method),
    }
    let target = req.path.ok_or(HeadError::Malformed)?.as_bytes();
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &target[target.len()..]),
    };
    let http11 = req.version == Some(1);
    let mut keep_alive = http11;
    let mut forwarded_for = None;
    let mut real_ip = None;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"x-forwarded-for") {
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or(h.value);
            forwarded_for = Some(last.trim_ascii());
        } else if name.eq_ignore_ascii_case(b"x-real-ip") {
            real_ip = Some(h.value.trim_ascii());
        } else if name.eq_ignore_ascii_case(b"content-length") {
            if h.value.trim_ascii() != b"0" {
                return Err(HeadError::Body);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(HeadError::Body);
        }
    }
    Ok(RequestHead {
        path,
        query,
        keep_alive,
        forwarded_for,
        real_ip,
        len,
    })
}

/// Bytes reserved in front of a response body for its status line and headers.
pub const HEAD_ROOM: usize = 160;
/// Largest request head accepted (opentracker's limit too).
pub const REQUEST_MAX: usize = 8192;
/// Response buffer: head room plus the largest body (200 compact IPv6 peers
/// or 100 dictionary peers fit with room to spare).
pub const RESPONSE_MAX: usize = HEAD_ROOM + 8192;

/// Status line text for the codes this tracker sends.
pub fn status_text(code: u16) -> &'static [u8] {
    match code {
        200 => b"200 OK",
        302 => b"302 Found",
        400 => b"400 Bad Request",
        403 => b"403 Forbidden",
        404 => b"404 Not Found",
        405 => b"405 Method Not Allowed",
        413 => b"413 Request Too Large",
        500 => b"500 Internal Server Error",
        503 => b"503 Service Unavailable",
        _ => b"500 Internal Server Error",
    }
}

/// Writes a status line and headers for a body of `body_len` bytes.
pub fn put_head(
    w: &mut Writer<'_>,
    code: u16,
    content_type: &[u8],
    body_len: usize,
    keep_alive: bool,
    location: Option<&[u8]>,
) -> Result<(), Overflow> {
    w.put(b"HTTP/1.1 ")?;
    w.put(status_text(code))?;
    w.put(b"\r\nContent-Type: ")?;
    w.put(content_type)?;
    w.put(b"\r\nContent-Length: ")?;
    w.put_dec(body_len as u64)?;
    if let Some(loc) = location {
        w.put(b"\r\nLocation: ")?;
        w.put(loc)?;
    }
    w.put(if keep_alive {
        b"\r\nConnection: keep-alive\r\n\r\n".as_slice()
    } else {
        b"\r\nConnection: close\r\n\r\n".as_slice()
    })
}

/// Frames a 200 reply after which the connection closes, the way opentracker
/// answers its stats: an `HTTP/1.0` status line and `Connection: close`
/// (body at `buf[HEAD_ROOM..HEAD_ROOM + body_len]`, as for [`frame`]).
pub fn frame_final(
    buf: &mut [u8],
    body_len: usize,
    content_type: &[u8],
) -> Result<core::ops::Range<usize>, Overflow> {
    let range = frame(buf, body_len, 200, content_type, false)?;
    // "HTTP/1.1" -> "HTTP/1.0": the rest of the head is the same.
    let minor = buf.get_mut(range.start + 7).ok_or(Overflow)?;
    *minor = b'0';
    Ok(range)
}

/// Frames a body already written at `buf[HEAD_ROOM..HEAD_ROOM + body_len]`
/// by writing the head right in front of it. Returns the range to send.
pub fn frame(
    buf: &mut [u8],
    body_len: usize,
    code: u16,
    content_type: &[u8],
    keep_alive: bool,
) -> Result<core::ops::Range<usize>, Overflow> {
    let mut head = [0u8; HEAD_ROOM];
    let mut w = Writer::new(&mut head);
    put_head(&mut w, code, content_type, body_len, keep_alive, None)?;
    let n = w.len();
    let start = HEAD_ROOM - n;
    let end = HEAD_ROOM.checked_add(body_len).ok_or(Overflow)?;
    buf.get_mut(start..HEAD_ROOM)
        .ok_or(Overflow)?
        .copy_from_slice(&head[..n]);
    if end > buf.len() {
        return Err(Overflow);
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announce_get_http11_is_keep_alive() {
        let req = b"GET /announce?info_hash=x&port=1 HTTP/1.1\r\nHost: t\r\n\r\nGET /next";
        let h = parse_head(req).unwrap();
        assert_eq!(h.path, b"/announce");
        assert_eq!(h.query, b"info_hash=x&port=1");
        assert!(h.keep_alive);
        assert_eq!(h.len, req.len() - b"GET /next".len());
    }

    #[test]
    fn http10_closes_unless_asked() {
        let h = parse_head(b"GET /scrape HTTP/1.0\r\n\r\n").unwrap();
        assert!(!h.keep_alive);
        assert_eq!(h.query, b"");
        let h = parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(h.keep_alive);
        let h = parse_head(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!h.keep_alive);
    }

    #[test]
    fn partial_malformed_and_method() {
        assert_eq!(
            parse_head(b"GET /announce HTTP/1.1\r\nHo"),
            Err(HeadError::Partial)
        );
        assert_eq!(
            parse_head(b"\x00\x01garbage\r\n\r\n"),
            Err(HeadError::Malformed)
        );
        assert_eq!(
            parse_head(b"POST /announce HTTP/1.1\r\n\r\n"),
            Err(HeadError::Method)
        );
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
            Err(HeadError::Body)
        );
    }

    #[test]
    fn forwarded_headers_take_last_hop() {
        let h = parse_head(
            b"GET / HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1, 192.0.2.7\r\nX-Real-IP: 198.51.100.2\r\n\r\n",
        )
        .unwrap();
        assert_eq!(h.forwarded_for, Some(b"192.0.2.7".as_slice()));
        assert_eq!(h.real_ip, Some(b"198.51.100.2".as_slice()));
    }

    #[test]
    fn final_frame_is_http10_and_closes() {
        let mut buf = [0u8; 256];
        buf[HEAD_ROOM..HEAD_ROOM + 2].copy_from_slice(b"42");
        let r = frame_final(&mut buf, 2, b"text/plain").unwrap();
        assert_eq!(
            &buf[r],
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n42"
        );
    }

    #[test]
    fn frame_puts_head_before_body() {
        let mut buf = [0u8; 256];
        buf[HEAD_ROOM..HEAD_ROOM + 2].copy_from_slice(b"de");
        let r = frame(&mut buf, 2, 200, b"text/plain", false).unwrap();
        assert_eq!(
            &buf[r],
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nde"
        );
    }
}
