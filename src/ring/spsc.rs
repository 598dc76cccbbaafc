//! A bounded single-producer single-consumer ring of `Copy` values.
//!
//! All memory is allocated in [`channel`]; pushing and popping never allocate, lock or make a
//! syscall. Head (read) and tail (write) are free-running counters on their own cache lines;
//! each side keeps a private copy of the other side's counter and refreshes it only when the
//! ring looks full (producer) or empty (consumer), so in steady state a push or pop touches one
//! shared cache line. The producer publishes a slot with a `Release` store of the tail; the
//! consumer frees it with a `Release` store of the head. Values are `Copy`, so slots never need
//! dropping and a slot is plain memory once read.
//!
//! It must never: hand out a slot the other side may still touch, block in `try_*`, or grow.

use std::fmt;
use std::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use super::sync::{Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};
use super::wait::Waiter;

/// Why a ring could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingError {
    /// Capacity must be a power of two and at least 2.
    CapacityNotPowerOfTwo(usize),
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingError::CapacityNotPowerOfTwo(c) => {
                write!(f, "ring capacity {c} is not a power of two >= 2")
            }
        }
    }
}

impl std::error::Error for RingError {}

struct Shared<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    closed: AtomicBool,
    consumer_alive: AtomicBool,
    mask: usize,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: the ring hands each slot to exactly one side at a time (the producer owns slots in
// [tail, head + capacity), the consumer owns [head, tail)), and ownership moves only through
// Release/Acquire stores and loads of `head`/`tail`; so sharing `Shared` between the two
// threads is sound whenever `T` itself may be sent between threads.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as above; `Shared` owns plain `T` values, which may move with it if `T: Send`.
unsafe impl<T: Send> Send for Shared<T> {}

/// What a probe reads of a ring: values waiting and slots in all.
#[cfg(not(loom))]
trait Fill: Send + Sync {
    fn depth(&self) -> usize;
    fn capacity(&self) -> usize;
}

#[cfg(not(loom))]
impl<T: Send> Fill for Shared<T> {
    fn depth(&self) -> usize {
        self.tail
            .load(Ordering::Acquire)
            .wrapping_sub(self.head.load(Ordering::Acquire))
            .min(self.mask + 1)
    }
    fn capacity(&self) -> usize {
        self.mask + 1
    }
}

/// A read-only view of a ring's fill level for monitoring, from any thread. Reading it never
/// disturbs either end beyond loading the two counters.
#[cfg(not(loom))]
#[derive(Clone)]
pub struct Probe(Arc<dyn Fill>);

#[cfg(not(loom))]
impl Probe {
    /// Values waiting now (a snapshot: the ends move on).
    pub fn depth(&self) -> usize {
        self.0.depth()
    }
    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

/// Under the loom model checker (whose `Arc` cannot hold a trait object) a probe knows only
/// the capacity and reads a depth of 0; the ring's own behaviour is what loom checks.
#[cfg(loom)]
#[derive(Clone)]
pub struct Probe(usize);

#[cfg(loom)]
impl Probe {
    /// Always 0 under loom.
    pub fn depth(&self) -> usize {
        0
    }
    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.0
    }
}

#[cfg(loom)]
impl<T: Copy + Send + 'static> Producer<T> {
    /// A monitoring view of this ring's capacity (loom: no depth).
    pub fn probe(&self) -> Probe {
        Probe(self.shared.mask + 1)
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Probe({}/{})", self.depth(), self.capacity())
    }
}

/// The writing end. `Send`, not `Clone`: there is exactly one producer.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    tail: usize,
    cached_head: usize,
}

/// The reading end. `Send`, not `Clone`: there is exactly one consumer.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    head: usize,
    cached_tail: usize,
}

/// Builds a ring of `capacity` slots (a power of two ≥ 2). The only allocation the ring makes.
/// Its pages are touched only as the producer first reaches them (see [`channel_prefaulted`]).
pub fn channel<T: Copy + Send>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), RingError> {
    build(capacity, MaybeUninit::uninit)
}

