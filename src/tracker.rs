//! Request handling: decoded HTTP and UDP requests in, response bytes out.
//!
//! No sockets here: the I/O loops in `server` hand over a request and a
//! fixed output buffer, and send whatever this writes. Responses are built in
//! place, so answering never allocates.

use crate::access::changes::{Applied, Change, Changes};
use crate::access::{AccessList, Mode, NOT_AUTHORIZED};
use crate::config::Config;
use crate::connection_id::ConnectionIdKey;
use crate::labels::Labels;
use crate::network::Network;
use crate::stats::pages::PageStream;
use crate::stats::{put_torrent_record, top, HttpError, Stats, TorrentFormat};
use crate::swarm::{Announce, Selection, Swarm};
use crate::wire::http::{self, RequestHead, HEAD_ROOM};
use crate::wire::query::{self, InfoHash, QueryError};
use crate::wire::udp;
use crate::wire::{bencode, Overflow, Writer};

mod releases; // i29
mod stats_page;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// Most peers in a non-compact (dictionary) reply, so that it fits the buffer.
const NONCOMPACT_MAX: usize = 100;
/// Most IPv6 peers in one UDP reply (keeps it near 1200 bytes).
const UDP_MAX_V6: usize = 66;

/// Settings the handlers need, taken from [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Announce interval in seconds.
    pub interval: u32,
    /// Peers when the client does not say.
    pub numwant_default: u32,
    /// Most peers returned.
    pub numwant_max: u32,
    /// Where `GET /` redirects.
    pub redirect_url: Option<String>,
    /// Path of the stats page.
    pub stats_path: String,
    /// Networks allowed to read stats (everyone when empty).
    pub stats_allowed: Vec<Network>,
    /// Networks of proxies whose forwarding headers are believed.
    pub proxies: Vec<Network>,
    /// Whether `/scrape` without info_hash lists every torrent.
    pub fullscrape: bool,
    /// Stats modes anyone may read, whatever `stats_allowed` says.
    pub stats_public: Vec<String>,
}

impl From<&Config> for Settings {
    fn from(c: &Config) -> Self {
        Settings {
            interval: c.announce_interval,
            numwant_default: c.numwant_default,
            numwant_max: c.numwant_max,
            redirect_url: c.redirect_url.clone(),
            stats_path: c.access.stats_path.clone(),
            stats_allowed: c.access.stats.clone(),
            proxies: c.access.proxies.clone(),
            fullscrape: c.access.fullscrape,
            stats_public: c.access.stats_public.clone(),
        }
    }
}

/// An HTTP response written into the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// Status code.
    pub code: u16,
    /// Bytes of the buffer to send.
    pub range: Range<usize>,
    /// Whether the connection stays open afterwards.
    pub keep_alive: bool,
    /// More body to come from [`Tracker::stream_chunk`] (then the connection closes).
    pub stream: Option<Stream>,
}

/// A body too large to build at once — one record per torrent — produced a
/// buffer at a time, in info-hash order (bencoded dictionary keys must be
/// sorted). Its position is the last hash written, so torrents that move in
/// the table meanwhile are neither missed nor repeated; one added meanwhile
/// below that point is left out, one removed before its turn is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    body: StreamBody,
    /// The last info hash written.
    after: Option<InfoHash>,
    started: bool,
    done: bool,
}

/// What a [`Stream`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamBody {
    /// One record per torrent.
    Torrents(TorrentFormat),
    /// `mode=top10`/`top100`: the list by peers, then (`seeds`) the one by seeds.
    Top { amount: top::Amount, seeds: bool },
    /// A release page: JSON, HTML, or Prometheus with per-release series.
    Releases(PageStream),
}

/// The tracker's state: the swarm, counters and connection-id key.
pub struct Tracker {
    /// Torrents and peers.
    pub swarm: Swarm,
    /// Counters.
    pub stats: Stats,
    settings: Settings,
    conn_ids: ConnectionIdKey,
    selection: Selection,
    access: Option<AccessList>,
    changes: Changes,
    labels: Labels,
    // i29: completed downloads per day (see tracker/releases.rs).
    history: crate::history::History,
}

/// Whether `hash` is served under `access` with the FIFO `changes` applied.
fn allowed_by(access: &Option<AccessList>, changes: &Changes, hash: &InfoHash) -> bool {
    access.as_ref().is_none_or(|a| {
        let listed = changes.listed(hash, a.lists(hash));
        listed == (a.mode == Mode::Whitelist)
    })
}

/// IPv4-mapped IPv6 addresses (from a dual-stack socket) are the IPv4 peer they carry.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

impl Tracker {
    /// A tracker over `swarm`.
    pub fn new(swarm: Swarm, settings: Settings) -> Self {
        Tracker {
            swarm,
            stats: Stats::default(),
            settings,
            conn_ids: ConnectionIdKey::new(),
            selection: Selection::default(),
            access: None,
            changes: Changes::default(),
            labels: Labels::none(),
            history: crate::history::History::default(), // i29
        }
    }

