//! `tickwire doctor`: the host (read from `/proc` and `/sys`) and a config's pinning plan,
//! checked against what low latency needs. Each [`Finding`] says how much it matters, what was
//! found, why it matters for latency, and the command that fixes it.
//!
//! Owns: reading the host into [`HostFacts`] (from `/`, or from any root directory so tests
//! can build a fake `/sys`), reading a config into a [`Plan`] without checking it against this
//! host, and [`findings`], a pure function of the two.
//!
//! Cold path, run once from the command line: it allocates freely and must never run on a hot
//! thread. It must never fail because of the host: a file that cannot be read (a VM, a
//! container, not Linux) is reported as unknown, never as an error or a panic. It changes
//! nothing on the host; fixes are printed, never applied.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::core::config::{apply_override, Config, ConfigError, ConfigSource, DEFAULT_CONFIG};
use crate::ring::WaitStrategy;

// ---------------------------------------------------------------- findings

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// As it should be for low latency.
    Ok,
    /// Worth knowing; nothing to fix, or nothing that can be fixed from here.
    Info,
    /// Costs latency or jitter; the plan still runs.
    Warn,
    /// The plan cannot run on this host.
    Error,
}

impl Severity {
    /// Report name.
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

/// One line of the doctor's report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// What was checked (`isolated cores`, `thread main/feed`).
    pub check: String,
    /// What was found.
    pub found: String,
    /// Why it matters for latency.
    pub why: String,
    /// The fix, as a concrete command; empty when there is nothing to do.
    pub fix: String,
}

fn finding(
    severity: Severity,
    check: impl Into<String>,
    found: impl Into<String>,
    why: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        severity,
        check: check.into(),
        found: found.into(),
        why: why.into(),
        fix: fix.into(),
    }
}

// ---------------------------------------------------------------- host facts

/// The cgroup CPU bandwidth limit of this process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CpuLimit {
    /// No quota (`cpu.max` = `max`, `cpu.cfs_quota_us` = -1).
    Unlimited,
    /// At most this many CPUs' worth of time per period.
    Cpus(f64),
}

/// One idle state of CPU 0 (`/sys/devices/system/cpu/cpu0/cpuidle/stateN`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdleState {
    /// `name` (POLL, C1, C1E, C6, haltpoll…).
    pub name: String,
    /// `disable` is 1.
    pub disabled: bool,
    /// `latency`: exit latency in µs.
    pub latency_us: Option<u64>,
}

/// What the doctor knows about the host. `None` (or an empty map) means "could not be read":
/// reported as unknown, never as an error.
#[derive(Clone, Debug, Default)]
pub struct HostFacts {
    /// CPUs online (`/sys/devices/system/cpu/online`).
    pub online: Option<Vec<usize>>,
    /// CPUs this process may run on (`Cpus_allowed_list` of `/proc/self/status`: the
    /// sched_getaffinity mask, which `taskset`, a cpuset and `isolcpus` all shrink).
    pub allowed: Option<Vec<usize>>,
    /// The cgroup's effective cpuset (v2 `cpuset.cpus.effective`, v1 `cpuset.effective_cpus`).
    pub cpuset: Option<Vec<usize>>,
    /// The cgroup CPU quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`).
    pub cpu_limit: Option<CpuLimit>,
    /// `/sys/devices/system/cpu/smt/active`.
    pub smt_active: Option<bool>,
    /// Each CPU's hyperthread siblings, itself included (`topology/thread_siblings_list`).
    pub siblings: BTreeMap<usize, Vec<usize>>,
    /// Isolated CPUs (`/sys/devices/system/cpu/isolated`, else `isolcpus=`).
    pub isolated: Option<Vec<usize>>,
    /// Tickless CPUs (`/sys/devices/system/cpu/nohz_full`, else `nohz_full=`).
    pub nohz_full: Option<Vec<usize>>,
    /// CPUs whose RCU callbacks are offloaded (`rcu_nocbs=` on the kernel command line).
    pub rcu_nocbs: Option<Vec<usize>>,
    /// Each CPU's cpufreq governor; empty when there is no cpufreq interface.
    pub governors: BTreeMap<usize, String>,
    /// CPU 0's idle states; `None` when there is no cpuidle interface.
    pub idle_states: Option<Vec<IdleState>>,
    /// `/proc/cmdline`.
    pub cmdline: Option<String>,
    /// A process named `irqbalance` is running.
    pub irqbalance: Option<bool>,
    /// The active value of `/sys/kernel/mm/transparent_hugepage/enabled`.
    pub thp_enabled: Option<String>,
    /// The active value of `/sys/kernel/mm/transparent_hugepage/defrag`.
    pub thp_defrag: Option<String>,
    /// `HugePages_Total` of `/proc/meminfo`.
    pub hugepages_total: Option<u64>,
    /// `clocksource0/current_clocksource`.
    pub clocksource: Option<String>,
    /// `clocksource0/available_clocksource`.
    pub clocksources: Option<Vec<String>>,
    /// The first `flags` line of `/proc/cpuinfo` (x86 only).
    pub cpu_flags: Option<BTreeSet<String>>,
}

fn read(root: &Path, path: &str) -> Option<String> {
    std::fs::read_to_string(root.join(path.trim_start_matches('/'))).ok()
}

impl HostFacts {
    /// Reads this host. Never fails: what cannot be read stays unknown.
    pub fn read() -> Self {
        let mut h = Self::read_from(Path::new("/"));
        if h.allowed.is_none() {
            // Not Linux, or no /proc: the affinity mask `run` itself checks against.
            h.allowed = core_affinity::get_core_ids()
                .map(|v| v.into_iter().map(|c| c.id).collect::<BTreeSet<_>>())
                .map(|s| s.into_iter().collect());
        }
        h
    }

    /// Reads a host whose `/proc` and `/sys` lie under `root` (`/` for this one; a fake tree
    /// in tests). Never fails: what cannot be read stays unknown.
    pub fn read_from(root: &Path) -> Self {
        let r = |p: &str| read(root, p);
        let cpu = "sys/devices/system/cpu";
        let cmdline = r("proc/cmdline").map(|s| s.trim().to_string());
        let online = r(&format!("{cpu}/online")).and_then(|s| parse_cpu_list(&s));
        let allowed = r("proc/self/status").and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .and_then(parse_cpu_list)
        });

        let mut siblings = BTreeMap::new();
        let mut governors = BTreeMap::new();
        if let Ok(dir) = std::fs::read_dir(root.join(cpu)) {
            for e in dir.flatten() {
                let name = e.file_name();
                let Some(id) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("cpu"))
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    continue;
                };
                if let Some(s) = r(&format!("{cpu}/cpu{id}/topology/thread_siblings_list"))
                    .and_then(|s| parse_cpu_list(&s))
                {
                    siblings.insert(id, s);
                }
                if let Some(g) = r(&format!("{cpu}/cpu{id}/cpufreq/scaling_governor")) {
                    governors.insert(id, g.trim().to_string());
                }
            }
        }

        let cmd = cmdline.as_deref();
        let isolated = match r(&format!("{cpu}/isolated")) {
            Some(s) => parse_cpu_list(&s),
            None => cmd.map(|c| {
                cmdline_value(c, "isolcpus")
                    .and_then(|v| parse_cpu_list(&strip_cpu_flags(v)))
                    .unwrap_or_default()
            }),
        };
        let nohz_full = match r(&format!("{cpu}/nohz_full")) {
            Some(s) => parse_cpu_list(&s),
            None => cmd.map(|c| {
                cmdline_value(c, "nohz_full")
                    .and_then(parse_cpu_list)
                    .unwrap_or_default()
            }),
        };
        let rcu_nocbs = cmd.map(|c| match cmdline_value(c, "rcu_nocbs") {
            // Bare `rcu_nocbs` or `all`: every CPU.
            Some("") | Some("all") => online.clone().unwrap_or_default(),
            Some(v) => parse_cpu_list(v).unwrap_or_default(),
            None => Vec::new(),
        });

        let mut idle = Vec::new();
        for i in 0..64 {
            let base = format!("{cpu}/cpu0/cpuidle/state{i}");
            let Some(name) = r(&format!("{base}/name")) else {
                break;
            };
            idle.push(IdleState {
                name: name.trim().to_string(),
                disabled: r(&format!("{base}/disable")).is_some_and(|s| s.trim() == "1"),
                latency_us: r(&format!("{base}/latency")).and_then(|s| s.trim().parse().ok()),
            });
        }

        let irqbalance = std::fs::read_dir(root.join("proc")).ok().map(|dir| {
            dir.flatten().any(|e| {
                let pid = e.file_name();
                pid.to_str()
                    .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
                    && std::fs::read_to_string(e.path().join("comm"))
                        .is_ok_and(|c| c.trim() == "irqbalance")
            })
        });

        let thp = "sys/kernel/mm/transparent_hugepage";
        let (cpuset, cpu_limit) = read_cgroups(root);
        HostFacts {
            online,
            allowed,
            cpuset,
            cpu_limit,
            smt_active: r(&format!("{cpu}/smt/active")).and_then(|s| match s.trim() {
                "1" => Some(true),
                "0" => Some(false),
                _ => None,
            }),
            siblings,
            isolated,
            nohz_full,
            rcu_nocbs,
            governors,
            idle_states: (!idle.is_empty()).then_some(idle),
            irqbalance,
            thp_enabled: r(&format!("{thp}/enabled")).and_then(|s| bracketed(&s)),
            thp_defrag: r(&format!("{thp}/defrag")).and_then(|s| bracketed(&s)),
            hugepages_total: r("proc/meminfo").and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("HugePages_Total:"))
                    .and_then(|v| v.trim().parse().ok())
            }),
            clocksource: r("sys/devices/system/clocksource/clocksource0/current_clocksource")
                .map(|s| s.trim().to_string()),
            clocksources: r("sys/devices/system/clocksource/clocksource0/available_clocksource")
                .map(|s| s.split_whitespace().map(str::to_string).collect()),
            cpu_flags: r("proc/cpuinfo").and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("flags"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, f)| f.split_whitespace().map(str::to_string).collect())
            }),
            cmdline,
        }
    }

    /// The CPUs this process may pin to: the affinity mask, else the online CPUs.
    pub fn usable(&self) -> Option<&[usize]> {
        self.allowed.as_deref().or(self.online.as_deref())
    }
}

