//! Listening sockets. std cannot set IPV6_V6ONLY before bind, and without it
//! `[::]:6969` would take the IPv4 port too and `0.0.0.0:6969` would fail,
//! so sockets are made here with libc and handed to std.

use super::warn;
use crate::config::Config;
use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn set_int(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: fd is a valid open socket; the option value points to a live c_int
    // whose size is passed alongside.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn bound_socket(addr: SocketAddr, kind: libc::c_int) -> io::Result<OwnedFd> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket(2) call; the returned descriptor is checked and then owned.
    let raw =
        check(unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0) })?;
    // SAFETY: raw is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if kind == libc::SOCK_STREAM {
        // Lets a restarted tracker rebind at once; unlike SO_REUSEPORT it does not
        // let a second instance share a live listener.
        set_int(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    }
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    // SAFETY: storage holds an initialised sockaddr of `len` bytes for this family.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&storage as *const libc::sockaddr_storage).cast(),
            len as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

/// Whether `listener` wakes accept only once a connection's request has
/// arrived (after ~1 s without one the connection is accepted anyway).
/// `defer::Defer` decides.
pub fn defer_accept(listener: &TcpListener, on: bool) -> io::Result<()> {
    set_int(
        listener,
        libc::IPPROTO_TCP,
        libc::TCP_DEFER_ACCEPT,
        libc::c_int::from(on),
    )
}

/// A non-blocking TCP listener on `addr` (IPv6 sockets are IPv6-only), not
/// deferring accept.
pub fn tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let fd = bound_socket(addr, libc::SOCK_STREAM)?;
    // Replies are single writes; without this a keep-alive reply that follows
    // an unacknowledged one would wait for the client's delayed ACK. Accepted
    // sockets inherit it, which saves a setsockopt per connection.
    set_int(&fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    // SAFETY: fd is a bound stream socket.
    check(unsafe { libc::listen(fd.as_raw_fd(), 1024) })?;
    Ok(TcpListener::from(fd))
}

/// A non-blocking UDP socket bound to `addr` (IPv6 sockets are IPv6-only).
pub fn udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    Ok(UdpSocket::from(bound_socket(addr, libc::SOCK_DGRAM)?))
}

/// The address in a `sockaddr_storage` the kernel filled in.
pub fn from_sockaddr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET) into storage
            // that is larger and at least as aligned.
            let sin =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(sin.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for a sockaddr_in6 (family AF_INET6).
            let sin6 =
                unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::new(
                IpAddr::V6(ip),
                u16::from_be(sin6.sin6_port),
            ))
        }
        _ => None,
    }
}

/// Accepts a connection that is already non-blocking (one `accept4`, where
/// std's accept plus async-io's setup would add an `ioctl`).
pub fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: storage and len are live and sized for any address family.
    let fd = check(unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: fd is a fresh connected socket that nothing else owns.
    let stream = TcpStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // An address family that is neither IPv4 nor IPv6 (never seen on an inet
    // socket). The caller does not show the error, so it carries no message:
    // a message would bring in a boxed string error type and its `Debug`.
    let peer = from_sockaddr(&storage).ok_or(io::ErrorKind::Other)?;
    Ok((stream, peer))
}

