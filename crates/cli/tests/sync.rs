//! `abrs sync`, `abrs benchmark --destination`, and the connector commands on destinations,
//! with the fixture source and destination; and the kill test: `abrs sync` killed with SIGKILL
//! at several moments, then run again, ends with every source record in the destination.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn abrs(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_abrs"));
    cmd.current_dir(dir)
        .env("AIRBYTE_LOGGING_ROOT", dir.join("logs"))
        .env("AIRBYTE_CACHE_ROOT", dir.join("cache"))
        // Connector temp files under the test's directory: their paths name it in argv.
        .env("AIRBYTE_TEMP_DIR", dir.join("tmp"))
        .env("NO_LIVE_PROGRESS", "1")
        .stdin(Stdio::null());
    cmd
}

fn sync(dir: &Path, source: &Value, dest: &Value, extra: &[&str]) -> Command {
    let mut cmd = abrs(dir);
    cmd.arg("sync")
        .args(["--source", &fixture("source-fixture")])
        .args(["--Sconfig", &source.to_string()])
        .args(["--destination", &fixture("destination-fixture")])
        .args(["--Dconfig", &dest.to_string()])
        .args(extra);
    cmd
}

fn ok(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "abrs failed ({:?}): {stderr}",
        out.status
    );
    stderr
}