/// The cgroup cpuset and CPU quota of this process, v2 and v1 (hybrid hosts mount both). The
/// quota is the tightest one on the way from the process's cgroup up to the root.
fn read_cgroups(root: &Path) -> (Option<Vec<usize>>, Option<CpuLimit>) {
    let mut v2 = vec!["/".to_string()];
    let mut v1_cpu = vec!["/".to_string()];
    let mut v1_cpuset = vec!["/".to_string()];
    if let Some(text) = read(root, "proc/self/cgroup") {
        for line in text.lines() {
            let mut it = line.splitn(3, ':');
            let (Some(_), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            if ctrls.is_empty() {
                v2.insert(0, path.to_string());
            }
            if ctrls.split(',').any(|c| c == "cpu") {
                v1_cpu.insert(0, path.to_string());
            }
            if ctrls.split(',').any(|c| c == "cpuset") {
                v1_cpuset.insert(0, path.to_string());
            }
        }
    }
    let join = |mount: &str, path: &str, file: &str| {
        let p = path.trim_matches('/');
        if p.is_empty() {
            format!("sys/fs/cgroup/{mount}{file}")
        } else {
            format!("sys/fs/cgroup/{mount}{p}/{file}")
        }
    };

    let mut cpuset = None;
    'found: for path in &v2 {
        for dir in ancestors(path) {
            if let Some(s) = read(root, &join("", &dir, "cpuset.cpus.effective")) {
                cpuset = parse_cpu_list(&s).filter(|l| !l.is_empty());
                if cpuset.is_some() {
                    break 'found;
                }
            }
        }
    }
    if cpuset.is_none() {
        'found1: for path in &v1_cpuset {
            for dir in ancestors(path) {
                if let Some(s) = read(root, &join("cpuset/", &dir, "cpuset.effective_cpus")) {
                    cpuset = parse_cpu_list(&s).filter(|l| !l.is_empty());
                    if cpuset.is_some() {
                        break 'found1;
                    }
                }
            }
        }
    }

    let mut seen = false;
    let mut tightest: Option<f64> = None;
    let mut limit = |cpus: Option<f64>| {
        seen = true;
        if let Some(c) = cpus {
            tightest = Some(tightest.map_or(c, |t: f64| t.min(c)));
        }
    };
    for path in &v2 {
        for dir in ancestors(path) {
            if let Some(s) = read(root, &join("", &dir, "cpu.max")) {
                let mut it = s.split_whitespace();
                match (it.next(), it.next().and_then(|p| p.parse::<f64>().ok())) {
                    (Some("max"), _) => limit(None),
                    (Some(q), Some(p)) if p > 0.0 => {
                        if let Ok(q) = q.parse::<f64>() {
                            limit(Some(q / p));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    for mount in ["cpu,cpuacct/", "cpu/", "cpuacct,cpu/"] {
        for path in &v1_cpu {
            for dir in ancestors(path) {
                let q = read(root, &join(mount, &dir, "cpu.cfs_quota_us"))
                    .and_then(|s| s.trim().parse::<i64>().ok());
                let p = read(root, &join(mount, &dir, "cpu.cfs_period_us"))
                    .and_then(|s| s.trim().parse::<i64>().ok());
                match (q, p) {
                    (Some(q), Some(p)) if q > 0 && p > 0 => limit(Some(q as f64 / p as f64)),
                    (Some(_), Some(_)) => limit(None),
                    _ => {}
                }
            }
        }
    }
    let cpu_limit = seen.then(|| tightest.map_or(CpuLimit::Unlimited, CpuLimit::Cpus));
    (cpuset, cpu_limit)
}

/// `/a/b` → `/a/b`, `/a`, `/`.
fn ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = path.trim_end_matches('/').to_string();
    loop {
        out.push(if p.is_empty() { "/".into() } else { p.clone() });
        match p.rfind('/') {
            Some(i) if !p.is_empty() => p.truncate(i),
            _ => break,
        }
    }
    out
}

/// The active value of a sysfs choice: `always [madvise] never` → `madvise`.
fn bracketed(s: &str) -> Option<String> {
    let a = s.find('[')?;
    let b = s[a..].find(']')? + a;
    Some(s[a + 1..b].to_string())
}

/// The value of `key=value` on the kernel command line (the last one wins; a bare `key` gives
/// ""). Arguments after `--` belong to init and are ignored.
fn cmdline_value<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_whitespace()
        .take_while(|t| *t != "--")
        .filter_map(|t| match t.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if t == key => Some(""),
            _ => None,
        })
        .last()
}

/// `isolcpus=nohz,domain,2-7` → `2-7`.
fn strip_cpu_flags(v: &str) -> String {
    v.split(',')
        .filter(|p| !p.starts_with(|c: char| c.is_ascii_alphabetic()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses a kernel CPU list (`0-3,8,16-31:2/4`); empty text (or `(null)`) is the empty list.
/// `None` when the text is not a CPU list.
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    const MAX_CPU: usize = 1 << 16;
    let s = s.trim();
    let mut out = BTreeSet::new();
    if s.is_empty() || s == "(null)" {
        return Some(Vec::new());
    }
    for part in s.split(',') {
        let part = part.trim();
        let (range, stride) = match part.split_once(':') {
            Some((r, st)) => (r, Some(st)),
            None => (part, None),
        };
        let (lo, hi): (usize, usize) = match range.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let v = range.parse().ok()?;
                (v, v)
            }
        };
        if lo > hi || hi >= MAX_CPU {
            return None;
        }
        let (used, group): (usize, usize) = match stride {
            None => (1, 1),
            Some(st) => {
                let (u, g) = st.split_once('/')?;
                (u.parse().ok()?, g.parse().ok()?)
            }
        };
        if used == 0 || group == 0 || used > group {
            return None;
        }
        let mut start = lo;
        while start <= hi {
            out.extend(start..(start + used).min(hi + 1));
            start += group;
        }
    }
    Some(out.into_iter().collect())
}

/// `[0, 1, 2, 5]` → `0-2,5`; the empty list → `none`.
pub fn fmt_cpus(cpus: &[usize]) -> String {
    let set: BTreeSet<usize> = cpus.iter().copied().collect();
    let mut out = String::new();
    let mut it = set.into_iter().peekable();
    while let Some(lo) = it.next() {
        let mut hi = lo;
        while it.peek() == Some(&(hi + 1)) {
            hi += 1;
            it.next();
        }
        if !out.is_empty() {
            out.push(',');
        }
        if hi == lo {
            let _ = write!(out, "{lo}");
        } else {
            let _ = write!(out, "{lo}-{hi}");
        }
    }
    if out.is_empty() {
        "none".into()
    } else {
        out
    }
}

// ---------------------------------------------------------------- the plan

/// One thread of the plan: where it runs and how it waits.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedThread {
    /// `lane/thread` for hot threads, `cold` for the cold thread.
    pub name: String,
    /// A hot thread (the cold one writes reports and may sleep).
    pub hot: bool,
    /// Its core, if pinned.
    pub core: Option<usize>,
    /// How it waits when idle (`None` for the cold thread).
    pub wait: Option<WaitStrategy>,
    /// The `--set` key of its core: `lanes.0.threads.1.core`, `rings.cold_core`.
    pub core_key: String,
}

impl PlannedThread {
    fn busy_spin(&self) -> bool {
        self.hot && self.wait == Some(WaitStrategy::BusySpin)
    }

    fn wait_name(&self) -> &'static str {
        self.wait.map_or("sleeps when idle", WaitStrategy::name)
    }

    fn wait_key(&self) -> Option<String> {
        self.core_key
            .strip_suffix(".core")
            .map(|k| format!("{k}.wait"))
    }
}

