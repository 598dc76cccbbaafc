//! The same input gives the same orders and fills whatever the topology: real captures
//! replayed fused on one thread and spread over six threads (every ring, the trader waiting
//! for the venue thread while orders are live, and the fill ring back) must write
//! byte-identical orders.csv, fills.csv, decisions.csv and equity.csv.

mod common;

use common::*;

#[test]
fn fused_and_spread_topologies_trade_identically() {
    let Some(data) = shared_data() else { return };
    let a = btc_capture(&data);
    let b = data.join("ws/binance_spot/hftbacktest_spot_btcusdt_20240809.jsonl.zst");
    let c = data.join("ws/binance_spot/hftbacktest_spot_ethusdt_20240808.jsonl.zst");
    let base = replay_sets(&[&a, &b, &c]);

    let fused_dir = report_dir("det-fused");
    let fused = run_with(&base, "replay", &fused_dir);
    let mut spread_sets = base.clone();
    spread_sets.extend(SPREAD.iter().map(|s| s.to_string()));
    let spread_dir = report_dir("det-spread");
    let spread = run_with(&spread_sets, "replay", &spread_dir);

    assert_eq!(spread.threads.len(), 6);
    let orders = fused.summary["orders"].as_u64().unwrap();
    assert!(
        orders >= 20,
        "expected a busy strategy, got {orders} orders"
    );
    for f in ["orders.csv", "fills.csv", "decisions.csv", "equity.csv"] {
        let x = std::fs::read(fused_dir.join(f)).unwrap();
        let y = std::fs::read(spread_dir.join(f)).unwrap();
        assert!(x == y, "{f} differs between fused and spread topologies");
    }
    assert_eq!(fused.summary["pnl"], spread.summary["pnl"]);
    // And a second fused run is byte-identical too.
    let again_dir = report_dir("det-fused-again");
    run_with(&base, "replay", &again_dir);
    for f in ["orders.csv", "fills.csv", "equity.csv"] {
        assert_eq!(
            std::fs::read(fused_dir.join(f)).unwrap(),
            std::fs::read(again_dir.join(f)).unwrap(),
            "{f} differs between two identical runs"
        );
    }
}

#[test]
fn a_capture_without_receive_times_replays_identically() {
    // Without a recv_ns sidecar, market time must come from the messages alone, never from
    // the wall clock: two replays write byte-identical orders, fills and equity.
    let Some(data) = shared_data() else { return };
    let cap = tickwire::feed::replay::Capture::load(&btc_capture(&data)).unwrap();
    let dir = report_dir("det-nosidecar");
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("btc.jsonl");
    std::fs::write(&plain, &cap.bytes).unwrap();
    let sets = replay_sets(&[&plain]);
    let (a, b) = (dir.join("a"), dir.join("b"));
    let ra = run_with(&sets, "replay", &a);
    std::thread::sleep(std::time::Duration::from_millis(20));
    run_with(&sets, "replay", &b);
    assert!(ra.summary["orders"].as_u64().unwrap() > 0);
    for f in ["orders.csv", "fills.csv", "equity.csv"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs between two replays of a capture without receive times"
        );
    }
}