    /// Replaces the label store (sized at start-up from the memory cap).
    pub fn set_labels(&mut self, labels: Labels) {
        self.labels = labels;
    }

    /// The release labels, rebuilt with the whitelist.
    pub fn labels_mut(&mut self) -> &mut Labels {
        &mut self.labels
    }

    /// Swaps in a new access list (or none: serve every torrent). The FIFO
    /// changesets are flushed: the file is the truth again.
    pub fn set_access(&mut self, list: Option<AccessList>) {
        self.access = list;
        self.changes.flush();
    }

    /// Room for changes from the access FIFOs (none unless given; allocated now).
    pub fn set_changes_capacity(&mut self, hashes: usize) {
        self.changes = Changes::with_capacity(hashes);
    }

    /// The FIFO changes in force: (added, deleted, capacity).
    pub fn changes(&self) -> (usize, usize, usize) {
        let (added, deleted) = self.changes.counts();
        (added, deleted, self.changes.capacity())
    }

    /// Applies one hash from an access FIFO to the list in force (a
    /// blacklist when none was configured).
    pub fn change_access(&mut self, hash: InfoHash, change: Change) -> Applied {
        let list = self
            .access
            .get_or_insert_with(|| AccessList::empty(Mode::Blacklist));
        let in_file = list.lists(&hash);
        self.changes.apply(hash, change, in_file)
    }

    /// The access list in force.
    pub fn access(&self) -> Option<&AccessList> {
        self.access.as_ref()
    }

    fn allowed(&self, hash: &InfoHash) -> bool {
        allowed_by(&self.access, &self.changes, hash)
    }

    /// Whether the operator listed `hash` to be served (a whitelist in force,
    /// with the FIFO changes): such a torrent is never charged to the
    /// new-torrent budget. Call for hashes `allowed` passed.
    fn listed(&self, hash: &InfoHash) -> bool {
        self.access
            .as_ref()
            .is_some_and(|a| a.mode == Mode::Whitelist)
            && allowed_by(&self.access, &self.changes, hash)
    }

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

    // ---- HTTP -----------------------------------------------------------

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

