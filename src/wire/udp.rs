//! BEP 15 UDP tracker protocol: parse requests, emit replies.
//! Every integer is big-endian, the error action included.

use super::query::Event;
use super::{Overflow, Writer};
use crate::info_hash::InfoHash;

/// The magic `protocol_id` of a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;

/// Action codes.
pub const ACTION_CONNECT: u32 = 0;
/// Announce action.
pub const ACTION_ANNOUNCE: u32 = 1;
/// Scrape action.
pub const ACTION_SCRAPE: u32 = 2;
/// Error action.
pub const ACTION_ERROR: u32 = 3;

/// Length of an announce request without BEP 41 options.
pub const ANNOUNCE_LEN: usize = 98;
/// Most info hashes one UDP scrape answers (keeps the reply under ~900 bytes).
pub const MAX_SCRAPE_HASHES: usize = 74;

/// A parsed announce request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// Connection id from a prior connect.
    pub connection_id: u64,
    /// Echoed in the reply.
    pub transaction_id: u32,
    /// Which torrent.
    pub info_hash: InfoHash,
    /// Bytes still to download.
    pub left: u64,
    /// The announce's event.
    pub event: Event,
    /// Peers wanted; negative means "default".
    pub num_want: i32,
    /// The peer's listening port (not the datagram's source port).
    pub port: u16,
}

/// A parsed request datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// Connect: asks for a connection id.
    Connect {
        /// Echoed in the reply.
        transaction_id: u32,
    },
    /// Announce.
    Announce(AnnounceRequest),
    /// Scrape of `hashes.len() / 20` torrents (at most [`MAX_SCRAPE_HASHES`]).
    Scrape {
        /// Connection id from a prior connect.
        connection_id: u64,
        /// Echoed in the reply.
        transaction_id: u32,
        /// Concatenated 20-byte info hashes.
        hashes: &'a [u8],
    },
}

/// A request that cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than the 16-byte header: nothing to answer to.
    TooShort,
    /// Answerable with an error packet carrying this transaction id (to a
    /// source whose connection id proves it; others get silence).
    Invalid {
        /// The request's first 8 bytes: a connection id, or a connect's magic.
        connection_id: u64,
        /// The request's transaction id.
        transaction_id: u32,
        /// What was wrong.
        message: &'static str,
    },
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    (u64::from(u32_at(b, at)) << 32) | u64::from(u32_at(b, at + 4))
}

/// Parses one request datagram.
pub fn parse(b: &[u8]) -> Result<Request<'_>, ParseError> {
    if b.len() < 16 {
        return Err(ParseError::TooShort);
    }
    let connection_id = u64_at(b, 0);
    let action = u32_at(b, 8);
    let transaction_id = u32_at(b, 12);
    let invalid = |message| ParseError::Invalid {
        connection_id,
        transaction_id,
        message,
    };
    match action {
        ACTION_CONNECT if connection_id == PROTOCOL_ID => Ok(Request::Connect { transaction_id }),
        ACTION_CONNECT => Err(invalid("bad protocol id")),
        ACTION_ANNOUNCE => {
            // Trailing bytes (BEP 41 options, padding) are allowed and ignored.
            if b.len() < ANNOUNCE_LEN {
                return Err(invalid("announce too short"));
            }
            let mut info_hash = [0u8; 20];
            info_hash.copy_from_slice(&b[16..36]);
            let event = match u32_at(b, 80) {
                1 => Event::Completed,
                2 => Event::Started,
                3 => Event::Stopped,
                _ => Event::None,
            };
            let port = u16_at(b, 96);
            if port == 0 {
                return Err(invalid("invalid port"));
            }
            Ok(Request::Announce(AnnounceRequest {
                connection_id,
                transaction_id,
                info_hash,
                left: u64_at(b, 64),
                event,
                num_want: u32_at(b, 92) as i32,
                port,
            }))
        }
        ACTION_SCRAPE => {
            let body = &b[16..];
            let n = body.len() / 20;
            if n == 0 {
                return Err(invalid("scrape without info_hash"));
            }
            if n > MAX_SCRAPE_HASHES {
                return Err(invalid("too many info_hash values in one scrape"));
            }
            Ok(Request::Scrape {
                connection_id,
                transaction_id,
                hashes: &body[..n * 20],
            })
        }
        _ => Err(invalid("unknown action")),
    }
}

/// Writes a connect reply.
pub fn put_connect(
    w: &mut Writer<'_>,
    transaction_id: u32,
    connection_id: u64,
) -> Result<(), Overflow> {
    w.put_u32(ACTION_CONNECT)?;
    w.put_u32(transaction_id)?;
    w.put_u64(connection_id)
}

/// Writes the fixed part of an announce reply; peer records follow.
pub fn put_announce_head(
    w: &mut Writer<'_>,
    transaction_id: u32,
    interval: u32,
    leechers: u32,
    seeders: u32,
) -> Result<(), Overflow> {
    w.put_u32(ACTION_ANNOUNCE)?;
    w.put_u32(transaction_id)?;
    w.put_u32(interval)?;
    w.put_u32(leechers)?;
    w.put_u32(seeders)
}

