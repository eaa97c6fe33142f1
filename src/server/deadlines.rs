//! Time limits of HTTP connection tasks, checked by one sweep a second
//! instead of a timer per wait. Arming an async-io timer costs the reactor an
//! eventfd write and read and a timerfd re-arm, twice (set, then cancel), on
//! every wait of every kept-alive connection; a deadline here is a store
//! into this table. The sweep shuts down the socket of a connection past its
//! deadline, so its pending read or write ends and its task finishes as if the
//! client had gone. Deadlines are therefore coarse: a limit of `d` ends the
//! connection between `d` and `d` + [`SWEEP`] after it was set.
//!
//! Connections waiting between requests are not here: they wait in the
//! listener's readiness set (`alive`), which has its own idle limit.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// Time between sweeps while any connection is registered.
pub const SWEEP: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
struct Slot {
    /// The socket, or -1 for a free slot.
    fd: RawFd,
    /// Milliseconds since the table's start (wrapping).
    deadline: u32,
    /// Shut down by a sweep or reclaimed (not to be done twice).
    ended: bool,
    /// Waiting for (the rest of) a request, not writing an answer.
    reading: bool,
    /// Since when it has been waiting for that request (milliseconds, as
    /// `deadline`).
    since: u32,
}

const FREE: Slot = Slot {
    fd: -1,
    deadline: 0,
    ended: false,
    reading: false,
    since: 0,
};

/// Most connections shut down for their slot whose tasks have not ended
/// yet: each may hold a connection's buffers until its task runs, over the
/// memory cap's share of connections.
pub const PENDING: usize = 4;

/// The deadlines of one listener's connection tasks.
pub struct Deadlines {
    slots: RefCell<Vec<Slot>>,
    /// Indices of free slots.
    free: RefCell<Vec<usize>>,
    start: Instant,
    waker: Cell<Option<Waker>>,
    used: Cell<usize>,
}

/// A connection's entry; dropping it frees the entry.
pub struct Ticket {
    table: Rc<Deadlines>,
    index: usize,
}

impl Deadlines {
    /// Room for `capacity` connections, allocated once.
    pub fn new(capacity: usize) -> Rc<Deadlines> {
        Rc::new(Deadlines {
            slots: RefCell::new(vec![FREE; capacity]),
            free: RefCell::new((0..capacity).rev().collect()),
            start: Instant::now(),
            waker: Cell::new(None),
            used: Cell::new(0),
        })
    }

    fn now_ms(&self) -> u32 {
        self.start.elapsed().as_millis() as u32
    }

    /// Registers a connection's socket, to make progress within `limit`
    /// (writing, until armed otherwise); None if the table is full. The
    /// deadline is set here, not at the task's first poll: a sweep that runs
    /// before that must not find the new entry past due.
    pub fn register(self: &Rc<Self>, fd: RawFd, limit: Duration) -> Option<Ticket> {
        let index = self.free.borrow_mut().pop()?;
        let deadline = self.now_ms().wrapping_add(limit.as_millis() as u32);
        self.slots.borrow_mut()[index] = Slot {
            fd,
            deadline,
            ..FREE
        };
        self.used.set(self.used.get() + 1);
        if self.used.get() == 1 {
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
        Some(Ticket {
            table: self.clone(),
            index,
        })
    }

    /// Whether no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.used.get() == 0
    }

