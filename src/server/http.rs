//! The HTTP loop of one listener: accept connections, answer every request
//! that has arrived on the spot with the listener's buffers, and keep
//! connections between requests in the listener's readiness set (`alive`),
//! at most `max_connections` of them. A connection whose request is still
//! arriving, whose answer did not fit the socket buffer, or that gets a
//! streamed page has a task of its own until that is done, then goes back to
//! the set.

use super::alive::{self, Alive, Entry, LISTENER};
use super::deadlines::{self, Deadlines, Ticket};
use super::defer::{self, Defer};
use super::reuse::Reuse;
use super::slots::Slot;
use super::ticker::Ticker;
use super::{bind, Shared};
use crate::tracker::HttpReply;
use crate::wire::http::{parse_head, HeadError};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, Timer};
use std::future::Future;
use std::io;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

pub use crate::wire::http::{REQUEST_MAX, RESPONSE_MAX};
/// How long a connection may wait for its first request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection kept alive after an answer may wait for its next
/// request: real clients reuse theirs within seconds (Transmission after up
/// to 13 s) or not at all.
pub const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(15);
/// How long a request may take to arrive in full from its first byte, and a
/// reply to leave.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Most batches of events served before the loop waits through the reactor.
const BATCHES: usize = 4;
/// Time between expiry sweeps of the kept-alive connections.
const EXPIRY_SWEEP: Duration = Duration::from_secs(1);
/// How long a connection must have waited for a request before a new
/// connection, finding every slot taken, may have its slot. Real clients send
/// their request right after connecting, so it arrives well within this; a
/// connection silent (or half-sent) for longer is slow or hostile, and
/// without this, such connections holding every slot got every new client
/// whose request was not there when it was accepted a 503. Younger ones are
/// never taken: a flood of fresh connections cannot push out a client whose
/// request is on its way (and that flood turns deferred accept on, so real
/// requests then come with their connections and need no slot).
pub const RECLAIM_AFTER: Duration = Duration::from_secs(2);

/// What answering the request in the buffer on the spot left to do.
enum First {
    /// Answered and closed (or the client went away).
    Done,
    /// Answered in full and kept alive with nothing unread: to wait in the
    /// set (with the slot `answer` saw to).
    Keep,
    /// Needs a task: a request still arriving, a reply that did not fit the
    /// socket buffer, pipelined requests, or a streamed page.
    Later(Pending),
}

/// Work handed to a connection task.
struct Pending {
    /// Request bytes already read (a partial request, or pipelined ones).
    unread: Vec<u8>,
    /// Reply bytes not yet written.
    unsent: Vec<u8>,
    /// The rest of a streamed page.
    stream: Option<crate::tracker::Stream>,
    /// Whether to keep serving requests after that.
    keep_alive: bool,
    /// Answers sent on the connection so far (or begun).
    answers: u32,
}

/// Where a connection's slot is while one of its requests is answered.
enum Slotted {
    /// A new connection, without one yet.
    None,
    /// Held here (a new connection that got one, or a task's).
    Held(Slot),
    /// In its entry in the set (a kept-alive connection).
    InSet,
}

/// What the loop and its connection tasks share.
#[derive(Clone)]
struct Tasks {
    shared: Shared,
    limits: Rc<Deadlines>,
    alive: Rc<Alive>,
    reuse: Rc<Reuse>,
}

