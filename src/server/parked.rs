//! Connections just answered and kept alive, until it is known what their
//! client does next. Most HTTP/1.1 clients that do not say `Connection:
//! close` still hang up right after reading one answer (rtorrent; Transmission
//! and aria2 between their bursts). Waiting for that FIN with a task, a
//! reactor registration and a timer per connection cost more than answering
//! (bench/callgrind.sh). Here they wait in one list instead, with no task,
//! registration or timer: one sweep every [`SWEEP`] reads each of them without
//! blocking. A client that has closed is closed; one that has sent its next
//! request, or is still open a full sweep period later, goes on to a
//! connection task, which keeps it as before.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, Read};
use std::net::{IpAddr, TcpStream};
use std::task::{Poll, Waker};
use std::time::Duration;

/// Time between sweeps while anything is parked.
pub const SWEEP: Duration = Duration::from_millis(4);
/// Most bytes a sweep reads from a connection: the start of its next request.
pub const FIRST_READ: usize = 64;

struct Entry {
    stream: TcpStream,
    client: IpAddr,
    /// The sweep count when it was parked.
    sweep: u32,
}

/// What a sweep found for a connection it hands on.
pub enum Next<'a> {
    /// The start of the client's next request.
    Request(&'a [u8]),
    /// Still open and silent after a full sweep period.
    Quiet,
}

/// The parked connections of one listener, oldest first.
pub struct Parked {
    list: RefCell<VecDeque<Entry>>,
    sweeps: Cell<u32>,
    waker: Cell<Option<Waker>>,
}

impl Parked {
    /// Room for `capacity` connections, allocated once.
    pub fn new(capacity: usize) -> Parked {
        Parked {
            list: RefCell::new(VecDeque::with_capacity(capacity)),
            sweeps: Cell::new(0),
            waker: Cell::new(None),
        }
    }

    /// Connections parked now.
    pub fn len(&self) -> usize {
        self.list.borrow().len()
    }

    /// Whether nothing is parked.
    pub fn is_empty(&self) -> bool {
        self.list.borrow().is_empty()
    }

    /// Parks a connection whose answer has been written in full and that has
    /// nothing unread.
    pub fn push(&self, stream: TcpStream, client: IpAddr) {
        let mut list = self.list.borrow_mut();
        let was_empty = list.is_empty();
        list.push_back(Entry {
            stream,
            client,
            sweep: self.sweeps.get(),
        });
        drop(list);
        if was_empty {
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
    }

    /// Closes the connection parked longest, to give its slot to a new one;
    /// false if none is parked.
    pub fn reclaim_oldest(&self) -> bool {
        self.list.borrow_mut().pop_front().is_some()
    }

    /// Waits until something is parked.
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

    /// Reads every parked connection once without blocking. Closed or failed
    /// ones are closed; `hand_on` gets each that sent something or has
    /// waited a full sweep period. Returns how many were closed.
    pub fn sweep(&self, mut hand_on: impl FnMut(TcpStream, IpAddr, Next<'_>)) -> usize {
        let now = self.sweeps.get().wrapping_add(1);
        self.sweeps.set(now);
        let mut buf = [0u8; FIRST_READ];
        let mut closed = 0;
        // Each entry once, from the oldest; those staying go to the back, so
        // the order (oldest first) holds. No allocation: the capacity is there.
        for _ in 0..self.len() {
            let Some(e) = self.list.borrow_mut().pop_front() else {
                break;
            };
            match { &e.stream }.read(&mut buf) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    if now.wrapping_sub(e.sweep) >= 2 {
                        hand_on(e.stream, e.client, Next::Quiet);
                    } else {
                        self.list.borrow_mut().push_back(e);
                    }
                }
                Ok(n) if n > 0 => {
                    hand_on(e.stream, e.client, Next::Request(&buf[..n]));
                }
                // The client closed (or the connection failed): close it.
                _ => closed += 1,
            }
        }
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// (client side, server side) of a loopback connection; the server side
    /// non-blocking, as accepted ones are.
    fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        s.set_nonblocking(true).unwrap();
        (c, s)
    }

    fn ip() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn a_sweep_closes_what_its_client_closed_and_hands_on_the_rest() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = Parked::new(4);
        let (closer, s1) = pair(&l);
        let (mut talker, s2) = pair(&l);
        let (_quiet, s3) = pair(&l);
        p.push(s1, ip());
        p.push(s2, ip());
        p.push(s3, ip());
        drop(closer);
        talker.write_all(b"GET /a").unwrap();
        std::thread::sleep(Duration::from_millis(50)); // loopback delivery
        let mut got = Vec::new();
        let closed = p.sweep(|_, _, next| match next {
            Next::Request(b) => got.push(b.to_vec()),
            Next::Quiet => got.push(b"quiet".to_vec()),
        });
        assert_eq!(closed, 1, "the one whose client closed");
        assert_eq!(got, vec![b"GET /a".to_vec()]);
        assert_eq!(p.len(), 1, "the quiet one waits a full period");
        let closed = p.sweep(|_, _, next| {
            assert!(matches!(next, Next::Quiet));
            got.push(b"quiet".to_vec());
        });
        assert_eq!(closed, 0);
        assert_eq!(got.len(), 2);
        assert!(p.is_empty());
    }

    #[test]
    fn reclaim_closes_the_connection_parked_longest() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = Parked::new(2);
        let (mut c1, s1) = pair(&l);
        let (mut c2, s2) = pair(&l);
        p.push(s1, ip());
        p.push(s2, ip());
        assert!(p.reclaim_oldest());
        let mut b = [0u8; 1];
        c1.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(c1.read(&mut b).unwrap(), 0, "the first parked is closed");
        c2.set_nonblocking(true).unwrap();
        assert!(c2.read(&mut b).is_err(), "the second is still open");
        assert!(p.reclaim_oldest());
        assert!(!p.reclaim_oldest(), "nothing left");
    }
}
