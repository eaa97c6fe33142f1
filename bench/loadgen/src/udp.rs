//! BEP 15 over UDP: a set of sockets bound to 127.0.0.x source addresses,
//! each keeping a window of requests in flight, batched with sendmmsg and
//! recvmmsg so the generator stays cheaper than the tracker it measures.

use crate::common::{self, Counters, Rng};
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const MAGIC: u64 = 0x0417_2710_1980;
/// Largest request (a scrape of 74 hashes is 1496 bytes).
pub const REQ_MAX: usize = 1500;
const RECV_BATCH: usize = 64;
const RECV_MAX: usize = 2048;
/// Transaction ids with this bit are connect requests (low bits: socket).
const CONNECT_TID: u32 = 0x8000_0000;
/// Connection ids are renewed this often (smoltracker's live 2-4 minutes).
const RENEW: Duration = Duration::from_secs(60);

pub const MAX_SCRAPE: usize = 74;

#[derive(Clone, Copy)]
struct Slot {
    busy: bool,
    tid: u32,
    sent: Instant,
    item: u64,
}

pub struct Sock {
    sock: UdpSocket,
    pub src: usize,
    pub conn_id: u64,
    conn_at: Instant,
    renew_sent: Option<Instant>,
    slots: Vec<Slot>,
    free: Vec<u16>,
    busy: usize,
    gen: u32,
    sendbuf: Vec<u8>,
}

/// What to send and what to do with replies.
pub trait Work {
    /// Writes the next request for socket `s` (after the 16-byte header the
    /// engine fills in) into `body`; returns (action, body length, item).
    fn next(&mut self, s: usize, src: usize, body: &mut [u8]) -> Option<(u32, usize, u64)>;
    /// A reply (action 1 or 2) to the request that carried `item`.
    fn reply(&mut self, _item: u64, _pkt: &[u8]) {}
    /// The request carrying `item` got no reply in time.
    fn timeout(&mut self, _s: usize, _item: u64) {}
    /// Nothing more will be sent (fixed-size jobs).
    fn exhausted(&self) -> bool {
        false
    }
}