/// Serves one listener forever.
pub async fn serve(listener: Async<TcpListener>, shared: Shared) {
    // The buffers every request answered on the spot uses; a connection that
    // needs a task gets its own.
    let mut req = [0u8; REQUEST_MAX];
    let mut out = [0u8; RESPONSE_MAX];
    // Slack over max_connections: a task may still be ending when the
    // connection that took its slot is kept, and slots reclaimed from tasks
    // are free only once those end (deadlines::PENDING of them at most).
    let room = shared.slots.max() + 16 + deadlines::PENDING;
    let alive = match Alive::new(listener.as_raw_fd(), room) {
        Ok(a) => Rc::new(a),
        Err(e) => {
            super::warn(format_args!("HTTP listener not served: epoll: {e}"));
            return;
        }
    };
    let tasks = Tasks {
        limits: Deadlines::new(room),
        alive,
        reuse: Rc::new(Reuse::default()),
        shared,
    };
    let limits = tasks.limits.clone();
    let swept = tasks.limits.clone();
    tasks
        .shared
        .spawn(sweeps(
            deadlines::SWEEP,
            Box::new(move || {
                let l = limits.clone();
                Box::pin(async move { l.wait_for_any().await })
            }),
            Box::new(move || {
                swept.sweep();
                !swept.is_empty()
            }),
        ))
        .detach();
    let (t, expired) = (tasks.clone(), tasks.clone());
    tasks
        .shared
        .spawn(sweeps(
            EXPIRY_SWEEP,
            Box::new(move || {
                let a = t.alive.clone();
                Box::pin(async move { a.wait_for_any().await })
            }),
            Box::new(move || {
                let t = &expired;
                t.alive
                    .expire(IDLE_TIMEOUT, KEEP_ALIVE_IDLE, |e| t.close(e));
                !t.alive.is_empty()
            }),
        ))
        .detach();
    let mut events = alive::events();
    let mut defer = Defer::default();
    loop {
        // While requests keep coming, a few batches without a round through
        // the reactor (its wait re-arms three descriptors); then the other
        // tasks get their turn.
        let mut backoff = false;
        for _ in 0..BATCHES {
            let n = tasks.alive.ready(&mut events);
            for token in events[..n].iter().map(|e| e.u64) {
                if token == LISTENER {
                    backoff |=
                        accept_ready(listener.get_ref(), &tasks, &mut defer, &mut req, &mut out);
                } else {
                    serve_kept(token, &tasks, &mut req, &mut out);
                }
            }
            if n < alive::BATCH / 4 || backoff {
                break;
            }
        }
        if backoff {
            // Out of descriptors or similar: back off instead of spinning.
            Timer::after(Duration::from_millis(50)).await;
        }
        if tasks.alive.readable().await.is_err() {
            Timer::after(Duration::from_millis(50)).await;
        }
    }
}