/// A config's threads and cores: what the doctor checks against the host.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Where it came from: a file name or `built-in default`.
    pub name: String,
    /// Hot threads in lane and pipeline order, then the cold thread.
    pub threads: Vec<PlannedThread>,
}

impl Plan {
    /// The plan of a loaded config.
    pub fn from_config(name: impl Into<String>, cfg: &Config) -> Self {
        let mut threads = Vec::new();
        for (li, lane) in cfg.lanes.iter().enumerate() {
            for (ti, t) in lane.threads.iter().enumerate() {
                threads.push(PlannedThread {
                    name: format!("{}/{}", lane.name, t.name),
                    hot: true,
                    core: t.core,
                    wait: Some(t.wait),
                    core_key: format!("lanes.{li}.threads.{ti}.core"),
                });
            }
        }
        threads.push(PlannedThread {
            name: "cold".into(),
            hot: false,
            core: cfg.cold_core,
            wait: None,
            core_key: "rings.cold_core".into(),
        });
        Plan {
            name: name.into(),
            threads,
        }
    }

    /// Loads a config (the built-in default when `path` is `None`) with its `--set`
    /// overrides, validated in every way but one: the cores it names are taken as allowed, so a
    /// plan made for a bigger machine can still be read and compared with this one.
    pub fn load(
        path: Option<&Path>,
        sets: &[String],
        host_cores: &[usize],
    ) -> Result<Self, ConfigError> {
        let mut allowed: BTreeSet<usize> = host_cores.iter().copied().collect();
        allowed.extend(named_cores(path, sets));
        let allowed: Vec<usize> = allowed.into_iter().collect();
        let (source, name) = match path {
            Some(p) => (ConfigSource::File(p), p.display().to_string()),
            None => (ConfigSource::Default, "built-in default".to_string()),
        };
        let cfg = Config::load(source, sets, &allowed)?;
        Ok(Plan::from_config(name, &cfg))
    }
}

/// Every core a config names (`rings.cold_core`, `lanes.*.threads.*.core`), after overrides.
/// Best effort: whatever cannot be read here is left for `Config::load` to report.
fn named_cores(path: Option<&Path>, sets: &[String]) -> Vec<usize> {
    let text = match path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(_) => return Vec::new(),
        },
        None => DEFAULT_CONFIG.to_string(),
    };
    let Ok(mut value) = toml::from_str::<toml::Value>(&text) else {
        return Vec::new();
    };
    for s in sets {
        if apply_override(&mut value, s).is_err() {
            return Vec::new();
        }
    }
    let as_core = |v: Option<&toml::Value>| {
        v.and_then(toml::Value::as_integer)
            .and_then(|c| usize::try_from(c).ok())
    };
    let mut cores = Vec::new();
    cores.extend(as_core(value.get("rings").and_then(|r| r.get("cold_core"))));
    for lane in value
        .get("lanes")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        for t in lane
            .get("threads")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
        {
            cores.extend(as_core(t.get("core")));
        }
    }
    cores
}

// ---------------------------------------------------------------- analysis

const GRUB: &str = "GRUB_CMDLINE_LINUX in /etc/default/grub, then `sudo update-grub` and reboot";

/// Everything the doctor finds: host checks first, then the plan (its summary first, so the
/// first error is the one that says why it cannot run).
pub fn findings(host: &HostFacts, plan: &Plan) -> Vec<Finding> {
    let mut out = Vec::new();
    let hot_pinned: BTreeSet<usize> = plan
        .threads
        .iter()
        .filter(|t| t.hot)
        .filter_map(|t| t.core)
        .collect();
    // Cores that should be isolated: the hot threads' own, else every CPU but the first
    // (kept for the OS, interrupts and the cold thread).
    let target: Vec<usize> = if hot_pinned.is_empty() {
        host.online
            .as_deref()
            .or(host.usable())
            .map(|c| c.iter().skip(1).copied().collect())
            .unwrap_or_default()
    } else {
        hot_pinned.iter().copied().collect()
    };
    cpus(host, &mut out);
    quota(host, plan, &mut out);
    smt(host, &mut out);
    isolation(host, &target, &mut out);
    governor(host, &mut out);
    cstates(host, &mut out);
    irqbalance(host, &target, &mut out);
    memory(host, &mut out);
    clock(host, &mut out);
    plan_findings(host, plan, &mut out);
    out
}

/// `1 core`, `7 cores`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn unknown(what: &str) -> String {
    format!("unknown (cannot read {what})")
}

fn cpus(host: &HostFacts, out: &mut Vec<Finding>) {
    let why = "tickwire pins threads only to CPUs in its affinity mask (taskset, a cgroup cpuset \
               and isolcpus all shrink it)";
    let cpuset = host
        .cpuset
        .as_deref()
        .map(|c| format!("; cgroup cpuset {}", fmt_cpus(c)))
        .unwrap_or_default();
    out.push(match (&host.online, &host.allowed) {
        (Some(on), Some(al)) if al == on => finding(
            Severity::Ok,
            "cpus",
            format!(
                "{} online ({}), this process may use all of them{cpuset}",
                on.len(),
                fmt_cpus(on)
            ),
            why,
            "",
        ),
        (Some(on), Some(al)) => finding(
            Severity::Info,
            "cpus",
            format!(
                "{} online ({}), this process may use {} ({}){cpuset}",
                on.len(),
                fmt_cpus(on),
                al.len(),
                fmt_cpus(al)
            ),
            why,
            format!(
                "to use more, launch under `taskset -c {} tickwire ...` (or widen the container's --cpuset-cpus)",
                fmt_cpus(on)
            ),
        ),
        (None, Some(al)) => finding(
            Severity::Info,
            "cpus",
            format!(
                "online unknown; this process may use {} ({}){cpuset}",
                al.len(),
                fmt_cpus(al)
            ),
            why,
            "",
        ),
        (Some(on), None) => finding(
            Severity::Warn,
            "cpus",
            format!(
                "{} online ({}); this process's CPUs unknown (no /proc/self/status)",
                on.len(),
                fmt_cpus(on)
            ),
            why,
            "",
        ),
        (None, None) => finding(
            Severity::Warn,
            "cpus",
            unknown("/sys/devices/system/cpu/online or /proc/self/status"),
            why,
            "",
        ),
    });
}

fn quota(host: &HostFacts, plan: &Plan, out: &mut Vec<Finding>) {
    let why = "a CFS quota stops every thread of the process for the rest of the period \
               (100 ms by default) once its CPU time is spent";
    let spinning = plan.threads.iter().filter(|t| t.busy_spin()).count();
    let usable = host.usable().map_or(0, <[usize]>::len);
    out.push(match host.cpu_limit {
        None => finding(
            Severity::Info,
            "cpu quota",
            unknown("a cgroup cpu.max or cpu.cfs_quota_us"),
            why,
            "",
        ),
        Some(CpuLimit::Unlimited) => {
            finding(Severity::Ok, "cpu quota", "none (cgroup: unlimited)", why, "")
        }
        Some(CpuLimit::Cpus(q)) => {
            let tight = q + 1e-9 < spinning as f64 + 1.0 || q + 1e-9 < usable as f64;
            finding(
                if tight { Severity::Warn } else { Severity::Ok },
                "cpu quota",
                format!(
                    "{q:.2} CPUs of time per period ({usable} CPUs usable, {spinning} busy-spin threads)"
                ),
                why,
                if tight {
                    "remove the quota and give whole CPUs instead: `docker run --cpuset-cpus=... ` \
                     without --cpus, or `echo max | sudo tee /sys/fs/cgroup/<group>/cpu.max`"
                } else {
                    ""
                },
            )
        }
    });
}

