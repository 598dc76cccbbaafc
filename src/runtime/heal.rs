//! Self-healing at a hot thread's boundary, and the fault injection that proves it.
//!
//! Every stage call on a hot thread runs under [`std::panic::catch_unwind`] (free until
//! something panics). When a stage panics on an input, the thread asks the stage to restore
//! its state ([`Recover`]), then either handles the input again (nothing lost) or drops it;
//! either way it records a [`Heal`] for the cold thread to journal and goes on. Stages that
//! hold money state (signals, risk, orders, venue) are not restarted: the run stops safely,
//! and a restart rebuilds them from the order journal. More than `ops.restart_max` panics
//! within `ops.restart_window_s` on one thread also stops the run safely.
//!
//! Faults are injected from the `TICKWIRE_FAULT` environment variable, read once when the
//! run is built (tests use it; nothing reads it on the hot path). Specs are separated by `;`:
//!
//! * `panic:<stage>:after=N[,kind=candle|trade|…][,times=K]`: the stage panics right after
//!   handling its N-th input (of that payload kind, if given: trade, book_ticker, candle, live_candle,
//!   indicator, place, cancel), with its state already
//!   changed, and again on each of the next K − 1 attempts (a retry is an attempt);
//! * `stall:parse:after=N,ms=M`: the source thread sleeps M ms after its N-th message;
//! * `drop:<stage>:after=N`: the thread hosting the stage (not the source's) stops reading
//!   its input ring after N envelopes, as if it died; its producer must notice.
//!
//! [`Recover`]: crate::core::health::Recover

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use crate::core::config::Stage;
use crate::core::health::{payload_kind, Heal, HealInput, HealOutcome, ThreadProbe, PAYLOAD_KINDS};
use crate::core::Envelope;

/// The environment variable that injects faults.
pub const FAULT_ENV: &str = "TICKWIRE_FAULT";

/// A panic to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanicFault {
    /// Stage.
    pub stage: Stage,
    /// After its N-th input (1-based).
    pub after: u64,
    /// Only inputs of this payload kind count (see [`payload_kind`]).
    pub kind: Option<&'static str>,
    /// Consecutive attempts that panic.
    pub times: u64,
}

/// Faults to inject into one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Panic a stage.
    pub panic: Option<PanicFault>,
    /// Stall the source: (after N messages, for M ms).
    pub stall: Option<(u64, u64)>,
    /// Drop the input ring's consumer of the thread hosting a stage: (stage, after N).
    pub drop: Option<(Stage, u64)>,
}

impl FaultPlan {
    /// The plan in `TICKWIRE_FAULT`, if set.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(FAULT_ENV) {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v),
            _ => Ok(Self::default()),
        }
    }

    /// Parses a plan (see the module docs).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut plan = Self::default();
        for spec in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = |why: &str| format!("{FAULT_ENV}: `{spec}`: {why}");
            let mut parts = spec.splitn(3, ':');
            let what = parts.next().unwrap_or("");
            let stage = parts
                .next()
                .ok_or_else(|| bad("expected what:stage:args"))?;
            let stage = Stage::parse(stage).ok_or_else(|| bad("unknown stage"))?;
            let (mut after, mut kind, mut times, mut ms) = (None, None, 1u64, None);
            for kv in parts
                .next()
                .unwrap_or("")
                .split(',')
                .filter(|s| !s.is_empty())
            {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| bad("expected key=value"))?;
                let num = || v.parse::<u64>().map_err(|_| bad("expected a number"));
                match k {
                    "after" => after = Some(num()?.max(1)),
                    "times" => times = num()?.max(1),
                    "ms" => ms = Some(num()?),
                    "kind" => {
                        kind = Some(
                            PAYLOAD_KINDS
                                .iter()
                                .find(|k| **k == v)
                                .copied()
                                .ok_or_else(|| bad("unknown payload kind"))?,
                        )
                    }
                    _ => return Err(bad("unknown key")),
                }
            }
            let after = after.ok_or_else(|| bad("missing after=N"))?;
            match what {
                "panic" => {
                    plan.panic = Some(PanicFault {
                        stage,
                        after,
                        kind,
                        times,
                    })
                }
                "stall" if stage == Stage::Parse => {
                    plan.stall = Some((after, ms.ok_or_else(|| bad("missing ms=M"))?))
                }
                "stall" => return Err(bad("only the source (parse) can be stalled")),
                "drop" if stage == Stage::Parse => {
                    return Err(bad("the source thread has no input ring to drop"))
                }
                "drop" => plan.drop = Some((stage, after)),
                _ => return Err(bad("expected panic, stall or drop")),
            }
        }
        Ok(plan)
    }
}

/// One thread's share of the plan, counted down on the hot path (one compare per stage call
/// when armed for another stage, nothing else).
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// Stage index that panics (`u8::MAX`: none).
    stage: u8,
    kind: Option<&'static str>,
    left: u64,
    times: u64,
    seen: u64,
}

impl Faults {
    /// Nothing injected.
    pub const NONE: Faults = Faults {
        stage: u8::MAX,
        kind: None,
        left: 0,
        times: 0,
        seen: 0,
    };

    /// The panic part of `plan` for a thread hosting `stages`.
    pub fn for_thread(plan: &FaultPlan, stages: &[Stage]) -> Self {
        match plan.panic {
            Some(p) if stages.contains(&p.stage) => Faults {
                stage: p.stage.index() as u8,
                kind: p.kind,
                left: p.after,
                times: p.times,
                seen: 0,
            },
            _ => Self::NONE,
        }
    }

