//! Ring cost: tickwire's SPSC ring beside crossbeam's `ArrayQueue` and std's `mpsc`
//! `sync_channel`, in the same run, carrying a 128-byte envelope: `cargo bench --bench ring`.
//!
//! - `push_pop_128B`: push + pop on one thread (the data structure alone), with `harness`
//!   (building and black-boxing the value, no queue) as the base case.
//! - `hop_128B`: one hop between two threads, timed by ping-pong (a round trip through two
//!   queues, both sides spinning; reported per hop = half a round trip), with `harness`
//!   (the same loop handing the value to itself on one thread) as the base case.
//! - `batch64_128B` and `cross_thread_1M_events_128B`: batch pops and streaming throughput.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_queue::ArrayQueue;
use tickwire::ring::channel;

#[derive(Clone, Copy)]
#[allow(dead_code)]
struct Env([u64; 16]);

fn one_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("push_pop_128B");
    g.bench_function("harness", |b| b.iter(|| black_box(Env([7; 16]))));
    let (mut tx, mut rx) = channel::<Env>(1024).unwrap();
    g.bench_function("tickwire_spsc", |b| {
        b.iter(|| {
            let _ = tx.try_push(black_box(Env([7; 16])));
            black_box(rx.try_pop())
        })
    });
    let q = ArrayQueue::<Env>::new(1024);
    g.bench_function("crossbeam_array_queue", |b| {
        b.iter(|| {
            let _ = q.push(black_box(Env([7; 16])));
            black_box(q.pop())
        })
    });
    let (stx, srx) = std::sync::mpsc::sync_channel::<Env>(1024);
    g.bench_function("std_mpsc_sync_channel", |b| {
        b.iter(|| {
            let _ = stx.try_send(black_box(Env([7; 16])));
            black_box(srx.try_recv().ok())
        })
    });
    g.finish();
    let mut g = c.benchmark_group("batch64_128B");
    g.bench_function("tickwire_spsc_pop_batch", |b| {
        b.iter(|| {
            for i in 0..64u64 {
                let _ = tx.try_push(Env([i; 16]));
            }
            let mut s = 0;
            rx.pop_batch(64, |e| s += e.0[0]);
            black_box(s)
        })
    });
    g.finish();
}

/// Times `iters` round trips; the echo thread answers every value sent. Returns the time
/// per hop (half of each round trip).
fn ping_pong_bench(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    cores: Option<(usize, usize)>,
    name: &str,
    mut send: impl FnMut(Env) -> bool,
    mut recv: impl FnMut() -> Option<Env>,
    echo_pop: impl FnMut() -> Option<Env> + Send + 'static,
    echo_push: impl FnMut(Env) -> bool + Send + 'static,
) {
    // Each side on its own core when there are two: a thread that migrates or shares a core
    // would time the scheduler, not the queue.
    if let Some((a, _)) = cores {
        core_affinity::set_for_current(core_affinity::CoreId { id: a });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let h = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            if let Some((_, b)) = cores {
                core_affinity::set_for_current(core_affinity::CoreId { id: b });
            }
            tickwire::bench::hop::echo(&stop, echo_pop, echo_push)
        })
    };
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t0 = Instant::now();
            for i in 0..iters {
                while !send(Env([i; 16])) {
                    std::hint::spin_loop();
                }
                loop {
                    if let Some(e) = recv() {
                        black_box(e);
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
            t0.elapsed() / 2
        })
    });
    stop.store(true, Ordering::Relaxed);
    let _ = h.join();
}

fn hop(c: &mut Criterion) {
    // Read before anything is pinned (a pinned thread sees only its own core).
    let cores = tickwire::bench::hop::two_cores();
    let mut g = c.benchmark_group("hop_128B");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("harness", |b| {
        b.iter_custom(|iters| {
            let mut slot: Option<Env> = None;
            let t0 = Instant::now();
            for i in 0..iters {
                black_box(&mut slot).replace(Env([i; 16]));
                black_box(black_box(&mut slot).take());
            }
            t0.elapsed() / 2
        })
    });
    let (mut a_tx, mut a_rx) = channel::<Env>(1024).unwrap();
    let (mut b_tx, mut b_rx) = channel::<Env>(1024).unwrap();
    ping_pong_bench(
        &mut g,
        cores,
        "tickwire_spsc",
        move |e| a_tx.try_push(e).is_ok(),
        move || b_rx.try_pop(),
        move || a_rx.try_pop(),
        move |e| b_tx.try_push(e).is_ok(),
    );
    let (a, b) = (
        Arc::new(ArrayQueue::<Env>::new(1024)),
        Arc::new(ArrayQueue::<Env>::new(1024)),
    );
    let (a2, b2) = (a.clone(), b.clone());
    ping_pong_bench(
        &mut g,
        cores,
        "crossbeam_array_queue",
        move |e| a.push(e).is_ok(),
        move || b.pop(),
        move || a2.pop(),
        move |e| b2.push(e).is_ok(),
    );
    let (a_tx, a_rx) = std::sync::mpsc::sync_channel::<Env>(1024);
    let (b_tx, b_rx) = std::sync::mpsc::sync_channel::<Env>(1024);
    ping_pong_bench(
        &mut g,
        cores,
        "std_mpsc_sync_channel",
        move |e| a_tx.try_send(e).is_ok(),
        move || b_rx.try_recv().ok(),
        move || a_rx.try_recv().ok(),
        move |e| b_tx.try_send(e).is_ok(),
    );
    g.finish();
}

/// Two threads, 1M 128-byte events per iteration: time per event = reported time / 1M.
fn streaming(c: &mut Criterion) {
    let mut g = c.benchmark_group("cross_thread_1M_events_128B");
    g.sample_size(10);
    g.bench_function("tickwire_spsc", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (mut tx, mut rx) = channel::<Env>(8192).unwrap();
                let t0 = Instant::now();
                let consumer = std::thread::spawn(move || {
                    let mut n = 0u64;
                    while n < 1_000_000 {
                        n += rx.pop_batch(256, |e| {
                            black_box(e);
                        }) as u64;
                    }
                });
                let mut i = 0u64;
                while i < 1_000_000 {
                    if tx.try_push(Env([i; 16])).is_ok() {
                        i += 1;
                    }
                }
                consumer.join().unwrap();
                total += t0.elapsed();
            }
            total
        })
    });
    g.bench_function("crossbeam_array_queue", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let q = Arc::new(ArrayQueue::<Env>::new(8192));
                let q2 = q.clone();
                let t0 = Instant::now();
                let consumer = std::thread::spawn(move || {
                    let mut n = 0u64;
                    while n < 1_000_000 {
                        if let Some(e) = q2.pop() {
                            black_box(e);
                            n += 1;
                        }
                    }
                });
                let mut i = 0u64;
                while i < 1_000_000 {
                    if q.push(Env([i; 16])).is_ok() {
                        i += 1;
                    }
                }
                consumer.join().unwrap();
                total += t0.elapsed();
            }
            total
        })
    });
    g.bench_function("std_mpsc_sync_channel", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Env>(8192);
                let t0 = Instant::now();
                let consumer = std::thread::spawn(move || {
                    for _ in 0..1_000_000 {
                        black_box(rx.recv().unwrap());
                    }
                });
                for i in 0..1_000_000u64 {
                    tx.send(Env([i; 16])).unwrap();
                }
                consumer.join().unwrap();
                total += t0.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, one_thread, hop, streaming);
criterion_main!(benches);
