//! `journal.md` as a person reads it after a run: periodic summaries with PnL, latency and
//! anomalies, a closing "Lessons" section (top anomaly sources, the slowest stage, the
//! strategies that lost money, which add up to the run's PnL), and rotation by size with each
//! part naming the one before.

mod common;

use common::*;

#[test]
fn summaries_lessons_and_rotation() {
    let Some(data) = shared_data() else { return };
    let dir = report_dir("journal-rotate");
    // About 3 s of wall time, so the once-a-second checks run.
    let out = replay_cmd(
        &btc_capture(&data),
        &dir,
        "100x",
        &[
            "ops.journal_summary_s=1".into(),
            "ops.journal_max_kib=24".into(),
        ],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut parts: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("journal.") && n != "journal.md")
        .collect();
    parts.sort_by_key(|n| {
        n.trim_end_matches(".md")
            .rsplit('.')
            .next()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    });
    assert!(!parts.is_empty(), "24 KiB must rotate at least once");
    let last = std::fs::read_to_string(dir.join("journal.md")).unwrap();
    // Each part names the next; the current one names the one before and lists them all.
    for (i, p) in parts.iter().enumerate() {
        let text = std::fs::read_to_string(dir.join(p)).unwrap();
        assert!(text.contains("_Continued in `journal.md`"), "{p}");
        if i == 0 {
            assert!(text.starts_with("# tickwire journal: replay\n"), "{p}");
        } else {
            assert!(text.contains(&format!("The part before this one: `{}`", parts[i - 1])));
        }
    }
    assert!(last.contains(&format!(
        "The part before this one: `{}`",
        parts.last().unwrap()
    )));
    assert!(last.contains("Earlier parts of this journal:"));
    // Summaries once a second, with PnL, latency and anomalies.
    let all: String = parts
        .iter()
        .map(|p| std::fs::read_to_string(dir.join(p)).unwrap())
        .chain([last.clone()])
        .collect();
    let summaries: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("**summary** (last"))
        .collect();
    assert!(summaries.len() >= 2, "{}", summaries.len());
    for s in &summaries {
        for want in [
            "PnL realized",
            "fees",
            "equity",
            "end-to-end p99 (60 s)",
            "anomalies",
            "sources:",
        ] {
            assert!(s.contains(want), "{want} missing: {s}");
        }
    }
    // Lessons: per-strategy PnL that adds up to the run's.
    let lessons = last.split("## Lessons").nth(1).expect("a Lessons section");
    assert!(lessons.contains("- Slowest stage: `"), "{lessons}");
    assert!(
        lessons.contains("- Anomalies: no source had any.")
            || lessons.contains("- Top anomaly sources:")
    );
    let line = lessons
        .lines()
        .find(|l| l.starts_with("- Strategies that lost money"))
        .unwrap_or_else(|| panic!("{lessons}"));
    let total: f64 = line
        .split('`')
        .skip(2)
        .step_by(2)
        .map(|x| {
            x.trim_start()
                .split([',', ';', ' ', ')'])
                .next()
                .unwrap()
                .trim_end_matches('.')
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("{x}: {e}"))
        })
        .sum();
    let s = read_summary(&dir);
    let pnl = &s["pnl"];
    let want = pnl["realized"].as_f64().unwrap() + pnl["unrealized"].as_f64().unwrap()
        - pnl["fees"].as_f64().unwrap();
    assert!(
        (total - want).abs() < 0.05,
        "strategies add up to {total}, the run's PnL is {want}: {line}"
    );
}
