//! Large zeroed tables that cost memory only where they are used.
//!
//! The swarm's tables are sized from the memory cap at start-up, but a fresh
//! tracker should not hold that much resident. Zeroed heap allocations do
//! not guarantee it: the static musl build's `calloc` writes every page it
//! returns (measured: 7.5 MB idle RSS at an 8 MB cap, against 0.3 MB with
//! this). Anonymous mappings are zero pages until first written, and parts
//! no longer needed can be handed back to the kernel.

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Maps `bytes` of zero pages (private, anonymous, not reserved in swap).
fn map_zeroed(bytes: usize) -> Result<NonNull<u8>, String> {
    // SAFETY: an anonymous private mapping with no address hint; the result is
    // checked before use and owned by the caller.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(format!(
            "cannot reserve {} KiB: {}",
            bytes >> 10,
            std::io::Error::last_os_error()
        ));
    }
    NonNull::new(p.cast::<u8>()).ok_or_else(|| "mmap returned null".to_string())
}

/// A fixed-size, zero-initialised array of `u32`s in its own mapping.
pub struct Words {
    ptr: NonNull<u32>,
    len: usize,
}

impl Words {
    /// Maps `len` zeroed words; fails (rather than aborting) when the system
    /// refuses, so a too-large `max_memory` is a clear start-up error.
    pub fn new(len: usize) -> Result<Words, String> {
        let bytes = len
            .checked_mul(4)
            .filter(|&b| b > 0)
            .ok_or_else(|| format!("cannot size a table of {len} words"))?;
        let ptr = map_zeroed(bytes)?.cast::<u32>();
        Ok(Words { ptr, len })
    }

    /// Returns the whole pages from word `from` to the end to the kernel; they
    /// read as zero afterwards and cost nothing until written again.
    pub fn release_from(&mut self, from: usize) {
        let page = 4096 / 4;
        let start = from.div_ceil(page) * page;
        if start >= self.len {
            return;
        }
        #[cfg(target_os = "linux")]
        // SAFETY: the range lies inside this mapping and starts on a page
        // boundary; MADV_DONTNEED on a private anonymous mapping makes the pages
        // read as zero, which is what the caller expects.
        unsafe {
            libc::madvise(
                self.ptr.as_ptr().add(start).cast(),
                (self.len - start) * 4,
                libc::MADV_DONTNEED,
            );
        }
        #[cfg(not(target_os = "linux"))]
        self[start..].fill(0);
    }
}

impl Deref for Words {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        // SAFETY: the mapping holds `len` initialised (zero or written) words and
        // lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for Words {
    fn deref_mut(&mut self) -> &mut [u32] {
        // SAFETY: as in `deref`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Words {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len * 4);
        }
    }
}

/// One value of `T` in its own zeroed mapping: pages cost memory only once
/// written, whichever allocator the build links.
pub struct Zeroed<T> {
    ptr: NonNull<T>,
}

impl<T> Zeroed<T> {
    /// Maps a zeroed `T`.
    ///
    /// # Safety
    /// All-zero bytes must be a valid value of `T` (plain data: integers,
    /// arrays of them, C structs whose pointers may be null).
    pub unsafe fn new() -> Result<Zeroed<T>, String> {
        let ptr = map_zeroed(std::mem::size_of::<T>().max(1))?.cast::<T>();
        Ok(Zeroed { ptr })
    }
}

impl<T> Deref for Zeroed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the mapping holds a valid T (zeroed, which the caller of `new`
        // vouched for, or written through `deref_mut`) for as long as `self` lives.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> DerefMut for Zeroed<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the access unique.
        unsafe { self.ptr.as_mut() }
    }
}

impl<T> Drop for Zeroed<T> {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; T holds plain data
        // with nothing to drop.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), std::mem::size_of::<T>().max(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_writable_and_released_pages_read_zero() {
        let mut w = Words::new(4096).unwrap();
        assert!(w.iter().all(|&x| x == 0));
        w[0] = 1;
        w[4095] = 7;
        w.release_from(1);
        assert_eq!(w[0], 1, "the partial first page is kept");
        assert_eq!(w[4095], 0, "released pages read as zero");
        w[4095] = 9;
        assert_eq!(w[4095], 9);
    }
}
