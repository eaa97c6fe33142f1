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
    /// Shut down by a sweep (not to be done twice).
    ended: bool,
}

const FREE: Slot = Slot {
    fd: -1,
    deadline: 0,
    ended: false,
};

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

    /// Registers a connection's socket; None if the table is full.
    pub fn register(self: &Rc<Self>, fd: RawFd) -> Option<Ticket> {
        let index = self.free.borrow_mut().pop()?;
        self.slots.borrow_mut()[index] = Slot { fd, ..FREE };
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
}

/// Whether `deadline` has come at `now` (both wrapping milliseconds).
fn due(now: u32, deadline: u32) -> bool {
    now.wrapping_sub(deadline) as i32 >= 0
}

fn shutdown(fd: RawFd) {
    // SAFETY: fd is the open socket of a registered connection: its task
    // owns it and unregisters before closing it. shutdown() only ends the
    // connection; the descriptor stays valid until the task closes it.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

impl Ticket {
    /// The connection must make progress within `limit` from now.
    pub fn arm(&self, limit: Duration) {
        let now = self.table.now_ms();
        self.table.slots.borrow_mut()[self.index].deadline =
            now.wrapping_add(limit.as_millis() as u32);
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
        let k1 = t.register(s1.as_raw_fd()).unwrap();
        let k2 = t.register(s2.as_raw_fd()).unwrap();
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
    fn a_full_table_refuses_and_a_dropped_ticket_frees_its_entry() {
        let t = Deadlines::new(1);
        let (_c, s) = pair();
        let k = t.register(s.as_raw_fd()).unwrap();
        assert!(t.register(s.as_raw_fd()).is_none());
        drop(k);
        assert!(t.register(s.as_raw_fd()).is_some());
    }
}
