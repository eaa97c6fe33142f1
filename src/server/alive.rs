//! One listener's readiness loop: the listening socket and every connection
//! kept alive between requests sit in one epoll set of their own, which the
//! reactor watches as a single descriptor. A kept-alive connection thus costs
//! no task, no reactor registration and no timer: an entry here (about 40
//! bytes) and the kernel's. When requests arrive, one wait of the reactor and
//! one `epoll_wait` here bring a batch of them, each answered on the spot with
//! the listener's buffers — per request a `read` and a `write`, like the
//! stateless floor (bench/floor.c). Re-arming a connection's own reactor
//! registration (an `epoll_ctl` per wait, plus a `read` that finds nothing)
//! is what this saves over a task per connection.
//!
//! Entries are idle by definition: every connection here has nothing unread,
//! and either has been answered in full or is new and waits for its first
//! request. Idle ones expire after a limit, and the answered one idle
//! longest is closed to give its slot to a new client.

use super::slots::Slot;
use smol::Async;
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// Most events taken from the set at once.
pub const BATCH: usize = 64;
/// The event token of the listening socket (connections use their index).
pub const LISTENER: u64 = u64::MAX;

/// A connection waiting for its next request.
pub struct Entry {
    /// The socket (non-blocking).
    pub stream: TcpStream,
    /// The client's address.
    pub client: IpAddr,
    /// Answers it had so far (at most 255 counted): 0 for a new
    /// connection, 2 or more once reused.
    pub answers: u8,
    /// When it was last answered, in milliseconds since the set's start.
    since: u32,
    /// Its place among `max_connections`, given back when it goes.
    pub slot: Slot,
}

/// A listener and its kept-alive connections.
pub struct Alive {
    epoll: Async<OwnedFd>,
    entries: RefCell<Vec<Option<Entry>>>,
    free: RefCell<Vec<u32>>,
    len: Cell<usize>,
    start: Instant,
    waker: Cell<Option<Waker>>,
}

