//! The HTTP loops: accept connections (at most `max_connections`), read a
//! request head into a fixed buffer, let the tracker answer, write it, and
//! keep the connection for the next request when the client allows.

use super::deadlines::{self, Deadlines, Ticket};
use super::parked::{self, Next, Parked};
use super::ticker::Ticker;
use super::{bind, Shared};
use crate::wire::http::{parse_head, HeadError, HEAD_ROOM};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, Timer};
use std::io;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

/// Largest request head accepted (opentracker's limit too).
pub const REQUEST_MAX: usize = 8192;
/// Response buffer: head room plus the largest body (200 compact IPv6 peers
/// or 100 dictionary peers fit with room to spare).
pub const RESPONSE_MAX: usize = HEAD_ROOM + 8192;
/// How long a connection may wait for its first request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection kept alive after an answer may wait for its next
/// request: real clients reuse theirs within seconds (Transmission after up
/// to 13 s) or not at all.
pub const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(15);
/// How long a request may take to arrive in full from its first byte, and a
/// reply to leave.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What answering a connection's first request on the spot left to do.
enum First {
    /// Answered and closed (or the client went away).
    Done,
    /// Answered in full and kept alive with nothing unread: to be parked.
    Park,
    /// Needs the event loop: keep-alive, a request still arriving, a reply
    /// that did not fit the socket buffer, or a streamed page.
    Later(Pending),
}

/// Work handed from the accept loop to a connection task.
struct Pending {
    /// Request bytes already read (a partial request, or pipelined ones).
    unread: Vec<u8>,
    /// Reply bytes not yet written.
    unsent: Vec<u8>,
    /// The rest of a streamed page.
    stream: Option<crate::tracker::Stream>,
    /// Whether to keep serving requests after that.
    keep_alive: bool,
    /// Whether a reply (or its start) was already sent.
    answered: bool,
}

