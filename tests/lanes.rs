//! Several independent lanes, each with its own instruments and threads, share one cold side.

mod common;

use common::*;

#[test]
fn two_lanes_trade_their_own_instruments() {
    let sets: Vec<String> = vec![
        "source.speed='max'".into(),
        "source.warmup_s=0".into(),
        "source.limit=300000".into(),
        "lanes=[{name='btc',instruments=['BTCUSDT'],threads=[{name='hot',stages=['parse','arbiter','candles','indicators','signals','risk','venue'],wait='spin-then-park'}]},{name='eth',instruments=['ETHUSDT'],threads=[{name='feed',stages=['parse','arbiter','candles'],wait='spin-then-park'},{name='exec',stages=['indicators','signals','risk','venue'],wait='spin-then-park'}]}]".into(),
    ];
    let dir = report_dir("lanes");
    let res = run_with(&sets, "run", &dir);
    assert_eq!(res.threads.len(), 3);
    assert!(res.threads.iter().all(|t| t.allocations == 0));
    // Each lane's source emits only its own symbol; both reach the one fills.csv.
    let fills = std::fs::read_to_string(dir.join("fills.csv")).unwrap();
    assert!(fills.contains(",BTCUSDT,"), "{fills}");
    assert!(fills.contains(",ETHUSDT,"), "{fills}");
    assert_eq!(res.summary["messages"]["received"], 600_000);
    assert_account_adds_up(&res.summary);
}

#[test]
fn an_instrument_in_two_lanes_is_refused() {
    let e = tickwire::core::config::Config::load(
        tickwire::core::config::ConfigSource::Default,
        &["lanes=[{name='a',instruments=['BTCUSDT'],threads=[{name='t',stages=['parse','arbiter','candles','indicators','signals','risk','venue']}]},{name='b',instruments=['BTCUSDT'],threads=[{name='t',stages=['parse','arbiter','candles','indicators','signals','risk','venue']}]}]".into()],
        &[0, 1],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("already traded by lane"), "{e}");
}

#[test]
fn a_pinned_thread_runs_on_its_core() {
    let core = core_affinity::get_core_ids().unwrap()[0].id;
    let sets: Vec<String> = vec![
        "source.speed='max'".into(),
        "source.warmup_s=0".into(),
        "source.limit=50000".into(),
        format!("lanes.0.threads.0.core={core}"),
    ];
    let cfg = tickwire::core::config::Config::load(
        tickwire::core::config::ConfigSource::Default,
        &sets,
        &[core],
    )
    .unwrap();
    assert_eq!(cfg.lanes[0].threads[0].core, Some(core));
    let res = run_with(&sets, "run", &report_dir("pinned"));
    let t = &res.threads[0];
    assert_eq!((t.core, t.pinned), (Some(core), true));
    assert_eq!(res.summary["threads"][0]["core"], core);
}
