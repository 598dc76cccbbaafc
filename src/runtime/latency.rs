//! Latency histograms: one set per hot thread, recorded without allocation, merged cold.
//!
//! Each histogram covers 1 ns to 60 s at 3 significant digits and is allocated when the thread
//! is built; `saturating_record` never allocates or fails. The `.hgrm` writer reproduces
//! HdrHistogram's percentile-distribution text so standard plotters read it.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Highest latency recorded without saturating (60 s).
pub const MAX_NS: u64 = 60_000_000_000;

/// A new bounded histogram.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("static bounds are valid")
}

/// Percentile summary as in summary.json.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, PartialEq, Eq)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th.
    pub p90: u64,
    /// 99th.
    pub p99: u64,
    /// 99.9th.
    pub p999: u64,
    /// 99.99th.
    pub p9999: u64,
    /// Largest.
    pub max: u64,
}

/// Summarises a histogram.
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        p9999: h.value_at_quantile(0.9999),
        max: h.max(),
    }
}

/// HdrHistogram percentile-distribution text (values in ns, scaled by 1).
pub fn hgrm(h: &Histogram<u64>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            let q = v.quantile_iterated_to();
            let inv = if q < 1.0 {
                1.0 / (1.0 - q)
            } else {
                f64::INFINITY
            };
            if inv.is_finite() {
                let _ = writeln!(
                    s,
                    "{:>12.3} {:>2.12} {:>10} {:>14.2}",
                    v.value_iterated_to() as f64,
                    q,
                    v.count_since_last_iteration(),
                    inv
                );
            } else {
                let _ = writeln!(
                    s,
                    "{:>12.3} {:>2.12} {:>10}",
                    v.value_iterated_to() as f64,
                    q,
                    v.count_since_last_iteration()
                );
            }
        }
    }
    let mean = h.mean();
    let _ = writeln!(
        s,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        mean,
        h.stdev()
    );
    let _ = writeln!(
        s,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        h.max() as f64,
        h.len()
    );
    let _ = writeln!(
        s,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        h.distinct_values()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_text() {
        let mut h = histogram();
        for v in 1..=1000u64 {
            h.saturating_record(v);
        }
        h.saturating_record(u64::MAX);
        let p = percentiles(&h);
        assert_eq!(p.count, 1001);
        assert!((499..=501).contains(&p.p50), "{p:?}");
        assert!(p.max >= MAX_NS);
        let text = hgrm(&h);
        assert!(text.contains("Percentile"));
        assert!(text.contains("#[Max"));
        assert_eq!(percentiles(&histogram()), Percentiles::default());
    }
}