fn table_ids(fixture_dir: &Path, stream: &str) -> BTreeSet<i64> {
    std::fs::read_to_string(fixture_dir.join("tables").join(format!("{stream}.jsonl")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|row| row["data"]["id"].as_i64())
        .collect()
}

#[test]
fn sync_straight_through_and_through_the_default_cache() {
    let dir = tempfile::tempdir().unwrap();
    let dest_dir = dir.path().join("dest");
    let source = json!({"count": 25, "products_count": 2, "state_every": 10});
    let dest = json!({"fixture_dir": dest_dir});
    let stderr = ok(sync(dir.path(), &source, &dest, &["--cache", "none"])
        .output()
        .unwrap());
    assert!(
        stderr.contains("52 records sent (50 committed)"),
        "{stderr}"
    );
    assert_eq!(table_ids(&dest_dir, "users").len(), 25);
    // State went to the default cache (AIRBYTE_CACHE_ROOT), keyed by both connectors.
    assert!(
        dir.path()
            .join("cache/default_cache/default_cache.duckdb")
            .exists()
    );

    // Incremental by default: nothing new for users the second time.
    let out = sync(dir.path(), &source, &dest, &["--cache", "none", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ok(out);
    let result: Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(result["streams"]["users"]["records_sent"], 0);
    assert_eq!(result["streams"]["products"]["records_sent"], 2);

    // Through the default cache: the read lands in the cache and is replayed from it.
    let dest2 = json!({"fixture_dir": dir.path().join("dest2")});
    let stderr = ok(sync(dir.path(), &source, &dest2, &["--full-refresh"])
        .output()
        .unwrap());
    assert!(stderr.contains("52 records sent"), "{stderr}");
    assert_eq!(table_ids(&dir.path().join("dest2"), "users").len(), 25);
}

#[test]
fn a_failed_sync_exits_1_with_the_destinations_words() {
    let dir = tempfile::tempdir().unwrap();
    let source = json!({"count": 5});
    let dest = json!({"fixture_dir": dir.path().join("dest"), "trace_error": true});
    let out = sync(dir.path(), &source, &dest, &["--cache", "none"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fixture destination failed on purpose"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Writing to `destination-fixture` failed"),
        "{stderr}"
    );
}

#[test]
fn connector_commands_work_on_destinations() {
    let dir = tempfile::tempdir().unwrap();
    let dest = fixture("destination-fixture");
    let out = abrs(dir.path()).args(["spec", &dest]).output().unwrap();
    let spec: Value = serde_json::from_slice(&out.stdout).expect("spec json");
    assert!(
        spec["supported_destination_sync_modes"].is_array(),
        "{spec}"
    );
    ok(abrs(dir.path())
        .args(["check", &dest, "--config", "{}"])
        .output()
        .unwrap());
    let out = abrs(dir.path())
        .args(["check", &dest, "--config", r#"{"fail_check": true}"#])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = abrs(dir.path()).args(["spec", "noop"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("append_dedup"));
    let stderr = ok(abrs(dir.path())
        .args(["validate", "--connector", &dest, "--config", "{}"])
        .output()
        .unwrap());
    assert!(stderr.contains("succeeded"), "{stderr}");
}

#[test]
fn benchmark_into_the_noop_destination_crosses_two_processes() {
    let dir = tempfile::tempdir().unwrap();
    let out = abrs(dir.path())
        .args([
            "benchmark",
            "--num-records",
            "20000",
            "--destination",
            "noop",
            "--json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ok(out);
    let m: Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(m["records"], 20000);
    assert_eq!(m["cache_rows"], 20000, "all committed: {m}");
    assert_eq!(m["destination"], "destination-noop");
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Waits until every connector process left by a killed `abrs` is gone: they run with
/// config files under `<dir>/tmp`, so their command lines name it.
fn wait_for_orphans(dir: &Path) {
    let needle = dir.join("tmp").to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut left = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) && alive(pid) {
                left.push(pid);
            }
        }
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "connectors still running: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kill_and_rerun(cache: &str) {
    const COUNT: i64 = 3_000;
    let dir = tempfile::tempdir().unwrap();
    let dest_dir = dir.path().join("dest");
    let dest = json!({"fixture_dir": dest_dir});
    let slow = json!({
        "count": COUNT, "products_count": 0, "state_every": 100, "sleep_per_record": 0.0005,
    });
    let args = ["--cache", cache, "--streams", "users,PurchaseOrders"];
    let mut killed_mid_sync = 0;
    for delay_ms in [300u64, 900, 1700, 2600] {
        let mut child = sync(dir.path(), &slow, &dest, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn abrs sync");
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().expect("poll").is_none() {
            killed_mid_sync += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        wait_for_orphans(dir.path());
    }
    assert!(
        killed_mid_sync >= 2,
        "only {killed_mid_sync} kills hit a running sync"
    );
    let stderr = ok(sync(
        dir.path(),
        &json!({"count": COUNT, "products_count": 0, "state_every": 100}),
        &dest,
        &args,
    )
    .output()
    .unwrap());
    let users = table_ids(&dest_dir, "users");
    assert_eq!(
        users,
        (1..=COUNT).collect::<BTreeSet<_>>(),
        "every user in the destination ({cache}); {stderr}"
    );
    // PurchaseOrders is appended (cursor, no key): at least once, none lost.
    let orders = table_ids(&dest_dir, "PurchaseOrders");
    assert_eq!(orders, (1..=COUNT).collect::<BTreeSet<_>>(), "{cache}");
}

#[test]
fn sigkill_at_any_moment_then_rerun_loses_nothing_straight_through() {
    kill_and_rerun("none");
}

#[test]
fn sigkill_at_any_moment_then_rerun_loses_nothing_through_the_cache() {
    kill_and_rerun("default");
}

fn smoke_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "smoke test JSON: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn destination_smoke_test_reports_each_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let out = abrs(dir.path())
        .args([
            "destination-smoke-test",
            "--destination",
            "noop",
            "--scenarios",
            "all",
        ])
        .output()
        .unwrap();
    let result = smoke_json(&out);
    ok(out);
    assert_eq!(result["success"], true);
    assert_eq!(result["preflight_passed"], true);
    let scenarios = result["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 22);
    assert!(scenarios.iter().all(|s| s["accepted"] == true), "{result}");
    assert!(
        result["namespace"]
            .as_str()
            .is_some_and(|n| n.starts_with("zz_deleteme_") && n.ends_with("_smoke_test"))
    );

    // A destination that dies after two records of a run: the combined write fails, and each
    // scenario is then tried alone, so the report says which ones it takes.
    let dest = json!({"fixture_dir": dir.path().join("dest"), "crash_after": 2});
    let out = abrs(dir.path())
        .args([
            "destination-smoke-test",
            "--destination",
            &fixture("destination-fixture"),
            "--config",
            &dest.to_string(),
            "--scenarios",
            "basic_types,single_record_stream,empty_stream",
            "--skip-preflight",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let result = smoke_json(&out);
    assert_eq!(result["success"], false);
    assert_eq!(result["preflight_passed"], Value::Null);
    let by_name = |n: &str| {
        result["scenarios"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == n).cloned())
            .unwrap_or_else(|| panic!("no {n} in {result}"))
    };
    assert_eq!(by_name("basic_types")["accepted"], false);
    assert!(
        by_name("basic_types")["error"]
            .as_str()
            .is_some_and(|e| e.contains("code 3"))
    );
    assert_eq!(by_name("single_record_stream")["accepted"], true);
    assert_eq!(by_name("empty_stream")["accepted"], true);

    let out = abrs(dir.path())
        .args([
            "destination-smoke-test",
            "--destination",
            "noop",
            "--scenarios",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown scenario is a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("basic_types"));
}

#[test]
fn ctrl_c_stops_the_source_and_the_destination_commits_what_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let dest_dir = dir.path().join("dest");
    let slow =
        json!({"count": 2000, "products_count": 0, "state_every": 20, "sleep_per_record": 0.002});
    let child = sync(
        dir.path(),
        &slow,
        &json!({"fixture_dir": dest_dir}),
        &["--cache", "none", "--streams", "users"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn abrs sync");
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("source `source-fixture` failed"),
        "{stderr}"
    );
    let stdin = std::fs::read_to_string(dest_dir.join("stdin.jsonl")).unwrap_or_default();
    assert!(
        stdin.contains("INCOMPLETE"),
        "the destination was told: {stdin:.300}"
    );
    let committed = table_ids(&dest_dir, "users");
    assert!(
        !committed.is_empty() && committed.len() < 2000,
        "{}",
        committed.len()
    );
    wait_for_orphans(dir.path());
    // The next sync resumes from what was confirmed and completes the stream.
    ok(sync(
        dir.path(),
        &json!({"count": 2000, "products_count": 0, "state_every": 20}),
        &json!({"fixture_dir": dest_dir}),
        &["--cache", "none", "--streams", "users"],
    )
    .output()
    .unwrap());
    assert_eq!(table_ids(&dest_dir, "users").len(), 2000);
}

#[test]
fn connector_commands_take_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = fixture("manifests/items.yaml");
    let root = std::env::var("HOME").unwrap_or_default() + "/.cache/airbyte-rs/test-venvs";
    let out = abrs(dir.path())
        .args([
            "spec",
            "source-items",
            "--manifest",
            &manifest,
            "--install-root",
            &root,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ok(out);
    let spec: Value = serde_json::from_str(&stdout).expect("spec json");
    assert_eq!(
        spec["connectionSpecification"]["required"],
        json!(["api_key", "base_url"])
    );
    let out = abrs(dir.path())
        .args(["spec", "destination-x", "--manifest", &manifest])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a manifest defines a source");
}
