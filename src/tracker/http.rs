//! HTTP: routing a parsed request, framing the answer, the announce and
//! scrape in bencode, error and redirect replies (opentracker's `ot_http.c`).

use super::announce::Proto;
use super::{canonical_ip, HttpReply, Stream, StreamBody, Tracker};
use crate::info_hash::InfoHash;
use crate::network::Network;
use crate::stats::{HttpError, TorrentFormat};
use crate::swarm::Announce;
use crate::wire::http::{self, RequestHead, HEAD_ROOM};
use crate::wire::query::{self, QueryError};
use crate::wire::{bencode, Overflow, Writer};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most peers in a non-compact (dictionary) reply, so that it fits the buffer.
const NONCOMPACT_MAX: usize = 100;

impl Tracker {
    /// The announcing peer's address: the connection's, or for a trusted proxy
    /// the last X-Forwarded-For hop (else X-Real-IP).
    fn client_address(&self, head: &RequestHead<'_>, peer: IpAddr) -> IpAddr {
        if Network::any_contains(&self.settings.proxies, peer) {
            let forwarded = head
                .forwarded_for
                .or(head.real_ip)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|t| t.parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return canonical_ip(ip);
            }
        }
        peer
    }

    /// Answers one parsed HTTP request from `client` into `out`
    /// (at least `HEAD_ROOM` bytes plus room for the body).
    pub fn http(
        &mut self,
        head: &RequestHead<'_>,
        peer: IpAddr,
        now: u32,
        out: &mut [u8],
    ) -> HttpReply {
        let peer = canonical_ip(peer);
        let client = self.client_address(head, peer);
        let keep_alive = head.keep_alive;
        if head.path == self.settings.stats_path.as_bytes() || head.path == b"/metrics" {
            return self.stats_page(head, peer, now, out);
        }
        let body = match head.path {
            b"/announce" | b"/announce.php" => {
                self.body(out, |t, w| t.http_announce(head.query, client, now, w))
            }
            b"/scrape" | b"/scrape.php" => {
                let full = !query::pairs(head.query).any(|(k, _)| k == b"info_hash");
                if full && self.settings.fullscrape {
                    let body = StreamBody::Torrents(TorrentFormat::Ben);
                    return self.start_stream(body, false, b"text/plain", out);
                }
                self.stats.tcp_scrapes += 1;
                self.body(out, |t, w| t.http_scrape(head.query, w))
            }
            b"/" if self.settings.redirect_url.is_some() => {
                self.stats.http_error(HttpError::Redirect);
                return self.redirect(out, keep_alive);
            }
            _ => return self.http_error(404, keep_alive, out),
        };
        self.finish(body, b"text/plain", keep_alive, out)
    }

    pub(super) fn finish(
        &mut self,
        body: Result<usize, Overflow>,
        content_type: &[u8],
        keep_alive: bool,
        out: &mut [u8],
    ) -> HttpReply {
        match body.and_then(|len| http::frame(out, len, 200, content_type, keep_alive)) {
            Ok(range) => HttpReply {
                code: 200,
                range,
                keep_alive,
                stream: None,
            },
            Err(Overflow) => self.http_error(500, false, out),
        }
    }

    /// Writes the head of a streamed reply (no Content-Length: the end of the
    /// body is the end of the connection).
    /// Stats pages (`stats`) say HTTP/1.0, as opentracker answers them.
    pub(super) fn start_stream(
        &mut self,
        body: StreamBody,
        stats: bool,
        content_type: &[u8],
        out: &mut [u8],
    ) -> HttpReply {
        if let StreamBody::Torrents(_) = body {
            self.stats.full_scrapes += 1;
        }
        let mut w = Writer::new(out);
        let status = if stats {
            b"HTTP/1.0 200 OK\r\nContent-Type: ".as_slice()
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Type: "
        };
        let head = w
            .put(status)
            .and_then(|()| w.put(content_type))
            .and_then(|()| w.put(b"\r\nConnection: close\r\n\r\n"));
        if head.is_err() {
            return self.http_error(500, false, out);
        }
        HttpReply {
            code: 200,
            range: 0..w.len(),
            keep_alive: false,
            stream: Some(Stream {
                body,
                after: None,
                started: false,
                done: false,
            }),
        }
    }

    /// Writes a plain-text error response (400, 404, 405, 413, 500, 503).
    pub fn http_error(&mut self, code: u16, keep_alive: bool, out: &mut [u8]) -> HttpReply {
        let class = match code {
            400 | 405 => HttpError::BadRequest,
            404 => HttpError::NotFound,
            413 => HttpError::TooLarge,
            403 => HttpError::Forbidden,
            _ => HttpError::Internal,
        };
        self.stats.http_error(class);
        let text = http::status_text(code);
        let len = text.len() + 1;
        let range = out
            .get_mut(HEAD_ROOM..HEAD_ROOM + len)
            .map(|body| {
                body[..text.len()].copy_from_slice(text);
                body[text.len()] = b'\n';
            })
            .ok_or(Overflow)
            .and_then(|()| http::frame(out, len, code, b"text/plain", keep_alive));
        HttpReply {
            code,
            range: range.unwrap_or(0..0),
            keep_alive,
            stream: None,
        }
    }

    pub(super) fn redirect(&mut self, out: &mut [u8], keep_alive: bool) -> HttpReply {
        let url = self.settings.redirect_url.as_deref().unwrap_or("/");
        let mut w = Writer::new(out);
        let ok = http::put_head(
            &mut w,
            302,
            b"text/plain",
            0,
            keep_alive,
            Some(url.as_bytes()),
        );
        let len = if ok.is_ok() { w.len() } else { 0 };
        HttpReply {
            code: 302,
            range: 0..len,
            keep_alive,
            stream: None,
        }
    }

    /// Runs `write` on the body area of `out`, returning the body length.
    pub(super) fn body(
        &mut self,
        out: &mut [u8],
        write: impl FnOnce(&mut Self, &mut Writer<'_>) -> Result<(), Overflow>,
    ) -> Result<usize, Overflow> {
        let area = out.get_mut(HEAD_ROOM..).ok_or(Overflow)?;
        let mut w = Writer::new(area);
        write(self, &mut w)?;
        Ok(w.len())
    }

    fn http_announce(
        &mut self,
        q: &[u8],
        client: IpAddr,
        now: u32,
        w: &mut Writer<'_>,
    ) -> Result<(), Overflow> {
        let req = match query::parse_announce(q) {
            Ok(r) => r,
            Err(e) => return self.failure(w, e),
        };
        let mut numwant = req
            .numwant
            .unwrap_or(self.settings.numwant_default)
            .min(self.settings.numwant_max) as usize;
        if !req.compact {
            numwant = numwant.min(NONCOMPACT_MAX);
        }
        let a = Announce {
            info_hash: req.info_hash,
            ip: client,
            port: req.port,
            seeder: req.left == Some(0),
            event: req.event,
            numwant,
            other_family: true,
            listed: false,
        };
        let counts = match self.announce(a, now, Proto::Http(numwant)) {
            Ok(c) => c,
            Err(reason) => return bencode::put_failure(w, reason),
        };
        bencode::put_announce_head(
            w,
            counts.seeders,
            counts.downloaded,
            counts.leechers,
            self.settings.interval,
        )?;
        let sel = &self.selection;
        if req.compact {
            w.put_dec((sel.v4.len() * 6) as u64)?;
            w.put(b":")?;
            w.put(sel.v4.as_flattened())?;
            if !sel.v6.is_empty() {
                bencode::put_bytes(w, b"peers6")?;
                w.put_dec((sel.v6.len() * 18) as u64)?;
                w.put(b":")?;
                w.put(sel.v6.as_flattened())?;
            }
        } else {
            w.put(b"l")?;
            for rec in &sel.v4 {
                let ip = IpAddr::V4(Ipv4Addr::new(rec[0], rec[1], rec[2], rec[3]));
                put_peer_dict(w, ip, u16::from_be_bytes([rec[4], rec[5]]))?;
            }
            for rec in &sel.v6 {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&rec[..16]);
                put_peer_dict(
                    w,
                    IpAddr::V6(Ipv6Addr::from(octets)),
                    u16::from_be_bytes([rec[16], rec[17]]),
                )?;
            }
            w.put(b"e")?;
        }
        w.put(b"e")
    }

    fn http_scrape(&mut self, q: &[u8], w: &mut Writer<'_>) -> Result<(), Overflow> {
        let mut hashes = heapless::Vec::<InfoHash, { query::MAX_SCRAPE_HASHES }>::new();
        if let Err(e) = query::parse_scrape(q, &mut hashes) {
            return self.failure(w, e);
        }
        if hashes.is_empty() {
            self.stats.http_error(HttpError::BadParameter);
            return bencode::put_failure(
                w,
                "scrape needs at least one info_hash (full scrape is off)",
            );
        }
        // Bencoded dictionaries are sorted by key.
        hashes.sort_unstable();
        w.put(b"d5:filesd")?;
        for h in &hashes {
            bencode::put_bytes(w, h)?;
            let c = self.swarm.scrape(h);
            bencode::put_scrape_counts(w, c.seeders, c.downloaded, c.leechers)?;
        }
        w.put(b"ee")
    }

    fn failure(&mut self, w: &mut Writer<'_>, e: QueryError) -> Result<(), Overflow> {
        self.stats.http_error(HttpError::BadParameter);
        bencode::put_failure(w, e.message())
    }
}

/// `d2:ip<text>4:porti<port>ee` — a BEP 3 peer dictionary (no peer id: none is stored).
fn put_peer_dict(w: &mut Writer<'_>, ip: IpAddr, port: u16) -> Result<(), Overflow> {
    let mut text = heapless::String::<48>::new();
    write!(text, "{ip}").map_err(|_| Overflow)?;
    w.put(b"d2:ip")?;
    bencode::put_bytes(w, text.as_bytes())?;
    bencode::put_key_int(w, b"port", port.into())?;
    w.put(b"e")
}