    /// Called after stage `s` handled `env`: panics when the plan says so.
    #[inline]
    pub fn after(&mut self, s: Stage, env: &Envelope) {
        if self.stage == s.index() as u8 {
            self.tick(s, env);
        }
    }

    #[cold]
    #[inline(never)]
    fn tick(&mut self, s: Stage, env: &Envelope) {
        if self.left > 0 {
            if self.kind.is_some_and(|k| k != payload_kind(&env.payload)) {
                return;
            }
            self.seen += 1;
            self.left -= 1;
            if self.left > 0 {
                return;
            }
        }
        if self.times == 0 {
            return;
        }
        self.times -= 1;
        panic!(
            "injected fault: {} after input {} ({})",
            s.name(),
            self.seen,
            payload_kind(&env.payload)
        );
    }
}

thread_local! {
    /// Set on hot threads: a panic there is reported through [`take_panic`], not printed.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) the panic hook that keeps hot threads' panics off stderr and
/// hands their message to [`take_panic`]; any other thread's panic goes to the hook that
/// was there before.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(std::cell::Cell::get) {
                let what = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{what}{at}")));
            } else {
                before(info);
            }
        }));
    });
}

/// Marks the current thread hot: its panics are caught and journaled, not printed.
pub fn quiet_panics() {
    QUIET.with(|q| q.set(true));
}

/// The message of the last panic on this thread.
pub fn take_panic() -> String {
    LAST_PANIC
        .with(|p| p.borrow_mut().take())
        .unwrap_or_else(|| "panic (no message)".into())
}

/// Puts a panic message back (a retry that succeeded reports the first panic).
pub fn set_panic(msg: String) {
    LAST_PANIC.with(|p| *p.borrow_mut() = Some(msg));
}

/// Runs `f`, catching a panic. Free until something panics.
#[inline(always)]
pub fn caught(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_ok()
}

/// A thread's record of caught panics: journals them through its probe and decides when
/// restarting must give way to a safe stop.
pub struct Healer {
    probe: Arc<ThreadProbe>,
    stop: Arc<AtomicBool>,
    max: usize,
    window_ns: u64,
    /// Monotonic times of the latest failures (at most `max + 1`).
    recent: std::collections::VecDeque<u64>,
    /// Set once the thread stopped the run.
    pub stopped: bool,
}

impl Healer {
    /// A healer for one thread.
    pub fn new(probe: Arc<ThreadProbe>, stop: Arc<AtomicBool>, max: u32, window_s: u64) -> Self {
        Self {
            probe,
            stop,
            max: max as usize,
            window_ns: window_s.saturating_mul(1_000_000_000),
            recent: std::collections::VecDeque::with_capacity(max as usize + 2),
            stopped: false,
        }
    }

    /// Records that `stage` panicked on `input` and what came of it; returns false when the
    /// thread has now failed too often and stopped the run (the caller then drops the input).
    #[cold]
    #[inline(never)]
    pub fn failed(&mut self, stage: Stage, input: HealInput, outcome: HealOutcome) -> bool {
        let panic = take_panic();
        self.probe.restarts.inc();
        let now = crate::core::clock::mono_ns();
        self.recent.push_back(now);
        while self
            .recent
            .front()
            .is_some_and(|&t| now.saturating_sub(t) > self.window_ns)
        {
            self.recent.pop_front();
        }
        let too_many = self.recent.len() > self.max;
        let outcome = match outcome {
            HealOutcome::Stopped(_) => outcome,
            _ if too_many => HealOutcome::Stopped(format!(
                "{} panics within {} s on thread {} (ops.restart_max = {})",
                self.recent.len(),
                self.window_ns / 1_000_000_000,
                self.probe.name,
                self.max
            )),
            o => o,
        };
        let heal = Heal {
            stage,
            panic,
            input,
            outcome: outcome.clone(),
        };
        if let Ok(mut h) = self.probe.heals.lock() {
            h.push(heal);
        }
        if let HealOutcome::Stopped(why) = outcome {
            self.stop_run(format!("stage {} panicked: {why}", stage.name()));
            return false;
        }
        true
    }

    /// Stops the run safely: the sources stop, everything in flight drains.
    #[cold]
    pub fn stop_run(&mut self, why: String) {
        if !self.stopped {
            self.stopped = true;
            if let Ok(mut r) = self.probe.stop_reason.lock() {
                r.get_or_insert(why);
            }
            self.stop.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_and_bad_ones_say_why() {
        let p = FaultPlan::parse(
            "panic:indicators:after=5,kind=candle,times=2; stall:parse:after=10,ms=300;drop:candles:after=7",
        )
        .unwrap();
        assert_eq!(
            p.panic,
            Some(PanicFault {
                stage: Stage::Indicators,
                after: 5,
                kind: Some("candle"),
                times: 2
            })
        );
        assert_eq!(p.stall, Some((10, 300)));
        assert_eq!(p.drop, Some((Stage::Candles, 7)));
        for bad in [
            "panic:nowhere:after=1",
            "panic:indicators",
            "panic:indicators:after=x",
            "stall:candles:after=1,ms=1",
            "stall:parse:after=1",
            "drop:parse:after=1",
            "explode:candles:after=1",
            "panic:candles:after=1,kind=soup",
        ] {
            let e = FaultPlan::parse(bad).unwrap_err();
            assert!(e.starts_with(FAULT_ENV), "{e}");
        }
    }
}
