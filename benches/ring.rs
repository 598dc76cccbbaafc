//! Ring cost on one thread (push + pop of a 128-byte envelope) beside std mpsc and crossbeam's
//! ArrayQueue-free baseline: `cargo bench --bench ring`. Cross-thread hops are measured by the
//! HDR harness (`tickwire bench`), not here.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tickwire::ring::channel;

#[derive(Clone, Copy)]
#[allow(dead_code)]
struct Env([u64; 16]);

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("push_pop_128B");
    let (mut tx, mut rx) = channel::<Env>(1024).unwrap();
    g.bench_function("tickwire_spsc", |b| {
        b.iter(|| {
            let _ = tx.try_push(black_box(Env([7; 16])));
            black_box(rx.try_pop())
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

    // Two threads, 1M 128-byte events per iteration: time per event = reported time / 1M.
    let mut g = c.benchmark_group("cross_thread_1M_events_128B");
    g.sample_size(10);
    g.bench_function("tickwire_spsc", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let (mut tx, mut rx) = channel::<Env>(8192).unwrap();
                let t0 = std::time::Instant::now();
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
    g.bench_function("std_mpsc_sync_channel", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Env>(8192);
                let t0 = std::time::Instant::now();
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

criterion_group!(benches, bench);
criterion_main!(benches);
