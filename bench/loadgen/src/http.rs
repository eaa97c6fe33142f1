//! HTTP/1.1 announces over many non-blocking connections driven by poll(2):
//! a connection per request (`close`) or reused (`keepalive`). Connections
//! come from 127.0.0.2.. so the tracker sees many peers' addresses.

use crate::common::{self, Counters, Rng};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Close,
    KeepAlive,
}

pub struct Params {
    pub addr: SocketAddr,
    pub mode: Mode,
    pub torrents: u64,
    pub peers_per_torrent: u64,
    pub sources: usize,
    pub scrape_ratio: f64,
    pub numwant: u32,
    pub timeout: Duration,
}

#[derive(PartialEq, Eq)]
enum St {
    Idle,
    Connecting,
    Sending,
    Receiving,
}

struct Conn {
    stream: Option<TcpStream>,
    st: St,
    src: usize,
    out: Vec<u8>,
    out_pos: usize,
    inb: Vec<u8>,
    deadline: Instant,
}

fn urlenc(b: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in b {
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_' || c == b'~' {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'%', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        }
    }
}

/// Opens a non-blocking connection from 127.0.0.(2+src) to `addr`.
fn open(addr: SocketAddr, src: usize) -> std::io::Result<(TcpStream, bool)> {
    let SocketAddr::V4(dst) = addr else {
        return Err(ErrorKind::InvalidInput.into());
    };
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let one: libc::c_int = 1;
        // Pick the source port at connect time (4-tuple), not at bind time.
        libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            &one as *const _ as *const libc::c_void,
            4,
        );
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &one as *const _ as *const libc::c_void,
            4,
        );
        let sin = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(ip.octets()),
            },
            sin_zero: [0; 8],
        };
        let local = sin(common::source_ip(src), 0);
        if libc::bind(
            fd,
            &local as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let remote = sin(*dst.ip(), dst.port());
        let r = libc::connect(
            fd,
            &remote as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        );
        if r == 0 {
            return Ok((stream, true));
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINPROGRESS) {
            Ok((stream, false))
        } else {
            Err(e)
        }
    }
}

enum Parsed {
    Incomplete,
    /// status, body is a failure reply, bytes used, server keeps the connection
    Done(u16, bool, usize, bool),
    Bad,
}

fn find(h: &[u8], needle: &[u8]) -> Option<usize> {
    h.windows(needle.len()).position(|w| w == needle)
}

fn parse_response(b: &[u8], eof: bool) -> Parsed {
    let Some(end) = find(b, b"\r\n\r\n") else {
        return if eof { Parsed::Bad } else { Parsed::Incomplete };
    };
    let head = &b[..end];
    if head.len() < 12 || !head.starts_with(b"HTTP/1.") {
        return Parsed::Bad;
    }
    let v11 = head[7] == b'1';
    let status = std::str::from_utf8(&head[9..12]).ok().and_then(|s| s.parse().ok()).unwrap_or(0u16);
    let mut clen: Option<usize> = None;
    let mut keep = v11;
    for line in head.split(|&c| c == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        let name = line[..colon].to_ascii_lowercase();
        let value = String::from_utf8_lossy(&line[colon + 1..]).trim().to_ascii_lowercase();
        if name == b"content-length" {
            clen = value.parse().ok();
        } else if name == b"connection" {
            keep = value.contains("keep-alive") || (v11 && !value.contains("close"));
        }
    }
    let body_start = end + 4;
    let (body_end, keep) = match clen {
        Some(n) if b.len() >= body_start + n => (body_start + n, keep),
        Some(_) => return if eof { Parsed::Bad } else { Parsed::Incomplete },
        None if eof => (b.len(), false),
        None => return Parsed::Incomplete,
    };
    let body = &b[body_start..body_end];
    let failure = find(body, b"failure reason").is_some();
    Parsed::Done(status, failure, body_end, keep)
}