fn smt(host: &HostFacts, out: &mut Vec<Finding>) {
    let why = "hyperthread siblings share one core's execution units and L1/L2: a busy sibling \
               adds jitter to a hot thread";
    let paired: Vec<&Vec<usize>> = host.siblings.values().filter(|s| s.len() > 1).collect();
    let active = host
        .smt_active
        .or_else(|| (!host.siblings.is_empty()).then_some(!paired.is_empty()));
    out.push(match active {
        Some(true) => finding(
            Severity::Warn,
            "smt",
            match paired.first() {
                Some(p) => format!("on (siblings e.g. {})", fmt_cpus(p)),
                None => "on".into(),
            },
            why,
            "`echo off | sudo tee /sys/devices/system/cpu/smt/control` (or `nosmt` on the kernel \
             command line), or keep each hot core's sibling idle",
        ),
        Some(false) => finding(Severity::Ok, "smt", "off (one thread per core)", why, ""),
        None => finding(
            Severity::Info,
            "smt",
            unknown("/sys/devices/system/cpu/smt/active or thread_siblings_list"),
            why,
            "",
        ),
    });
}

fn isolation(host: &HostFacts, target: &[usize], out: &mut Vec<Finding>) {
    let t = fmt_cpus(target);
    let no_target = "this host has a single CPU: nothing can be isolated; use a host with 2+ cores";
    let rows = [
        (
            "isolated cores",
            &host.isolated,
            "/sys/devices/system/cpu/isolated",
            format!("add `isolcpus={t} nohz_full={t} rcu_nocbs={t}` to {GRUB}"),
            "the scheduler runs other tasks on cores that are not isolated: one runnable task \
             preempts a hot thread for a whole time slice (ms)",
        ),
        (
            "nohz_full",
            &host.nohz_full,
            "/sys/devices/system/cpu/nohz_full or the kernel command line",
            format!("add `nohz_full={t}` to {GRUB}"),
            "without it the scheduler tick interrupts each core 100-1000 times a second \
             (µs each, and it pollutes the caches)",
        ),
        (
            "rcu_nocbs",
            &host.rcu_nocbs,
            "/proc/cmdline",
            format!("add `rcu_nocbs={t}` to {GRUB}"),
            "RCU callbacks run as softirqs on the core that queued them unless offloaded: \
             bursts of kernel work on a hot core",
        ),
    ];
    for (check, have, source, fix, why) in rows {
        let fix = if target.is_empty() {
            no_target.to_string()
        } else {
            fix
        };
        out.push(match have {
            None => finding(Severity::Info, check, unknown(source), why, ""),
            Some(have) if have.is_empty() => finding(Severity::Warn, check, "none", why, fix),
            Some(have) => {
                let missing: Vec<usize> = target
                    .iter()
                    .filter(|c| !have.contains(c))
                    .copied()
                    .collect();
                if missing.is_empty() {
                    finding(Severity::Ok, check, fmt_cpus(have), why, "")
                } else {
                    finding(
                        Severity::Warn,
                        check,
                        format!("{}; not {}", fmt_cpus(have), fmt_cpus(&missing)),
                        why,
                        fix,
                    )
                }
            }
        });
    }
}

fn governor(host: &HostFacts, out: &mut Vec<Finding>) {
    let why = "a power-saving governor lowers the clock when idle and ramps it up only after a \
               burst has begun";
    let fix = "`sudo cpupower frequency-set -g performance` (or `echo performance | sudo tee \
               /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor`)";
    if host.governors.is_empty() {
        out.push(finding(
            Severity::Info,
            "cpu governor",
            "no cpufreq interface (usual in a VM: the hypervisor sets the frequency)",
            why,
            "on bare metal, load the cpufreq driver and set `performance`",
        ));
        return;
    }
    let mut by: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (cpu, g) in &host.governors {
        by.entry(g.as_str()).or_default().push(*cpu);
    }
    let found = by
        .iter()
        .map(|(g, c)| format!("{g} on {}", fmt_cpus(c)))
        .collect::<Vec<_>>()
        .join("; ");
    let tuned = by.keys().all(|g| *g == "performance");
    out.push(finding(
        if tuned { Severity::Ok } else { Severity::Warn },
        "cpu governor",
        found,
        why,
        if tuned { "" } else { fix },
    ));
}

fn cstates(host: &HostFacts, out: &mut Vec<Finding>) {
    let why = "waking a core from a deep C-state takes 10-200 µs, paid by the first message after \
               a quiet spell (busy-spin cores never sleep)";
    let fix = "`sudo cpupower idle-set -D 10` (disables states with exit latency >= 10 µs), or \
               boot with `intel_idle.max_cstate=1 processor.max_cstate=1`";
    let shallow = |s: &IdleState| match s.latency_us {
        Some(l) => l < 10,
        None => matches!(s.name.as_str(), "POLL" | "C1" | "haltpoll"),
    };
    let describe = |s: &IdleState| match s.latency_us {
        Some(l) => format!("{} ({l} µs)", s.name),
        None => s.name.clone(),
    };
    if let Some(states) = &host.idle_states {
        let enabled: Vec<&IdleState> = states.iter().filter(|s| !s.disabled).collect();
        let deep = enabled.iter().any(|s| !shallow(s));
        let list = enabled
            .iter()
            .map(|s| describe(s))
            .collect::<Vec<_>>()
            .join(", ");
        out.push(finding(
            if deep { Severity::Warn } else { Severity::Ok },
            "c-states",
            format!("enabled: {}", if list.is_empty() { "none" } else { &list }),
            why,
            if deep { fix } else { "" },
        ));
        return;
    }
    let cmd = host.cmdline.as_deref().unwrap_or("");
    let capped: Vec<String> = ["intel_idle.max_cstate", "processor.max_cstate", "idle"]
        .iter()
        .filter_map(|k| cmdline_value(cmd, k).map(|v| format!("{k}={v}")))
        .collect();
    let limited = ["intel_idle.max_cstate", "processor.max_cstate"]
        .iter()
        .any(|k| {
            cmdline_value(cmd, k)
                .and_then(|v| v.parse::<u32>().ok())
                .is_some_and(|v| v <= 1)
        })
        || cmdline_value(cmd, "idle") == Some("poll");
    out.push(if limited {
        finding(
            Severity::Ok,
            "c-states",
            format!("capped on the kernel command line: {}", capped.join(" ")),
            why,
            "",
        )
    } else {
        finding(
            Severity::Info,
            "c-states",
            "unknown (no cpuidle in /sys, no cap on the kernel command line)",
            why,
            fix,
        )
    });
}

fn irqbalance(host: &HostFacts, target: &[usize], out: &mut Vec<Finding>) {
    let why = "irqbalance moves device interrupts onto any core, hot ones included, every 10 s";
    let housekeeping = host
        .usable()
        .and_then(|u| u.iter().find(|c| !target.contains(c)).copied())
        .unwrap_or(0);
    out.push(match host.irqbalance {
        Some(true) => finding(
            Severity::Warn,
            "irqbalance",
            "running",
            why,
            format!(
                "`sudo systemctl disable --now irqbalance`, then `echo {housekeeping} | sudo tee \
                 /proc/irq/*/smp_affinity_list` to keep interrupts on core {housekeeping}"
            ),
        ),
        Some(false) => finding(Severity::Ok, "irqbalance", "not running", why, ""),
        None => finding(Severity::Info, "irqbalance", unknown("/proc"), why, ""),
    });
}

fn memory(host: &HostFacts, out: &mut Vec<Finding>) {
    let thp = "/sys/kernel/mm/transparent_hugepage";
    let why = "with `always`, khugepaged collapses pages in the background and a page fault may \
               zero or compact 2 MiB at once: stalls of 100 µs to ms";
    out.push(match host.thp_enabled.as_deref() {
        None => finding(Severity::Info, "thp enabled", unknown(thp), why, ""),
        Some("always") => finding(
            Severity::Warn,
            "thp enabled",
            "always",
            why,
            format!("`echo madvise | sudo tee {thp}/enabled` (or `transparent_hugepage=madvise` on the kernel command line)"),
        ),
        Some(v) => finding(Severity::Ok, "thp enabled", v, why, ""),
    });
    let why = "with `always`, a page fault that finds no free huge page stalls in direct \
               compaction";
    out.push(match host.thp_defrag.as_deref() {
        None => finding(Severity::Info, "thp defrag", unknown(thp), why, ""),
        Some("always") => finding(
            Severity::Warn,
            "thp defrag",
            "always",
            why,
            format!("`echo defer | sudo tee {thp}/defrag`"),
        ),
        Some(v) => finding(Severity::Ok, "thp defrag", v, why, ""),
    });
    let why = "tickwire does not map hugetlbfs pages yet; its rings are preallocated and touched \
               at start, so this costs no page faults on the hot path";
    out.push(match host.hugepages_total {
        None => finding(
            Severity::Info,
            "hugepages",
            unknown("/proc/meminfo"),
            why,
            "",
        ),
        Some(0) => finding(
            Severity::Info,
            "hugepages",
            "none reserved (HugePages_Total 0)",
            why,
            "",
        ),
        Some(n) => finding(Severity::Ok, "hugepages", format!("{n} reserved"), why, ""),
    });
}