pub struct Engine {
    pub socks: Vec<Sock>,
    window: usize,
    timeout: Duration,
    recv: Vec<[u8; RECV_MAX]>,
    first_error: bool,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Engine {
    /// Opens `n` sockets bound to 127.0.0.2.., connected to `addr`, and does
    /// the BEP 15 connect handshake on each.
    pub fn new(addr: SocketAddr, n: usize, window: usize, timeout: Duration) -> Result<Engine, String> {
        assert!(window >= 1 && window <= 256);
        let mut socks = Vec::with_capacity(n);
        for s in 0..n {
            let bind = SocketAddrV4::new(common::source_ip(s), 0);
            let sock = UdpSocket::bind(bind).map_err(|e| format!("bind {bind}: {e}"))?;
            sock.connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
            let big: libc::c_int = 4 << 20;
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    &big as *const _ as *const libc::c_void,
                    4,
                );
            }
            let conn_id = handshake(&sock, s as u32)?;
            sock.set_nonblocking(true).map_err(|e| e.to_string())?;
            socks.push(Sock {
                sock,
                src: s,
                conn_id,
                conn_at: Instant::now(),
                renew_sent: None,
                slots: vec![
                    Slot {
                        busy: false,
                        tid: 0,
                        sent: Instant::now(),
                        item: 0,
                    };
                    window
                ],
                free: (0..window as u16).rev().collect(),
                busy: 0,
                gen: 1,
                sendbuf: vec![0u8; window * REQ_MAX],
            });
        }
        Ok(Engine {
            socks,
            window,
            timeout,
            recv: vec![[0u8; RECV_MAX]; RECV_BATCH],
            first_error: true,
        })
    }

    fn in_flight(&self) -> usize {
        self.socks.iter().map(|s| s.busy).sum()
    }

    /// Runs `work` until `c.stop` is set, `deadline` passes, or the work is
    /// exhausted and every request has been answered or timed out.
    pub fn run(&mut self, work: &mut dyn Work, c: &Counters, deadline: Instant) {
        let mut last_scan = Instant::now();
        let mut pfds: Vec<libc::pollfd> = self
            .socks
            .iter()
            .map(|s| libc::pollfd {
                fd: s.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        loop {
            if c.stop.load(Relaxed) {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if work.exhausted() && self.in_flight() == 0 {
                break;
            }
            // Fill every socket's window, then sleep until replies arrive and
            // drain only the sockets that have some.
            for s in 0..self.socks.len() {
                self.send(s, work, c);
            }
            if now.duration_since(last_scan) >= Duration::from_millis(20) {
                last_scan = now;
                self.scan(work, c, now);
            }
            let ready = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 5) };
            if ready > 0 {
                for s in 0..self.socks.len() {
                    if pfds[s].revents != 0 {
                        self.receive(s, work, c);
                    }
                }
            }
        }
        // Whatever is still in flight counts as lost.
        for sk in &mut self.socks {
            for sl in sk.slots.iter_mut() {
                sl.busy = false;
            }
            sk.free = (0..self.window as u16).rev().collect();
            sk.busy = 0;
        }
    }

    fn receive(&mut self, s: usize, work: &mut dyn Work, c: &Counters) -> usize {
        let fd = self.socks[s].sock.as_raw_fd();
        let mut iov: [libc::iovec; RECV_BATCH] = unsafe { std::mem::zeroed() };
        let mut hdr: [libc::mmsghdr; RECV_BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..RECV_BATCH {
            iov[i].iov_base = self.recv[i].as_mut_ptr() as *mut libc::c_void;
            iov[i].iov_len = RECV_MAX;
            hdr[i].msg_hdr.msg_iov = &mut iov[i];
            hdr[i].msg_hdr.msg_iovlen = 1;
        }
        let n = unsafe {
            libc::recvmmsg(
                fd,
                hdr.as_mut_ptr(),
                RECV_BATCH as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n <= 0 {
            return 0;
        }
        let (mut ann, mut scr, mut err) = (0u64, 0u64, 0u64);
        for i in 0..n as usize {
            let len = hdr[i].msg_len as usize;
            let pkt = &self.recv[i][..len];
            if len < 8 {
                err += 1;
                continue;
            }
            let action = be32(pkt, 0);
            let tid = be32(pkt, 4);
            let sk = &mut self.socks[s];
            if tid & CONNECT_TID != 0 {
                if action == 0 && len >= 16 {
                    sk.conn_id = u64::from_be_bytes(pkt[8..16].try_into().unwrap());
                    sk.conn_at = Instant::now();
                    sk.renew_sent = None;
                    Counters::add(&c.connects, 1);
                }
                continue;
            }
            let slot = (tid & 0xff) as usize;
            if slot >= sk.slots.len() || !sk.slots[slot].busy || sk.slots[slot].tid != tid {
                continue; // a reply that arrived after its timeout
            }
            let item = sk.slots[slot].item;
            sk.slots[slot].busy = false;
            sk.free.push(slot as u16);
            sk.busy -= 1;
            match action {
                1 => {
                    ann += 1;
                    work.reply(item, pkt);
                }
                2 => {
                    scr += 1;
                    work.reply(item, pkt);
                }
                _ => {
                    err += 1;
                    if self.first_error {
                        self.first_error = false;
                        eprintln!(
                            "loadgen: first error reply: {:?}",
                            String::from_utf8_lossy(&pkt[8.min(len)..])
                        );
                    }
                }
            }
        }
        Counters::add(&c.announces, ann);
        Counters::add(&c.scrapes, scr);
        Counters::add(&c.responses, ann + scr);
        Counters::add(&c.errors, err);
        n as usize
    }

    fn send(
        &mut self,
        s: usize,
        work: &mut dyn Work,
        c: &Counters,
    ) -> usize {
        let sk = &mut self.socks[s];
        let now = Instant::now();
        // Renew the connection id in the background; the old one stays valid.
        if now.duration_since(sk.conn_at) >= RENEW
            && sk.renew_sent.map_or(true, |t| now.duration_since(t) >= Duration::from_secs(1))
        {
            let mut req = [0u8; 16];
            req[..8].copy_from_slice(&MAGIC.to_be_bytes());
            req[12..16].copy_from_slice(&(CONNECT_TID | s as u32).to_be_bytes());
            let _ = sk.sock.send(&req);
            sk.renew_sent = Some(now);
        }
        let room = sk.free.len();
        if room == 0 {
            return 0;
        }
        let mut n = 0usize;
        let mut lens = [0usize; 256];
        while n < room {
            let slot = sk.free[sk.free.len() - 1 - n];
            let buf = &mut sk.sendbuf[n * REQ_MAX..(n + 1) * REQ_MAX];
            let Some((action, blen, item)) = work.next(s, sk.src, &mut buf[16..]) else {
                break;
            };
            sk.gen = sk.gen.wrapping_add(1) & 0x7f_ffff;
            let tid = (sk.gen << 8) | slot as u32;
            buf[..8].copy_from_slice(&sk.conn_id.to_be_bytes());
            buf[8..12].copy_from_slice(&action.to_be_bytes());
            buf[12..16].copy_from_slice(&tid.to_be_bytes());
            sk.slots[slot as usize] = Slot {
                busy: true,
                tid,
                sent: now,
                item,
            };
            lens[n] = 16 + blen;
            n += 1;
        }
        if n == 0 {
            return 0;
        }
        let mut iov: [libc::iovec; 256] = unsafe { std::mem::zeroed() };
        let mut hdr: [libc::mmsghdr; 256] = unsafe { std::mem::zeroed() };
        for i in 0..n {
            iov[i].iov_base = sk.sendbuf[i * REQ_MAX..].as_mut_ptr() as *mut libc::c_void;
            iov[i].iov_len = lens[i];
            hdr[i].msg_hdr.msg_iov = &mut iov[i];
            hdr[i].msg_hdr.msg_iovlen = 1;
        }
        let sent = unsafe {
            libc::sendmmsg(sk.sock.as_raw_fd(), hdr.as_mut_ptr(), n as u32, libc::MSG_DONTWAIT)
        };
        let sent = sent.max(0) as usize;
        // Messages the kernel did not take stay "in flight" and time out
        // (and are retried by fill), exactly like datagrams lost on the way.
        let left = sk.free.len() - n;
        sk.free.truncate(left);
        sk.busy += n;
        Counters::add(&c.sent, sent as u64);
        n
    }

    fn scan(&mut self, work: &mut dyn Work, c: &Counters, now: Instant) {
        let mut lost = 0u64;
        for (s, sk) in self.socks.iter_mut().enumerate() {
            for (i, sl) in sk.slots.iter_mut().enumerate() {
                if sl.busy && now.duration_since(sl.sent) >= self.timeout {
                    sl.busy = false;
                    sk.free.push(i as u16);
                    sk.busy -= 1;
                    lost += 1;
                    work.timeout(s, sl.item);
                }
            }
        }
        Counters::add(&c.lost, lost);
    }
}

/// Blocking BEP 15 connect with retries (5 s at most).
fn handshake(sock: &UdpSocket, s: u32) -> Result<u64, String> {
    sock.set_read_timeout(Some(Duration::from_millis(250)))
        .map_err(|e| e.to_string())?;
    let tid = CONNECT_TID | s;
    let mut req = [0u8; 16];
    req[..8].copy_from_slice(&MAGIC.to_be_bytes());
    req[12..16].copy_from_slice(&tid.to_be_bytes());
    let mut buf = [0u8; RECV_MAX];
    for _ in 0..20 {
        let _ = sock.send(&req);
        let deadline = Instant::now() + Duration::from_millis(250);
        while Instant::now() < deadline {
            match sock.recv(&mut buf) {
                Ok(n) if n >= 16 && be32(&buf, 0) == 0 && be32(&buf, 4) == tid => {
                    return Ok(u64::from_be_bytes(buf[8..16].try_into().unwrap()));
                }
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }
    Err("no reply to BEP 15 connect within 5 s".into())
}

/// Writes an announce body (after the 16-byte header).
pub fn put_announce(body: &mut [u8], hash: &[u8; 20], src: usize, port: u16, left: u64, event: u32, numwant: i32) -> usize {
    body[..20].copy_from_slice(hash);
    body[20..40].copy_from_slice(&common::peer_id(src, port));
    body[40..48].copy_from_slice(&0u64.to_be_bytes()); // downloaded
    body[48..56].copy_from_slice(&left.to_be_bytes());
    body[56..64].copy_from_slice(&0u64.to_be_bytes()); // uploaded
    body[64..68].copy_from_slice(&event.to_be_bytes());
    body[68..72].copy_from_slice(&0u32.to_be_bytes()); // ip
    let key = ((src as u32) << 16) | port as u32;
    body[72..76].copy_from_slice(&key.to_be_bytes());
    body[76..80].copy_from_slice(&numwant.to_be_bytes());
    body[80..82].copy_from_slice(&port.to_be_bytes());
    82
}

/// Steady load: random announces over N torrents x K peers, some scrapes.
pub struct Load {
    pub torrents: u64,
    pub peers_per_torrent: u64,
    pub sources: usize,
    pub scrape_ratio: f64,
    pub scrape_hashes: usize,
    pub numwant: i32,
    pub rng: Rng,
}

impl Work for Load {
    fn next(&mut self, _s: usize, src: usize, body: &mut [u8]) -> Option<(u32, usize, u64)> {
        if self.scrape_ratio > 0.0 && self.rng.chance(self.scrape_ratio) {
            for k in 0..self.scrape_hashes {
                let t = self.rng.below(self.torrents);
                body[k * 20..k * 20 + 20].copy_from_slice(&common::info_hash(t));
            }
            return Some((2, 20 * self.scrape_hashes, 0));
        }
        let t = self.rng.below(self.torrents);
        // Peer p = src + sources * r, r chosen so that p < K.
        let per_src = (self.peers_per_torrent - src as u64).div_ceil(self.sources as u64);
        let p = src as u64 + self.sources as u64 * self.rng.below(per_src);
        let port = common::peer_port(p, self.sources);
        let n = put_announce(body, &common::info_hash(t), src, port, common::peer_left(p), 0, self.numwant);
        Some((1, n, 0))
    }
}

/// Announces P distinct peers over T torrents once each (retrying lost ones).
/// Peer i: torrent i % T, index q = i / T within it, source q % S, port
/// 1024 + q / S. Socket s sends the peers whose q % S == s.
pub struct Fill {
    pub peers: u64,
    pub torrents: u64,
    pub sources: usize,
    pub numwant: i32,
    cursor: Vec<(u64, u64)>,
    retry: Vec<Vec<(u64, u8)>>,
    pub acked: u64,
    pub given_up: u64,
}

impl Fill {
    pub fn new(peers: u64, torrents: u64, sources: usize, numwant: i32) -> Fill {
        Fill {
            peers,
            torrents,
            sources,
            numwant,
            cursor: (0..sources as u64).map(|s| (s, 0)).collect(),
            retry: vec![Vec::new(); sources],
            acked: 0,
            given_up: 0,
        }
    }
}

impl Work for Fill {
    fn next(&mut self, s: usize, src: usize, body: &mut [u8]) -> Option<(u32, usize, u64)> {
        let (i, tries) = if let Some((i, tries)) = self.retry[s].pop() {
            (i, tries)
        } else {
            let (q, t) = self.cursor[s];
            let i = q * self.torrents + t;
            if i >= self.peers {
                return None;
            }
            self.cursor[s] = if t + 1 < self.torrents {
                (q, t + 1)
            } else {
                (q + self.sources as u64, 0)
            };
            (i, 0)
        };
        let t = i % self.torrents;
        let q = i / self.torrents;
        let port = common::peer_port(q, self.sources);
        let n = put_announce(body, &common::info_hash(t), src, port, common::peer_left(q), 2, self.numwant);
        Some((1, n, i | (tries as u64) << 56))
    }
    fn reply(&mut self, _item: u64, _pkt: &[u8]) {
        self.acked += 1;
    }
    fn timeout(&mut self, s: usize, item: u64) {
        let tries = (item >> 56) as u8;
        if tries < 5 {
            self.retry[s].push((item & ((1 << 56) - 1), tries + 1));
        } else {
            self.given_up += 1;
        }
    }
    fn exhausted(&self) -> bool {
        self.retry.iter().all(|r| r.is_empty())
            && (0..self.sources).all(|s| {
                let (q, t) = self.cursor[s];
                q * self.torrents + t >= self.peers
            })
    }
}

/// Scrapes torrents 0..T in chunks (socket 0 only) and adds up the counts.
pub struct ScrapeAll {
    pub torrents: u64,
    cursor: u64,
    retry: Vec<(u64, u8)>,
    pub seeders: u64,
    pub leechers: u64,
    pub known: u64,
    pub answered: u64,
}

impl ScrapeAll {
    pub fn new(torrents: u64) -> Self {
        ScrapeAll {
            torrents,
            cursor: 0,
            retry: Vec::new(),
            seeders: 0,
            leechers: 0,
            known: 0,
            answered: 0,
        }
    }
    fn chunk(&self, start: u64) -> u64 {
        (self.torrents - start).min(MAX_SCRAPE as u64)
    }
}

impl Work for ScrapeAll {
    fn next(&mut self, s: usize, _src: usize, body: &mut [u8]) -> Option<(u32, usize, u64)> {
        if s != 0 {
            return None;
        }
        let (start, tries) = match self.retry.pop() {
            Some(x) => x,
            None if self.cursor < self.torrents => {
                let x = self.cursor;
                self.cursor += self.chunk(x);
                (x, 0)
            }
            None => return None,
        };
        let k = self.chunk(start);
        for j in 0..k {
            body[j as usize * 20..j as usize * 20 + 20].copy_from_slice(&common::info_hash(start + j));
        }
        Some((2, 20 * k as usize, start | (tries as u64) << 56))
    }
    fn reply(&mut self, item: u64, pkt: &[u8]) {
        let item = item & ((1 << 56) - 1);
        let k = self.chunk(item) as usize;
        if pkt.len() < 8 + 12 * k {
            return;
        }
        self.answered += 1;
        for j in 0..k {
            let o = 8 + 12 * j;
            let (se, le) = (be32(pkt, o) as u64, be32(pkt, o + 8) as u64);
            self.seeders += se;
            self.leechers += le;
            if se + le > 0 {
                self.known += 1;
            }
        }
    }
    fn timeout(&mut self, _s: usize, item: u64) {
        let tries = (item >> 56) as u8;
        if tries < 5 {
            self.retry.push((item & ((1 << 56) - 1), tries + 1));
        }
    }
    fn exhausted(&self) -> bool {
        self.retry.is_empty() && self.cursor >= self.torrents
    }
}
