//! A counting global allocator: the proof behind "zero allocations on the hot path".
//!
//! It wraps mimalloc and counts, per thread, every `alloc`, `alloc_zeroed`, `realloc` and
//! `dealloc` (a free on the hot path is as much a heap call as an allocation). The
//! count lives in a `const`-initialised thread local with no destructor, so reading or bumping
//! it never allocates and never touches another thread's cache line. Hot threads read their
//! count when they enter their run loop and again when they leave; the difference goes into
//! `summary.json` and is asserted to be 0 by the integration tests.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};

/// Bytes allocated and not yet freed, process-wide (a relaxed add per heap call: only cold
/// threads make any after warm-up). Its trend over a long run tells heap growth from
/// allocator or page effects in the resident size.
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

/// Bytes the program holds on the heap now.
pub fn heap_live_bytes() -> i64 {
    LIVE_BYTES.load(Ordering::Relaxed)
}

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

#[inline]
fn bump() {
    // try_with: during thread teardown the slot may be gone; losing a count there is harmless.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get().wrapping_add(1)));
}

/// Heap calls (allocations, reallocations and frees) made by the calling thread since it
/// started.
pub fn thread_allocations() -> u64 {
    ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}

/// Stops the kernel from backing this process's heap with transparent huge pages from now
/// on (`prctl(PR_SET_THP_DISABLE)`). mimalloc asks for them on its arenas, so the resident
/// size then grows in 2 MiB steps as the heap touches new ground: a `tickwire run` was 45 MiB
/// resident with them and 15.6 MiB without, and grew +3.7 % over 12 minutes in steps while
/// the heap held grew 0.3 % (see JOURNAL.md). Returns false where it is not supported.
pub fn disable_heap_huge_pages() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and touches no memory of
        // ours; it only sets a flag on this process's address space.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Global allocator wrapper that counts allocations per thread.
pub struct CountingAlloc<A>(pub A);

// SAFETY: every method forwards to the inner allocator with the caller's arguments unchanged,
// so the inner allocator's guarantees hold; the only addition is a thread-local counter bump,
// which neither allocates nor unwinds.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump();
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; `ptr` came from this allocator with this `layout`.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_this_threads_allocations_only() {
        let before = thread_allocations();
        let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(16));
        let after = thread_allocations();
        assert_eq!(after - before, 1);
        drop(v);
        let other = std::thread::spawn(|| {
            let start = thread_allocations();
            let _b = std::hint::black_box(Box::new(7u64));
            thread_allocations() - start
        })
        .join()
        .unwrap();
        // The other thread saw only its own allocation, none of this thread's.
        assert_eq!(other, 1);
        // Live bytes go up by what is held (other test threads allocate too: compare with a
        // block far larger than their noise).
        let before = heap_live_bytes();
        let big: Vec<u8> = std::hint::black_box(vec![0u8; 64 << 20]);
        assert!(heap_live_bytes() - before >= (60 << 20));
        drop(big);
    }
}
