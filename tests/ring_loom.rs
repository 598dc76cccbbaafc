//! Loom model checks of the SPSC ring: every interleaving of producer and consumer.
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test ring_loom`.
#![cfg(loom)]

use loom::thread;
use tickwire::ring::channel;

#[test]
fn values_arrive_in_order_through_a_small_ring() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(2).unwrap();
        let p = thread::spawn(move || {
            for v in 1..=3 {
                while tx.try_push(v).is_err() {
                    thread::yield_now();
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            match rx.try_pop() {
                Some(v) => got.push(v),
                None => thread::yield_now(),
            }
        }
        p.join().unwrap();
        assert_eq!(got, vec![1, 2, 3]);
    });
}

#[test]
fn closed_means_everything_was_received() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(4).unwrap();
        let p = thread::spawn(move || {
            tx.try_push(7).unwrap();
            tx.try_push(8).unwrap();
            tx.close();
        });
        let mut got = Vec::new();
        loop {
            rx.pop_batch(4, |v| got.push(v));
            if rx.is_closed() {
                break;
            }
            thread::yield_now();
        }
        p.join().unwrap();
        assert_eq!(got, vec![7, 8]);
    });
}

#[test]
fn batch_pop_frees_slots_for_the_producer() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(2).unwrap();
        let p = thread::spawn(move || {
            let mut v = 0;
            while v < 4 {
                if tx.try_push(v).is_ok() {
                    v += 1;
                } else {
                    thread::yield_now();
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 4 {
            if rx.pop_batch(2, |v| got.push(v)) == 0 {
                thread::yield_now();
            }
        }
        p.join().unwrap();
        assert_eq!(got, vec![0, 1, 2, 3]);
    });
}

#[test]
fn a_single_closed_check_after_a_drain_misses_nothing() {
    loom::model(|| {
        let (mut tx, mut rx) = channel::<u32>(2).unwrap();
        let p = thread::spawn(move || {
            tx.try_push(7).unwrap();
            drop(tx); // dropping the producer closes the ring too
        });
        let mut got = Vec::new();
        rx.pop_batch(2, |v| got.push(v));
        if rx.is_closed() {
            assert_eq!(got, [7]);
        }
        p.join().unwrap();
    });
}

#[test]
fn consumer_drop_ends_push_wait() {
    use tickwire::ring::{WaitStrategy, Waiter};
    loom::model(|| {
        let (mut tx, rx) = channel::<u32>(2).unwrap();
        tx.try_push(1).unwrap();
        tx.try_push(2).unwrap();
        let c = thread::spawn(move || drop(rx));
        let mut w = Waiter::new(WaitStrategy::BusySpin);
        assert_eq!(tx.push_wait(3, &mut w), Err(3));
        c.join().unwrap();
    });
}
