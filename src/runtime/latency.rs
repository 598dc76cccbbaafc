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

/// End-to-end latency cut into fixed intervals of wall time (latency over time, `.hlog`).
/// Every histogram is allocated up front; recording is a subtraction, a division and a
/// bounded store, so it may run on a hot thread. Samples past the last interval land in it.
#[derive(Clone, Debug)]
pub struct Intervals {
    /// Interval length (ns).
    pub every_ns: u64,
    /// Monotonic ns of the first sample (0 = none yet).
    pub start_ns: u64,
    /// One histogram per interval (2 significant digits: a fraction of the memory of a
    /// full one, and what a plot over time can show).
    pub hists: Vec<Histogram<u64>>,
}

impl Intervals {
    /// `count` intervals of `every_ns` (both at least 1).
    pub fn new(every_ns: u64, count: usize) -> Self {
        Self {
            every_ns: every_ns.max(1),
            start_ns: 0,
            hists: (0..count.max(1))
                .map(|_| Histogram::new_with_bounds(1, MAX_NS, 2).expect("static bounds are valid"))
                .collect(),
        }
    }

    /// Records `value` for a sample taken at `now` (monotonic ns).
    #[inline]
    pub fn record(&mut self, now: u64, value: u64) {
        if self.start_ns == 0 {
            self.start_ns = now.max(1);
        }
        let i = (now.saturating_sub(self.start_ns) / self.every_ns) as usize;
        let last = self.hists.len() - 1;
        if let Some(h) = self.hists.get_mut(i.min(last)) {
            h.saturating_record(value);
        }
    }

    /// The intervals that hold samples, up to the last one that does.
    pub fn used(&self) -> &[Histogram<u64>] {
        let n = self
            .hists
            .iter()
            .rposition(|h| !h.is_empty())
            .map_or(0, |i| i + 1);
        &self.hists[..n]
    }

    /// Adds `other` interval by interval (same length and count; others are ignored).
    pub fn merge(&mut self, other: &Intervals) {
        if other.every_ns != self.every_ns {
            return;
        }
        for (a, b) in self.hists.iter_mut().zip(&other.hists) {
            let _ = a.add(b);
        }
        if self.start_ns == 0 || (other.start_ns != 0 && other.start_ns < self.start_ns) {
            self.start_ns = other.start_ns;
        }
    }
}

/// An HdrHistogram interval log (`.hlog`, V2 compressed histograms, one line per interval)
/// of `iv`, tagged `tag`; `base_s` is the log's base time (seconds since the Unix epoch).
pub fn hlog(iv: &Intervals, tag: &str, base_s: f64) -> std::io::Result<Vec<u8>> {
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use hdrhistogram::serialization::V2DeflateSerializer;
    use std::time::Duration;
    let mut out = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    let mut w = IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "tickwire {tag}: end-to-end latency (ns) per interval"
        ))
        .with_base_time(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs_f64(base_s))
        .with_max_value_divisor(1.0)
        .begin_log_with(&mut out, &mut ser)?;
    let tag = Tag::new(tag);
    let every = Duration::from_nanos(iv.every_ns);
    for (i, h) in iv.used().iter().enumerate() {
        w.write_histogram(h, every * i as u32, every, tag)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_bucket_by_time_and_write_a_log() {
        let mut iv = Intervals::new(1_000, 3);
        iv.record(10_000, 5);
        iv.record(10_500, 7);
        iv.record(11_200, 9);
        iv.record(99_000, 11); // past the end: the last interval
        assert_eq!(iv.hists[0].len(), 2);
        assert_eq!(iv.hists[1].len(), 1);
        assert_eq!(iv.hists[2].len(), 1);
        let mut other = Intervals::new(1_000, 3);
        other.record(5, 100);
        iv.merge(&other);
        assert_eq!(iv.hists[0].len(), 3);
        assert_eq!(iv.used().len(), 3);
        let log = hlog(&iv, "e2e", 1_700_000_000.0).unwrap();
        let text = String::from_utf8(log).unwrap();
        // Read back with the reference parser: three intervals, four samples... and the merged one.
        use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
        use hdrhistogram::serialization::Deserializer;
        let mut counts = Vec::new();
        for e in IntervalLogIterator::new(text.as_bytes()) {
            if let LogEntry::Interval(h) = e.unwrap() {
                assert_eq!(h.tag().map(|t| t.as_str()), Some("e2e"));
                let bytes = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    h.encoded_histogram(),
                )
                .unwrap();
                let back: Histogram<u64> = Deserializer::new()
                    .deserialize(&mut std::io::Cursor::new(bytes))
                    .unwrap();
                counts.push(back.len());
            }
        }
        assert_eq!(counts, vec![3, 1, 1]);
        assert!(text.contains("#[BaseTime: 1700000000.000"));
    }

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