/// One worker: `conns` connections until `c.stop` or `deadline`.
pub fn worker(p: &Params, conns: usize, first_src: usize, seed: u64, c: &Counters, deadline: Instant) {
    let mut rng = Rng::new(seed);
    let mut cs: Vec<Conn> = (0..conns)
        .map(|i| Conn {
            stream: None,
            st: St::Idle,
            src: (first_src + i) % p.sources,
            out: Vec::with_capacity(512),
            out_pos: 0,
            inb: Vec::with_capacity(4096),
            deadline,
        })
        .collect();
    let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(conns);
    let mut idx: Vec<usize> = Vec::with_capacity(conns);
    let mut buf = [0u8; 16384];
    let mut printed_failure = false;
    while !c.stop.load(Relaxed) && Instant::now() < deadline {
        // Start a request on every idle connection.
        for cn in cs.iter_mut() {
            if cn.st != St::Idle {
                continue;
            }
            if p.mode == Mode::Close || cn.stream.is_none() {
                cn.stream = None;
                match open(p.addr, cn.src) {
                    Ok((s, done)) => {
                        cn.stream = Some(s);
                        cn.st = if done { St::Sending } else { St::Connecting };
                    }
                    Err(_) => {
                        Counters::add(&c.errors, 1);
                        continue;
                    }
                }
            } else {
                cn.st = St::Sending;
            }
            build_request(p, &mut rng, cn);
            cn.deadline = Instant::now() + p.timeout;
        }
        pfds.clear();
        idx.clear();
        for (i, cn) in cs.iter().enumerate() {
            let ev = match cn.st {
                St::Connecting | St::Sending => libc::POLLOUT,
                St::Receiving => libc::POLLIN,
                St::Idle => continue,
            };
            pfds.push(libc::pollfd {
                fd: cn.stream.as_ref().unwrap().as_raw_fd(),
                events: ev,
                revents: 0,
            });
            idx.push(i);
        }
        if pfds.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 10) };
        let now = Instant::now();
        for (k, pf) in pfds.iter().enumerate() {
            let cn = &mut cs[idx[k]];
            if n <= 0 || pf.revents == 0 {
                if now >= cn.deadline {
                    Counters::add(&c.lost, 1);
                    cn.stream = None;
                    cn.st = St::Idle;
                }
                continue;
            }
            let stream = cn.stream.as_mut().unwrap();
            if cn.st == St::Connecting {
                match stream.take_error() {
                    Ok(None) => cn.st = St::Sending,
                    _ => {
                        Counters::add(&c.errors, 1);
                        cn.stream = None;
                        cn.st = St::Idle;
                        continue;
                    }
                }
            }
            if cn.st == St::Sending {
                match stream.write(&cn.out[cn.out_pos..]) {
                    Ok(w) => {
                        cn.out_pos += w;
                        Counters::add(&c.sent, 1);
                        if cn.out_pos == cn.out.len() {
                            cn.st = St::Receiving;
                            cn.inb.clear();
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => {
                        // The server closed an idle keep-alive connection: retry.
                        Counters::add(&c.reconnects, 1);
                        cn.stream = None;
                        cn.st = St::Idle;
                    }
                }
                continue;
            }
            // Receiving.
            let mut eof = false;
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(r) => cn.inb.extend_from_slice(&buf[..r]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        eof = true;
                        break;
                    }
                }
            }
            match parse_response(&cn.inb, eof) {
                Parsed::Incomplete => {}
                Parsed::Bad => {
                    if cn.inb.is_empty() && p.mode == Mode::KeepAlive {
                        // Closed before answering a reused connection.
                        Counters::add(&c.reconnects, 1);
                    } else {
                        Counters::add(&c.errors, 1);
                    }
                    cn.stream = None;
                    cn.st = St::Idle;
                }
                Parsed::Done(status, failure, _used, keep) => {
                    Counters::add(&c.responses, 1);
                    if status == 200 && !failure {
                        Counters::add(&c.http_ok, 1);
                        Counters::add(&c.announces, 1);
                    } else if status == 200 {
                        Counters::add(&c.http_failure, 1);
                        if !printed_failure {
                            printed_failure = true;
                            eprintln!(
                                "loadgen: first failure reply: {:?}",
                                String::from_utf8_lossy(&cn.inb[..cn.inb.len().min(300)])
                            );
                        }
                    } else {
                        Counters::add(&c.http_other, 1);
                        if !printed_failure {
                            printed_failure = true;
                            eprintln!(
                                "loadgen: first non-200 reply: {:?}",
                                String::from_utf8_lossy(&cn.inb[..cn.inb.len().min(300)])
                            );
                        }
                    }
                    if p.mode == Mode::KeepAlive && (!keep || eof) {
                        // The server closed (or announced it would close) the
                        // connection: the next request needs a new one.
                        Counters::add(&c.reconnects, 1);
                    }
                    if p.mode == Mode::Close || !keep || eof {
                        cn.stream = None;
                    }
                    cn.st = St::Idle;
                }
            }
        }
    }
}

fn build_request(p: &Params, rng: &mut Rng, cn: &mut Conn) {
    cn.out.clear();
    cn.out_pos = 0;
    let t = rng.below(p.torrents);
    if p.scrape_ratio > 0.0 && rng.chance(p.scrape_ratio) {
        cn.out.extend_from_slice(b"GET /scrape?info_hash=");
        urlenc(&common::info_hash(t), &mut cn.out);
    } else {
        let per_src = (p.peers_per_torrent - cn.src as u64).div_ceil(p.sources as u64).max(1);
        let q = cn.src as u64 + p.sources as u64 * rng.below(per_src);
        let port = common::peer_port(q, p.sources);
        cn.out.extend_from_slice(b"GET /announce?info_hash=");
        urlenc(&common::info_hash(t), &mut cn.out);
        cn.out.extend_from_slice(b"&peer_id=");
        urlenc(&common::peer_id(cn.src, port), &mut cn.out);
        let _ = write!(
            cn.out,
            "&port={port}&uploaded=0&downloaded=0&left={}&numwant={}&compact=1&key={:08x}",
            common::peer_left(q),
            p.numwant,
            ((cn.src as u32) << 16) | port as u32
        );
    }
    cn.out.extend_from_slice(b" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if p.mode == Mode::Close {
        cn.out.extend_from_slice(b"Connection: close\r\n");
    }
    cn.out.extend_from_slice(b"\r\n");
}
