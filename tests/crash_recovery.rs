//! Nothing is lost on a crash: a paced replay of a real Binance capture is killed with SIGKILL
//! at random points, 20 times, each followed by a restart into the same report directory.
//! After each restart the order journal (`orders.wal`) holds no client order id twice for
//! the same transition, every fill of an uninterrupted run exactly once, the same final
//! positions, and is byte-identical to the uninterrupted run's journal; `orders.csv` and
//! `fills.csv` equal the uninterrupted run's.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn replay(capture: &Path, dir: &Path, speed: &str) -> Command {
    let mut cmd = replay_cmd(capture, dir, speed, &[]);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

/// The records of the journal at `path`, each checked against its CRC.
fn records(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let (body, sum) = l.rsplit_once('|').unwrap();
            assert_eq!(
                u32::from_str_radix(sum, 16).unwrap(),
                crc32fast::hash(body.as_bytes()),
                "bad CRC: {l}"
            );
            body.to_string()
        })
        .collect()
}

/// (orders: (id, status, filled) in order, fills, net position per instrument in lot units).
type Book = (
    Vec<(String, String, String)>,
    Vec<String>,
    BTreeMap<String, i128>,
);

fn book(recs: &[String]) -> Book {
    let mut orders = Vec::new();
    let mut fills = Vec::new();
    let mut pos: BTreeMap<String, i128> = BTreeMap::new();
    for r in recs {
        let f: Vec<&str> = r.split('|').collect();
        let row: Vec<&str> = f[2].split(',').collect();
        match f[0] {
            "O" => orders.push((row[1].to_string(), row[7].to_string(), f[4].to_string())),
            "F" => {
                fills.push(f[2].to_string());
                // Quantities are exact decimals: compare them as scaled integers.
                let q: i128 = row[5].replace('.', "").parse().unwrap();
                let q = if row[3] == "buy" { q } else { -q };
                *pos.entry(row[2].to_string()).or_default() += q;
            }
            other => panic!("unexpected record kind {other}: {r}"),
        }
    }
    (orders, fills, pos)
}