fn clock(host: &HostFacts, out: &mut Vec<Finding>) {
    let why = "receive stamps and std's Instant read the kernel clocksource: tsc is read in \
               user space (~20 ns); hpet and acpi_pm need a syscall per read (~1 µs), kvm-clock \
               is slower than tsc";
    let available = host.clocksources.as_deref().unwrap_or(&[]);
    let cs = "/sys/devices/system/clocksource/clocksource0";
    out.push(match host.clocksource.as_deref() {
        None => finding(
            Severity::Info,
            "clocksource",
            unknown("current_clocksource"),
            why,
            "",
        ),
        Some("tsc") => finding(Severity::Ok, "clocksource", "tsc", why, ""),
        Some(other) => finding(
            Severity::Warn,
            "clocksource",
            format!("{other} (available: {})", available.join(" ")),
            why,
            if available.iter().any(|a| a == "tsc") {
                format!("`echo tsc | sudo tee {cs}/current_clocksource` (and `clocksource=tsc` on the kernel command line to keep it)")
            } else {
                "boot with `clocksource=tsc tsc=reliable` if the TSC is invariant (see the tsc row)".into()
            },
        ),
    });
    let why = "tickwire's latency clock (quanta) reads the TSC directly only when it ticks at a \
               constant rate and keeps ticking in deep C-states; otherwise it falls back to the \
               slower OS clock";
    out.push(match &host.cpu_flags {
        None => finding(
            Severity::Info,
            "tsc",
            "unknown (no flags line in /proc/cpuinfo: not x86?)",
            why,
            "",
        ),
        Some(flags) => {
            let missing: Vec<&str> = ["constant_tsc", "nonstop_tsc"]
                .into_iter()
                .filter(|f| !flags.contains(*f))
                .collect();
            if missing.is_empty() {
                finding(Severity::Ok, "tsc", "constant_tsc nonstop_tsc", why, "")
            } else {
                finding(
                    Severity::Warn,
                    "tsc",
                    format!("missing {}", missing.join(" ")),
                    why,
                    "none in software: use a CPU with an invariant TSC (or, in a VM, expose it: \
                     KVM `-cpu host,+invtsc`)",
                )
            }
        }
    });
    let why = "steal time, vCPU preemption and VM exits add jitter that no setting inside the \
               guest removes";
    out.push(match &host.cpu_flags {
        None => finding(
            Severity::Info,
            "virtualization",
            unknown("/proc/cpuinfo flags"),
            why,
            "",
        ),
        Some(f) if f.contains("hypervisor") => finding(
            Severity::Info,
            "virtualization",
            "running under a hypervisor (hypervisor flag)",
            why,
            "for production latency: bare metal, or dedicated vCPUs pinned to isolated host cores",
        ),
        Some(_) => finding(
            Severity::Ok,
            "virtualization",
            "bare metal (no hypervisor flag)",
            why,
            "",
        ),
    });
}

fn plan_findings(host: &HostFacts, plan: &Plan, out: &mut Vec<Finding>) {
    let usable = host.usable();
    let online = host.online.as_deref();
    let pinned: BTreeSet<usize> = plan.threads.iter().filter_map(|t| t.core).collect();
    let pinned_v: Vec<usize> = pinned.iter().copied().collect();
    let hot = plan.threads.iter().filter(|t| t.hot).count();
    let spinning = plan.threads.iter().filter(|t| t.busy_spin()).count();
    let isolated = host.isolated.as_deref();
    let in_isolated = |c: usize| isolated.is_some_and(|i| i.contains(&c));
    // A launch mask that covers the plan: isolated cores are outside the default mask.
    let mask: Vec<usize> = pinned
        .iter()
        .copied()
        .chain(usable.unwrap_or(&[]).iter().copied())
        .collect();
    let taskset = fmt_cpus(&mask);
    let taskset_with = |c: usize| {
        let mut v = mask.clone();
        v.push(c);
        fmt_cpus(&v)
    };

    // Summary first: it carries the sentence that says whether the plan fits here.
    let check = "plan";
    let summary = format!(
        "{} ({spinning} busy-spin), pins {} ({})",
        count(hot, "hot thread"),
        count(pinned.len(), "core"),
        fmt_cpus(&pinned_v)
    );
    let why = "tickwire refuses to start when a thread is pinned to a core this process may not \
               use, and busy-spin threads each need a core of their own";
    match usable {
        None => out.push(finding(
            Severity::Warn,
            check,
            format!("{summary}; this host's CPUs unknown, cannot check that it fits"),
            why,
            "",
        )),
        Some(u) => {
            let outside: Vec<usize> = pinned_v
                .iter()
                .filter(|c| !u.contains(c))
                .copied()
                .collect();
            if !outside.is_empty() {
                let only_isolated = outside.iter().all(|c| in_isolated(*c));
                out.push(finding(
                    Severity::Error,
                    check,
                    format!(
                        "it pins {} ({}) but this process may use {} ({}): {} {} {}",
                        count(pinned.len(), "core"),
                        fmt_cpus(&pinned_v),
                        u.len(),
                        fmt_cpus(u),
                        if outside.len() == 1 { "core" } else { "cores" },
                        fmt_cpus(&outside),
                        match (only_isolated, outside.len() == 1) {
                            (true, true) => "is isolated, outside the default CPU mask",
                            (true, false) => "are isolated, outside the default CPU mask",
                            (false, true) => "is missing or not allowed here",
                            (false, false) => "are missing or not allowed here",
                        }
                    ),
                    why,
                    if only_isolated {
                        format!("launch under `taskset -c {taskset} tickwire ...`")
                    } else {
                        format!(
                            "run it on a host with {}+ allowed cores, or use a profile for this one \
                             (e.g. tuning/dev-2core.toml) or move threads with `--set KEY.core=N`",
                            pinned_v.last().map_or(1, |c| c + 1)
                        )
                    },
                ));
            } else if spinning > 0 && spinning >= u.len() {
                out.push(finding(
                    Severity::Warn,
                    check,
                    format!("{summary}; {spinning} busy-spin threads on {} usable CPUs leave none for the cold thread and the OS", u.len()),
                    why,
                    "use `wait = \"spin-then-park\"` for some threads (or fuse stages onto fewer threads), or a bigger host",
                ));
            } else {
                out.push(finding(
                    Severity::Ok,
                    check,
                    format!(
                        "{summary}; fits the {} usable CPUs ({})",
                        u.len(),
                        fmt_cpus(u)
                    ),
                    why,
                    "",
                ));
            }
        }
    }

    for (i, t) in plan.threads.iter().enumerate() {
        let check = format!("thread {}", t.name);
        let wait = t.wait_name();
        // A core no thread is pinned to, for the fixes: for a hot thread an isolated one if
        // any (they may lie outside the mask), else never the first (the OS's); for the cold
        // thread one that is not isolated.
        let free = usable.and_then(|u| {
            let free = |c: &&usize| !pinned.contains(c);
            if t.hot {
                isolated
                    .unwrap_or(&[])
                    .iter()
                    .find(free)
                    .or_else(|| u.iter().skip(1).find(free))
                    .copied()
            } else {
                u.iter()
                    .filter(free)
                    .find(|c| !in_isolated(**c))
                    .or_else(|| u.iter().find(free))
                    .copied()
            }
        });
        let Some(core) = t.core else {
            let fix = match free {
                Some(c) if usable.is_some_and(|u| !u.contains(&c)) => format!(
                    "`--set {}={c}` (isolated, no other thread on it) and launch under \
                     `taskset -c {}`",
                    t.core_key,
                    taskset_with(c)
                ),
                Some(c) => format!(
                    "`--set {}={c}` (a core no other thread is pinned to)",
                    t.core_key
                ),
                None => format!("`--set {}=N` once a core is free", t.core_key),
            };
            out.push(if t.busy_spin() {
                finding(
                    Severity::Warn,
                    check,
                    format!("unpinned, {wait}"),
                    "an unpinned busy-spin thread competes with every other task and migrates \
                     between cores, losing its caches",
                    fix,
                )
            } else if t.hot {
                finding(
                    Severity::Info,
                    check,
                    format!("unpinned, {wait}"),
                    "an unpinned thread may migrate between cores and lose its caches; fine on a \
                     shared dev box",
                    fix,
                )
            } else {
                finding(
                    Severity::Info,
                    check,
                    "unpinned",
                    "the cold thread writes files and may sleep; unpinned it can land on a hot \
                     thread's core",
                    fix,
                )
            });
            continue;
        };

        if online.is_some_and(|o| !o.contains(&core)) {
            out.push(finding(
                Severity::Error,
                check,
                format!(
                    "core {core}, {wait}: core {core} does not exist here (online {})",
                    online.map(fmt_cpus).unwrap_or_default()
                ),
                "a thread cannot be pinned to a core the machine does not have",
                format!(
                    "`--set {}=N` with N an online core, or a bigger host",
                    t.core_key
                ),
            ));
            continue;
        }
        if usable.is_some_and(|u| !u.contains(&core)) {
            let iso = in_isolated(core);
            out.push(finding(
                Severity::Error,
                check,
                format!(
                    "core {core}, {wait}: core {core} is {} this process's CPUs ({})",
                    if iso { "isolated, outside" } else { "not among" },
                    usable.map(fmt_cpus).unwrap_or_default()
                ),
                "tickwire refuses to pin a thread to a core outside its affinity mask",
                if iso {
                    format!("launch under `taskset -c {taskset} tickwire ...`")
                } else {
                    format!(
                        "widen the mask (`taskset -c {taskset}`, the container's --cpuset-cpus) or `--set {}=N`",
                        t.core_key
                    )
                },
            ));
            continue;
        }

        let mut issues = Vec::new();
        for o in &plan.threads[..i] {
            let Some(oc) = o.core else { continue };
            if oc == core {
                issues.push(finding(
                    Severity::Warn,
                    check.clone(),
                    format!(
                        "core {core}, {wait}: shares core {core} with thread {}",
                        o.name
                    ),
                    "two threads on one core take turns: each waits a time slice for the other \
                     (and a busy-spin one starves it)",
                    match free {
                        Some(c) => format!(
                            "`--set {}={c}` (a core no other thread is pinned to)",
                            t.core_key
                        ),
                        None => format!("`--set {}=N` with a core of its own", t.core_key),
                    },
                ));
            } else if t.hot && o.hot && host.siblings.get(&core).is_some_and(|s| s.contains(&oc)) {
                issues.push(finding(
                    Severity::Warn,
                    check.clone(),
                    format!(
                        "core {core}, {wait}: SMT sibling of core {oc} (thread {})",
                        o.name
                    ),
                    "siblings share one core's execution units and L1/L2: the two hot threads \
                     slow each other down",
                    format!(
                        "`--set {}=N` with a core on another physical core, or turn SMT off",
                        t.core_key
                    ),
                ));
            }
        }
        if t.busy_spin() {
            match isolated {
                Some(iso) if !iso.contains(&core) => issues.push(finding(
                    Severity::Warn,
                    check.clone(),
                    format!("core {core}, busy-spin: core {core} is not isolated"),
                    "busy-spin owns its core: on a shared core the scheduler time-slices it with \
                     other tasks (ms stalls) and it starves them",
                    format!(
                        "isolate it (`isolcpus={core} nohz_full={core} rcu_nocbs={core}`, reboot, \
                         launch under `taskset -c {taskset}`), or `--set {}=spin-then-park`",
                        t.wait_key().unwrap_or_default()
                    ),
                )),
                None => issues.push(finding(
                    Severity::Warn,
                    check.clone(),
                    format!("core {core}, busy-spin: cannot tell whether core {core} is isolated"),
                    "busy-spin belongs on an isolated core",
                    "",
                )),
                _ => {}
            }
        }
        if issues.is_empty() {
            let note = if in_isolated(core) { " (isolated)" } else { "" };
            out.push(finding(
                Severity::Ok,
                check,
                format!("core {core}{note}, {wait}"),
                "a pinned thread keeps its caches and never migrates",
                "",
            ));
        } else {
            out.extend(issues);
        }
    }
}

