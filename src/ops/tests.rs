use super::*;
use crate::core::config::{BreachPolicy, Stage};
use crate::core::health::Control;

fn probe(name: &str, stages: &[Stage]) -> Arc<ThreadProbe> {
    Arc::new(ThreadProbe::new(name, stages))
}

fn extra<'a>(totals: &'a Totals, positions: &'a BTreeMap<(usize, String), i64>) -> Extra<'a> {
    Extra {
        mode: "run",
        totals,
        equity: 10_000 * 100_000_000,
        positions,
        rss_kib: Some(50_000),
    }
}

#[test]
fn windows_stalls_and_valid_exposition() {
    let feed = probe("main/feed", &[Stage::Parse, Stage::Arbiter]);
    let trade = probe("main/trade", &[Stage::Signals, Stage::Risk, Stage::Venue]);
    let (tx, _rx) = crate::ring::channel::<u64>(8).unwrap();
    let mut tx = tx;
    tx.try_push(1).unwrap();
    let tele = Telemetry {
        threads: vec![feed.clone(), trade.clone()],
        rings: vec![("main/feed".into(), tx.probe())],
        stall_ns: 2_000_000_000,
        policy: Default::default(),
        control: None,
    };
    let mut m = Monitor::new(tele);
    let totals = Totals::default();
    let mut positions = BTreeMap::new();
    positions.insert((0, "BTC\"USDT".to_string()), 150_000_000);
    let t0 = Instant::now();

    // Minute one: parse takes 1 µs.
    for _ in 0..1000 {
        feed.latency[Stage::Parse.index()].record(1_000);
    }
    feed.heartbeat.inc();
    trade.heartbeat.inc();
    assert!(m.sample(t0, &extra(&totals, &positions)).is_empty());
    // 30 s later parse takes 100 µs; both threads beat.
    for _ in 0..1000 {
        feed.latency[Stage::Parse.index()].record(100_000);
    }
    feed.heartbeat.inc();
    trade.heartbeat.inc();
    let t1 = t0 + Duration::from_secs(30);
    assert!(m.sample(t1, &extra(&totals, &positions)).is_empty());

    let text = m.published.lock().unwrap().metrics.clone();
    let samples = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let find = |name: &str, has: &[&str]| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && has.iter().all(|h| l.contains(h)))
            .map(|s| s.2)
    };
    let p50 = |win: &str| {
        find(
            "tickwire_stage_latency_seconds",
            &[
                "stage=\"parse\"",
                &format!("window=\"{win}\""),
                "quantile=\"0.5\"",
            ],
        )
        .unwrap()
    };
    // The 10 s window sees only the slow half; the whole run is split.
    assert!((100e-6..=113e-6).contains(&p50("10s")), "{}", p50("10s"));
    assert!(p50("run") <= 1.13e-6, "{}", p50("run"));
    assert_eq!(
        find("tickwire_ring_depth", &["ring=\"main/feed\""]),
        Some(1.0)
    );
    assert_eq!(find("tickwire_ring_capacity", &[]), Some(8.0));
    assert_eq!(find("tickwire_ready", &[]), Some(1.0));
    assert_eq!(
        find("tickwire_position", &["instrument=\"BTC\\\"USDT\""]),
        Some(1.5)
    );
    assert_eq!(
        find("tickwire_resident_memory_bytes", &[]),
        Some(50_000.0 * 1024.0)
    );
    assert!(
        find("tickwire_anomalies_total", &[]).is_none(),
        "no kinds in empty totals"
    );

    // The trade thread stops beating (the feed keeps going): stalled after 2 s, and back.
    feed.heartbeat.inc();
    let t2 = t1 + Duration::from_secs(3);
    let ev = m.sample(t2, &extra(&totals, &positions));
    assert_eq!(
        ev,
        vec![HealthEvent::Stalled {
            thread: "main/trade".into(),
            silent_ms: 3_000
        }]
    );
    assert!(!m.ready());
    let p = m.published.lock().unwrap().clone();
    assert!(!p.ready);
    assert!(p.health.contains("\"stalled\":true"), "{}", p.health);
    assert!(p
        .metrics
        .contains("tickwire_thread_stalled{thread=\"main/trade\"} 1"));
    trade.heartbeat.inc();
    let ev = m.sample(t2 + Duration::from_secs(1), &extra(&totals, &positions));
    assert_eq!(
        ev,
        vec![HealthEvent::Recovered {
            thread: "main/trade".into(),
            stalled_ms: 1_000
        }]
    );
    assert!(m.ready());
    // A finished thread is never stalled.
    trade.done.store(true, Ordering::Release);
    assert!(m
        .sample(t2 + Duration::from_secs(10), &extra(&totals, &positions))
        .iter()
        .all(|e| !matches!(e, HealthEvent::Stalled { thread, .. } if thread == "main/trade")));
}