    /// Waits until some connection is registered.
    pub async fn wait_for_any(&self) {
        poll_fn(|cx| {
            if self.used.get() == 0 {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await
    }

    /// Shuts down every connection past its deadline; returns how many.
    pub fn sweep(&self) -> usize {
        let now = self.now_ms();
        let mut ended = 0;
        for s in self.slots.borrow_mut().iter_mut() {
            if s.fd >= 0 && !s.ended && due(now, s.deadline) {
                s.ended = true;
                shutdown(s.fd);
                ended += 1;
            }
        }
        ended
    }

    /// The connection waiting longest for a request, if it has waited
    /// `min_age` or more and fewer than [`PENDING`] shut-down ones are still
    /// ending: its index and how long it has waited, in milliseconds.
    pub fn oldest_reading(&self, min_age: Duration) -> Option<(usize, u32)> {
        let now = self.now_ms();
        let slots = self.slots.borrow();
        if slots.iter().filter(|s| s.fd >= 0 && s.ended).count() >= PENDING {
            return None;
        }
        slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.fd >= 0 && s.reading && !s.ended)
            .map(|(i, s)| (i, now.wrapping_sub(s.since)))
            .filter(|&(_, age)| age >= min_age.as_millis() as u32)
            .max_by_key(|&(_, age)| age)
    }

    /// Shuts down the connection at `index` (from [`oldest_reading`]): its
    /// task ends as if the client had gone, and frees its slot.
    ///
    /// [`oldest_reading`]: Self::oldest_reading
    pub fn end(&self, index: usize) {
        if let Some(s) = self.slots.borrow_mut().get_mut(index) {
            if s.fd >= 0 && !s.ended {
                s.ended = true;
                shutdown(s.fd);
            }
        }
    }
}

/// Whether `deadline` has come at `now` (both wrapping milliseconds).
fn due(now: u32, deadline: u32) -> bool {
    now.wrapping_sub(deadline) as i32 >= 0
}

fn shutdown(fd: RawFd) {
    // SAFETY: fd is the open socket of a registered connection: its task
    // owns it and drops its ticket (unregisters) before the socket is closed
    // or handed back (http::connection), with no await in between, so the
    // fd cannot have been closed and reused while registered. shutdown()
    // only ends the connection; the descriptor stays valid.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

impl Ticket {
    /// The connection must make progress within `limit` from now (writing).
    pub fn arm(&self, limit: Duration) {
        self.set(limit, false);
    }

    /// The connection waits for a request (or its rest) for up to `limit`:
    /// after [`RECLAIM_AFTER`](super::http) of it, a new connection may have
    /// its slot.
    pub fn arm_reading(&self, limit: Duration) {
        self.set(limit, true);
    }

    fn set(&self, limit: Duration, reading: bool) {
        let now = self.table.now_ms();
        let mut slots = self.table.slots.borrow_mut();
        let s = &mut slots[self.index];
        s.deadline = now.wrapping_add(limit.as_millis() as u32);
        if reading && !s.reading {
            s.since = now;
        }
        s.reading = reading;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.table.slots.borrow_mut()[self.index] = FREE;
        self.table.free.borrow_mut().push(self.index);
        self.table.used.set(self.table.used.get() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        (c, s)
    }

    #[test]
    fn deadline_comparison_wraps() {
        assert!(due(5, 5));
        assert!(due(6, 5));
        assert!(!due(4, 5));
        assert!(due(3, u32::MAX - 2));
        assert!(!due(u32::MAX - 2, 3));
    }

    #[test]
    fn sweep_shuts_down_only_connections_past_their_deadline() {
        let t = Deadlines::new(4);
        let (mut c1, s1) = pair();
        let (mut c2, s2) = pair();
        let k1 = t.register(s1.as_raw_fd(), Duration::ZERO).unwrap();
        let k2 = t.register(s2.as_raw_fd(), Duration::ZERO).unwrap();
        k1.arm(Duration::ZERO);
        k2.arm(Duration::from_secs(60));
        assert_eq!(t.sweep(), 1);
        assert_eq!(t.sweep(), 0, "an ended connection is not shut down twice");
        let mut b = [0u8; 1];
        assert_eq!(c1.read(&mut b).unwrap(), 0, "the expired one sees its FIN");
        c2.set_nonblocking(true).unwrap();
        assert!(c2.read(&mut b).is_err(), "the other is still open");
        c2.write_all(b"x").unwrap();
        drop((k1, k2));
        assert_eq!(t.used.get(), 0);
    }

    #[test]
    fn the_connection_reading_longest_is_reclaimed_and_few_are_pending_at_once() {
        let t = Deadlines::new(8);
        let conns: Vec<_> = (0..PENDING + 2).map(|_| pair()).collect();
        let k: Vec<_> = conns
            .iter()
            .map(|(_, s)| t.register(s.as_raw_fd(), Duration::from_secs(60)).unwrap())
            .collect();
        let now = t.now_ms();
        for (i, k) in k.iter().enumerate() {
            k.arm_reading(Duration::from_secs(30));
            // waiting since 10 s ago for the first, 9 s for the next...
            t.slots.borrow_mut()[k.index].since = now.wrapping_sub(10_000 - 1000 * i as u32);
        }
        // One writing an answer is never taken, however old.
        k[0].arm(Duration::from_secs(10));
        let min = Duration::from_secs(5);
        let (i, age) = t.oldest_reading(min).unwrap();
        assert_eq!(i, k[1].index);
        assert!((9000..9500).contains(&age), "{age}");
        // Arming again while reading keeps the start of the wait.
        k[1].arm_reading(Duration::from_secs(10));
        assert_eq!(t.oldest_reading(min).unwrap().0, k[1].index);
        t.end(i);
        let mut b = [0u8; 1];
        let mut c1 = &conns[1].0;
        assert_eq!(c1.read(&mut b).unwrap(), 0, "its client sees the FIN");
        assert_eq!(t.oldest_reading(min).unwrap().0, k[2].index);
        assert!(
            t.oldest_reading(Duration::from_secs(9)).is_none(),
            "none has waited 9 s but the one ended"
        );
        // PENDING ended and not yet dropped: no more until one goes.
        for k in &k[2..=PENDING] {
            t.end(k.index);
        }
        assert!(t.oldest_reading(min).is_none());
        drop(k);
        assert_eq!(t.used.get(), 0);
    }

    /// A new connection was registered with deadline 0, which `due` takes
    /// as past for the first 24.8 days: a sweep run before the task's first
    /// poll shut it down (a cut-off reply, a truncated page, no answer).
    #[test]
    fn a_connection_just_registered_is_not_past_its_deadline() {
        let t = Deadlines::new(2);
        let (mut c, s) = pair();
        let _k = t.register(s.as_raw_fd(), Duration::from_secs(10)).unwrap();
        assert_eq!(t.sweep(), 0);
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        assert!(c.read(&mut b).is_err(), "still open: no FIN");
    }

    #[test]
    fn a_full_table_refuses_and_a_dropped_ticket_frees_its_entry() {
        let t = Deadlines::new(1);
        let (_c, s) = pair();
        let k = t.register(s.as_raw_fd(), Duration::ZERO).unwrap();
        assert!(t.register(s.as_raw_fd(), Duration::ZERO).is_none());
        drop(k);
        assert!(t.register(s.as_raw_fd(), Duration::ZERO).is_some());
    }
}
