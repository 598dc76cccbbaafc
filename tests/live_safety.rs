//! Live trading is never the default and never starts unsafely: paper unless the config says
//! `venue.mode = "live"`; live only for `run`; keys only from the environment or a key file
//! its owner alone can read; no key or secret in any error.

use std::path::{Path, PathBuf};
use std::process::Command;

const KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `tickwire run` for 1 s with `sets`; (success, stderr).
fn run(dir: &Path, sets: &[String], env: &[(&str, &str)]) -> (bool, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tickwire"));
    c.args(["run", "--duration", "1s", "--report-dir"])
        .arg(dir.join("r"))
        .args([
            "--set",
            "cold.status_line=false",
            "--set",
            "ops.http=\"off\"",
        ]);
    for s in sets {
        c.args(["--set", s]);
    }
    for k in [
        "TICKWIRE_BINANCE_API_KEY",
        "TICKWIRE_BINANCE_SECRET",
        "TICKWIRE_BINANCE_ED25519_KEY_FILE",
    ] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn no_secrets(text: &str) {
    assert!(!text.contains(KEY) && !text.contains(SECRET), "{text}");
}

#[test]
fn paper_is_the_default_and_runs() {
    let d = scratch("live-default");
    let (ok, err) = run(
        &d,
        &[],
        &[
            ("TICKWIRE_BINANCE_API_KEY", KEY),
            ("TICKWIRE_BINANCE_SECRET", SECRET),
        ],
    );
    assert!(ok, "{err}");
    // Keys in the environment change nothing without venue.mode = "live".
    let j = std::fs::read_to_string(d.join("r/journal.md")).unwrap();
    no_secrets(&j);
    no_secrets(&std::fs::read_to_string(d.join("r/summary.json")).unwrap());
}

#[cfg(unix)]
#[test]
fn live_keys_must_come_from_a_file_only_its_owner_reads() {
    use std::os::unix::fs::PermissionsExt as _;
    let d = scratch("live-keys");
    let f = d.join("binance.toml");
    std::fs::write(&f, format!("api_key = \"{KEY}\"\nsecret = \"{SECRET}\"\n")).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let sets = vec![
        "venue.mode=\"live\"".to_string(),
        format!(
            "venue.keys={}",
            toml::Value::String(format!("file:{}", f.display()))
        ),
    ];
    let (ok, err) = run(&d, &sets, &[]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("mode 0644") && err.contains("chmod 600"),
        "{err}"
    );
    no_secrets(&err);
    assert!(!d.join("r/summary.json").exists(), "nothing ran");

    // Owner-only: the keys load (the error names the key by its last four characters only),
    // and the run still does not trade: the live venue is not wired in yet.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, err) = run(&d, &sets, &[]);
    assert!(!ok);
    assert!(
        err.contains("keys …Eh8A loaded") && err.contains("not wired"),
        "{err}"
    );
    no_secrets(&err);
}

#[test]
fn live_needs_keys_and_a_run_and_sound_settings() {
    let d = scratch("live-settings");
    let live = "venue.mode=\"live\"".to_string();
    let (ok, err) = run(&d, std::slice::from_ref(&live), &[]);
    assert!(!ok && err.contains("TICKWIRE_BINANCE_API_KEY"), "{err}");
    let (ok, err) = run(
        &d,
        std::slice::from_ref(&live),
        &[("TICKWIRE_BINANCE_API_KEY", KEY)],
    );
    assert!(!ok && err.contains("TICKWIRE_BINANCE_SECRET"), "{err}");
    no_secrets(&err);
    let (ok, err) = run(
        &d,
        &[live.clone(), "venue.testnet=true".into()],
        &[
            ("TICKWIRE_BINANCE_API_KEY", KEY),
            ("TICKWIRE_BINANCE_SECRET", SECRET),
        ],
    );
    assert!(
        !ok && err.contains("https://testnet.binance.vision"),
        "the testnet is one switch: {err}"
    );
    no_secrets(&err);
    for (set, key) in [
        ("venue.mode=\"real\"", "venue.mode"),
        ("venue.recv_window_ms=70000", "venue.recv_window_ms"),
        ("venue.keys=\"vault\"", "venue.keys"),
        ("venue.rest_url=\"ftp://x\"", "venue.rest_url"),
    ] {
        let sets = vec![live.clone(), set.to_string()];
        let (ok, err) = run(&d, &sets, &[]);
        assert!(!ok && err.contains(key), "{set}: {err}");
    }
    // A replay never trades live.
    let cap = d.join("binance_btcusdt.jsonl");
    std::fs::write(
        &cap,
        r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255342,"s":"BTCUSDT","t":3735683259,"p":"61130.01000000","q":"0.00100000","T":1723161255342,"m":false,"M":true}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
        .args(["replay", "--input"])
        .arg(&cap)
        .args(["--set", "venue.mode=\"live\"", "--report-dir"])
        .arg(d.join("replay"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("only `tickwire run` trades live"), "{err}");
}
