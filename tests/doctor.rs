//! `tickwire doctor` as a user meets it, on the machine running the tests: the built-in
//! default (runs anywhere: exit 0), a plan made for a bigger host (exit 2 with one sentence
//! that says it cannot run here), and config mistakes (one-line errors, never a panic).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn doctor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .arg("doctor")
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("spawn tickwire")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_no_panic(out: &Output) {
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(
        !all.contains("panicked") && !all.contains("backtrace"),
        "{all}"
    );
}

fn assert_one_line_error(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "`{needle}` not in: {err}");
    assert_no_panic(out);
}

/// The CPUs this process may use, read the way `tickwire run` reads them (sched_getaffinity
/// through core_affinity), independently of the doctor's own /proc reading.
fn allowed_cpus() -> BTreeSet<usize> {
    core_affinity::get_core_ids()
        .map(|v| v.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

/// Every core the profile pins (hot threads and the cold thread), read from the file as it is
/// now (profiles change; the test follows them).
fn pinned_cores(profile: &Path) -> BTreeSet<usize> {
    let value: toml::Value = toml::from_str(&std::fs::read_to_string(profile).unwrap()).unwrap();
    let core = |v: Option<&toml::Value>| {
        v.and_then(toml::Value::as_integer)
            .map(|c| usize::try_from(c).unwrap())
    };
    let mut cores: BTreeSet<usize> = core(value.get("rings").and_then(|r| r.get("cold_core")))
        .into_iter()
        .collect();
    for lane in value["lanes"].as_array().unwrap() {
        for t in lane["threads"].as_array().unwrap() {
            cores.extend(core(t.get("core")));
        }
    }
    cores
}

#[test]
fn default_config_is_checked_and_runs_here() {
    let out = doctor(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    assert_no_panic(&out);
    // The host rows the issue asks for are all there, each with a state (unknown counts).
    for check in [
        "cpus",
        "cpu quota",
        "smt",
        "isolated cores",
        "nohz_full",
        "rcu_nocbs",
        "cpu governor",
        "c-states",
        "irqbalance",
        "thp enabled",
        "thp defrag",
        "hugepages",
        "clocksource",
        "tsc",
        "virtualization",
        "plan",
        "thread main/hot",
        "thread cold",
    ] {
        let row = stdout
            .lines()
            .find(|l| {
                let mut cols = l.split_whitespace();
                cols.next()
                    .is_some_and(|s| matches!(s, "ok" | "info" | "warn" | "error"))
                    && l[8..].trim_start().starts_with(check)
            })
            .unwrap_or_else(|| panic!("no `{check}` row in:\n{stdout}"));
        assert!(
            row.len() > 8 + check.len() + 4,
            "`{check}` row says nothing: {row}"
        );
    }
    assert!(stdout.contains("why: "), "{stdout}");
    let verdict = stdout.lines().last().unwrap_or("");
    assert!(
        verdict.starts_with("verdict: built-in default can run here"),
        "{verdict}"
    );
    assert!(!stdout.contains("cannot run here"), "{stdout}");
}

#[test]
fn a_bigger_hosts_plan_cannot_run_on_a_small_one() {
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/colo-8core.toml");
    let needed = pinned_cores(&profile);
    let allowed = allowed_cpus();
    let out = doctor(&["--config", profile.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_no_panic(&out);
    if needed.is_subset(&allowed) {
        eprintln!(
            "this machine allows cores {allowed:?}, enough for {needed:?}: only checking that the \
             plan is judged runnable"
        );
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        return;
    }
    assert_one_line_error(&out, "cannot run here");
    let err = text(&out.stderr);
    assert!(err.contains("colo-8core.toml cannot run here"), "{err}");
    assert!(
        err.contains(&format!("this process may use {}", allowed.len())),
        "{err}"
    );
    let verdict = stdout.lines().last().unwrap_or("");
    assert!(verdict.starts_with("verdict: "), "{verdict}");
    assert!(verdict.contains("cannot run here"), "{verdict}");
    // Each thread pinned outside the allowed cores is named as an error.
    let missing = needed.difference(&allowed).next().unwrap();
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("error") && l.contains(&format!("core {missing},"))),
        "core {missing} not named as an error:\n{stdout}"
    );
}

#[test]
fn a_core_set_on_the_command_line_is_checked_too() {
    let out = doctor(&["--set", "lanes.0.threads.0.core=4095"]);
    assert_one_line_error(&out, "cannot run here");
    assert!(text(&out.stderr).contains("4095"));
}

#[test]
fn config_mistakes_are_one_line_errors() {
    let out = doctor(&["--config", "/nonexistent/tickwire-doctor.toml"]);
    assert_one_line_error(
        &out,
        "cannot read config file /nonexistent/tickwire-doctor.toml",
    );
    assert!(out.stdout.is_empty());
    let out = doctor(&["--set", "rings.capacity=1000"]);
    assert_one_line_error(&out, "rings.capacity");
    let out = doctor(&["--set", "venue.colour=1"]);
    assert_one_line_error(&out, "colour");
}

#[test]
fn json_and_markdown_hold_the_same_findings() {
    let out = doctor(&["--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["runnable"], true);
    assert_eq!(v["config"], "built-in default");
    let findings = v["findings"].as_array().unwrap();
    assert!(findings.len() > 10);
    for f in findings {
        assert!(matches!(
            f["severity"].as_str(),
            Some("ok" | "info" | "warn" | "error")
        ));
        for k in ["check", "found", "why", "fix"] {
            assert!(f[k].is_string(), "{f}");
        }
    }
    let out = doctor(&["--markdown"]);
    assert_eq!(out.status.code(), Some(0));
    let md = text(&out.stdout);
    let rows = md.lines().filter(|l| l.starts_with("| ")).count();
    assert_eq!(
        rows,
        findings.len() + 1,
        "header + one row per finding:\n{md}"
    );
}