#[test]
fn the_endpoint_answers_metrics_health_and_404() {
    let published = Arc::new(Mutex::new(Published {
        metrics: "# HELP x y\n# TYPE x gauge\nx 1\n".into(),
        health: "{\"ready\":false}".into(),
        ready: false,
        at: None,
    }));
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, handle) = serve("127.0.0.1:0", published.clone(), stop.clone()).unwrap();
    let get = |path: &str| {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let m = get("/metrics");
    assert!(m.starts_with("HTTP/1.1 200 OK\r\n"), "{m}");
    assert!(m.contains("text/plain; version=0.0.4"));
    assert!(m.ends_with("x 1\n"));
    let h = get("/health");
    assert!(h.starts_with("HTTP/1.1 503"), "{h}");
    published.lock().unwrap().ready = true;
    assert!(get("/health?verbose").starts_with("HTTP/1.1 200 OK"));
    assert!(get("/nope").starts_with("HTTP/1.1 404"));
    // A cold thread that stopped publishing is not ready, whatever it last said.
    published.lock().unwrap().at = Some((
        Instant::now() - Duration::from_secs(10),
        Duration::from_secs(3),
    ));
    let h = get("/health");
    assert!(h.starts_with("HTTP/1.1 503"), "{h}");
    assert!(h.contains("\"cold_stalled\":true"), "{h}");
    published.lock().unwrap().at = Some((Instant::now(), Duration::from_secs(3)));
    assert!(get("/health").starts_with("HTTP/1.1 200 OK"));
    // A client that sends nothing and hangs up costs nothing.
    drop(TcpStream::connect(addr).unwrap());
    assert!(get("/metrics").starts_with("HTTP/1.1 200"));
    // A taken port is a clear error.
    let e = serve(&addr.to_string(), published, stop.clone()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot serve metrics on 127.0.0.1:"),
        "{e}"
    );
    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap();
}

#[test]
fn numbers_and_labels_are_written_as_prometheus_reads_them() {
    assert_eq!(number(3.0), "3");
    assert_eq!(number(0.25), "0.25");
    assert_eq!(number(f64::INFINITY), "+Inf");
    assert_eq!(number(f64::NAN), "NaN");
    assert_eq!(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    let mut m = Metrics::default();
    m.gauge("a", "help", &[("k", "v")], 1.0);
    m.counter("b_total", "help", &[], 2.0);
    m.gauge("a", "help", &[("k", "w")], 3.0);
    let text = m.finish();
    let s = parse_exposition(&text).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(text.matches("# TYPE a gauge").count(), 1);
    assert!(
        parse_exposition("x 1\n").is_err(),
        "a sample needs its TYPE"
    );
    assert!(parse_exposition("# TYPE x gauge\nx{a=\"1} 2\n").is_err());
}

#[test]
fn the_breach_policy_throttles_escalates_and_recovers() {
    let (mut tx, _rx) = crate::ring::channel::<u64>(4).unwrap();
    let control = Arc::new(Control::default());
    let tele = Telemetry {
        threads: vec![],
        rings: vec![("main/feed".into(), tx.probe())],
        stall_ns: 2_000_000_000,
        policy: BreachPolicy {
            ring_fill_pct: 50,
            escalate_after_s: 5,
            recover_after_s: 3,
            ..Default::default()
        },
        control: Some(control.clone()),
    };
    let mut m = Monitor::new(tele);
    let totals = Totals::default();
    let positions = BTreeMap::new();
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let flags = |c: &Control| {
        (
            c.throttle.load(Ordering::Relaxed),
            c.kill.load(Ordering::Relaxed),
        )
    };
    // Half full is not over 50 %.
    tx.try_push(1).unwrap();
    tx.try_push(2).unwrap();
    assert!(m.sample(at(0), &extra(&totals, &positions)).is_empty());
    // Three of four: throttle.
    tx.try_push(3).unwrap();
    let ev = m.sample(at(1), &extra(&totals, &positions));
    assert_eq!(
        ev,
        vec![HealthEvent::Throttled {
            reasons: "ring main/feed 75 % full > 50 %".into(),
            actions: "new opening orders refused, entry thresholds ×1.5, live candles shed".into(),
        }]
    );
    assert_eq!(flags(&control), (true, false));
    let text = m.published.lock().unwrap().metrics.clone();
    assert!(text.contains("tickwire_throttled 1\n") && text.contains("tickwire_breaches 1\n"));
    assert!(m.sample(at(3), &extra(&totals, &positions)).is_empty());
    // Five seconds into the breach: the kill switch.
    let ev = m.sample(at(6), &extra(&totals, &positions));
    assert!(
        matches!(&ev[..], [HealthEvent::Escalated { after_s: 5, .. }]),
        "{ev:?}"
    );
    assert_eq!(flags(&control), (true, true));
    // Clear: the throttle lifts after three clear seconds; the kill switch stays.
    drop(_rx);
    let (tx2, _rx2) = crate::ring::channel::<u64>(4).unwrap();
    m.tele.rings = vec![("main/feed".into(), tx2.probe())];
    assert!(m.sample(at(7), &extra(&totals, &positions)).is_empty());
    assert!(m.sample(at(9), &extra(&totals, &positions)).is_empty());
    let ev = m.sample(at(10), &extra(&totals, &positions));
    assert_eq!(ev, vec![HealthEvent::Unthrottled { clear_s: 3 }]);
    assert_eq!(flags(&control), (false, true));
    // A new breach throttles again but never escalates twice.
    let (mut tx3, _rx3) = crate::ring::channel::<u64>(2).unwrap();
    tx3.try_push(1).unwrap();
    tx3.try_push(2).unwrap();
    m.tele.rings = vec![("main/feed".into(), tx3.probe())];
    let ev = m.sample(at(11), &extra(&totals, &positions));
    assert!(matches!(&ev[..], [HealthEvent::Throttled { .. }]), "{ev:?}");
    assert!(m.sample(at(30), &extra(&totals, &positions)).is_empty());
}