/// Runs `sweep` every `period` from when `wait` ends until `sweep` says
/// nothing is left to watch, over and over. (Not generic: one copy for both
/// sweeps.)
async fn sweeps(
    period: Duration,
    wait: Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()>>>>,
    mut sweep: Box<dyn FnMut() -> bool>,
) {
    let ticker = Ticker::new(period).ok();
    loop {
        wait().await;
        ticker.as_ref().map(Ticker::start);
        loop {
            tick(&ticker, period).await;
            if !sweep() {
                break;
            }
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

/// Accepts what the listener has (a batch at most) and answers each
/// connection's request if it has arrived with it; a connection still
/// without one waits in the set, and counts for `defer`. Returns true if
/// accepting failed for want of resources.
fn accept_ready(
    listener: &TcpListener,
    tasks: &Tasks,
    defer: &mut Defer,
    req: &mut [u8],
    out: &mut [u8],
) -> bool {
    let shared = &tasks.shared;
    for i in 0..alive::BATCH {
        let (stream, peer) = match bind::accept(listener) {
            Ok(c) => c,
            Err(e) => return e.kind() != io::ErrorKind::WouldBlock,
        };
        if i == 0 {
            defer.round();
        }
        shared.tracker.borrow_mut().stats.tcp_connections += 1;
        let client = peer.ip();
        // Read again for a request on its way only for the first of a round:
        // with a backlog, the others are served meanwhile.
        let (read, early) = defer::first_read(|| { &stream }.read(req), !defer.on() && i == 0);
        if matches!(read, Ok(1..)) || early {
            if let Some(on) = defer.accepted(early) {
                let _ = bind::defer_accept(listener, on);
            }
        }
        let n = match read {
            Ok(0) => continue,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Its request is still on the way: it waits in the set, if a
                // slot is free or can be reclaimed (`Tasks::reclaim`).
                match tasks.new_slot() {
                    Some(slot) => tasks.keep(stream, client, 0, slot),
                    None => tasks.refuse(&stream, out),
                }
                continue;
            }
            Err(_) => continue,
        };
        // A request that has already arrived is answered here, slot or no
        // slot: idle connections holding every slot cannot lock out real
        // clients.
        let mut slot = Slotted::None;
        match respond(
            &stream,
            client,
            tasks,
            &req[..n],
            req.len(),
            out,
            0,
            &mut slot,
        ) {
            First::Done => {}
            First::Keep => {
                // Kept alive only with a slot (`answer`).
                if let Slotted::Held(slot) = slot {
                    tasks.keep(stream, client, 1, slot);
                }
            }
            First::Later(p) => tasks.start_new(stream, client, p, slot, out),
        }
    }
    false
}

/// Serves a kept-alive connection the set says is readable: its next
/// request, or its client closing.
fn serve_kept(token: u64, tasks: &Tasks, req: &mut [u8], out: &mut [u8]) {
    let Some(e) = tasks.alive.lend(token) else {
        return;
    };
    let n = match { &e.stream }.read(req) {
        Ok(n) if n > 0 => n,
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
            tasks.alive.restore(token, e, false);
            return;
        }
        // The client closed (or the connection failed).
        _ => {
            tasks.alive.remove(token, &e);
            tasks.close(e);
            return;
        }
    };
    let answers = u32::from(e.answers);
    let mut slot = Slotted::InSet;
    match respond(
        &e.stream,
        e.client,
        tasks,
        &req[..n],
        req.len(),
        out,
        answers,
        &mut slot,
    ) {
        // Same entry, same slot in the set: no epoll_ctl.
        First::Keep => tasks.alive.restore(token, e, true),
        First::Later(p) => {
            tasks.alive.remove(token, &e);
            tasks.start(e.stream, e.client, p, e.slot);
        }
        First::Done => {
            tasks.alive.remove(token, &e);
            drop(e);
        }
    }
}

impl Tasks {
    /// Closes a kept-alive connection taken from the set (its slot goes
    /// with it).
    fn close(&self, e: Entry) {
        if e.answers == 1 {
            self.reuse.record(e.client, false);
        }
    }

    /// Keeps a connection that holds a slot in the set, or closes it if the
    /// set cannot take it (a server may close an idle kept-alive connection
    /// at any time).
    fn keep(&self, stream: TcpStream, client: IpAddr, answers: u8, slot: Slot) {
        let _ = self.alive.add(stream, client, answers, slot);
    }

    /// A slot for a new connection: a free one, else one reclaimed
    /// (`reclaim`).
    fn new_slot(&self) -> Option<Slot> {
        let slots = &self.shared.slots;
        slots
            .take()
            .or_else(|| self.reclaim().then(|| slots.take_anyway()))
    }

    /// Gives a new connection (`slot`: whether it got one to be kept alive)
    /// a task, if it has or can get a slot; otherwise a best-effort 503 if
    /// nothing was sent yet, and a close.
    fn start_new(
        &self,
        stream: TcpStream,
        client: IpAddr,
        pending: Pending,
        slot: Slotted,
        out: &mut [u8],
    ) {
        let slot = match slot {
            Slotted::Held(s) => Some(s),
            _ => self.new_slot(),
        };
        match slot {
            Some(slot) => self.start(stream, client, pending, slot),
            None if pending.answers == 0 => self.refuse(&stream, out),
            None => self.shared.tracker.borrow_mut().stats.tcp_refused += 1,
        }
    }

    /// No slot for a connection that was sent nothing yet: a best-effort 503
    /// without waiting (the caller then closes it).
    fn refuse(&self, stream: &TcpStream, out: &mut [u8]) {
        let mut tracker = self.shared.tracker.borrow_mut();
        tracker.stats.tcp_refused += 1;
        let reply = tracker.http_error(503, false, out);
        let _ = { stream }.write(&out[reply.range]);
    }

    /// Gives a connection that holds `slot` its own task, which hands it
    /// back to the set when done with it, or closes it (and so frees the
    /// slot).
    fn start(&self, stream: TcpStream, client: IpAddr, pending: Pending, slot: Slot) {
        // Until its first arm (the unsent part goes first), the task is
        // writing: a new entry is never past its deadline.
        let ticket = self.limits.register(stream.as_raw_fd(), IO_TIMEOUT);
        let (Some(ticket), Ok(stream)) = (ticket, Async::new_nonblocking(stream)) else {
            return;
        };
        let tasks = self.clone();
        self.shared
            .spawn(async move {
                if let Some((stream, answers, slot)) =
                    connection(stream, client, &tasks, ticket, pending, slot).await
                {
                    tasks.keep(stream, client, answers, slot);
                }
            })
            .detach();
    }

    /// Every slot is taken and a new connection needs one: takes the slot of
    /// the connection idle longest after an answer, else of the one that has
    /// waited longest for a request, if that was [`RECLAIM_AFTER`] or more
    /// (silent in the set, or a task's request still arriving). One in the
    /// set is closed now; a task's socket is shut down, and its slot is free
    /// once the task has seen that (until then the count is over
    /// `max_connections`, by [`deadlines::PENDING`] at most). False if there
    /// is none.
    fn reclaim(&self) -> bool {
        // One idle after an answer first, however briefly (nginx's rule, as
        // for a request to keep alive): no request of its is on the way.
        if self.close_oldest_answered() {
            return true;
        }
        let kept = self.alive.oldest_unanswered(RECLAIM_AFTER);
        let task = self.limits.oldest_reading(RECLAIM_AFTER);
        match (kept, task) {
            (Some((token, idle)), t) if t.is_none_or(|(_, waited)| idle >= waited) => {
                self.alive.take(token).map(|e| self.close(e)).is_some()
            }
            (_, Some((index, _))) => {
                self.limits.end(index);
                true
            }
            _ => false,
        }
    }

    /// A slot for a connection to keep alive: a free one, else the one of
    /// the connection idle longest in the set after an answer.
    fn slot_for_keep_alive(&self) -> Option<Slot> {
        let slots = &self.shared.slots;
        slots
            .take()
            .or_else(|| self.close_oldest_answered().then(|| slots.take_anyway()))
    }

    /// Closes the connection idle longest in the set after an answer, if
    /// there is one, for its slot.
    fn close_oldest_answered(&self) -> bool {
        self.alive.oldest().map(|e| self.close(e)).is_some()
    }
}

/// What a request gets: the one place that decides, for the answer on the
/// spot and for a connection's task alike. Parses the request at the start
/// of `arrived` (`room`: the buffer's size, to tell a head too large from one
/// still arriving) and writes its answer into `out`; returns the answer and
/// the bytes it used, or None while the head is still arriving.
///
/// `answers`: how many the connection had before. A new connection is kept
/// alive only if its client is offered that (`reuse`) and it has, or gets,
/// a slot (`slot` then holds it); a second request on a connection is
/// recorded as reuse.
fn answer(
    tasks: &Tasks,
    client: IpAddr,
    arrived: &[u8],
    room: usize,
    out: &mut [u8],
    answers: u32,
    slot: &mut Slotted,
) -> Option<(HttpReply, usize)> {
    let mut tracker = tasks.shared.tracker.borrow_mut();
    match parse_head(arrived) {
        Ok(mut head) => {
            if head.keep_alive && answers == 0 {
                let offered = tasks.reuse.offer(client);
                if offered && matches!(slot, Slotted::None) {
                    // Closing the oldest idle connection for the slot may
                    // record its reuse: the tracker is not borrowed then.
                    drop(tracker);
                    if let Some(s) = tasks.slot_for_keep_alive() {
                        *slot = Slotted::Held(s);
                    }
                    tracker = tasks.shared.tracker.borrow_mut();
                }
                // Without a slot the answer says `Connection: close` (never
                // keep-alive, then a silent close).
                head.keep_alive = offered && !matches!(slot, Slotted::None);
            }
            if answers == 1 {
                tasks.reuse.record(client, true);
            }
            let now = tasks.shared.now();
            Some((tracker.http(&head, client, now, out), head.len))
        }
        Err(HeadError::Partial) if arrived.len() < room => None,
        Err(e) => Some((tracker.http_error(error_code(e), false, out), arrived.len())),
    }
}

/// Answers the request at the start of `arrived` on the spot (`answer`) and
/// writes the answer; what is left (the rest of a request, of the answer,
/// a streamed page, pipelined requests) is for a task.
#[allow(clippy::too_many_arguments)]
fn respond(
    stream: &TcpStream,
    client: IpAddr,
    tasks: &Tasks,
    arrived: &[u8],
    room: usize,
    out: &mut [u8],
    answers: u32,
    slot: &mut Slotted,
) -> First {
    let n = arrived.len();
    let Some((reply, used)) = answer(tasks, client, arrived, room, out, answers, slot) else {
        // Still arriving: a connection task reads the rest.
        return First::Later(Pending {
            unread: arrived.to_vec(),
            unsent: Vec::new(),
            stream: None,
            keep_alive: true,
            answers,
        });
    };
    let bytes = &out[reply.range.clone()];
    let last = reply.stream.is_none() && !reply.keep_alive;
    // Corking the reply for the FIN is only safe when nothing is left unread:
    // closing with unread bytes sends a reset, which discards corked data.
    let sent = if last && used == n && n < room {
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
        return First::Keep;
    }
    First::Later(Pending {
        unread: arrived[used..].to_vec(),
        unsent: bytes[written..].to_vec(),
        stream: reply.stream,
        keep_alive: reply.keep_alive,
        answers: answers + 1,
    })
}

fn error_code(e: HeadError) -> u16 {
    match e {
        HeadError::Partial => 413,
        HeadError::Method => 405,
        HeadError::Malformed | HeadError::Body => 400,
    }
}

/// How a connection task's requests ended.
enum End {
    /// Closed, or to be closed.
    Close,
    /// Nothing half-read: back to the set (with its count of answers).
    Back(u8),
    /// A streamed page follows (then the connection closes).
    Stream(crate::tracker::Stream, Vec<u8>),
}

/// A connection's task: finishes what was pending, then reads and answers
/// requests until none is left half-read or unanswered. Returns the
/// connection to go back to the set (with its count of answers and its
/// slot), or None once it is closed (its slot then freed). The deadline
/// entry goes before the socket closes (see `deadlines::shutdown`).
async fn connection(
    mut stream: Async<TcpStream>,
    client: IpAddr,
    tasks: &Tasks,
    limit: Ticket,
    pending: Pending,
    slot: Slot,
) -> Option<(TcpStream, u8, Slot)> {
    // One place for each await, so the task's code exists once.
    let end = requests(&mut stream, client, tasks, &limit, pending).await;
    let back = match end {
        End::Close => None,
        End::Back(answers) => Some(answers),
        End::Stream(mut body, mut out) => loop {
            let n = tasks
                .shared
                .tracker
                .borrow_mut()
                .stream_chunk(&mut body, &mut out);
            if n == 0 || send(&mut stream, &limit, &out[..n]).await.is_err() {
                break None;
            }
        },
    };
    drop(limit);
    let answers = back?;
    stream.into_inner().ok().map(|s| (s, answers, slot))
}

/// Writes `bytes` whole within IO_TIMEOUT.
async fn send(stream: &mut Async<TcpStream>, limit: &Ticket, bytes: &[u8]) -> io::Result<()> {
    // Time limits are deadlines in the listener's table, not timers: past
    // one, its sweep shuts the socket down and the write here ends.
    limit.arm(IO_TIMEOUT);
    stream.write_all(bytes).await
}

/// Reads and answers a task's requests (see `connection`).
async fn requests(
    stream: &mut Async<TcpStream>,
    client: IpAddr,
    tasks: &Tasks,
    limit: &Ticket,
    pending: Pending,
) -> End {
    if send(stream, limit, &pending.unsent).await.is_err() {
        return End::Close;
    }
    // Memory budget: a connection holds at most its two buffers at once
    // (budget::CONNECTION_BYTES), so the unsent copy goes before they come.
    let Pending {
        unread,
        stream: body,
        keep_alive,
        mut answers,
        ..
    } = pending;
    if let Some(body) = body {
        return End::Stream(body, vec![0u8; RESPONSE_MAX]);
    }
    if !keep_alive {
        return End::Close;
    }
    if unread.is_empty() && answers > 0 {
        // Answered in full (what did not fit the socket buffer is written)
        // and nothing half-read: wait in the set, not here with buffers.
        return End::Back(answers.min(255) as u8);
    }
    let mut req = vec![0u8; REQUEST_MAX];
    let mut filled = unread.len();
    req[..filled].copy_from_slice(&unread);
    drop(unread);
    let mut out = Vec::new();
    // A request must arrive whole within IO_TIMEOUT of its first byte: a
    // client trickling a byte at a time cannot hold the connection. A new
    // connection waits up to IDLE_TIMEOUT for its first byte.
    limit.arm_reading(if filled == 0 {
        IDLE_TIMEOUT
    } else {
        IO_TIMEOUT
    });
    // A task holds its connection's slot (in `connection`).
    let mut slot = Slotted::InSet;
    loop {
        // The answer's buffer comes with the request's first byte (the
        // budget counts both per connection); an idle one holds neither.
        if filled > 0 && out.is_empty() {
            out = vec![0u8; RESPONSE_MAX];
        }
        let answered = if filled > 0 {
            answer(
                tasks,
                client,
                &req[..filled],
                req.len(),
                &mut out,
                answers,
                &mut slot,
            )
        } else {
            None
        };
        // None: the head is still arriving (a full buffer is answered 413).
        let Some((reply, used)) = answered else {
            let n = match stream.read(&mut req[filled..]).await {
                Ok(n) if n > 0 => n,
                _ => return End::Close,
            };
            if filled == 0 {
                limit.arm_reading(IO_TIMEOUT);
            }
            filled += n;
            continue;
        };
        answers += 1;
        if send(stream, limit, &out[reply.range]).await.is_err() {
            return End::Close;
        }
        if let Some(body) = reply.stream {
            return End::Stream(body, out);
        }
        if !reply.keep_alive {
            return End::Close;
        }
        req.copy_within(used..filled, 0);
        filled -= used;
        if filled == 0 {
            // Nothing half-read: back to the set, without the buffers.
            return End::Back(answers.min(255) as u8);
        }
        // Pipelined: the next request, perhaps still arriving.
        limit.arm_reading(IO_TIMEOUT);
    }
}
