//! The UDP loop: receive a datagram, let the tracker answer, send the reply.

use super::Shared;
use smol::Async;
use std::net::UdpSocket;

/// Largest datagram read; longer ones are truncated (and then malformed).
const RECV_MAX: usize = 2048;
/// Largest reply: 200 IPv4 peers (1220 bytes) or 66 IPv6 peers (1208 bytes).
const SEND_MAX: usize = 1500;

/// Serves one UDP socket forever.
pub async fn serve(socket: Async<UdpSocket>, shared: Shared) {
    let mut buf = [0u8; RECV_MAX];
    let mut out = [0u8; SEND_MAX];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            // ICMP errors from earlier sends surface here; they concern nobody now.
            Err(_) => continue,
        };
        let now = shared.now();
        let reply = shared
            .tracker
            .borrow_mut()
            .udp(&buf[..n], from.ip(), now, &mut out);
        if let Some(len) = reply {
            // Non-blocking send: if the socket buffer is full the client retries,
            // which is cheaper than queueing replies here.
            let _ = socket.get_ref().send_to(&out[..len], from);
        }
    }
}
