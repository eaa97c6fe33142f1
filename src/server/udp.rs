//! The UDP loop: receive a batch of datagrams, let the tracker answer each,
//! send the replies in one batch.
//!
//! On Linux a batch is one `recvmmsg` and one `sendmmsg` system call, which
//! is where most of a UDP tracker's CPU goes; elsewhere it is one datagram at
//! a time through std.

use super::Shared;
use smol::Async;
use std::net::UdpSocket;

/// Largest datagram read: a full 74-hash scrape is 1496 bytes. Longer ones
/// are truncated (and then malformed).
pub const RECV_MAX: usize = 1536;
/// Largest reply: 200 IPv4 peers (1220 bytes) or 66 IPv6 peers (1208 bytes).
pub const SEND_MAX: usize = 1280;

/// Bytes of batch buffers one UDP socket holds (part of the memory budget).
pub fn batch_bytes() -> usize {
    #[cfg(target_os = "linux")]
    return std::mem::size_of::<batched::Batch>();
    #[cfg(not(target_os = "linux"))]
    return RECV_MAX + SEND_MAX;
}

/// Serves one UDP socket forever.
pub async fn serve(socket: Async<UdpSocket>, shared: Shared) {
    #[cfg(target_os = "linux")]
    batched::serve(socket, shared).await;
    #[cfg(not(target_os = "linux"))]
    single::serve(socket, shared).await;
}

#[cfg(not(target_os = "linux"))]
mod single {
    use super::*;

    pub async fn serve(socket: Async<UdpSocket>, shared: Shared) {
        let mut buf = [0u8; RECV_MAX];
        let mut out = [0u8; SEND_MAX];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let now = shared.now();
            let reply = shared
                .tracker
                .borrow_mut()
                .udp(&buf[..n], from.ip(), now, &mut out);
            if let Some(len) = reply {
                // Non-blocking: if the socket buffer is full the client retries.
                let _ = socket.get_ref().send_to(&out[..len], from);
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod batched {
    use super::*;
    use crate::region::Zeroed;
    use std::mem;
    use std::os::fd::AsRawFd;

    /// Datagrams per system call. 16 measured as fast as 32 (and 64 slower)
    /// at half the buffer memory (~50 KB a socket).
    const BATCH: usize = 16;

    /// Buffers for one batch, allocated once per socket.
    pub(super) struct Batch {
        recv: [[u8; RECV_MAX]; BATCH],
        send: [[u8; SEND_MAX]; BATCH],
        peers: [libc::sockaddr_storage; BATCH],
        replies: [libc::sockaddr_storage; BATCH],
        recv_iov: [libc::iovec; BATCH],
        send_iov: [libc::iovec; BATCH],
        recv_hdr: [libc::mmsghdr; BATCH],
        send_hdr: [libc::mmsghdr; BATCH],
    }

    fn new_batch() -> Result<Zeroed<Batch>, String> {
        // SAFETY: every field of Batch is plain data (bytes, C structs with integer
        // and pointer fields) for which all-zero is valid; pointers are set before use.
        unsafe { Zeroed::new() }
    }

    fn addr_len(ss: &libc::sockaddr_storage) -> libc::socklen_t {
        let len = match i32::from(ss.ss_family) {
            libc::AF_INET => mem::size_of::<libc::sockaddr_in>(),
            _ => mem::size_of::<libc::sockaddr_in6>(),
        };
        len as libc::socklen_t
    }

    pub async fn serve(socket: Async<UdpSocket>, shared: Shared) {
        let fd = socket.get_ref().as_raw_fd();
        let mut b = match new_batch() {
            Ok(b) => b,
            Err(e) => {
                crate::server::warn(format_args!("udp: {e}"));
                return;
            }
        };
        loop {
            if socket.readable().await.is_err() {
                continue;
            }
            // Drain the socket: full batches mean more may be waiting.
            loop {
                let got = receive(fd, &mut b);
                if got == 0 {
                    break;
                }
                let now = shared.now();
                let mut replies = 0;
                {
                    let mut tracker = shared.tracker.borrow_mut();
                    for i in 0..got {
                        let len = (b.recv_hdr[i].msg_len as usize).min(RECV_MAX);
                        let Some(from) = crate::server::bind::from_sockaddr(&b.peers[i]) else {
                            continue;
                        };
                        let Batch { recv, send, .. } = &mut *b;
                        if let Some(n) =
                            tracker.udp(&recv[i][..len], from.ip(), now, &mut send[replies])
                        {
                            b.replies[replies] = b.peers[i];
                            b.send_iov[replies].iov_len = n;
                            replies += 1;
                        }
                    }
                }
                transmit(fd, &mut b, replies);
                if got < BATCH {
                    break;
                }
            }
        }
    }

    /// One `recvmmsg`; returns how many datagrams arrived (0: none waiting).
    fn receive(fd: i32, b: &mut Batch) -> usize {
        for i in 0..BATCH {
            b.recv_iov[i] = libc::iovec {
                iov_base: b.recv[i].as_mut_ptr().cast(),
                iov_len: RECV_MAX,
            };
            // SAFETY: msghdr is plain data; all-zero is valid and the fields used are set below.
            let mut h: libc::msghdr = unsafe { mem::zeroed() };
            h.msg_name = (&mut b.peers[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut b.recv_iov[i];
            h.msg_iovlen = 1;
            b.recv_hdr[i] = libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            };
        }
        // SAFETY: recv_hdr holds BATCH headers whose name and iovec pointers point
        // into `b`, which outlives the call; the kernel writes only within them.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                b.recv_hdr.as_mut_ptr(),
                BATCH as _,
                libc::MSG_DONTWAIT as _,
                std::ptr::null_mut(),
            )
        };
        usize::try_from(n).unwrap_or(0)
    }

    /// `sendmmsg` of the first `count` replies. A full socket buffer drops
    /// the rest: the clients retry, which is cheaper than queueing here.
    fn transmit(fd: i32, b: &mut Batch, count: usize) {
        for i in 0..count {
            b.send_iov[i].iov_base = b.send[i].as_mut_ptr().cast();
            // SAFETY: msghdr is plain data; all-zero is valid and the fields used are set below.
            let mut h: libc::msghdr = unsafe { mem::zeroed() };
            h.msg_name = (&mut b.replies[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = addr_len(&b.replies[i]);
            h.msg_iov = &mut b.send_iov[i];
            h.msg_iovlen = 1;
            b.send_hdr[i] = libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            };
        }
        let mut sent = 0;
        while sent < count {
            // SAFETY: send_hdr[sent..count] are initialised headers pointing into `b`.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    b.send_hdr[sent..].as_mut_ptr(),
                    (count - sent) as _,
                    libc::MSG_DONTWAIT as _,
                )
            };
            match usize::try_from(n) {
                Ok(n) if n > 0 => sent += n,
                // An error on one datagram (e.g. an unreachable address) stops the
                // batch there: skip it and send the rest.
                _ if std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock => {
                    sent += 1
                }
                _ => break,
            }
        }
    }
}
