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
        vec!["source.speed='max'".into(), "source.limit=1200000".into()],
        "alloc-fused",
        1_200_000,
    );
}

#[test]
fn synthetic_spread_allocates_nothing() {
    let mut sets: Vec<String> = vec!["source.speed='max'".into(), "source.limit=1100000".into()];
    sets.extend(SPREAD.iter().map(|s| s.to_string()));
    assert_no_hot_allocations(sets, "alloc-spread", 1_100_000);
}