/// A small PRNG: the kill points differ per run of the test (the seed is printed).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_at_random_points_loses_and_repeats_nothing() {
    let Some(data) = shared_data() else { return };
    let capture = btc_capture(&data);
    let clean = report_dir("crash-clean");
    let out = replay(&capture, &clean, "max").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = records(&clean.join("orders.wal"));
    let (orders, fills, positions) = book(&want);
    assert!(orders.len() >= 100 && fills.len() >= 30, "a busy replay");
    let want_bytes = std::fs::read(clean.join("orders.wal")).unwrap();

    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("kill-point seed {seed}");
    let mut resumed_mid_run = 0;
    for trial in 0..20 {
        let dir = report_dir(&format!("crash-{trial}"));
        // Paced so the orders are spread over about 3 s of wall time.
        let mut child = replay(&capture, &dir, "100x").spawn().unwrap();
        let kill_ms = 50 + next(&mut seed) % 2_900;
        std::thread::sleep(Duration::from_millis(kill_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let before = std::fs::read(dir.join("orders.wal")).unwrap_or_default();
        let had = records_prefix(&before);
        // The restart: the same command, at full speed.
        let out = replay(&capture, &dir, "max").output().unwrap();
        assert!(
            out.status.success(),
            "trial {trial} (killed at {kill_ms} ms): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = records(&dir.join("orders.wal"));
        let (o, f, p) = book(&got);
        // Every transition once (an order may be partly filled many times, each time with
        // more filled), and every client order id sent exactly once.
        let unique: BTreeSet<_> = o.iter().collect();
        assert_eq!(
            unique.len(),
            o.len(),
            "trial {trial}: an order transition twice"
        );
        let sent: Vec<_> = o.iter().filter(|x| x.1 == "sent").map(|x| &x.0).collect();
        let sent_ids: BTreeSet<_> = sent.iter().collect();
        assert_eq!(
            sent.len(),
            sent_ids.len(),
            "trial {trial}: an order id sent twice"
        );
        assert_eq!(
            f, fills,
            "trial {trial}: fills differ (killed at {kill_ms} ms)"
        );
        assert_eq!(p, positions, "trial {trial}: final positions differ");
        assert_eq!(o, orders, "trial {trial}: orders differ");
        assert!(
            std::fs::read(dir.join("orders.wal")).unwrap() == want_bytes,
            "trial {trial}: the journal differs from the uninterrupted run's"
        );
        for file in ["orders.csv", "fills.csv"] {
            assert!(
                std::fs::read(dir.join(file)).unwrap() == std::fs::read(clean.join(file)).unwrap(),
                "trial {trial}: {file} differs"
            );
        }
        let s = read_summary(&dir);
        let j = &s["order_journal"];
        assert_eq!(
            j["resumed"].as_u64().unwrap() as usize,
            had,
            "trial {trial}"
        );
        assert_eq!(
            j["matched"].as_u64().unwrap() as usize,
            had,
            "trial {trial}"
        );
        assert_eq!(
            (j["matched"].as_u64().unwrap() + j["appended"].as_u64().unwrap()) as usize,
            want.len()
        );
        assert!(j["diverged_at"].is_null(), "trial {trial}: {j}");
        if had > 0 && had < want.len() {
            resumed_mid_run += 1;
        }
    }
    // The kill points must really land while orders are being written.
    assert!(
        resumed_mid_run >= 5,
        "only {resumed_mid_run} of 20 kills landed mid-run"
    );
}

/// How many complete, valid records `bytes` holds (what a restart resumes from).
fn records_prefix(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes);
    let mut n = 0;
    for line in text.split_inclusive('\n') {
        let Some(line) = line.strip_suffix('\n') else {
            break;
        };
        let Some((body, sum)) = line.rsplit_once('|') else {
            break;
        };
        if u32::from_str_radix(sum, 16).ok() != Some(crc32fast::hash(body.as_bytes())) {
            break;
        }
        n += 1;
    }
    n
}

/// A live run (the synthetic market) continuing an order journal: the fills it holds are
/// booked again before the start, so positions, cash and fees carry over (the summary's fees
/// and positions equal the journal's, old fills and new together), and an order the journal
/// left live is reconciled with the paper venue (which keeps none across a restart): it is
/// journaled cancelled, so none is left untracked.
#[test]
fn a_live_run_restores_positions_fees_and_open_orders_from_the_journal() {
    let dir = report_dir("crash-live");
    std::fs::create_dir_all(&dir).unwrap();
    let wal = dir.join("state.wal");
    let line = |body: &str| format!("{body}|{:08x}\n", crc32fast::hash(body.as_bytes()));
    let earlier = [
        "S|1|run|1",
        "O|0|2026-01-01T00:00:00.000Z,7,BTCUSDT,buy,market,60000,0.01,sent,open|new|0",
        "F|0|2026-01-01T00:00:00.001Z,7,BTCUSDT,buy,60000,0.01,0.6,taker",
        "O|0|2026-01-01T00:00:00.001Z,7,BTCUSDT,buy,market,60000,0.01,filled,fill|sent|0.01",
        "O|0|2026-01-01T00:00:01.000Z,8,ETHUSDT,sell,market,3000,0.5,sent,open|new|0",
        "F|0|2026-01-01T00:00:01.001Z,8,ETHUSDT,sell,3000,0.2,0.6,taker",
        "O|0|2026-01-01T00:00:01.001Z,8,ETHUSDT,sell,market,3000,0.5,partially_filled,fill|sent|0.2",
        "F|0|2026-01-01T00:00:01.002Z,8,ETHUSDT,sell,3000,0.1,0.3,taker",
        "O|0|2026-01-01T00:00:01.002Z,8,ETHUSDT,sell,market,3000,0.5,partially_filled,fill|partially_filled|0.3",
    ];
    let text: String = earlier.iter().map(|b| line(b)).collect();
    // And a torn last record: the crash hit mid-write.
    std::fs::write(&wal, text + "F|0|2026-01-01T00:00:02.000Z,9,BTC").unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args([
            "run",
            "--duration",
            "3s",
            "--report-dir",
            dir.to_str().unwrap(),
            "--set",
            "cold.status_line=false",
            "--set",
            "ops.http=\"off\"",
            "--set",
            &format!(
                "ops.order_journal={}",
                toml::Value::String(wal.display().to_string())
            ),
        ])
        .env_remove("TICKWIRE_FAULT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let journal = std::fs::read_to_string(dir.join("journal.md")).unwrap();
    assert!(
        journal.contains("**restored** from the order journal: 3 fills booked again")
            && journal.contains("1 order(s) the journal left live"),
        "{journal}"
    );
    assert!(
        journal.contains("a torn last record of 34 bytes was cut"),
        "{journal}"
    );
    let recs = records(&wal);
    assert!(
        recs.iter().any(|r| r.starts_with("O|0|")
            && r.contains(",8,ETHUSDT,sell,market,3000,0.5,cancelled,restart|")),
        "the live order must be journaled cancelled: {recs:?}"
    );
    // Fees and positions: everything the journal now holds, old fills and new.
    let (mut fees, mut pos) = (0i128, BTreeMap::<String, i128>::new());
    for r in recs.iter().filter(|r| r.starts_with("F|")) {
        let row: Vec<&str> = r.split('|').nth(2).unwrap().split(',').collect();
        let scaled = |x: &str| -> i128 {
            let (i, f) = x.split_once('.').unwrap_or((x, ""));
            format!("{i}{f:0<8}").parse().unwrap()
        };
        fees += scaled(row[6]);
        let q = scaled(row[5]);
        *pos.entry(format!("0/{}", row[2])).or_default() += if row[3] == "buy" { q } else { -q };
    }
    let s = read_summary(&dir);
    let got_fees = (s["pnl"]["fees"].as_f64().unwrap() * 1e8).round() as i128;
    assert_eq!(got_fees, fees, "fees carried over: {}", s["pnl"]);
    let got: BTreeMap<String, i128> = s["positions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let t = v.as_str().unwrap();
            let (i, f) = t.split_once('.').unwrap_or((t, ""));
            (k.clone(), format!("{i}{f:0<8}").parse().unwrap())
        })
        .collect();
    pos.retain(|_, q| *q != 0);
    assert_eq!(got, pos, "positions carried over");
}
