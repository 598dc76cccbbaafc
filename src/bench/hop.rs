//! One ring hop between two threads, timed by ping-pong: tickwire's SPSC ring beside
//! crossbeam's `ArrayQueue` and std's `mpsc::sync_channel`, each carrying a 128-byte
//! [`Envelope`] both ways with both sides spinning (so what is measured is the queue, not a
//! thread wake-up). A hop is half a round trip. Cold code.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_queue::ArrayQueue;
use hdrhistogram::Histogram;

use crate::core::clock;
use crate::core::{Envelope, Payload, Trade};
use crate::runtime::latency::histogram;

const CAPACITY: usize = 1024;

fn envelope(i: u64) -> Envelope {
    Envelope {
        seq: i,
        ..Envelope::at(
            i,
            Payload::Trade(Trade {
                instrument: crate::core::InstrumentId(0),
                trade_id: i,
                price: crate::core::Price(6_000_000_000_000),
                qty: crate::core::Qty(100_000),
                trade_ns: i,
                event_ns: i,
                buyer_is_maker: false,
                source: 0,
                flags: 0,
                anomalies: 0,
            }),
        )
    }
}

/// Two different cores this process may use (the last two it is given), if it has two.
pub fn two_cores() -> Option<(usize, usize)> {
    let ids = core_affinity::get_core_ids()?;
    match ids.as_slice() {
        [.., a, b] => Some((a.id, b.id)),
        _ => None,
    }
}

/// The far side of a ping-pong: hands every value `pop` yields straight back through `push`
/// (retrying while full), spinning, until `stop`.
pub fn echo<T: Copy>(
    stop: &AtomicBool,
    mut pop: impl FnMut() -> Option<T>,
    mut push: impl FnMut(T) -> bool,
) {
    while !stop.load(Ordering::Relaxed) {
        match pop() {
            Some(v) => {
                while !push(v) {
                    std::hint::spin_loop();
                }
            }
            None => std::hint::spin_loop(),
        }
    }
}

/// Times `n` round trips through `send`/`recv` on one thread, the echo running `echo` on
/// another, each pinned to its own core when there are two (a thread that migrates or shares
/// a core would time the scheduler, not the queue); records half of each.
fn ping_pong(
    n: usize,
    mut send: impl FnMut(Envelope) -> bool + Send + 'static,
    mut recv: impl FnMut() -> Option<Envelope> + Send + 'static,
    echo_pop: impl FnMut() -> Option<Envelope> + Send + 'static,
    echo_push: impl FnMut(Envelope) -> bool + Send + 'static,
) -> Histogram<u64> {
    let cores = two_cores();
    let stop = Arc::new(AtomicBool::new(false));
    let echo_h = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            if let Some((_, b)) = cores {
                core_affinity::set_for_current(core_affinity::CoreId { id: b });
            }
            echo(&stop, echo_pop, echo_push)
        })
    };
    let ping = std::thread::spawn(move || {
        if let Some((a, _)) = cores {
            core_affinity::set_for_current(core_affinity::CoreId { id: a });
        }
        let mut hist = histogram();
        // Untimed trips first: both threads running, caches warm.
        let warm = (n / 10).clamp(100, 10_000);
        for i in 0..(warm + n) as u64 {
            let t0 = clock::mono_ns();
            while !send(envelope(i)) {
                std::hint::spin_loop();
            }
            loop {
                if let Some(e) = recv() {
                    std::hint::black_box(e);
                    break;
                }
                std::hint::spin_loop();
            }
            if i >= warm as u64 {
                hist.saturating_record((clock::mono_ns() - t0) / 2);
            }
        }
        hist
    });
    let hist = ping.join().unwrap_or_else(|_| histogram());
    stop.store(true, Ordering::Relaxed);
    let _ = echo_h.join();
    hist
}

/// The queues compared.
const QUEUES: [&str; 3] = [
    "tickwire spsc ring",
    "crossbeam ArrayQueue",
    "std mpsc sync_channel",
];

/// `n` timed round trips through fresh queues of kind `q` (an index into [`QUEUES`]).
fn round(q: usize, n: usize) -> Histogram<u64> {
    match q {
        0 => {
            let (Ok((mut a_tx, mut a_rx)), Ok((mut b_tx, mut b_rx))) = (
                crate::ring::channel::<Envelope>(CAPACITY),
                crate::ring::channel::<Envelope>(CAPACITY),
            ) else {
                return histogram();
            };
            ping_pong(
                n,
                move |e| a_tx.try_push(e).is_ok(),
                move || b_rx.try_pop(),
                move || a_rx.try_pop(),
                move |e| b_tx.try_push(e).is_ok(),
            )
        }
        1 => {
            let (a, b) = (
                Arc::new(ArrayQueue::<Envelope>::new(CAPACITY)),
                Arc::new(ArrayQueue::<Envelope>::new(CAPACITY)),
            );
            let (a2, b2) = (a.clone(), b.clone());
            ping_pong(
                n,
                move |e| a.push(e).is_ok(),
                move || b.pop(),
                move || a2.pop(),
                move |e| b2.push(e).is_ok(),
            )
        }
        _ => {
            let (a_tx, a_rx) = std::sync::mpsc::sync_channel::<Envelope>(CAPACITY);
            let (b_tx, b_rx) = std::sync::mpsc::sync_channel::<Envelope>(CAPACITY);
            ping_pong(
                n,
                move |e| a_tx.try_send(e).is_ok(),
                move || b_rx.try_recv().ok(),
                move || a_rx.try_recv().ok(),
                move |e| b_tx.try_send(e).is_ok(),
            )
        }
    }
}

/// One hop of each queue, `n` timed round trips each: (name, hop latency in ns). The
/// queues take turns in ten rounds, so a noisy spell on a shared machine lands on all of
/// them rather than on whichever ran then.
pub fn hops(n: usize) -> Vec<(&'static str, Histogram<u64>)> {
    let mut out: Vec<(&'static str, Histogram<u64>)> =
        QUEUES.iter().map(|q| (*q, histogram())).collect();
    let rounds = 10;
    let per = n.div_ceil(rounds).max(1);
    for r in 0..rounds {
        let take = per.min(n.saturating_sub(r * per));
        if take == 0 {
            break;
        }
        for (q, (_, h)) in out.iter_mut().enumerate() {
            let _ = h.add(round(q, take));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_queue_carries_every_round_trip() {
        let h = hops(500);
        assert_eq!(h.len(), 3);
        for (name, hist) in h {
            assert_eq!(
                hist.len(),
                500,
                "{name}: every timed trip, across the rounds"
            );
            assert!(hist.min() > 0 || hist.max() > 0, "{name}: no time measured");
        }
    }
}
