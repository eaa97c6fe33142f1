//! HTTP connection slots: at most `max_connections` connections hold one
//! at a time (each may hold a request and a response buffer: the memory
//! budget's share of connections). A slot is a value: a connection in the
//! readiness set or in a task holds it, and dropping it gives it back, so no
//! path can forget to count a connection out.

use std::cell::Cell;
use std::rc::Rc;

/// The count of slots taken, shared by every listener.
#[derive(Debug)]
pub struct Slots {
    taken: Rc<Cell<usize>>,
    max: usize,
}

/// One connection's slot; given back when dropped.
#[derive(Debug)]
pub struct Slot(Rc<Cell<usize>>);

impl Slots {
    /// Room for `max` connections.
    pub fn new(max: usize) -> Slots {
        Slots {
            taken: Rc::new(Cell::new(0)),
            max,
        }
    }

    /// Most connections at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Slots taken now.
    pub fn taken(&self) -> usize {
        self.taken.get()
    }

    /// A free slot, if there is one.
    pub fn take(&self) -> Option<Slot> {
        (self.taken.get() < self.max).then(|| self.take_anyway())
    }

    /// A slot even when all are taken: for one whose holder was just told to
    /// give it back (a task shut down for it ends on its next turn).
    pub fn take_anyway(&self) -> Slot {
        self.taken.set(self.taken.get() + 1);
        Slot(self.taken.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_given_back_when_dropped() {
        let s = Slots::new(2);
        let a = s.take().unwrap();
        let b = s.take().unwrap();
        assert!(s.take().is_none(), "full");
        let c = s.take_anyway();
        assert_eq!(s.taken(), 3);
        drop((a, c));
        assert_eq!(s.taken(), 1);
        let d = s.take().unwrap();
        drop((b, d));
        assert_eq!(s.taken(), 0);
    }
}
