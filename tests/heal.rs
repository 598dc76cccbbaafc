//! Self-healing, proven with injected faults (`TICKWIRE_FAULT`, see `runtime::heal`) on a real
//! Binance capture: a stage that panics is caught at its thread's boundary, restored and
//! retried (nothing lost) or its input dropped and journaled; stages that hold money and
//! repeated failures stop the run safely with one clear line; a stalled feed is journaled
//! and recovers; a consumer that dies stops its producer instead of hanging it.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;

/// Every hot stage on its own thread (as `common::SPREAD`, parked when idle).
fn spread() -> String {
    SPREAD[0].to_string()
}

/// `tickwire replay` of `capture` into `dir` with `fault` injected (if any).
fn replay(capture: &Path, dir: &Path, fault: Option<&str>, sets: &[String]) -> Output {
    let mut cmd = replay_cmd(capture, dir, "max", sets);
    if let Some(f) = fault {
        cmd.env("TICKWIRE_FAULT", f);
    }
    cmd.output().unwrap()
}

fn text(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

/// A clean replay of the BTC capture: (dir, summary).
fn clean(data: &Path, name: &str, sets: &[String]) -> (std::path::PathBuf, serde_json::Value) {
    let dir = report_dir(name);
    let out = replay(&btc_capture(data), &dir, None, sets);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = read_summary(&dir);
    assert!(s["orders"].as_u64().unwrap() >= 20, "a busy replay");
    (dir, s)
}

fn assert_same_trading(a: &Path, b: &Path) {
    for f in ["orders.csv", "fills.csv", "decisions.csv"] {
        assert!(text(a, f) == text(b, f), "{f} differs from the clean run");
    }
}

#[test]
fn an_indicator_panic_is_restored_retried_and_changes_nothing() {
    let Some(data) = shared_data() else { return };
    for (name, sets) in [("fused", vec![]), ("spread", vec![spread()])] {
        let (base, s0) = clean(&data, &format!("heal-clean-{name}"), &sets);
        let dir = report_dir(&format!("heal-ind-{name}"));
        // The stage panics right after applying its 20th closed candle: its state has
        // already moved, so only an exact restore gives the clean run's indicator stream.
        let out = replay(
            &btc_capture(&data),
            &dir,
            Some("panic:indicators:after=20,kind=candle"),
            &sets,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("panicked at"), "no panic text: {stderr}");
        let s = read_summary(&dir);
        assert_eq!(s["stage_panics"]["recovered"], 1, "{name}");
        assert_eq!(s["stage_panics"]["dropped"], 0, "{name}");
        assert_eq!(s["safe_stop"], serde_json::Value::Null);
        assert_eq!(
            s["indicator_digest"], s0["indicator_digest"],
            "{name}: the indicator stream must equal the clean run's"
        );
        assert_same_trading(&base, &dir);
        let journal = text(&dir, "journal.md");
        assert!(
            journal.contains("**restart** stage `indicators`")
                && journal.contains("injected fault: indicators after input 20 (candle)")
                && journal.contains("nothing lost"),
            "{journal}"
        );
    }
}

#[test]
fn a_candles_panic_drops_and_journals_exactly_the_input() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("heal-candles");
    let out = replay(
        &btc_capture(&data),
        &dir,
        Some("panic:candles:after=500,kind=trade"),
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = read_summary(&dir);
    assert_eq!(s["stage_panics"]["dropped"], 1);
    assert_eq!(s["stage_panics"]["recovered"], 0);
    let journal = text(&dir, "journal.md");
    let line = journal
        .lines()
        .find(|l| l.contains("**restart** stage `candles`"))
        .unwrap_or_else(|| panic!("{journal}"));
    // Which input: a BTCUSDT trade, its market time and its message number.
    assert!(
        line.contains("trade BTCUSDT at 2024-08-0") && line.contains("(message #"),
        "{line}"
    );
    assert!(line.contains("the input was dropped"), "{line}");
}

#[test]
fn repeated_panics_stop_the_run_safely_with_one_line() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("heal-repeat");
    let out = replay(
        &btc_capture(&data),
        &dir,
        Some("panic:indicators:after=5,kind=candle,times=1000"),
        &["ops.restart_max=2".into()],
    );
    assert!(!out.status.success(), "a safe stop is not a success");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("stopped safely") && errors[0].contains("3 panics within 60 s"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked at"), "{stderr}");
    let s = read_summary(&dir);
    assert!(s["safe_stop"].as_str().unwrap().contains("restart_max = 2"));
    let received = s["messages"]["received"].as_u64().unwrap();
    assert!(received < 41_249, "the source stopped early ({received})");
    let journal = text(&dir, "journal.md");
    assert!(
        journal.contains("**safe stop** asked by `main/hot`"),
        "{journal}"
    );
}

#[test]
fn a_trader_panic_is_not_restarted_in_place() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("heal-trader");
    let out = replay(
        &btc_capture(&data),
        &dir,
        Some("panic:signals:after=300"),
        &[spread()],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("holds orders and positions"), "{stderr}");
    let s = read_summary(&dir);
    assert_eq!(s["stage_panics"]["dropped"], 1);
    assert!(text(&dir, "journal.md").contains("**restart** stage `signals`"));
}

#[test]
fn a_dead_consumer_stops_its_producer_instead_of_hanging_it() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("heal-drop");
    // The indicators thread stops reading after 1,000 envelopes, as if it had died, with
    // its input ring still filling: the candles thread must notice, not wait forever.
    let out = replay(
        &btc_capture(&data),
        &dir,
        Some("drop:indicators:after=1000"),
        &[spread(), "rings.capacity=1024".into()],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stopped safely") && stderr.contains("its consumer is gone"),
        "{stderr}"
    );
    let journal = text(&dir, "journal.md");
    assert!(
        journal.contains("**safe stop** asked by `main/candles`"),
        "{journal}"
    );
    let s = read_summary(&dir);
    assert!(s["lost"].as_u64().unwrap() >= 1, "{}", s["lost"]);
}

#[test]
fn a_stalled_feed_is_journaled_and_recovers_with_nothing_lost() {
    let Some(data) = shared_data() else { return };
    let (base, _) = clean(&data, "heal-stall-clean", &[]);
    let dir = report_dir("heal-stall");
    let out = replay(
        &btc_capture(&data),
        &dir,
        Some("stall:parse:after=5000,ms=2500"),
        &["ops.stall_ms=500".into()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let journal = text(&dir, "journal.md");
    assert!(
        journal.contains("**stall**: hot thread `main/hot`")
            && journal.contains("recovered: hot thread `main/hot`"),
        "{journal}"
    );
    assert_same_trading(&base, &dir);
}

#[test]
fn a_bad_fault_spec_is_one_clear_line() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("heal-badspec");
    let out = replay(
        &btc_capture(&data),
        &dir,
        Some("panic:nowhere:after=1"),
        &[],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TICKWIRE_FAULT: `panic:nowhere:after=1`: unknown stage"),
        "{stderr}"
    );
}
