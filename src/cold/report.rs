//! End-of-run reports: `summary.json`, `report.md` and `latency/<stage>.hgrm`.

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

use super::Totals;
use crate::runtime::latency::{hgrm, percentiles, Percentiles};

/// What a hot thread contributes to the summary.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ThreadSummary {
    /// Name (`lane/thread`).
    pub name: String,
    /// Always true: only hot threads are listed.
    pub hot: bool,
    /// Core asked for.
    pub core: Option<usize>,
    /// Whether pinning succeeded.
    pub pinned: bool,
    /// Stage names.
    pub stages: Vec<&'static str>,
    /// Allocations inside the run loop.
    pub allocations: u64,
    /// Allocations while setting up.
    pub setup_allocations: u64,
}

/// Everything the final report needs.
pub struct RunSummary<'a> {
    /// run | replay | backtest | bench.
    pub mode: &'a str,
    /// Counters.
    pub totals: &'a Totals,
    /// Hot threads.
    pub threads: &'a [ThreadSummary],
    /// Merged latency per stage name, plus `tick_to_order`.
    pub latency: &'a BTreeMap<String, Histogram<u64>>,
    /// Wall seconds the hot path ran.
    pub elapsed_s: f64,
    /// Equity at the end, quote at 10⁻⁸.
    pub final_equity: i64,
    /// Equity at the start, quote at 10⁻⁸ (the lanes' shares together).
    pub initial_equity: i64,
    /// Largest drawdown, percent.
    pub max_drawdown_pct: f64,
    /// Messages lost because a peer thread died (0 in a healthy run).
    pub lost: u64,
    /// Inputs (replay files) or the source description.
    pub inputs: Vec<String>,
    /// Stage panics caught: (restored and retried, input dropped).
    pub stage_panics: (u64, u64),
    /// Why a hot thread stopped the run safely, if one did.
    pub safe_stop: Option<String>,
    /// The order journal's figures (null when none is kept).
    pub order_journal: Value,
    /// Net position per lane and instrument at the end ("lane/SYMBOL": exact decimal).
    pub positions: Value,
    /// What the catalog recorder did (null when the run did not record).
    pub recorder: Value,
}

fn money(v: i64) -> f64 {
    v as f64 / 1e8
}

