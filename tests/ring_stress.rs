//! Moves 10 million events between two threads through the SPSC ring and checks order and
//! content of every one; a tiny ring hammers the full and empty paths.

use tickwire::ring::{channel, WaitStrategy, Waiter};

#[derive(Clone, Copy, Debug)]
struct Event {
    seq: u64,
    payload: [u64; 6],
    check: u64,
}

impl Event {
    fn new(seq: u64) -> Self {
        let mut payload = [0u64; 6];
        for (i, p) in payload.iter_mut().enumerate() {
            *p = seq
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(i as u32 * 7)
                ^ i as u64;
        }
        let check = payload.iter().fold(seq, |a, p| a.rotate_left(5) ^ p);
        Self {
            seq,
            payload,
            check,
        }
    }
    fn valid(&self) -> bool {
        self.payload == Self::new(self.seq).payload
            && self.check
                == self
                    .payload
                    .iter()
                    .fold(self.seq, |a, p| a.rotate_left(5) ^ p)
    }
}

fn stress(n: u64, capacity: usize) {
    let (mut tx, mut rx) = channel::<Event>(capacity).unwrap();
    let producer = std::thread::spawn(move || {
        let mut w = Waiter::new(WaitStrategy::SpinThenYield { spins: 64 });
        for seq in 0..n {
            tx.push_wait(Event::new(seq), &mut w).unwrap();
        }
    });
    let mut w = Waiter::new(WaitStrategy::SpinThenYield { spins: 64 });
    let mut expect = 0u64;
    let mut bad = 0u64;
    loop {
        let got = rx.pop_batch(256, |e| {
            if e.seq != expect || !e.valid() {
                bad += 1;
            }
            expect += 1;
        });
        if got == 0 {
            if rx.is_closed() {
                break;
            }
            w.idle();
        } else {
            w.reset();
        }
    }
    producer.join().unwrap();
    assert_eq!(bad, 0, "events out of order or corrupted");
    assert_eq!(expect, n, "events lost or duplicated");
}

#[test]
fn ten_million_events_in_order() {
    // 10M in release (CI); 1M under a debug build, which is ~30x slower.
    let n = if cfg!(debug_assertions) {
        1_000_000
    } else {
        10_000_000
    };
    stress(n, 4096);
}

#[test]
fn tiny_ring_full_and_empty_paths() {
    stress(
        if cfg!(debug_assertions) {
            200_000
        } else {
            2_000_000
        },
        4,
    );
}

#[test]
fn ring_ops_allocate_nothing() {
    use tickwire::core::alloc::thread_allocations;
    let (mut tx, mut rx) = channel::<Event>(64).unwrap();
    let mut w = Waiter::new(WaitStrategy::BusySpin);
    let before = thread_allocations();
    for i in 0..100_000u64 {
        tx.try_push(Event::new(i)).unwrap();
        tx.push_wait(Event::new(i), &mut w).unwrap();
        assert!(rx.try_pop().is_some());
        rx.pop_batch(8, |e| assert!(e.valid()));
    }
    assert_eq!(thread_allocations() - before, 0);
}