/// Sends a connection's last bytes, to be followed at once by `close`:
/// `MSG_MORE` holds them back for the moment so that the kernel sends them
/// and the FIN in one segment instead of two.
pub fn send_last(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: bytes is a live buffer of bytes.len() bytes; the fd is open.
    let n = unsafe {
        libc::send(
            stream.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_MORE | libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Sockets bound at start-up, before any privilege drop.
pub struct Sockets {
    pub(super) tcp: Vec<TcpListener>,
    pub(super) udp: Vec<UdpSocket>,
}

impl Sockets {
    /// Where the sockets really listen (ports resolved when 0 was asked for).
    pub fn describe(&self) -> String {
        use std::fmt::Write as _;
        let tcp = self.tcp.iter().map(|s| ("tcp", s.local_addr()));
        let udp = self.udp.iter().map(|s| ("udp", s.local_addr()));
        let mut out = String::new();
        for (proto, a) in tcp.chain(udp) {
            if let Ok(a) = a {
                let space = if out.is_empty() { "" } else { " " };
                let _ = write!(out, "{space}{proto}://{a}");
            }
        }
        out
    }
}

/// Binds every configured address. An IPv6 wildcard that cannot be bound
/// (IPv6 disabled) is skipped with a warning when IPv4 was bound too.
pub fn bind_all(cfg: &Config) -> Result<Sockets, String> {
    // One copy of the loop for both protocols: `bind` keeps what it binds.
    fn each(
        addrs: &[SocketAddr],
        proto: &str,
        bind: &mut dyn FnMut(SocketAddr) -> io::Result<()>,
    ) -> Result<(), String> {
        for &a in addrs {
            match bind(a) {
                Ok(()) => {}
                Err(e)
                    if a.is_ipv6()
                        && a.ip().is_unspecified()
                        && addrs.iter().any(|o| o.is_ipv4()) =>
                {
                    warn(format_args!(
                        "warning: cannot listen on {proto} {a}: {e}; serving IPv4 only"
                    ))
                }
                Err(e) => return Err(format!("cannot listen on {proto} {a}: {e}")),
            }
        }
        Ok(())
    }
    let (mut tcps, mut udps) = (Vec::new(), Vec::new());
    each(&cfg.tcp, "tcp", &mut |a| tcp(a).map(|s| tcps.push(s)))?;
    each(&cfg.udp, "udp", &mut |a| udp(a).map(|s| udps.push(s)))?;
    Ok(Sockets {
        tcp: tcps,
        udp: udps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_and_v6_share_a_port_and_a_second_bind_fails() {
        let l4 = tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let port = l4.local_addr().unwrap().port();
        if let Ok(l6) = tcp(format!("[::1]:{port}").parse().unwrap()) {
            assert_eq!(l6.local_addr().unwrap().port(), port);
        }
        assert!(tcp(format!("127.0.0.1:{port}").parse().unwrap()).is_err());
        let u = udp("127.0.0.1:0".parse().unwrap()).unwrap();
        let uport = u.local_addr().unwrap().port();
        assert!(udp(format!("127.0.0.1:{uport}").parse().unwrap()).is_err());
    }

    /// Accepts within a second, or None.
    fn accept_soon(l: &TcpListener) -> Option<TcpStream> {
        for _ in 0..100 {
            if let Ok((s, _)) = accept(l) {
                return Some(s);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        None
    }

    #[test]
    fn accepted_connections_are_nonblocking_with_nodelay_and_deferring_waits_for_the_request() {
        use std::io::{Read, Write};
        let l = tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        // Not deferring: a connection is acceptable before it sends anything.
        let silent = TcpStream::connect(addr).unwrap();
        let early = accept_soon(&l).expect("accepted without a request");
        drop((silent, early));

        defer_accept(&l, true).unwrap();
        let mut c = TcpStream::connect(addr).unwrap();
        // Connected, but nothing sent: deferred, so not yet acceptable.
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(
            accept(&l).map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::WouldBlock)
        );
        c.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut s = accept_soon(&l).expect("accepted once the request arrived");
        assert!(
            s.nodelay().unwrap(),
            "TCP_NODELAY inherited from the listener"
        );
        let mut buf = [0u8; 64];
        assert_eq!(s.read(&mut buf).unwrap(), 18, "the request");
        assert_eq!(
            s.read(&mut buf).map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::WouldBlock),
            "non-blocking"
        );
        // The last reply goes out with the FIN.
        assert_eq!(send_last(&s, b"HTTP/1.1 200 OK\r\n\r\n").unwrap(), 19);
        drop(s);
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"HTTP/1.1 200 OK\r\n\r\n");

        // And off again: acceptable at once.
        defer_accept(&l, false).unwrap();
        let _silent = TcpStream::connect(addr).unwrap();
        assert!(accept_soon(&l).is_some(), "accepted without a request");
    }
}