/// An empty event buffer for [`Alive::ready`].
pub fn events() -> [libc::epoll_event; BATCH] {
    [libc::epoll_event { events: 0, u64: 0 }; BATCH]
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Alive {
    /// A set for `listener` with room for `capacity` connections (allocated
    /// once).
    pub fn new(listener: RawFd, capacity: usize) -> io::Result<Alive> {
        // SAFETY: plain system call; a non-negative result is a new fd we own.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let alive = Alive {
            epoll: Async::new(fd)?,
            entries: RefCell::new((0..capacity).map(|_| None).collect()),
            free: RefCell::new((0..capacity as u32).rev().collect()),
            len: Cell::new(0),
            start: Instant::now(),
            waker: Cell::new(None),
        };
        alive.control(libc::EPOLL_CTL_ADD, listener, LISTENER)?;
        Ok(alive)
    }

    fn control(&self, op: libc::c_int, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
            u64: token,
        };
        // SAFETY: both fds are open; ev is a live epoll_event.
        check(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev) }).map(drop)
    }

    fn now_ms(&self) -> u32 {
        self.start.elapsed().as_millis() as u32
    }

    /// Connections kept here now.
    pub fn len(&self) -> usize {
        self.len.get()
    }

    /// Whether no connection is kept here.
    pub fn is_empty(&self) -> bool {
        self.len.get() == 0
    }

    /// Keeps a connection that has nothing unread (and was answered in full
    /// `answers` times); gives it back if the set is full or the kernel
    /// refuses it.
    pub fn add(
        &self,
        stream: TcpStream,
        client: IpAddr,
        answers: u8,
        slot: Slot,
    ) -> Result<(), TcpStream> {
        let Some(index) = self.free.borrow_mut().pop() else {
            return Err(stream);
        };
        if self
            .control(libc::EPOLL_CTL_ADD, stream.as_raw_fd(), u64::from(index))
            .is_err()
        {
            self.free.borrow_mut().push(index);
            return Err(stream);
        }
        self.entries.borrow_mut()[index as usize] = Some(Entry {
            stream,
            client,
            answers,
            since: self.now_ms(),
            slot,
        });
        self.len.set(self.len.get() + 1);
        if self.len.get() == 1 {
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
        Ok(())
    }

    /// Lends out the connection of an event's token, if it is still here:
    /// it stays in the set (and keeps its index) until it is given back with
    /// [`restore`](Self::restore) or let go with [`remove`](Self::remove).
    pub fn lend(&self, token: u64) -> Option<Entry> {
        self.entries
            .borrow_mut()
            .get_mut(usize::try_from(token).ok()?)?
            .take()
    }

    /// Gives back a lent connection; `answered`: it was answered (again),
    /// so its idle time restarts.
    pub fn restore(&self, token: u64, mut e: Entry, answered: bool) {
        if answered {
            e.since = self.now_ms();
            e.answers = e.answers.saturating_add(1);
        }
        if let Some(slot) = self.entries.borrow_mut().get_mut(token as usize) {
            *slot = Some(e);
        }
    }

    /// Lets a lent connection go (to close it, or to give it to a task): it
    /// is no longer watched here either way.
    pub fn remove(&self, token: u64, e: &Entry) {
        // Closing the socket would remove it from the set too, but one given
        // to a task stays open.
        let _ = self.control(libc::EPOLL_CTL_DEL, e.stream.as_raw_fd(), 0);
        self.free.borrow_mut().push(token as u32);
        self.len.set(self.len.get() - 1);
    }

    /// Takes a connection out of the set.
    pub fn take(&self, token: u64) -> Option<Entry> {
        let e = self.lend(token)?;
        self.remove(token, &e);
        Some(e)
    }

    /// Waits until some connection is kept.
    pub async fn wait_for_any(&self) {
        poll_fn(|cx| {
            if self.is_empty() {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await
    }

    /// Waits until the listener or a kept connection has something.
    pub async fn readable(&self) -> io::Result<()> {
        self.epoll.readable().await
    }

    /// Takes the events that are ready now, without waiting.
    pub fn ready(&self, events: &mut [libc::epoll_event; BATCH]) -> usize {
        // SAFETY: events is a live array of BATCH epoll_events.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                BATCH as libc::c_int,
                0,
            )
        };
        n.max(0) as usize
    }

    /// Takes out every connection idle for its limit or longer, for `end`:
    /// `first` for a new one still waiting for its first request, `next`
    /// between requests.
    pub fn expire(&self, first: Duration, next: Duration, mut end: impl FnMut(Entry)) {
        let now = self.now_ms();
        let (first, next) = (first.as_millis() as u32, next.as_millis() as u32);
        let len = self.entries.borrow().len();
        for index in 0..len {
            let old = matches!(&self.entries.borrow()[index],
                Some(e) if now.wrapping_sub(e.since) >= if e.answers == 0 { first } else { next });
            if old {
                if let Some(e) = self.take(index as u64) {
                    end(e);
                }
            }
        }
    }

    /// Takes out the answered connection idle longest, to close it for a new
    /// client to keep alive (never one still waiting for its first request).
    pub fn oldest(&self) -> Option<Entry> {
        let (index, _) = self.longest_idle(|e| e.answers > 0)?;
        self.take(index)
    }

    /// The connection waiting longest for its first request, if it has
    /// waited `min_age` or more: its token and how long, in milliseconds.
    pub fn oldest_unanswered(&self, min_age: Duration) -> Option<(u64, u32)> {
        self.longest_idle(|e| e.answers == 0)
            .filter(|&(_, idle)| idle >= min_age.as_millis() as u32)
    }

    fn longest_idle(&self, which: impl Fn(&Entry) -> bool) -> Option<(u64, u32)> {
        let now = self.now_ms();
        self.entries
            .borrow()
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                e.as_ref()
                    .filter(|e| which(e))
                    .map(|e| (i as u64, now.wrapping_sub(e.since)))
            })
            .max_by_key(|&(_, idle)| idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        s.set_nonblocking(true).unwrap();
        (c, s)
    }

    fn ip() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    fn slot() -> Slot {
        crate::server::slots::Slots::new(0).take_anyway()
    }

    #[test]
    fn events_name_the_listener_and_the_connections_with_something_to_read() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = Alive::new(l.as_raw_fd(), 4).unwrap();
        let (mut c1, s1) = pair(&l);
        let (_c2, s2) = pair(&l);
        a.add(s1, ip(), 1, slot()).unwrap();
        a.add(s2, ip(), 1, slot()).unwrap();
        assert_eq!(a.len(), 2);
        let mut ev = events();
        assert_eq!(a.ready(&mut ev), 0, "nothing yet");
        c1.write_all(b"GET /").unwrap();
        let _pending = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let n = a.ready(&mut ev);
        let mut tokens: Vec<u64> = ev[..n].iter().map(|e| e.u64).collect();
        tokens.sort();
        assert_eq!(tokens, vec![0, LISTENER], "{tokens:?}");
    }

    #[test]
    fn taken_connections_are_no_longer_watched_and_stay_open() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = Alive::new(l.as_raw_fd(), 1).unwrap();
        let (mut c, s) = pair(&l);
        a.add(s, ip(), 1, slot()).unwrap();
        let (_c2, s2) = pair(&l);
        assert!(a.add(s2, ip(), 1, slot()).is_err(), "full");
        let e = a.take(0).unwrap();
        assert!(a.is_empty() && a.take(0).is_none());
        c.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(a.ready(&mut events()), 0, "not watched");
        let mut b = [0u8; 1];
        assert_eq!({ &e.stream }.read(&mut b).unwrap(), 1, "still open");
    }

    #[test]
    fn expiry_and_reclaim_take_the_connections_idle_longest() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = Alive::new(l.as_raw_fd(), 5).unwrap();
        let (_c0, s0) = pair(&l);
        let (mut c1, s1) = pair(&l);
        let (_c2, s2) = pair(&l);
        let (_c3, s3) = pair(&l);
        a.add(s0, ip(), 0, slot()).unwrap(); // new: waits for its first request
        a.add(s1, ip(), 1, slot()).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        a.add(s2, ip(), 2, slot()).unwrap();
        a.add(s3, ip(), 1, slot()).unwrap();
        let e3 = a.lend(3).unwrap();
        a.restore(3, e3, true); // s3 answered again: idle the shortest, and reused
        let oldest = a.oldest().unwrap();
        assert_eq!(oldest.answers, 1, "the new one is never reclaimed");
        drop(oldest);
        let mut b = [0u8; 1];
        assert_eq!(
            c1.read(&mut b).unwrap(),
            0,
            "the answered one added first was closed"
        );
        let mut ended = Vec::new();
        a.expire(Duration::from_secs(60), Duration::from_secs(60), |e| {
            ended.push(e.answers)
        });
        assert!(ended.is_empty() && a.len() == 3);
        a.expire(Duration::from_secs(60), Duration::ZERO, |e| {
            ended.push(e.answers)
        });
        assert_eq!(
            ended,
            vec![2, 2],
            "answered ones expire after the limit between requests"
        );
        assert!(a.oldest().is_none(), "only the new one is left");
        a.expire(Duration::ZERO, Duration::ZERO, |e| ended.push(e.answers));
        assert!(a.is_empty() && ended == vec![2, 2, 0]);
    }
}
