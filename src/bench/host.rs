//! What a benchmark report says about where it ran: commit, toolchain, CPU, cores,
//! isolation, governor, THP, clock source, and `tickwire doctor`'s findings for the config.
//! Cold code; every read may fail and then says `unknown`.

use std::path::Path;

use serde_json::{json, Value};

use crate::doctor::{self, HostFacts};

/// The host, as a report prints it.
pub struct Host {
    /// A one-line label (`2-core VM, shared, no isolated cores`).
    pub label: String,
    facts: Vec<(&'static str, String)>,
    /// `tickwire doctor`'s findings as a Markdown table.
    pub findings: String,
}

fn command(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The checkout's commit, `+changes` when tracked files differ from it.
fn commit() -> String {
    let head = command("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    if dirty && head != "unknown" {
        format!("{head}+changes")
    } else {
        head
    }
}

fn first_line(path: &str) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The bracketed choice of a sysfs selector (`always [madvise] never` → `madvise`).
fn active(v: &Option<String>) -> String {
    match v {
        Some(s) => s
            .split('[')
            .nth(1)
            .and_then(|x| x.split(']').next())
            .unwrap_or(s)
            .to_string(),
        None => "unknown".to_string(),
    }
}

impl Host {
    /// Reads this host; `config` and `sets` are the plan the findings check.
    pub fn read(config: Option<&Path>, sets: &[String], label: Option<&str>) -> Self {
        let h = HostFacts::read();
        let cpus = |v: &Option<Vec<usize>>| match v {
            Some(c) if c.is_empty() => "none".to_string(),
            Some(c) => doctor::fmt_cpus(c),
            None => "unknown".to_string(),
        };
        let allowed = h.usable().map_or(0, <[usize]>::len);
        let virt = h
            .cpu_flags
            .as_ref()
            .is_some_and(|f| f.contains("hypervisor"));
        let isolated = h.isolated.as_ref().is_some_and(|v| !v.is_empty());
        let mut governors: Vec<String> = h.governors.values().cloned().collect();
        governors.sort();
        governors.dedup();
        let governor = if governors.is_empty() {
            "not exposed (no cpufreq: typical of a VM)".to_string()
        } else {
            governors.join(", ")
        };
        let auto = format!(
            "{allowed}-core {}, {}",
            if virt {
                "VM (shared and noisy)"
            } else {
                "host"
            },
            if isolated {
                "isolated cores"
            } else {
                "no isolated cores"
            }
        );
        let facts = vec![
            (
                "tickwire",
                format!("{} (commit {})", env!("CARGO_PKG_VERSION"), commit()),
            ),
            ("rustc", command("rustc", &["--version"])),
            ("host", first_line("/proc/sys/kernel/hostname")),
            ("kernel", first_line("/proc/sys/kernel/osrelease")),
            ("CPU", cpu_model()),
            ("cores online", cpus(&h.online)),
            (
                "cores allowed",
                h.usable().map_or("unknown".to_string(), doctor::fmt_cpus),
            ),
            (
                "SMT active",
                h.smt_active
                    .map_or("unknown".to_string(), |b| b.to_string()),
            ),
            ("isolated (isolcpus)", cpus(&h.isolated)),
            ("nohz_full", cpus(&h.nohz_full)),
            ("governor", governor),
            ("transparent huge pages", active(&h.thp_enabled)),
            (
                "clock source",
                h.clocksource.clone().unwrap_or_else(|| "unknown".into()),
            ),
            (
                "virtualized",
                if virt {
                    "yes (hypervisor flag)".into()
                } else {
                    "no".into()
                },
            ),
        ];
        let findings = match doctor::Report::new(config, sets) {
            Ok(r) => doctor::markdown_table(&r.findings),
            Err(e) => format!("(doctor could not read the config: {e})\n"),
        };
        Host {
            label: label.map_or(auto, str::to_string),
            facts,
            findings,
        }
    }

    /// The facts as JSON.
    pub fn json(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("label".into(), json!(self.label));
        for (k, v) in &self.facts {
            m.insert((*k).to_string(), json!(v));
        }
        Value::Object(m)
    }

    /// The facts as a Markdown list.
    pub fn markdown(&self) -> String {
        self.facts
            .iter()
            .map(|(k, v)| format!("- {k}: {v}\n"))
            .collect()
    }
}