    fn finish(
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
    fn start_stream(
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

    /// Writes the next part of a streamed body into `out`; 0 when it is over.
    pub fn stream_chunk(&mut self, s: &mut Stream, out: &mut [u8]) -> usize {
        /// Longest record of any format (an URL-encoded line is 83 bytes).
        const RECORD_MAX: usize = 128;
        if s.done {
            return 0;
        }
        let format = match &mut s.body {
            StreamBody::Torrents(format) => *format,
            &mut StreamBody::Top { amount, seeds } => return self.top_chunk(s, amount, seeds, out),
            StreamBody::Releases(page) => {
                let (access, changes) = (&self.access, &self.changes);
                // Labels follow the list in force: hidden once a FIFO deletes the hash.
                let allowed = |hash: &InfoHash| allowed_by(access, changes, hash);
                // i29: the history for the charts and release downloads.
                let (stats, history) = (&self.stats, &self.history);
                let n = page.chunk(stats, &mut self.swarm, &self.labels, history, &allowed, out);
                s.done = n == 0;
                return n;
            }
        };
        let mut w = Writer::new(out);
        if !s.started {
            s.started = true;
            if format == TorrentFormat::Ben && w.put(b"d5:filesd").is_err() {
                return 0;
            }
        }
        while w.remaining() >= RECORD_MAX + 2 {
            let Some(hash) = self.swarm.next_hash_after(s.after) else {
                s.done = true;
                if format == TorrentFormat::Ben {
                    let _ = w.put(b"ee");
                }
                break;
            };
            s.after = Some(hash);
            // Removed since the batch was taken: nothing to say about it.
            let Some(counts) = self.swarm.get(&hash) else {
                continue;
            };
            // Each record is built whole first, so a record is never cut in two.
            let mut rec = [0u8; RECORD_MAX];
            let mut r = Writer::new(&mut rec);
            if put_torrent_record(&mut r, format, &hash, counts).is_ok() {
                let _ = w.put(r.written());
            }
        }
        self.stats.full_scrape_bytes += w.len() as u64;
        w.len()
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

    fn redirect(&mut self, out: &mut [u8], keep_alive: bool) -> HttpReply {
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
    fn body(
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
        if !self.allowed(&req.info_hash) {
            self.stats.refused_access += 1;
            return bencode::put_failure(w, NOT_AUTHORIZED);
        }
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
            listed: self.listed(&req.info_hash),
        };
        // Completed downloads the store counts (not repeated events).
        let before = (a.event == query::Event::Completed).then(|| self.swarm.scrape(&a.info_hash));
        let counts = match self.swarm.announce(&a, now, &mut self.selection) {
            Ok(c) => c,
            Err(refusal) => {
                self.stats.refused(refusal);
                return bencode::put_failure(w, refusal.message());
            }
        };
        let completed = before.is_some_and(|b| counts.downloaded > b.downloaded);
        if completed {
            self.count_release_download(&a, now); // i29: per release and day
        }
        let renewed = self.swarm.renewed_after();
        // Announces answered, as UDP counts them (opentracker's
        // successful announces): refused ones are counted apart.
        self.stats.tcp_announces += 1;
        self.stats.count_announce(completed, renewed, Some(numwant));
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

    // ---- UDP ------------------------------------------------------------

    /// Answers one datagram from `from`; returns the reply length, or `None`
    /// for silence. Only a connect, or a request whose connection id proves
    /// that `from` is really its source, is answered: a reply to a spoofed
    /// source would aim the tracker at a victim, so unproven requests (forged,
    /// zero, expired or someone else's connection id) get nothing back, and
    /// no reply is ever longer than its request unless the source is proven.
    pub fn udp(&mut self, packet: &[u8], from: IpAddr, now: u32, out: &mut [u8]) -> Option<usize> {
        let from = canonical_ip(from);
        self.stats.udp_requests += 1;
        let mut w = Writer::new(out);
        let request = udp::parse(packet);
        let proven = match &request {
            Err(udp::ParseError::TooShort) => false,
            // Its 16-byte reply is no longer than the 16-byte request.
            Ok(udp::Request::Connect { .. }) => true,
            Ok(udp::Request::Announce(r)) => self.conn_ids.check(from, r.connection_id, now),
            Ok(udp::Request::Scrape { connection_id, .. })
            | Err(udp::ParseError::Invalid { connection_id, .. }) => {
                self.conn_ids.check(from, *connection_id, now)
            }
        };
        if !proven {
            self.stats.udp_errors += 1;
            if packet.len() >= 16 {
                self.stats.udp_unproven += 1;
            }
            return None;
        }
        let result = match request {
            Err(udp::ParseError::TooShort) => return None,
            Err(udp::ParseError::Invalid {
                transaction_id,
                message,
                ..
            }) => self.udp_error(&mut w, transaction_id, message),
            Ok(udp::Request::Connect { transaction_id }) => {
                self.stats.udp_connects += 1;
                udp::put_connect(&mut w, transaction_id, self.conn_ids.issue(from, now))
            }
            Ok(udp::Request::Announce(r)) => self.udp_announce(&r, from, now, &mut w),
            Ok(udp::Request::Scrape {
                transaction_id,
                hashes,
                ..
            }) => {
                self.stats.udp_scrapes += 1;
                self.udp_scrape(transaction_id, hashes, &mut w)
            }
        };
        result.ok().map(|()| w.len())
    }

    fn udp_error(
        &mut self,
        w: &mut Writer<'_>,
        transaction_id: u32,
        message: &str,
    ) -> Result<(), Overflow> {
        self.stats.udp_errors += 1;
        udp::put_error(w, transaction_id, message)
    }

    fn udp_announce(
        &mut self,
        r: &udp::AnnounceRequest,
        from: IpAddr,
        now: u32,
        w: &mut Writer<'_>,
    ) -> Result<(), Overflow> {
        if !self.allowed(&r.info_hash) {
            self.stats.refused_access += 1;
            return self.udp_error(w, r.transaction_id, NOT_AUTHORIZED);
        }
        let wanted = u32::try_from(r.num_want).unwrap_or(self.settings.numwant_default);
        let mut numwant = wanted.min(self.settings.numwant_max) as usize;
        if from.is_ipv6() {
            numwant = numwant.min(UDP_MAX_V6);
        }
        let a = Announce {
            info_hash: r.info_hash,
            ip: from,
            port: r.port,
            seeder: r.left == 0,
            event: r.event,
            numwant,
            other_family: false,
            listed: self.listed(&r.info_hash),
        };
        // Completed downloads the store counts (not repeated events).
        let before = (a.event == query::Event::Completed).then(|| self.swarm.scrape(&a.info_hash));
        let counts = match self.swarm.announce(&a, now, &mut self.selection) {
            Ok(c) => c,
            Err(refusal) => {
                self.stats.refused(refusal);
                return self.udp_error(w, r.transaction_id, refusal.message());
            }
        };
        let completed = before.is_some_and(|b| counts.downloaded > b.downloaded);
        if completed {
            self.count_release_download(&a, now); // i29: per release and day
        }
        let renewed = self.swarm.renewed_after();
        self.stats.udp_announces += 1;
        self.stats.count_announce(completed, renewed, None);
        udp::put_announce_head(
            w,
            r.transaction_id,
            self.settings.interval,
            counts.leechers,
            counts.seeders,
        )?;
        w.put(self.selection.v4.as_flattened())?;
        w.put(self.selection.v6.as_flattened())?;
        Ok(())
    }

    fn udp_scrape(
        &mut self,
        transaction_id: u32,
        hashes: &[u8],
        w: &mut Writer<'_>,
    ) -> Result<(), Overflow> {
        udp::put_scrape_head(w, transaction_id)?;
        for h in hashes.chunks_exact(20) {
            let mut hash = [0u8; 20];
            hash.copy_from_slice(h);
            let c = self.swarm.scrape(&hash);
            udp::put_scrape_entry(w, c.seeders, c.downloaded, c.leechers)?;
        }
        Ok(())
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

#[cfg(test)]
mod tests;