/// [`channel`] with every slot written now, so no page of the ring is first touched later:
/// the producer never takes a page fault on its way round, and a rarely written ring (a cold
/// one, going round once in hours) does not grow the resident size for hours (seen as a
/// creeping RSS in the soak). Costs the memset up front: for long runs, not backtests.
pub fn channel_prefaulted<T: Copy + Send>(
    capacity: usize,
) -> Result<(Producer<T>, Consumer<T>), RingError> {
    build(capacity, MaybeUninit::zeroed)
}

fn build<T: Copy + Send>(
    capacity: usize,
    slot: impl Fn() -> MaybeUninit<T>,
) -> Result<(Producer<T>, Consumer<T>), RingError> {
    if capacity < 2 || !capacity.is_power_of_two() {
        return Err(RingError::CapacityNotPowerOfTwo(capacity));
    }
    let slots = (0..capacity)
        .map(|_| UnsafeCell::new(slot()))
        .collect::<Vec<_>>()
        .into_boxed_slice();
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        closed: AtomicBool::new(false),
        consumer_alive: AtomicBool::new(true),
        mask: capacity - 1,
        slots,
    });
    Ok((
        Producer {
            shared: shared.clone(),
            tail: 0,
            cached_head: 0,
        },
        Consumer {
            shared,
            head: 0,
            cached_tail: 0,
        },
    ))
}

#[cfg(not(loom))]
impl<T: Copy + Send + 'static> Producer<T> {
    /// A monitoring view of this ring's fill level.
    pub fn probe(&self) -> Probe {
        Probe(self.shared.clone())
    }
}

impl<T: Copy + Send> Producer<T> {
    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// Slots free right now (may grow as the consumer reads).
    pub fn free_slots(&self) -> usize {
        let head = self.shared.head.load(Ordering::Acquire);
        self.capacity() - self.tail.wrapping_sub(head)
    }

    /// False once the consumer is dropped: nothing pushed will ever be read.
    pub fn is_consumer_alive(&self) -> bool {
        self.shared.consumer_alive.load(Ordering::Acquire)
    }

    /// Pushes `value`, or hands it back if the ring is full. Never blocks.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), T> {
        let cap = self.shared.mask + 1;
        if self.tail.wrapping_sub(self.cached_head) >= cap {
            self.cached_head = self.shared.head.load(Ordering::Acquire);
            if self.tail.wrapping_sub(self.cached_head) >= cap {
                return Err(value);
            }
        }
        let idx = self.tail & self.shared.mask;
        debug_assert!(self.tail.wrapping_sub(self.cached_head) < cap);
        self.shared.slots[idx].with_mut(|p| {
            // SAFETY: `tail - head < capacity`, so slot `idx` is not in [head, tail): the
            // consumer does not read it until the Release store of the new tail below, and
            // its Acquire load of the tail orders this write before its read.
            unsafe { (*p).write(value) };
        });
        self.tail = self.tail.wrapping_add(1);
        self.shared.tail.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Pushes `value`, waiting with `waiter` while the ring is full. Hands the value back only
    /// if the consumer was dropped (it would never be read).
    #[inline]
    pub fn push_wait(&mut self, mut value: T, waiter: &mut Waiter) -> Result<(), T> {
        loop {
            match self.try_push(value) {
                Ok(()) => return Ok(()),
                Err(v) => {
                    if !self.is_consumer_alive() {
                        return Err(v);
                    }
                    value = v;
                    waiter.idle();
                }
            }
        }
    }

    /// Marks the ring closed: the consumer sees [`Consumer::is_closed`] once it has read
    /// everything pushed before. Dropping the producer does the same.
    pub fn close(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
    }
}

impl<T: Copy + Send> Consumer<T> {
    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// Values waiting right now.
    pub fn len(&self) -> usize {
        self.shared
            .tail
            .load(Ordering::Acquire)
            .wrapping_sub(self.head)
    }

