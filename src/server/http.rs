//! The HTTP loops: accept connections (at most `max_connections`), read a
//! request head into a fixed buffer, let the tracker answer, write it, and
//! keep the connection for the next request when the client allows.

use super::Shared;
use crate::wire::http::{parse_head, HeadError, HEAD_ROOM};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, Timer};
use std::io;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

/// Largest request head accepted (opentracker's limit too).
pub const REQUEST_MAX: usize = 8192;
/// Response buffer: head room plus the largest body (200 compact IPv6 peers
/// or 100 dictionary peers fit with room to spare).
const RESPONSE_MAX: usize = HEAD_ROOM + 8192;
/// How long a connection may sit between requests.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a started request may take to arrive in full, and a reply to leave.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

async fn timed<T>(
    d: Duration,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    f.or(async {
        Timer::after(d).await;
        Err(io::ErrorKind::TimedOut.into())
    })
    .await
}

/// Accepts connections on one listener forever.
pub async fn serve(listener: Async<TcpListener>, shared: Shared) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => {
                // Out of descriptors or similar: back off instead of spinning.
                Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        if shared.connections.get() >= shared.max_connections {
            shared.tracker.borrow_mut().stats.tcp_refused += 1;
            // Best effort 503 without waiting, then close.
            let mut out = [0u8; HEAD_ROOM + 64];
            let reply = shared.tracker.borrow_mut().http_error(503, false, &mut out);
            let _ = std::io::Write::write(&mut stream.get_ref(), &out[reply.range]);
            continue;
        }
        // Replies are single writes; without this a keep-alive reply that follows
        // an unacknowledged one would wait for the client's delayed ACK.
        let _ = stream.get_ref().set_nodelay(true);
        shared.tracker.borrow_mut().stats.tcp_connections += 1;
        shared.connections.set(shared.connections.get() + 1);
        let task_shared = shared.clone();
        shared
            .spawn(async move {
                let _ = connection(stream, peer.ip(), &task_shared).await;
                task_shared
                    .connections
                    .set(task_shared.connections.get() - 1);
            })
            .detach();
    }
}

async fn connection(
    mut stream: Async<TcpStream>,
    client: IpAddr,
    shared: &Rc<super::SharedState>,
) -> io::Result<()> {
    let mut req = [0u8; REQUEST_MAX];
    let mut filled = 0;
    let mut out = [0u8; RESPONSE_MAX];
    loop {
        let (reply, used) = loop {
            match parse_head(&req[..filled]) {
                Ok(head) => {
                    let now = shared.now();
                    let reply = shared
                        .tracker
                        .borrow_mut()
                        .http(&head, client, now, &mut out);
                    break (reply, head.len);
                }
                Err(HeadError::Partial) if filled < req.len() => {
                    let limit = if filled == 0 {
                        IDLE_TIMEOUT
                    } else {
                        IO_TIMEOUT
                    };
                    let n = timed(limit, stream.read(&mut req[filled..])).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    filled += n;
                }
                Err(e) => {
                    let code = match e {
                        HeadError::Partial => 413,
                        HeadError::Method => 405,
                        HeadError::Malformed | HeadError::Body => 400,
                    };
                    let reply = shared
                        .tracker
                        .borrow_mut()
                        .http_error(code, false, &mut out);
                    break (reply, filled);
                }
            }
        };
        timed(IO_TIMEOUT, stream.write_all(&out[reply.range])).await?;
        if let Some(mut body) = reply.stream {
            // Per-torrent pages and full scrapes: a buffer at a time, never whole.
            loop {
                let n = shared
                    .tracker
                    .borrow_mut()
                    .stream_chunk(&mut body, &mut out);
                if n == 0 {
                    return Ok(());
                }
                timed(IO_TIMEOUT, stream.write_all(&out[..n])).await?;
            }
        }
        if !reply.keep_alive {
            return Ok(());
        }
        req.copy_within(used..filled, 0);
        filled -= used;
    }
}