// ---------------------------------------------------------------- report

/// The one-line conclusion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// No finding is an error: the plan can run here.
    pub runnable: bool,
    /// One sentence, naming the plan.
    pub summary: String,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "verdict: {}", self.summary)
    }
}

/// The verdict on `findings` for the plan called `name`.
pub fn verdict(name: &str, findings: &[Finding]) -> Verdict {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warn));
    let summary = match findings.iter().find(|f| f.severity == Severity::Error) {
        Some(e) => format!(
            "{name} cannot run here: {} ({errors} errors, {warnings} warnings)",
            e.found
        ),
        None if warnings > 0 => {
            format!("{name} can run here, with {warnings} warnings that cost latency (fixes above)")
        }
        None => format!("{name} can run here; host and plan are tuned for low latency"),
    };
    Verdict {
        runnable: errors == 0,
        summary,
    }
}

/// Findings as an aligned text table: severity, check and what was found on one line, why it
/// matters and the fix indented beneath.
pub fn text_table(findings: &[Finding]) -> String {
    let w = findings
        .iter()
        .map(|f| f.check.chars().count())
        .max()
        .unwrap_or(0)
        .max("check".len());
    let mut out = String::new();
    let _ = writeln!(out, "{:<8} {:<w$}  found", "severity", "check");
    let _ = writeln!(out, "{:-<8} {:-<w$}  {:-<5}", "", "", "");
    for f in findings {
        let _ = writeln!(out, "{:<8} {:<w$}  {}", f.severity.name(), f.check, f.found);
        let pad = " ".repeat(w + 11);
        let _ = writeln!(out, "{pad}why: {}", f.why);
        if !f.fix.is_empty() {
            let _ = writeln!(out, "{pad}fix: {}", f.fix);
        }
    }
    out
}

/// Findings as an aligned Markdown table (for a latency report's README).
pub fn markdown_table(findings: &[Finding]) -> String {
    let head = ["severity", "check", "found", "why it matters", "fix"];
    let cell = |s: &str| s.replace('|', "\\|");
    let rows: Vec<[String; 5]> = findings
        .iter()
        .map(|f| {
            [
                f.severity.name().to_string(),
                cell(&f.check),
                cell(&f.found),
                cell(&f.why),
                cell(&f.fix),
            ]
        })
        .collect();
    let mut w = head.map(|h| h.chars().count());
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i].saturating_sub(c.chars().count());
            let _ = write!(s, " {c}{} |", " ".repeat(pad));
        }
        s.push('\n');
        s
    };
    let mut out = line(&head.map(str::to_string));
    out.push('|');
    for wi in w {
        let _ = write!(out, "{}|", "-".repeat(wi + 2));
    }
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}

/// The doctor's whole report on this host.
#[derive(Clone, Debug)]
pub struct Report {
    /// The plan checked.
    pub plan: Plan,
    /// What was found.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Reads this host and the config (the built-in default when `config` is `None`) and
    /// checks one against the other. Fails only when the config cannot be read or is invalid
    /// for reasons other than this host's cores.
    pub fn new(config: Option<&Path>, sets: &[String]) -> Result<Self, ConfigError> {
        let host = HostFacts::read();
        let plan = Plan::load(config, sets, host.usable().unwrap_or(&[]))?;
        let findings = findings(&host, &plan);
        Ok(Report { plan, findings })
    }

    /// The one-line conclusion.
    pub fn verdict(&self) -> Verdict {
        verdict(&self.plan.name, &self.findings)
    }

