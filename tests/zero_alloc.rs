//! Zero allocations on every hot thread, proven by the counting global allocator, over more
//! than a million messages after warm-up, fused and spread.

mod common;

use common::*;

fn assert_no_hot_allocations(sets: Vec<String>, name: &str, min_messages: u64) {
    let dir = report_dir(name);
    let res = run_with(&sets, "run", &dir);
    let received = res.summary["messages"]["received"].as_u64().unwrap();
    assert!(received >= min_messages, "{received} messages");
    assert!(
        res.summary["orders"].as_u64().unwrap() > 0,
        "the pipeline must trade, not idle"
    );
    for t in &res.threads {
        assert_eq!(
            t.allocations, 0,
            "hot thread {} allocated {} times",
            t.name, t.allocations
        );
    }
}

#[test]
fn synthetic_fused_allocates_nothing() {
    assert_no_hot_allocations(
        vec![
            "source.speed='max'".into(),
            "source.limit=1200000".into(),
            "source.warmup_s=0".into(),
        ],
        "alloc-fused",
        1_200_000,
    );
}

#[test]
fn synthetic_spread_allocates_nothing() {
    let mut sets: Vec<String> = vec![
        "source.speed='max'".into(),
        "source.limit=1100000".into(),
        "source.warmup_s=0".into(),
    ];
    sets.extend(SPREAD.iter().map(|s| s.to_string()));
    assert_no_hot_allocations(sets, "alloc-spread", 1_100_000);
}

#[test]
fn the_strategy_does_not_trade_on_warm_up_history() {
    // 60 s of synthetic history at 20k msg/s is 1.2M messages: stop at 600k, all warm-up.
    let dir = report_dir("warmup");
    let res = run_with(
        &[
            "source.speed='max'".into(),
            "source.limit=600000".into(),
            "source.warmup_s=60".into(),
        ],
        "run",
        &dir,
    );
    let s = &res.summary;
    assert!(
        s["candles"]["1s"].as_u64().unwrap() > 20,
        "indicators were fed: {s}"
    );
    assert!(s["indicator_updates"].as_u64().unwrap() > 20);
    assert_eq!(s["signals"], 0, "no signal may come from warm-up data");
    assert_eq!(s["orders"], 0);
}