/// Writes the head of a scrape reply; one [`put_scrape_entry`] per hash follows.
pub fn put_scrape_head(w: &mut Writer<'_>, transaction_id: u32) -> Result<(), Overflow> {
    w.put_u32(ACTION_SCRAPE)?;
    w.put_u32(transaction_id)
}

/// Writes one scrape entry: seeders, completed, leechers.
pub fn put_scrape_entry(
    w: &mut Writer<'_>,
    seeders: u32,
    completed: u32,
    leechers: u32,
) -> Result<(), Overflow> {
    w.put_u32(seeders)?;
    w.put_u32(completed)?;
    w.put_u32(leechers)
}

/// Writes an error reply.
pub fn put_error(w: &mut Writer<'_>, transaction_id: u32, message: &str) -> Result<(), Overflow> {
    w.put_u32(ACTION_ERROR)?;
    w.put_u32(transaction_id)?;
    w.put(message.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announce_bytes() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        b.extend_from_slice(&1u32.to_be_bytes());
        b.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        b.extend_from_slice(&[0xAA; 20]); // info_hash
        b.extend_from_slice(&[0xBB; 20]); // peer_id
        b.extend_from_slice(&5u64.to_be_bytes()); // downloaded
        b.extend_from_slice(&0x1_0000_0000u64.to_be_bytes()); // left
        b.extend_from_slice(&7u64.to_be_bytes()); // uploaded
        b.extend_from_slice(&2u32.to_be_bytes()); // event started
        b.extend_from_slice(&0u32.to_be_bytes()); // ip
        b.extend_from_slice(&0x0102_0304u32.to_be_bytes()); // key
        b.extend_from_slice(&(-1i32).to_be_bytes()); // num_want
        b.extend_from_slice(&6881u16.to_be_bytes());
        b
    }

    #[test]
    fn connect_request_and_reply() {
        let mut req = Vec::new();
        req.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
        req.extend_from_slice(&[0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
        assert_eq!(
            parse(&req),
            Ok(Request::Connect {
                transaction_id: 0x1234_5678
            })
        );
        let mut buf = [0u8; 16];
        let mut w = Writer::new(&mut buf);
        put_connect(&mut w, 0x1234_5678, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(
            w.written(),
            &[0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78, 1, 2, 3, 4, 5, 6, 7, 8]
        );
    }

    #[test]
    fn connect_with_wrong_magic_is_an_error() {
        let mut req = [0u8; 16];
        req[15] = 9;
        assert_eq!(
            parse(&req),
            Err(ParseError::Invalid {
                connection_id: 0,
                transaction_id: 9,
                message: "bad protocol id"
            })
        );
    }

    #[test]
    fn announce_fields_are_big_endian_and_options_tolerated() {
        let mut b = announce_bytes();
        b.extend_from_slice(b"\x02\x09/announce"); // BEP 41 URL data
        let Ok(Request::Announce(a)) = parse(&b) else {
            panic!("not an announce")
        };
        assert_eq!(a.connection_id, 0x1122_3344_5566_7788);
        assert_eq!(a.transaction_id, 0xdead_beef);
        assert_eq!(a.info_hash, [0xAA; 20]);
        assert_eq!(a.left, 0x1_0000_0000);
        assert_eq!(a.event, Event::Started);
        assert_eq!(a.num_want, -1);
        assert_eq!(a.port, 6881);
    }

    #[test]
    fn short_or_portless_announce_is_an_error() {
        let b = announce_bytes();
        assert!(matches!(
            parse(&b[..97]),
            Err(ParseError::Invalid {
                message: "announce too short",
                ..
            })
        ));
        let mut b = b;
        b[96] = 0;
        b[97] = 0;
        assert!(matches!(
            parse(&b),
            Err(ParseError::Invalid {
                message: "invalid port",
                ..
            })
        ));
        assert_eq!(parse(&b[..15]), Err(ParseError::TooShort));
    }

    #[test]
    fn scrape_limits() {
        let mut b = vec![0u8; 16];
        b[11] = 2;
        assert!(matches!(parse(&b), Err(ParseError::Invalid { .. })));
        b.extend_from_slice(&[1u8; 20 * 2 + 7]); // trailing partial hash ignored
        let Ok(Request::Scrape { hashes, .. }) = parse(&b) else {
            panic!("not a scrape")
        };
        assert_eq!(hashes.len(), 40);
        b.extend_from_slice(&[1u8; 20 * MAX_SCRAPE_HASHES]);
        assert!(matches!(parse(&b), Err(ParseError::Invalid { .. })));
    }

    #[test]
    fn error_and_announce_replies() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        put_error(&mut w, 0x0a0b_0c0d, "no").unwrap();
        assert_eq!(
            w.written(),
            &[0, 0, 0, 3, 0x0a, 0x0b, 0x0c, 0x0d, b'n', b'o']
        );
        let mut w = Writer::new(&mut buf);
        put_announce_head(&mut w, 1, 1800, 2, 3).unwrap();
        assert_eq!(
            w.written(),
            &[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 7, 8, 0, 0, 0, 2, 0, 0, 0, 3]
        );
        assert_eq!(
            parse(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1]),
            Err(ParseError::Invalid {
                connection_id: 0,
                transaction_id: 1,
                message: "unknown action"
            })
        );
    }
}
