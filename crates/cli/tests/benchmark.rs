//! `abrs benchmark`: the built-in source run as a subprocess, into DuckDB and into nothing.
//! No timing assertions: these machines are shared and noisy.

use std::process::{Command, Output};

use serde_json::Value;

fn abrs(args: &[&str], logs: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_abrs"))
        .args(args)
        .env("AIRBYTE_LOGGING_ROOT", logs)
        .output()
        .unwrap_or_else(|e| panic!("running abrs: {e}"))
}

fn json_of(o: &Output) -> Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "--json output is not one JSON object ({e}):\n{}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn benchmark_into_a_temporary_duckdb_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = abrs(
        &["benchmark", "--num-records", "2000", "--json"],
        tmp.path(),
    );
    let v = json_of(&out);
    assert_eq!(v["records"], 2000);
    assert_eq!(v["cache_rows"], 2000);
    assert_eq!(v["destination"], "duckdb");
    assert_eq!(v["streams"]["bench"], 2000);
    assert_eq!(v["builtin_source"], true);
    assert!(v["bytes"].as_u64().unwrap() > 2000 * 300);
    assert!(v["states"].as_u64().unwrap() >= 1);
    assert!(v["peak_rss_mb"].as_f64().unwrap() > 0.0);
    // Per-phase times from the loader: both threads did work, and DuckDB's inserts plus the
    // parser's CPU are what the read consisted of.
    let phases = &v["phases"];
    for key in [
        "setup_seconds",
        "connector_seconds",
        "finish_seconds",
        "parse_cpu_seconds",
        "waited_for_database_seconds",
        "insert_seconds",
        "commit_seconds",
        "database_cpu_seconds",
    ] {
        assert!(
            phases[key].as_f64().is_some_and(|s| s >= 0.0),
            "{key}: {phases}"
        );
    }
    assert!(
        phases["parse_cpu_seconds"].as_f64().unwrap() > 0.0,
        "{phases}"
    );
    assert!(phases["insert_seconds"].as_f64().unwrap() > 0.0, "{phases}");
    // The temporary cache is gone afterwards.
    let cache = v["cache"].as_str().unwrap();
    assert!(
        !std::path::Path::new(cache).exists(),
        "{cache} was left behind"
    );
}

#[test]
fn benchmark_into_a_given_cache_keeps_it_and_reports_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("bench.duckdb");
    let db_arg = db.to_string_lossy().into_owned();
    let out = abrs(
        &[
            "benchmark",
            "--num-records",
            "2_500",
            "--cache",
            &db_arg,
            "--write-strategy",
            "append",
        ],
        tmp.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("records/s"), "{err}");
    assert!(err.contains("2,500"), "{err}");
    assert!(err.contains("peak memory"), "{err}");
    assert!(err.contains("parse ") && err.contains("waited"), "{err}");
    assert!(err.contains("load ") && err.contains("inserts"), "{err}");
    // The human report goes to stderr only.
    assert!(out.stdout.is_empty());
    // Read back with abrs query.
    let q = abrs(
        &[
            "query",
            "--cache",
            &db_arg,
            "select count(*) as n from bench",
        ],
        tmp.path(),
    );
    let text = String::from_utf8_lossy(&q.stdout);
    assert!(
        text.contains("2500"),
        "stdout: {text}\nstderr: {}",
        String::from_utf8_lossy(&q.stderr)
    );
}

#[test]
fn benchmark_without_destination_counts_every_record() {
    let tmp = tempfile::tempdir().unwrap();
    let out = abrs(
        &[
            "benchmark",
            "--num-records",
            "2e3",
            "--destination",
            "none",
            "--json",
        ],
        tmp.path(),
    );
    let v = json_of(&out);
    assert_eq!(v["records"], 2000);
    assert_eq!(v["destination"], "none");
    assert_eq!(v["cache_rows"], Value::Null);
    assert_eq!(v["unparsable_lines"], 0);
    assert_eq!(v["states"], 1);
}

#[test]
fn bad_arguments_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["benchmark", "--num-records", "lots"][..],
        &["benchmark", "--num-records", "1.5"],
        &["benchmark", "--num-records", "-3"],
        &["benchmark", "--destination", "postgres"],
        &["benchmark", "--write-strategy", "upsert"],
        &["benchmark", "--destination", "none", "--cache", "x.duckdb"],
    ] {
        let out = abrs(args, tmp.path());
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn benchmark_source_is_hidden_but_speaks_the_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let help = abrs(&["--help"], tmp.path());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("benchmark"));
    assert!(!help.contains("benchmark-source"), "{help}");
    let spec = abrs(&["benchmark-source", "spec"], tmp.path());
    let v: Value = serde_json::from_slice(&spec.stdout).unwrap();
    assert_eq!(v["type"], "SPEC");
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"{"num_records": "many"}"#).unwrap();
    let check = abrs(
        &[
            "benchmark-source",
            "check",
            "--config",
            &bad.to_string_lossy(),
        ],
        tmp.path(),
    );
    let v: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(v["connectionStatus"]["status"], "FAILED");
}