impl RunSummary<'_> {
    /// The `summary.json` document.
    pub fn to_json(&self) -> Value {
        let t = self.totals;
        let skipped: Map<String, Value> = t
            .skipped
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_string(), json!(n)))
            .collect();
        let candles: Map<String, Value> = t
            .candles_by_res
            .iter()
            .map(|(r, n)| (r.label().to_string(), json!(n)))
            .collect();
        let anomalies: Map<String, Value> = t
            .anomalies_by_kind
            .iter()
            .map(|(k, n)| (k.name().to_string(), json!(n)))
            .collect();
        let latency: Map<String, Value> = self
            .latency
            .iter()
            .map(|(k, h)| {
                (
                    k.clone(),
                    serde_json::to_value(percentiles(h)).unwrap_or(Value::Null),
                )
            })
            .collect();
        json!({
            "mode": self.mode,
            "messages": {
                "received": t.received,
                "parsed": t.parsed,
                "malformed": t.malformed,
                "skipped": skipped,
            },
            "events": {
                "trades": t.trades,
                "book_tickers": t.book_tickers,
                "klines": t.sources.iter().map(|s| s.klines).sum::<u64>(),
                "depth_updates": t.sources.iter().map(|s| s.depth).sum::<u64>(),
                "book_snapshots": t.sources.iter().map(|s| s.snapshots).sum::<u64>(),
            },
            "sources": t.sources,
            "arbiter": {
                "passed": t.arbiter_passed,
                "dropped": t.arbiter_dropped,
                "gaps_filled": t.gaps_filled,
                "failovers": t.failovers,
                "failbacks": t.failbacks,
                "reordered": t.reordered,
                "reorder_late": t.reorder_late,
            },
            "candles": candles,
            "candle_integrity": {
                "revisions": t.candle_revisions,
                "filled": t.candles_filled,
                "live_shed": t.candles_live_shed,
                "late_trades": anomalies.get("late_trade").cloned().unwrap_or(json!(0)),
                "indicator_rewinds": t.indicator_rewinds,
            },
            "indicator_updates": t.indicator_updates,
            "indicator_digest": format!("{:016x}", t.indicator_digest),
            "signals": t.signals,
            "orders": t.orders,
            "orders_rejected": t.orders_rejected,
            "fills": t.fills,
            "venue_rejects": t.venue_rejected,
            "trading": {
                "decisions": t.trading.decisions,
                "intents": t.trading.intents,
                "risk_checks": t.trading.risk_checks,
                "risk_rejected": t.trading.risk_rejected,
                "risk_exits": t.trading.risk_exits,
                "kill_trips": t.trading.kill_trips,
                "kill_switch_on": t.trading.kill_switch_on,
                "refused_replacements": t.trading.refused_replacements,
                "submit_refused": t.trading.submit_refused,
                "bad_reports": t.trading.bad_reports,
                "venue_orders": t.trading.venue_orders,
                "venue_fills": t.trading.venue_fills,
                "venue_lost_reports": t.trading.venue_lost_reports,
                // The risk engine's books against the venue's, from the same fills: cash moved
                // (the risk engine's less its initial equity), fees and realized PnL must agree
                // to the last 10⁻⁸.
                "reconciliation": {
                    "risk_cash_moved": money(t.trading.risk_cash - self.initial_equity),
                    "venue_cash_moved": money(t.trading.venue_cash),
                    "risk_fees": money(t.trading.risk_fees),
                    "venue_fees": money(t.trading.venue_fees),
                    "risk_realized": money(t.trading.risk_realized),
                    "venue_realized": money(t.trading.venue_realized),
                    "matches": t.trading.risk_cash - self.initial_equity == t.trading.venue_cash
                        && t.trading.risk_fees == t.trading.venue_fees
                        && t.trading.risk_realized == t.trading.venue_realized,
                },
            },
            "threads": self.threads,
            "latency_ns": latency,
            "anomalies": anomalies,
            "pnl": {
                "realized": money(t.realized),
                "unrealized": money(t.unrealized),
                "fees": money(t.fees),
            },
            "equity": {
                "final": money(self.final_equity),
                "max_drawdown_pct": self.max_drawdown_pct,
            },
            "cold_drops": t.cold_drops,
            "lost": self.lost,
            "stage_panics": { "recovered": self.stage_panics.0, "dropped": self.stage_panics.1 },
            "safe_stop": self.safe_stop,
            "order_journal": self.order_journal,
            "recorder": self.recorder,
            "positions": self.positions,
            "elapsed_s": self.elapsed_s,
            "messages_per_s": if self.elapsed_s > 0.0 { t.received as f64 / self.elapsed_s } else { 0.0 },
            "inputs": self.inputs,
            "version": env!("CARGO_PKG_VERSION"),
        })
    }

    /// The human report (also appended to the journal).
    pub fn to_markdown(&self) -> String {
        let t = self.totals;
        let mut s = String::new();
        s.push_str(&format!(
            "| what | value |\n|---|---|\n| mode | {} |\n| wall time | {:.2} s |\n| messages | {} received, {} parsed, {} malformed |\n| throughput | {:.0} msg/s |\n| trades / book tickers | {} / {} |\n",
            self.mode,
            self.elapsed_s,
            t.received,
            t.parsed,
            t.malformed,
            if self.elapsed_s > 0.0 { t.received as f64 / self.elapsed_s } else { 0.0 },
            t.trades,
            t.book_tickers
        ));
        if self.stage_panics != (0, 0) {
            s.push_str(&format!(
                "| stage panics caught | {} restored and retried, {} inputs dropped (see the events) |\n",
                self.stage_panics.0, self.stage_panics.1
            ));
        }
        if let Some(j) = self.order_journal.as_object() {
            s.push_str(&format!(
                "| order journal | `{}`: {} records appended; {} of an earlier run's {} derived again and matched |\n",
                j["path"].as_str().unwrap_or("?"),
                j["appended"],
                j["matched"],
                j["resumed"]
            ));
        }
        if let Some(r) = self.recorder.as_object() {
            let taken: u64 = r["taken"]
                .as_object()
                .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
            s.push_str(&format!(
                "| recorder | `{}`: {taken} rows taken in, {} written ({} duplicates), {} dropped, {} lost |\n",
                r["catalog"].as_str().unwrap_or("?"),
                r["written"],
                r["duplicates"],
                r["dropped_ring"].as_u64().unwrap_or(0)
                    + r["dropped_anomalies"].as_u64().unwrap_or(0)
                    + r["dropped_buffer"].as_u64().unwrap_or(0),
                r["lost"]
            ));
        }
        if let Some(why) = &self.safe_stop {
            s.push_str(&format!("| safe stop | {why} |\n"));
        }
        let skipped: Vec<String> = t
            .skipped
            .iter()
            .filter(|x| x.1 > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        if !skipped.is_empty() {
            s.push_str(&format!("| skipped by type | {} |\n", skipped.join(", ")));
        }
        let candles: Vec<String> = t
            .candles_by_res
            .iter()
            .map(|(r, n)| format!("{} {n}", r.label()))
            .collect();
        s.push_str(&format!(
            "| candles | {} |\n| signals / orders / fills | {} / {} / {} |\n| orders refused by risk | {} |\n| realized / unrealized PnL | {:.2} / {:.2} |\n| fees | {:.2} |\n| final equity | {:.2} (max drawdown {:.3}%) |\n| anomalies | {} |\n| cold records dropped | {} |\n\n",
            candles.join(", "),
            t.signals,
            t.orders,
            t.fills,
            t.orders_rejected,
            money(t.realized),
            money(t.unrealized),
            money(t.fees),
            money(self.final_equity),
            self.max_drawdown_pct,
            t.anomalies,
            t.cold_drops
        ));
        let anomalies: Vec<String> = t
            .anomalies_by_kind
            .iter()
            .filter(|x| x.1 > 0)
            .map(|(k, n)| format!("{}={n}", k.name()))
            .collect();
        if !anomalies.is_empty() {
            s.push_str(&format!(
                "Anomalies by category: {}\n\n",
                anomalies.join(", ")
            ));
        }
        if !t.sources.is_empty() {
            s.push_str("Sources:\n\n| lane | source | messages | trades | quotes | depth / snapshots | malformed | skipped | first / redundant | anomalies | reconnects | clock offset ms | drift ppm | jitter ms | health |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            for src in &t.sources {
                let kv = |m: &BTreeMap<&'static str, u64>| {
                    m.iter()
                        .map(|(k, n)| format!("{k}={n}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} / {} | {} | {} | {} / {} | {} | {} | {:.1} | {:.2} | {:.2} | {:.0} |\n",
                    src.lane,
                    src.name,
                    src.messages,
                    src.trades,
                    src.quotes + src.book_quotes,
                    src.depth,
                    src.snapshots,
                    src.malformed,
                    kv(&src.skipped),
                    src.first_delivered,
                    src.redundant,
                    kv(&src.anomalies),
                    src.disconnects,
                    src.clock_offset_ms,
                    src.clock_drift_ppm,
                    src.latency_ms,
                    src.health
                ));
            }
            s.push('\n');
        }
        s.push_str("Latency (ns; each stage from the previous stage's exit, ring hop included):\n\n| stage | count | p50 | p90 | p99 | p99.9 | p99.99 | max |\n|---|---|---|---|---|---|---|---|\n");
        for (k, h) in self.latency {
            let Percentiles {
                count,
                p50,
                p90,
                p99,
                p999,
                p9999,
                max,
            } = percentiles(h);
            s.push_str(&format!(
                "| {k} | {count} | {p50} | {p90} | {p99} | {p999} | {p9999} | {max} |\n"
            ));
        }
        s.push_str(
            "\nThreads:\n\n| thread | stages | core | allocations in loop |\n|---|---|---|---|\n",
        );
        for th in self.threads {
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                th.name,
                th.stages.join("→"),
                match (th.core, th.pinned) {
                    (Some(c), true) => c.to_string(),
                    (Some(c), false) => format!("{c} (pin failed)"),
                    (None, _) => "-".into(),
                },
                th.allocations
            ));
        }
        s
    }

    /// Writes summary.json, report.md and the .hgrm files.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(&self.to_json()).unwrap_or_default();
        std::fs::write(dir.join("summary.json"), json + "\n")?;
        std::fs::write(
            dir.join("report.md"),
            format!("# tickwire {} report\n\n{}", self.mode, self.to_markdown()),
        )?;
        std::fs::create_dir_all(dir.join("latency"))?;
        for (k, h) in self.latency {
            std::fs::write(dir.join("latency").join(format!("{k}.hgrm")), hgrm(h))?;
        }
        Ok(())
    }
}