    /// The report as JSON: `{config, runnable, verdict, findings: [...]}`.
    pub fn to_json(&self) -> String {
        let v = self.verdict();
        let doc = serde_json::json!({
            "config": self.plan.name,
            "runnable": v.runnable,
            "verdict": v.summary,
            "findings": self.findings,
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuned_host() -> HostFacts {
        let cpus: Vec<usize> = (0..4).collect();
        HostFacts {
            online: Some(cpus.clone()),
            allowed: Some(cpus.clone()),
            cpuset: Some(cpus.clone()),
            cpu_limit: Some(CpuLimit::Unlimited),
            smt_active: Some(false),
            siblings: cpus.iter().map(|&c| (c, vec![c])).collect(),
            isolated: Some(vec![1, 2, 3]),
            nohz_full: Some(vec![1, 2, 3]),
            rcu_nocbs: Some(vec![1, 2, 3]),
            governors: cpus.iter().map(|&c| (c, "performance".into())).collect(),
            idle_states: Some(vec![
                IdleState {
                    name: "POLL".into(),
                    disabled: false,
                    latency_us: Some(0),
                },
                IdleState {
                    name: "C6".into(),
                    disabled: true,
                    latency_us: Some(133),
                },
            ]),
            cmdline: Some("isolcpus=1-3 nohz_full=1-3 rcu_nocbs=1-3".into()),
            irqbalance: Some(false),
            thp_enabled: Some("madvise".into()),
            thp_defrag: Some("defer".into()),
            hugepages_total: Some(512),
            clocksource: Some("tsc".into()),
            clocksources: Some(vec!["tsc".into(), "hpet".into()]),
            cpu_flags: Some(
                ["fpu", "constant_tsc", "nonstop_tsc"]
                    .map(String::from)
                    .into(),
            ),
        }
    }

    fn thread(name: &str, core: Option<usize>, wait: WaitStrategy, i: usize) -> PlannedThread {
        PlannedThread {
            name: format!("main/{name}"),
            hot: true,
            core,
            wait: Some(wait),
            core_key: format!("lanes.0.threads.{i}.core"),
        }
    }

    fn cold(core: Option<usize>) -> PlannedThread {
        PlannedThread {
            name: "cold".into(),
            hot: false,
            core,
            wait: None,
            core_key: "rings.cold_core".into(),
        }
    }

    /// Busy-spin hot threads on `cores`, the cold thread on 0.
    fn spin_plan(cores: &[usize]) -> Plan {
        let mut threads: Vec<PlannedThread> = cores
            .iter()
            .enumerate()
            .map(|(i, &c)| thread(&format!("t{i}"), Some(c), WaitStrategy::BusySpin, i))
            .collect();
        threads.push(cold(Some(0)));
        Plan {
            name: "test.toml".into(),
            threads,
        }
    }

    fn find<'a>(f: &'a [Finding], check: &str) -> Vec<&'a Finding> {
        f.iter().filter(|x| x.check == check).collect()
    }

    fn worst(f: &[Finding], check: &str) -> Severity {
        find(f, check)
            .iter()
            .map(|x| x.severity)
            .max()
            .unwrap_or_else(|| panic!("no `{check}` finding in {f:#?}"))
    }

    #[test]
    fn everything_tuned_is_all_ok() {
        let f = findings(&tuned_host(), &spin_plan(&[1, 2, 3]));
        let not_ok: Vec<&Finding> = f.iter().filter(|x| x.severity != Severity::Ok).collect();
        assert!(not_ok.is_empty(), "{not_ok:#?}");
        let v = verdict("test.toml", &f);
        assert!(v.runnable);
        assert!(v.summary.contains("tuned"), "{v}");
        assert!(f.iter().all(|x| x.fix.is_empty()));
    }

    #[test]
    fn busy_spin_without_isolation_warns() {
        let mut h = tuned_host();
        h.isolated = Some(Vec::new());
        let f = findings(&h, &spin_plan(&[1]));
        assert_eq!(worst(&f, "isolated cores"), Severity::Warn);
        let t = find(&f, "thread main/t0");
        assert_eq!(t.len(), 1, "{t:#?}");
        assert_eq!(t[0].severity, Severity::Warn);
        assert!(t[0].found.contains("not isolated"), "{t:#?}");
        assert!(
            t[0].fix.contains("isolcpus=1")
                && t[0].fix.contains("lanes.0.threads.0.wait=spin-then-park"),
            "{t:#?}"
        );
        assert!(find(&f, "isolated cores")[0].fix.contains("isolcpus=1 "));
        assert!(verdict("x", &f).runnable, "warnings only");
    }

    #[test]
    fn eight_core_plan_on_two_cores_cannot_run() {
        let mut h = tuned_host();
        h.online = Some(vec![0, 1]);
        h.allowed = Some(vec![0, 1]);
        h.isolated = Some(Vec::new());
        let f = findings(&h, &spin_plan(&[1, 2, 3, 4, 5, 6]));
        assert_eq!(worst(&f, "plan"), Severity::Error);
        assert_eq!(worst(&f, "thread main/t1"), Severity::Error);
        assert!(find(&f, "thread main/t1")[0]
            .found
            .contains("core 2 does not exist"));
        let v = verdict("colo-8core.toml", &f);
        assert!(!v.runnable);
        assert!(
            v.summary
                .starts_with("colo-8core.toml cannot run here: it pins 7 cores (0-6)"),
            "{v}"
        );
        assert!(v.summary.contains("may use 2 (0-1)"), "{v}");
    }

    #[test]
    fn isolated_core_outside_the_mask_says_taskset() {
        let mut h = tuned_host();
        h.allowed = Some(vec![0]);
        let f = findings(&h, &spin_plan(&[1, 2]));
        assert_eq!(worst(&f, "plan"), Severity::Error);
        assert!(find(&f, "plan")[0].fix.contains("taskset -c 0-2"), "{f:#?}");
    }

    #[test]
    fn hot_threads_on_smt_siblings_warn() {
        let mut h = tuned_host();
        h.smt_active = Some(true);
        h.siblings = BTreeMap::from([
            (0, vec![0, 2]),
            (1, vec![1, 3]),
            (2, vec![0, 2]),
            (3, vec![1, 3]),
        ]);
        let f = findings(&h, &spin_plan(&[1, 3]));
        assert_eq!(worst(&f, "smt"), Severity::Warn);
        assert_eq!(worst(&f, "thread main/t0"), Severity::Ok);
        let t = find(&f, "thread main/t1");
        assert_eq!(t[0].severity, Severity::Warn);
        assert!(t[0].found.contains("SMT sibling of core 1"), "{t:#?}");
        // Cores 1 and 2 are on different physical cores: no sibling warning.
        let f = findings(&h, &spin_plan(&[1, 2]));
        assert_eq!(worst(&f, "thread main/t1"), Severity::Ok);
    }

    #[test]
    fn shared_cores_warn() {
        let h = tuned_host();
        let mut p = spin_plan(&[1, 1]);
        p.threads.last_mut().unwrap().core = Some(1);
        let f = findings(&h, &p);
        assert!(find(&f, "thread main/t1")[0]
            .found
            .contains("shares core 1 with thread main/t0"));
        assert!(find(&f, "thread cold")
            .iter()
            .any(|x| x.severity == Severity::Warn && x.found.contains("shares core 1")));
    }

    #[test]
    fn thp_always_warns() {
        let mut h = tuned_host();
        h.thp_enabled = Some("always".into());
        h.thp_defrag = Some("always".into());
        let f = findings(&h, &spin_plan(&[1]));
        assert_eq!(worst(&f, "thp enabled"), Severity::Warn);
        assert_eq!(worst(&f, "thp defrag"), Severity::Warn);
        assert!(find(&f, "thp enabled")[0].fix.contains("echo madvise"));
    }

    #[test]
    fn powersave_governor_warns() {
        let mut h = tuned_host();
        h.governors.insert(2, "powersave".into());
        let f = findings(&h, &spin_plan(&[1]));
        let g = find(&f, "cpu governor");
        assert_eq!(g[0].severity, Severity::Warn);
        assert!(g[0].found.contains("powersave on 2"), "{g:#?}");
        assert!(g[0].fix.contains("cpupower frequency-set -g performance"));
        h.governors.clear();
        let f = findings(&h, &spin_plan(&[1]));
        assert_eq!(worst(&f, "cpu governor"), Severity::Info);
    }

    #[test]
    fn other_host_warnings() {
        let mut h = tuned_host();
        h.irqbalance = Some(true);
        h.clocksource = Some("kvm-clock".into());
        h.clocksources = Some(vec!["kvm-clock".into(), "tsc".into()]);
        h.cpu_flags = Some(["hypervisor".to_string()].into());
        h.cpu_limit = Some(CpuLimit::Cpus(1.5));
        h.idle_states.as_mut().unwrap()[1].disabled = false;
        let f = findings(&h, &spin_plan(&[1, 2, 3]));
        for check in ["irqbalance", "clocksource", "tsc", "cpu quota", "c-states"] {
            assert_eq!(worst(&f, check), Severity::Warn, "{check}");
        }
        assert_eq!(worst(&f, "virtualization"), Severity::Info);
        assert!(find(&f, "clocksource")[0].fix.contains("echo tsc"));
        assert!(find(&f, "irqbalance")[0].fix.contains("echo 0 |"));
    }

    #[test]
    fn unknown_host_never_errors() {
        let p = spin_plan(&[1, 2]);
        let f = findings(&HostFacts::default(), &p);
        assert!(f.iter().all(|x| x.severity != Severity::Error), "{f:#?}");
        assert!(find(&f, "isolated cores")[0].found.starts_with("unknown"));
        // Unpinned threads on an unknown host: information only, with a concrete key.
        let p = Plan {
            name: "d".into(),
            threads: vec![
                thread(
                    "hot",
                    None,
                    WaitStrategy::parse("spin-then-park").unwrap(),
                    0,
                ),
                cold(None),
            ],
        };
        let f = findings(&tuned_host(), &p);
        let t = find(&f, "thread main/hot");
        assert_eq!(t[0].severity, Severity::Info);
        assert!(
            t[0].fix.contains("--set lanes.0.threads.0.core=1"),
            "{t:#?}"
        );
        assert!(verdict("d", &f).runnable);
    }

    #[test]
    fn unpinned_threads_get_a_concrete_core() {
        // isolcpus=1-3 leaves this process only core 0: the fix names an isolated core and the
        // launch mask that reaches it.
        let mut h = tuned_host();
        h.allowed = Some(vec![0]);
        let spin = WaitStrategy::BusySpin;
        let p = Plan {
            name: "p".into(),
            threads: vec![
                thread("a", Some(1), spin, 0),
                thread("b", None, spin, 1),
                cold(None),
            ],
        };
        let f = findings(&h, &p);
        let b = find(&f, "thread main/b");
        assert_eq!(b[0].severity, Severity::Warn);
        assert!(
            b[0].fix.contains("--set lanes.0.threads.1.core=2")
                && b[0].fix.contains("taskset -c 0-2"),
            "{b:#?}"
        );
        let c = find(&f, "thread cold");
        assert!(c[0].fix.contains("--set rings.cold_core=0"), "{c:#?}");
    }

    #[test]
    fn cpu_lists_parse_and_print() {
        assert_eq!(parse_cpu_list("0-3,8\n"), Some(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("(null)\n"), Some(vec![]));
        assert_eq!(parse_cpu_list("0-7:2/4"), Some(vec![0, 1, 4, 5]));
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("0-99999999"), None);
        assert_eq!(fmt_cpus(&[5, 0, 1, 2]), "0-2,5");
        assert_eq!(fmt_cpus(&[]), "none");
        assert_eq!(strip_cpu_flags("nohz,domain,2-7"), "2-7");
        let c = "BOOT_IMAGE=/vmlinuz isolcpus=1 isolcpus=2-3 rcu_nocbs -- nohz_full=1";
        assert_eq!(cmdline_value(c, "isolcpus"), Some("2-3"));
        assert_eq!(cmdline_value(c, "rcu_nocbs"), Some(""));
        assert_eq!(cmdline_value(c, "nohz_full"), None);
        assert_eq!(
            bracketed("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(ancestors("/a/b"), ["/a/b", "/a", "/"]);
        assert_eq!(ancestors("/"), ["/"]);
    }

    /// A fake `/proc` + `/sys` tree in a temporary directory.
    struct FakeRoot(std::path::PathBuf);

    impl FakeRoot {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!("tw-doctor-{}-{tag}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            FakeRoot(p)
        }
        fn put(&self, path: &str, text: &str) {
            let p = self.0.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    impl Drop for FakeRoot {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn reads_a_fake_host_tree() {
        let r = FakeRoot::new("tree");
        let cpu = "sys/devices/system/cpu";
        r.put(&format!("{cpu}/online"), "0-3\n");
        r.put(&format!("{cpu}/isolated"), "2-3\n");
        r.put(&format!("{cpu}/smt/active"), "1\n");
        for c in 0..4 {
            let sib = if c % 2 == 0 { "0,2" } else { "1,3" };
            r.put(
                &format!("{cpu}/cpu{c}/topology/thread_siblings_list"),
                &format!("{sib}\n"),
            );
            r.put(
                &format!("{cpu}/cpu{c}/cpufreq/scaling_governor"),
                "powersave\n",
            );
        }
        r.put(&format!("{cpu}/cpu0/cpuidle/state0/name"), "POLL\n");
        r.put(&format!("{cpu}/cpu0/cpuidle/state0/disable"), "0\n");
        r.put(&format!("{cpu}/cpu0/cpuidle/state0/latency"), "0\n");
        r.put(&format!("{cpu}/cpu0/cpuidle/state1/name"), "C6\n");
        r.put(&format!("{cpu}/cpu0/cpuidle/state1/disable"), "0\n");
        r.put(&format!("{cpu}/cpu0/cpuidle/state1/latency"), "133\n");
        r.put(
            "proc/cmdline",
            "ro quiet isolcpus=2-3 rcu_nocbs=2-3 -- init=x\n",
        );
        r.put(
            "proc/self/status",
            "Name:\tx\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n",
        );
        r.put("proc/self/cgroup", "0::/user.slice/app\n");
        r.put("sys/fs/cgroup/user.slice/app/cpu.max", "max 100000\n");
        r.put("sys/fs/cgroup/user.slice/cpu.max", "150000 100000\n");
        r.put(
            "sys/fs/cgroup/user.slice/app/cpuset.cpus.effective",
            "0-1\n",
        );
        r.put("proc/42/comm", "irqbalance\n");
        r.put("proc/meminfo", "MemTotal: 1 kB\nHugePages_Total:      16\n");
        r.put(
            "sys/kernel/mm/transparent_hugepage/enabled",
            "[always] madvise never\n",
        );
        r.put(
            "sys/kernel/mm/transparent_hugepage/defrag",
            "always defer [madvise] never\n",
        );
        r.put(
            "sys/devices/system/clocksource/clocksource0/current_clocksource",
            "hpet\n",
        );
        r.put(
            "sys/devices/system/clocksource/clocksource0/available_clocksource",
            "hpet acpi_pm \n",
        );
        r.put(
            "proc/cpuinfo",
            "processor\t: 0\nflags\t\t: fpu tsc constant_tsc hypervisor\n",
        );

        let h = HostFacts::read_from(&r.0);
        assert_eq!(h.online, Some(vec![0, 1, 2, 3]));
        assert_eq!(h.allowed, Some(vec![0, 1]));
        assert_eq!(h.cpuset, Some(vec![0, 1]));
        assert_eq!(h.cpu_limit, Some(CpuLimit::Cpus(1.5)));
        assert_eq!(h.smt_active, Some(true));
        assert_eq!(h.siblings.get(&3), Some(&vec![1, 3]));
        assert_eq!(h.isolated, Some(vec![2, 3]));
        assert_eq!(h.nohz_full, Some(vec![]), "not on the command line");
        assert_eq!(h.rcu_nocbs, Some(vec![2, 3]));
        assert_eq!(h.governors.get(&1).map(String::as_str), Some("powersave"));
        let idle = h.idle_states.as_ref().unwrap();
        assert_eq!(idle.len(), 2);
        assert_eq!(idle[1].latency_us, Some(133));
        assert_eq!(h.irqbalance, Some(true));
        assert_eq!(h.thp_enabled.as_deref(), Some("always"));
        assert_eq!(h.thp_defrag.as_deref(), Some("madvise"));
        assert_eq!(h.hugepages_total, Some(16));
        assert_eq!(h.clocksource.as_deref(), Some("hpet"));
        let flags = h.cpu_flags.as_ref().unwrap();
        assert!(flags.contains("constant_tsc") && !flags.contains("nonstop_tsc"));

        // Isolated cores 2-3 are outside the mask 0-1: taskset is the fix.
        let f = findings(&h, &spin_plan(&[2, 3]));
        assert_eq!(worst(&f, "plan"), Severity::Error);
        assert!(find(&f, "plan")[0].fix.contains("taskset -c 0-3"));
        assert!(find(&f, "thread main/t0")[0]
            .found
            .contains("isolated, outside"));

        // An empty root: everything unknown, nothing panics, nothing is an error.
        let empty = FakeRoot::new("empty");
        let h = HostFacts::read_from(&empty.0);
        assert!(h.online.is_none() && h.allowed.is_none() && h.cpu_limit.is_none());
        let f = findings(&h, &spin_plan(&[1]));
        assert!(f.iter().all(|x| x.severity != Severity::Error));
    }

    #[test]
    fn a_plan_for_a_bigger_host_still_loads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/colo-8core.toml");
        let plan = Plan::load(Some(&p), &[], &[0, 1]).unwrap();
        let hot: Vec<&PlannedThread> = plan.threads.iter().filter(|t| t.hot).collect();
        assert!(hot.len() > 1);
        assert!(hot.iter().all(|t| t.core.is_some() && t.busy_spin()));
        assert_eq!(plan.threads.last().unwrap().name, "cold");
        // Overrides apply before the cores are collected.
        let plan = Plan::load(None, &["lanes.0.threads.0.core=9".into()], &[0, 1]).unwrap();
        assert_eq!(plan.threads[0].core, Some(9));
        assert_eq!(plan.name, "built-in default");
        // Other mistakes are still refused, in one line.
        let e = Plan::load(None, &["rings.capacity=1000".into()], &[0, 1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("rings.capacity") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn tables_hold_every_finding() {
        let f = findings(&tuned_host(), &spin_plan(&[1]));
        let t = text_table(&f);
        assert_eq!(t.lines().filter(|l| l.starts_with("ok ")).count(), f.len());
        let m = markdown_table(&f);
        assert_eq!(m.lines().count(), f.len() + 2);
        let widths: BTreeSet<usize> = m.lines().map(|l| l.chars().count()).collect();
        assert_eq!(widths.len(), 1, "aligned");
    }
}