    /// True when nothing is waiting right now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    fn available(&mut self) -> usize {
        let mut n = self.cached_tail.wrapping_sub(self.head);
        if n == 0 {
            self.cached_tail = self.shared.tail.load(Ordering::Acquire);
            n = self.cached_tail.wrapping_sub(self.head);
        }
        n
    }

    #[inline]
    fn read(&self, pos: usize) -> T {
        debug_assert!(pos.wrapping_sub(self.head) < self.cached_tail.wrapping_sub(self.head));
        self.shared.slots[pos & self.shared.mask].with(|p| {
            // SAFETY: `pos` is in [head, cached_tail), and `cached_tail` was read with Acquire
            // from the producer's Release store made after it wrote this slot, so the slot is
            // initialised and the producer will not touch it until head moves past it.
            unsafe { (*p).assume_init() }
        })
    }

    /// Pops one value, if any. Never blocks.
    #[inline]
    pub fn try_pop(&mut self) -> Option<T> {
        if self.available() == 0 {
            return None;
        }
        let v = self.read(self.head);
        self.head = self.head.wrapping_add(1);
        self.shared.head.store(self.head, Ordering::Release);
        Some(v)
    }

    /// Hands up to `max` waiting values to `f`, in order, and frees their slots with one store
    /// at the end. Returns how many.
    #[inline]
    pub fn pop_batch<F: FnMut(T)>(&mut self, max: usize, mut f: F) -> usize {
        let n = self.available().min(max);
        for i in 0..n {
            let v = self.read(self.head.wrapping_add(i));
            f(v);
        }
        if n > 0 {
            self.head = self.head.wrapping_add(n);
            self.shared.head.store(self.head, Ordering::Release);
        }
        n
    }

    /// True once the producer closed (or was dropped) and every value it pushed was read.
    pub fn is_closed(&self) -> bool {
        // Closed first, then emptiness: a push made before the close is visible to the tail
        // load below because the close was stored (Release) after that push's tail store.
        self.shared.closed.load(Ordering::Acquire)
            && self.shared.tail.load(Ordering::Acquire) == self.head
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        self.shared.consumer_alive.store(false, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::ring::WaitStrategy;

    #[test]
    fn capacity_must_be_power_of_two() {
        assert_eq!(
            channel::<u8>(0).err(),
            Some(RingError::CapacityNotPowerOfTwo(0))
        );
        assert_eq!(
            channel::<u8>(1).err(),
            Some(RingError::CapacityNotPowerOfTwo(1))
        );
        assert_eq!(
            channel::<u8>(6).err(),
            Some(RingError::CapacityNotPowerOfTwo(6))
        );
        assert!(channel::<u8>(2).is_ok());
    }

    #[test]
    fn full_hands_the_value_back_and_wraps() {
        let (mut tx, mut rx) = channel::<u32>(4).unwrap();
        for round in 0..10u32 {
            for i in 0..4 {
                tx.try_push(round * 10 + i).unwrap();
            }
            assert_eq!(tx.try_push(99), Err(99));
            assert_eq!(tx.free_slots(), 0);
            assert_eq!(rx.len(), 4);
            for i in 0..4 {
                assert_eq!(rx.try_pop(), Some(round * 10 + i));
            }
            assert_eq!(rx.try_pop(), None);
        }
    }

    #[test]
    fn batch_is_ordered_and_bounded() {
        let (mut tx, mut rx) = channel::<u32>(8).unwrap();
        for i in 0..6 {
            tx.try_push(i).unwrap();
        }
        let mut got = Vec::new();
        assert_eq!(rx.pop_batch(4, |v| got.push(v)), 4);
        assert_eq!(rx.pop_batch(10, |v| got.push(v)), 2);
        assert_eq!(rx.pop_batch(10, |v| got.push(v)), 0);
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn closed_only_after_drained() {
        let (mut tx, mut rx) = channel::<u8>(4).unwrap();
        tx.try_push(1).unwrap();
        tx.close();
        assert!(!rx.is_closed());
        assert_eq!(rx.try_pop(), Some(1));
        assert!(rx.is_closed());
        let (tx, rx) = channel::<u8>(4).unwrap();
        drop(tx);
        assert!(rx.is_closed());
    }

    #[test]
    fn push_wait_gives_up_when_consumer_is_gone() {
        let (mut tx, rx) = channel::<u8>(2).unwrap();
        let mut w = Waiter::new(WaitStrategy::BusySpin);
        tx.push_wait(1, &mut w).unwrap();
        tx.push_wait(2, &mut w).unwrap();
        drop(rx);
        assert!(!tx.is_consumer_alive());
        assert_eq!(tx.push_wait(3, &mut w), Err(3));
    }
}
