//! `airbyte-stats.log` (PyAirbyte's performance stats): one JSON line per successful read and
//! per successful write, with the records counted per stream. One test: it sets
//! `AIRBYTE_LOGGING_ROOT` for the whole process.

use std::path::{Path, PathBuf};

use airbyte as ab;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[test]
fn a_read_and_a_write_each_append_one_stats_line() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: the only test of this binary, set before any thread reads the environment.
    unsafe { std::env::set_var("AIRBYTE_LOGGING_ROOT", dir.path().join("logs")) };
    let stats = dir.path().join("logs/airbyte-stats.log");

    let mut source = ab::get_source(
        &fixtures().join("source-fixture").to_string_lossy(),
        Some(json!({"count": 40, "products_count": 3, "state_every": 9})),
        ab::SourceOptions::default(),
    )
    .expect("source");
    source.select_all_streams().expect("select");
    let cache = ab::DuckDbCache::new(dir.path().join("cache.duckdb"));
    let read = source
        .read(&cache, ab::ReadOptions::default())
        .expect("read");
    let entries = lines(&stats);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e["job_type"], "read");
    assert_eq!(
        e["job_info"]["description"],
        "source-fixture -> DuckDBCache"
    );
    assert_eq!(e["job_info"]["source"]["name"], "source-fixture");
    assert_eq!(e["job_info"]["cache"]["type"], "DuckDBCache");
    let perf = &e["performance_metrics"];
    assert_eq!(perf["records_read"], read.processed_records());
    assert_eq!(perf["stream_metrics"]["users"]["records_read"], 40);
    assert_eq!(perf["stream_metrics"]["products"]["records_read"], 3);
    assert!(
        perf["mb_read"].as_f64().is_some_and(|mb| mb > 0.0),
        "{perf}"
    );
    for (name, s) in perf["stream_metrics"].as_object().unwrap() {
        assert!(s["read_end_time"].as_f64().is_some(), "{name} ended: {s}");
        assert!(s.get("time_to_first_record").is_some(), "{name}: {s}");
    }
    assert!(e["timestamp"].as_str().is_some());

    let destination = ab::get_destination(
        &fixtures().join("destination-fixture").to_string_lossy(),
        Some(json!({"fixture_dir": dir.path().join("dest")})),
        ab::DestinationOptions::default(),
    )
    .expect("destination");
    let written = destination
        .write(&read, ab::WriteOptions::default())
        .expect("write");
    let entries = lines(&stats);
    assert_eq!(entries.len(), 2, "{entries:?}");
    let w = &entries[1];
    assert_eq!(w["job_type"], "write");
    assert_eq!(
        w["job_info"]["description"],
        "source-fixture -> DuckDBCache -> destination-fixture"
    );
    assert_eq!(w["job_info"]["destination"]["name"], "destination-fixture");
    assert_eq!(
        w["performance_metrics"]["records_read"],
        written.processed_records()
    );
    assert_eq!(
        w["performance_metrics"]["stream_metrics"]["users"]["records_read"],
        40
    );

    // Into PostgreSQL, when the server is there: the cache type says so.
    let pg = ab::PostgresCache::new("127.0.0.1", 5432, "test", "postgres")
        .with_schema_name(format!("abrs_stats_{}", std::process::id()));
    if pg.check().is_ok() {
        let read = source.read(&pg, ab::ReadOptions::default());
        let _ = pg.execute(&format!("DROP SCHEMA \"{}\" CASCADE", pg.schema_name()));
        read.expect("read into postgres");
        let entries = lines(&stats);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2]["job_info"]["cache"]["type"], "PostgresCache");
        assert_eq!(
            entries[2]["job_info"]["description"],
            "source-fixture -> PostgresCache"
        );
    } else {
        eprintln!("SKIPPED (the PostgreSQL part): 127.0.0.1:5432 is unreachable");
    }
}