/// Accepts connections on one listener forever.
pub async fn serve(listener: Async<TcpListener>, shared: Shared) {
    // Buffers for answering first requests on the spot; a connection that
    // needs more gets its own task and buffers.
    let mut req = [0u8; REQUEST_MAX];
    let mut out = [0u8; RESPONSE_MAX];
    let parked = Rc::new(Parked::new(shared.max_connections));
    // Slack over max_connections: a reclaimed connection's task may still be
    // ending when the connection that took its slot gets a task.
    let limits = Deadlines::new(shared.max_connections + 16);
    let tasks = Tasks {
        shared: shared.clone(),
        limits: limits.clone(),
    };
    shared
        .spawn(sweep_parked(parked.clone(), tasks.clone()))
        .detach();
    shared.spawn(sweep_deadlines(limits)).detach();
    loop {
        let (stream, peer) = match listener.read_with(bind::accept).await {
            Ok(c) => c,
            Err(_) => {
                // Out of descriptors or similar: back off instead of spinning.
                Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        shared.tracker.borrow_mut().stats.tcp_connections += 1;
        // A request that has already arrived is answered here, slot or no slot:
        // idle connections holding every slot cannot lock out real clients.
        let pending = match answer_first(&stream, peer.ip(), &tasks, &parked, &mut req, &mut out) {
            First::Done => continue,
            First::Park => {
                // answer_first saw to the slot
                shared.connections.set(shared.connections.get() + 1);
                parked.push(stream, peer.ip());
                continue;
            }
            First::Later(p) => p,
        };
        if shared.connections.get() >= shared.max_connections {
            shared.tracker.borrow_mut().stats.tcp_refused += 1;
            if !pending.answered {
                // Nothing sent yet: a best-effort 503 without waiting, then close.
                let reply = shared.tracker.borrow_mut().http_error(503, false, &mut out);
                let _ = (&stream).write(&out[reply.range]);
            }
            continue;
        }
        shared.connections.set(shared.connections.get() + 1);
        tasks.start(stream, peer.ip(), pending);
    }
}

/// What starting a connection task takes: the shared state and the
/// listener's table of connection deadlines.
#[derive(Clone)]
struct Tasks {
    shared: Shared,
    limits: Rc<Deadlines>,
}

impl Tasks {
    /// Gives a connection that holds a slot its own task, which frees the
    /// slot when it ends (unless another connection has taken it over).
    fn start(&self, stream: TcpStream, client: IpAddr, pending: Pending) {
        let shared = &self.shared;
        let ticket = self.limits.register(stream.as_raw_fd());
        let (Some(ticket), Ok(stream)) = (ticket, Async::new_nonblocking(stream)) else {
            shared.connections.set(shared.connections.get() - 1);
            return;
        };
        let task_shared = shared.clone();
        shared
            .spawn(async move {
                let _ = connection(stream, client, &task_shared, &ticket, pending).await;
                if !ticket.reclaimed() {
                    let c = &task_shared.connections;
                    c.set(c.get() - 1);
                }
            })
            .detach();
    }

    /// A slot for a connection to keep alive: a free one, else the one of
    /// the oldest parked or idle kept-alive connection, which is closed (and
    /// no longer counted; a reclaimed task does not count itself out again).
    fn slot_for_keep_alive(&self, parked: &Parked) -> bool {
        let c = &self.shared.connections;
        if c.get() < self.shared.max_connections {
            return true;
        }
        // Idle longest first (to within two sweep periods): a task idle for
        // that long has waited longer than anything still parked.
        let reclaimed = self.limits.reclaim_idle(2 * parked::SWEEP)
            || parked.reclaim_oldest()
            || self.limits.reclaim_idle(Duration::ZERO);
        if reclaimed {
            c.set(c.get() - 1);
        }
        reclaimed
    }
}

/// Ends connection tasks past their time limits, one sweep a second while
/// there are any (see `deadlines`).
async fn sweep_deadlines(limits: Rc<Deadlines>) {
    let ticker = Ticker::new(deadlines::SWEEP).ok();
    loop {
        limits.wait_for_any().await;
        ticker.as_ref().map(Ticker::start);
        while !limits.is_empty() {
            tick(&ticker, deadlines::SWEEP).await;
            limits.sweep();
        }
        ticker.as_ref().map(Ticker::stop);
    }
}

/// Waits one period of a sweep's ticker (an async-io timer if it has none).
async fn tick(ticker: &Option<Ticker>, period: Duration) {
    if let Some(t) = ticker {
        if t.tick().await.is_ok() {
            return;
        }
    }
    Timer::after(period).await;
}

/// Sweeps one listener's parked connections while there are any: those whose
/// client closed are closed, the others go on to tasks (see `parked`).
async fn sweep_parked(parked: Rc<Parked>, tasks: Tasks) {
    let ticker = Ticker::new(parked::SWEEP).ok();
    loop {
        parked.wait_for_any().await;
        ticker.as_ref().map(Ticker::start);
        while !parked.is_empty() {
            tick(&ticker, parked::SWEEP).await;
            sweep_once(&parked, &tasks);
        }
        ticker.as_ref().map(Ticker::stop);
    }
}

/// One sweep of the parked connections.
fn sweep_once(parked: &Parked, tasks: &Tasks) {
    let shared = &tasks.shared;
    {
        let closed = parked.sweep(|stream, client, next| {
            let unread = match next {
                Next::Request(bytes) => bytes.to_vec(),
                Next::Quiet => Vec::new(),
            };
            let pending = Pending {
                unread,
                unsent: Vec::new(),
                stream: None,
                keep_alive: true,
                answered: true,
            };
            tasks.start(stream, client, pending);
        });
        shared.connections.set(shared.connections.get() - closed);
    }
}

/// Most connections carry one request that has already arrived when they are
/// accepted: read it, answer it and close, without registering the socket
/// with the reactor or spawning a task.
fn answer_first(
    stream: &TcpStream,
    client: IpAddr,
    tasks: &Tasks,
    parked: &Parked,
    req: &mut [u8],
    out: &mut [u8],
) -> First {
    let shared = &tasks.shared;
    let later = |unread: &[u8]| {
        First::Later(Pending {
            unread: unread.to_vec(),
            unsent: Vec::new(),
            stream: None,
            keep_alive: true,
            answered: false,
        })
    };
    let n = match { stream }.read(req) {
        Ok(0) => return First::Done,
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return later(&[]),
        Err(_) => return First::Done,
    };
    let (reply, used) = match parse_head(&req[..n]) {
        Ok(mut head) => {
            // A connection kept alive needs a slot: the oldest parked or idle
            // kept-alive one is closed for it if none is free, and without
            // one the answer says `Connection: close` (never keep-alive, then
            // a silent close).
            if head.keep_alive && !tasks.slot_for_keep_alive(parked) {
                head.keep_alive = false;
            }
            let now = shared.now();
            let reply = shared.tracker.borrow_mut().http(&head, client, now, out);
            (reply, head.len)
        }
        // Still arriving: the connection task reads the rest.
        Err(HeadError::Partial) if n < req.len() => return later(&req[..n]),
        Err(e) => (
            shared
                .tracker
                .borrow_mut()
                .http_error(error_code(e), false, out),
            n,
        ),
    };
    let bytes = &out[reply.range.clone()];
    let last = reply.stream.is_none() && !reply.keep_alive;
    // Corking the reply for the FIN is only safe when nothing is left unread:
    // closing with unread bytes sends a reset, which discards corked data.
    let sent = if last && used == n && n < req.len() {
        bind::send_last(stream, bytes)
    } else {
        { stream }.write(bytes)
    };
    let written = match sent {
        Ok(w) => w,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
        Err(_) => return First::Done,
    };
    if written == bytes.len() && last {
        return First::Done;
    }
    if written == bytes.len() && reply.keep_alive && reply.stream.is_none() && used == n {
        return First::Park;
    }
    First::Later(Pending {
        unread: req[used..n].to_vec(),
        unsent: bytes[written..].to_vec(),
        stream: reply.stream,
        keep_alive: reply.keep_alive,
        answered: written > 0,
    })
}

fn error_code(e: HeadError) -> u16 {
    match e {
        HeadError::Partial => 413,
        HeadError::Method => 405,
        HeadError::Malformed | HeadError::Body => 400,
    }
}

async fn connection(
    mut stream: Async<TcpStream>,
    client: IpAddr,
    shared: &Rc<super::SharedState>,
    limit: &Ticket,
    pending: Pending,
) -> io::Result<()> {
    // Time limits are deadlines in the listener's table, not timers: past
    // one, its sweep shuts the socket down and the read or write here ends.
    limit.arm(IO_TIMEOUT, false);
    stream.write_all(&pending.unsent).await?;
    // Memory budget: a connection holds at most its two buffers at once
    // (budget::CONNECTION_BYTES), so the unsent copy goes before they come.
    let pending = Pending {
        unsent: Vec::new(),
        ..pending
    };
    if let Some(body) = pending.stream {
        let mut out = vec![0u8; RESPONSE_MAX];
        return write_stream(&mut stream, shared, limit, body, &mut out).await;
    }
    if !pending.keep_alive {
        return Ok(());
    }
    let mut first = [0u8; parked::FIRST_READ];
    let arrived: &[u8] = if pending.unread.is_empty() {
        // Kept alive with nothing pending: most such clients close without
        // a second request, so wait without holding the buffers. A parked
        // connection costs its task and reactor entry, about 1.5 KB.
        if pending.answered {
            limit.arm(KEEP_ALIVE_IDLE, true);
        } else {
            limit.arm(IDLE_TIMEOUT, false);
        }
        let n = stream.read(&mut first).await?;
        if n == 0 {
            return Ok(());
        }
        &first[..n]
    } else {
        &pending.unread
    };
    // The buffers for the rest of the connection's life: allocated once per
    // connection, so its requests never allocate.
    let mut req = vec![0u8; REQUEST_MAX];
    let mut filled = arrived.len();
    req[..filled].copy_from_slice(arrived);
    drop(pending.unread);
    let mut out = vec![0u8; RESPONSE_MAX];
    loop {
        // A request must arrive whole within IO_TIMEOUT of its first byte: a
        // client trickling a byte at a time cannot hold the connection.
        let mut started = filled > 0;
        if started {
            limit.arm(IO_TIMEOUT, false);
        }
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
                    if !started {
                        // between requests: idle, and reclaimable
                        limit.arm(KEEP_ALIVE_IDLE, true);
                    }
                    let n = stream.read(&mut req[filled..]).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    if !started {
                        started = true;
                        limit.arm(IO_TIMEOUT, false);
                    }
                    filled += n;
                }
                Err(e) => {
                    let reply =
                        shared
                            .tracker
                            .borrow_mut()
                            .http_error(error_code(e), false, &mut out);
                    break (reply, filled);
                }
            }
        };
        limit.arm(IO_TIMEOUT, false);
        stream.write_all(&out[reply.range]).await?;
        if let Some(body) = reply.stream {
            return write_stream(&mut stream, shared, limit, body, &mut out).await;
        }
        if !reply.keep_alive {
            return Ok(());
        }
        req.copy_within(used..filled, 0);
        filled -= used;
    }
}

/// Per-torrent pages and full scrapes: a buffer at a time, never whole.
async fn write_stream(
    stream: &mut Async<TcpStream>,
    shared: &Rc<super::SharedState>,
    limit: &Ticket,
    mut body: crate::tracker::Stream,
    out: &mut [u8],
) -> io::Result<()> {
    loop {
        let n = shared.tracker.borrow_mut().stream_chunk(&mut body, out);
        if n == 0 {
            return Ok(());
        }
        limit.arm(IO_TIMEOUT, false);
        stream.write_all(&out[..n]).await?;
    }
}
