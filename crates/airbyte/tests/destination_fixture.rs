//! `Destination::write` against the fixture destination (`tests/fixtures/destination-fixture`)
//! and the fixture source: both paths (straight through, from a cache), destination state,
//! generations, and every failure the fixture can stage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use airbyte as ab;
use airbyte::arrow::util::display::array_value_to_string;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn source(config: Value) -> ab::Source {
    let path = fixtures().join("source-fixture");
    let mut s = ab::get_source(
        &path.to_string_lossy(),
        Some(config),
        ab::SourceOptions::default(),
    )
    .expect("source");
    s.select_all_streams().expect("select");
    s
}

/// The fixture destination recording into `dir`, with extra config keys.
fn destination(dir: &Path, extra: Value) -> ab::Destination {
    let mut config = json!({"fixture_dir": dir.join("dest")});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    let path = fixtures().join("destination-fixture");
    ab::get_destination(
        &path.to_string_lossy(),
        Some(config),
        ab::DestinationOptions::default(),
    )
    .expect("destination")
}

fn straight(state: &ab::DuckDbCache) -> ab::WriteOptions {
    ab::WriteOptions {
        cache: ab::CacheChoice::None,
        state_cache: ab::CacheChoice::Given(state.clone()),
        ..Default::default()
    }
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path:?}: {e}: {l}")))
        .collect()
}

/// The destination's table of a stream: the `data` of each row.
fn table(dir: &Path, stream: &str) -> Vec<Value> {
    read_jsonl(&dir.join("dest/tables").join(format!("{stream}.jsonl")))
        .into_iter()
        .map(|row| row["data"].clone())
        .collect()
}

fn ids(rows: &[Value]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows.iter().filter_map(|r| r["id"].as_i64()).collect();
    ids.sort();
    ids
}

/// What the last run of the destination received on stdin.
fn stdin_lines(dir: &Path) -> Vec<Value> {
    read_jsonl(&dir.join("dest/stdin.jsonl"))
}

fn scalar(cache: &ab::DuckDbCache, sql: &str) -> String {
    let batches = cache.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    match batches.iter().find(|b| b.num_rows() > 0) {
        Some(b) => array_value_to_string(b.column(0), 0).expect("display"),
        None => String::new(),
    }
}

/// The stored destination state of one stream (its `state_json`).
fn stored_state(cache: &ab::DuckDbCache, stream: &str) -> Option<Value> {
    let text = scalar(
        cache,
        &format!(
            "select state_json from _airbyte_destination_state where stream_name = '{stream}'"
        ),
    );
    (!text.is_empty()).then(|| serde_json::from_str(&text).expect("state json"))
}

#[test]
fn straight_through_sends_the_sources_lines_and_keeps_what_was_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let src = source(json!({"count": 20, "products_count": 3, "state_every": 5}));
    let dest = destination(dir.path(), json!({}));
    let result = dest.write(&src, straight(&state)).expect("write");

    assert_eq!(result.processed_records(), 43);
    // Confirmed by the echoes of the source's states; products has no cursor, so the source
    // sends it no state and nothing confirms its 3 records (committed at EOF, unconfirmed).
    assert_eq!(result.committed_records(), Some(40));
    assert_eq!(result.streams()["products"].records_committed, Some(0));
    assert_eq!(result.streams()["users"].records_sent, 20);
    assert_eq!(result.streams()["users"].records_committed, Some(20));
    assert!(result.streams()["users"].states_confirmed >= 4);
    assert_eq!(
        ids(&table(dir.path(), "users")),
        (1..=20).collect::<Vec<_>>()
    );
    assert_eq!(table(dir.path(), "products").len(), 3);

    // The records reached the destination as the source wrote them: no LOG lines, and the
    // source's own STREAM_STATUS traces went through.
    let lines = stdin_lines(dir.path());
    assert!(lines.iter().all(|l| l["type"] != "LOG"), "no source logs");
    let statuses = lines
        .iter()
        .filter(|l| l["trace"]["type"] == "STREAM_STATUS")
        .count();
    assert_eq!(statuses, 6, "STARTED and COMPLETE of 3 streams");

    // Only echoed states are stored, under PyAirbyte's keys.
    let users_state = stored_state(&state, "users").expect("users state");
    assert_eq!(users_state["type"], "STREAM");
    assert_eq!(users_state["destinationStats"]["recordCount"], 5.0);
    let stored_for = scalar(
        &state,
        "select destination_name || '|' || source_name from _airbyte_destination_state limit 1",
    );
    assert_eq!(stored_for, "destination-fixture|source-fixture");
    assert_eq!(
        result
            .get_state_provider()
            .get_stream_state("users")
            .cloned(),
        users_state["stream"]["stream_state"]
            .as_object()
            .cloned()
            .map(Value::Object)
    );

    // Sync modes and generations: keyed streams are deduped and PurchaseOrders (a cursor, no
    // key) appended, with minimum generation 0: nothing is truncated.
    let generations = read_jsonl(&dir.path().join("dest/generations.jsonl"));
    let last = |gens: &[Value], s: &str| {
        gens.iter()
            .rev()
            .find(|g| g["stream"] == s)
            .cloned()
            .unwrap_or_else(|| panic!("no generation line for {s}: {gens:?}"))
    };
    assert_eq!(
        last(&generations, "users")["destination_sync_mode"],
        "append_dedup"
    );
    assert_eq!(last(&generations, "users")["minimum_generation_id"], 0);
    assert_eq!(
        last(&generations, "products")["destination_sync_mode"],
        "append_dedup"
    );
    assert_eq!(
        last(&generations, "PurchaseOrders")["destination_sync_mode"],
        "append"
    );
    assert_eq!(
        last(&generations, "PurchaseOrders")["minimum_generation_id"],
        0
    );
    assert_eq!(last(&generations, "users")["sync_id"], 1);

    // The next sync resumes from the confirmed state: no user is sent again; products (full
    // refresh only) comes in full.
    let again = dest.write(&src, straight(&state)).expect("second write");
    assert_eq!(again.streams()["users"].records_sent, 0);
    assert_eq!(again.streams()["products"].records_sent, 3);
    assert_eq!(ids(&table(dir.path(), "users")).len(), 20);

    // Replace overwrites: a new generation that is also the minimum, and every user again
    // (no state is sent for an overwritten stream).
    let replaced = dest
        .write(
            &src,
            ab::WriteOptions {
                write_strategy: ab::WriteStrategy::Replace,
                ..straight(&state)
            },
        )
        .expect("replace");
    assert_eq!(replaced.streams()["users"].records_sent, 20);
    let generations = read_jsonl(&dir.path().join("dest/generations.jsonl"));
    let users = last(&generations, "users");
    assert_eq!(users["destination_sync_mode"], "overwrite");
    assert_eq!(
        (
            users["generation_id"].clone(),
            users["minimum_generation_id"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(users["sync_id"], 3);
    assert_eq!(
        ids(&table(dir.path(), "users")),
        (1..=20).collect::<Vec<_>>()
    );
}

#[test]
fn from_a_cache_rows_keep_their_names_and_types_and_only_new_ones_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ab::DuckDbCache::new(dir.path().join("cache.duckdb"));
    let dest = destination(dir.path(), json!({}));
    let opts = || ab::WriteOptions {
        cache: ab::CacheChoice::Given(cache.clone()),
        ..Default::default()
    };
    let src = source(json!({"count": 10, "products_count": 2}));
    let result = dest.write(&src, opts()).expect("write");
    assert_eq!(result.processed_records(), 22);
    assert_eq!(
        result.read_result().map(|r| r.processed_records()),
        Some(22)
    );

    // What the source emits straight, and what the replay sent: the same data.
    let straight_dir = tempfile::tempdir().unwrap();
    let straight_state = ab::DuckDbCache::new(straight_dir.path().join("s.duckdb"));
    destination(straight_dir.path(), json!({}))
        .write(&src, straight(&straight_state))
        .expect("straight write");
    let by_id = |rows: Vec<Value>| -> BTreeMap<i64, Value> {
        rows.into_iter()
            .map(|r| (r["id"].as_i64().unwrap(), r))
            .collect()
    };
    let replayed = by_id(table(dir.path(), "users"));
    let original = by_id(table(straight_dir.path(), "users"));
    assert_eq!(replayed.len(), 10);
    for (id, orig) in &original {
        let got = &replayed[id];
        for (k, v) in orig.as_object().unwrap() {
            if v.is_null() {
                assert!(got.get(k).is_none_or(Value::is_null), "{k}");
                continue;
            }
            if k == "created_at" || k == "updated_at" {
                let t =
                    |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
                assert_eq!(t(&got[k]), t(v), "user {id}: {k}");
                continue;
            }
            assert_eq!(&got[k], v, "user {id}: field {k}");
        }
        assert!(
            got.as_object()
                .unwrap()
                .keys()
                .all(|k| !k.starts_with("_airbyte")),
            "no internal columns as data: {got}"
        );
    }
    // Replayed stream by stream: STARTED, records, the stream's state, COMPLETE.
    let lines = stdin_lines(dir.path());
    let kinds: Vec<String> = lines
        .iter()
        .filter(|l| {
            l["type"] != "RECORD"
                || l["record"]["stream"] == "users" && l["record"]["data"]["id"] == 1
        })
        .map(|l| match l["type"].as_str().unwrap() {
            "TRACE" => format!(
                "{}:{}",
                l["trace"]["stream_status"]["stream_descriptor"]["name"]
                    .as_str()
                    .unwrap(),
                l["trace"]["stream_status"]["status"].as_str().unwrap()
            ),
            "STATE" => format!(
                "state:{}",
                l["state"]["stream"]["stream_descriptor"]["name"]
                    .as_str()
                    .unwrap()
            ),
            other => other.to_string(),
        })
        .collect();
    assert!(
        kinds
            .windows(4)
            .any(|w| w == ["users:STARTED", "RECORD", "state:users", "users:COMPLETE"]),
        "{kinds:?}"
    );
    let emitted_at = lines
        .iter()
        .find(|l| l["type"] == "RECORD")
        .map(|l| l["record"]["emitted_at"].as_i64().unwrap())
        .unwrap();
    assert!(emitted_at > 1_000_000_000_000, "milliseconds: {emitted_at}");

    // Nothing new: the second write sends no users (the destination confirmed them), but
    // the overwritten products in full.
    let again = dest.write(&src, opts()).expect("second write");
    assert_eq!(again.streams()["users"].records_sent, 0);
    assert_eq!(again.streams()["products"].records_sent, 2);
    assert_eq!(table(dir.path(), "users").len(), 10);

    // A full refresh sends everything again.
    let full = dest
        .write(
            &src,
            ab::WriteOptions {
                force_full_refresh: true,
                ..opts()
            },
        )
        .expect("full refresh");
    assert_eq!(full.streams()["users"].records_sent, 10);
}

#[test]
fn a_read_result_is_replayed_from_its_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ab::DuckDbCache::new(dir.path().join("cache.duckdb"));
    let src = source(json!({"count": 7, "products_count": 1}));
    let read = src.read(&cache, ab::ReadOptions::default()).expect("read");
    let dest = destination(dir.path(), json!({}));
    let result = dest
        .write(&read, ab::WriteOptions::default())
        .expect("write");
    assert_eq!(result.processed_records(), 15);
    assert_eq!(
        ids(&table(dir.path(), "users")),
        (1..=7).collect::<Vec<_>>()
    );
    assert!(
        stored_state(&cache, "users").is_some(),
        "state kept in the read's cache"
    );
}

#[test]
fn the_builtin_noop_destination_confirms_everything() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let src = source(json!({"count": 300, "state_every": 50}));
    let result = ab::get_noop_destination()
        .write(&src, straight(&state))
        .expect("write");
    assert_eq!(result.processed_records(), 605);
    // products (5 records) has no cursor: the source sends no state for it to confirm.
    assert_eq!(result.committed_records(), Some(600));
    assert_eq!(result.destination_name(), "destination-noop");
}

fn expect_failure(result: ab::Result<ab::WriteResult>) -> String {
    match result {
        Ok(r) => panic!("the write should fail, got {r:?}"),
        Err(e) => {
            assert!(
                matches!(e, ab::Error::WriteFailed { .. }),
                "a write error: {e:?}"
            );
            e.to_string()
        }
    }
}

#[test]
fn a_crashing_destination_fails_the_write_and_keeps_its_last_echo() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let src = source(json!({"count": 20, "products_count": 0, "state_every": 5}));
    let dest = destination(dir.path(), json!({"crash_after": 12, "exit": 3}));
    let started = Instant::now();
    let text = expect_failure(dest.write(&src, straight(&state)));
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(text.contains("destination-fixture"), "{text}");
    assert!(
        text.contains("code 3") || text.contains("exit code 3"),
        "{text}"
    );
    assert!(text.contains("confirmed"), "says what was kept: {text}");
    let users = stored_state(&state, "users").expect("the last echo is stored");
    assert!(users["stream"]["stream_state"]["updated_at"].is_string());
    // 10 records were committed (two echoes); the next write resumes after them.
    assert_eq!(
        ids(&table(dir.path(), "users")),
        (1..=10).collect::<Vec<_>>()
    );
    let ok = destination(dir.path(), json!({}))
        .write(&src, straight(&state))
        .expect("resume");
    assert_eq!(ok.streams()["users"].records_sent, 10);
    assert_eq!(
        ids(&table(dir.path(), "users")),
        (1..=20).collect::<Vec<_>>()
    );
}

#[test]
fn a_trace_error_from_the_destination_fails_the_write_even_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let src = source(json!({"count": 5}));
    let dest = destination(dir.path(), json!({"trace_error": "exit0"}));
    let text = expect_failure(dest.write(&src, straight(&state)));
    assert!(
        text.contains("fixture destination failed on purpose"),
        "{text}"
    );
}

#[test]
fn a_destination_that_does_not_read_its_input_fails_the_write() {
    for extra in [json!({"never_read": true}), json!({"exit_early": 3})] {
        let dir = tempfile::tempdir().unwrap();
        let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
        // More than the fixture's read-ahead: what it leaves behind tells.
        let src = source(json!({"count": 100}));
        let dest = destination(dir.path(), extra.clone());
        let text = expect_failure(dest.write(&src, straight(&state)));
        assert!(
            text.contains("without reading all of its input") || text.contains("unread"),
            "{extra}: {text}"
        );
    }
}

#[test]
fn a_hung_destination_is_stopped_after_the_stall_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    // Enough input to fill the pipe behind the hung destination.
    let src = source(json!({"count": 3000, "products_count": 0}));
    let dest = destination(dir.path(), json!({"hang_after": 5}));
    let started = Instant::now();
    let text = expect_failure(dest.write(
        &src,
        ab::WriteOptions {
            stall_timeout: Some(Duration::from_secs(2)),
            ..straight(&state)
        },
    ));
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    assert!(text.contains("stopped reading its input"), "{text}");
    let events = read_jsonl(&dir.path().join("dest/events.jsonl"));
    assert!(
        events.iter().any(|e| e["event"] == "signal"),
        "the destination got SIGTERM: {events:?}"
    );
}

#[test]
fn a_failing_source_marks_streams_incomplete_and_keeps_the_previous_table() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let dest = destination(dir.path(), json!({"require_status": true}));
    let replace = |s: &ab::DuckDbCache| ab::WriteOptions {
        write_strategy: ab::WriteStrategy::Replace,
        ..straight(s)
    };
    dest.write(
        &source(json!({"count": 10, "products_count": 0})),
        replace(&state),
    )
    .expect("first write");
    assert_eq!(table(dir.path(), "users").len(), 10);

    let failing = source(json!({"count": 40, "products_count": 0, "mode": "crash_mid_read"}));
    let text = expect_failure(dest.write(&failing, replace(&state)));
    assert!(text.contains("source-fixture"), "names the source: {text}");
    let lines = stdin_lines(dir.path());
    assert!(
        lines.iter().any(|l| {
            l["trace"]["stream_status"]["status"] == "INCOMPLETE"
                && l["trace"]["stream_status"]["stream_descriptor"]["name"] == "users"
        }),
        "INCOMPLETE sent for users"
    );
    assert!(
        lines.iter().all(|l| l["trace"]["type"] != "ERROR"),
        "the source's TRACE ERROR is not passed on"
    );
    // No swap: the table of the first write survives the failed replace.
    assert_eq!(table(dir.path(), "users").len(), 10);
}

#[test]
fn counts_that_are_missing_or_wrong_are_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let src = source(json!({"count": 10, "state_every": 5}));
    let none = destination(dir.path(), json!({"no_stats": true}))
        .write(
            &src,
            ab::WriteOptions {
                state_cache: ab::CacheChoice::None,
                ..straight(&state)
            },
        )
        .expect("no stats");
    assert_eq!(none.committed_records(), None, "unknown, not 0");
    assert!(none.streams()["users"].states_confirmed > 0);

    let dir = tempfile::tempdir().unwrap();
    let bad = destination(dir.path(), json!({"bad_stats": true}))
        .write(
            &src,
            ab::WriteOptions {
                state_cache: ab::CacheChoice::None,
                ..straight(&state)
            },
        )
        .expect("bad stats");
    assert!(
        bad.warnings().iter().any(|w| w.contains("more than")),
        "{:?}",
        bad.warnings()
    );
}

#[test]
fn reordered_unknown_and_noisy_echoes_keep_the_newest_sent_state() {
    for extra in [
        json!({"reorder_echo": true}),
        json!({"echo_unknown_state": true}),
        json!({"noise": true}),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
        let src = source(json!({"count": 20, "products_count": 0, "state_every": 5}));
        let result = destination(dir.path(), extra.clone())
            .write(&src, straight(&state))
            .unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert_eq!(result.processed_records(), 40, "{extra}");
        let users = stored_state(&state, "users").expect("users state");
        let last = result
            .get_state_provider()
            .get_stream_state("users")
            .cloned()
            .expect("state");
        assert_eq!(users["stream"]["stream_state"], last, "{extra}");
        // The newest state the source sent: the one after user 20.
        assert_eq!(
            last["updated_at"],
            json!("2024-01-01T00:20:00+00:00"),
            "{extra}: {last}"
        );
        if extra.get("echo_unknown_state").is_some() {
            assert!(
                result.warnings().iter().any(|w| w.contains("never sent")),
                "{:?}",
                result.warnings()
            );
            assert!(stored_state(&state, "no_such_stream").is_none());
        }
    }
}

#[test]
fn global_state_is_sent_and_stored_as_global() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let src = source(json!({"count": 6, "products_count": 0, "state_type": "global"}));
    let dest = destination(dir.path(), json!({}));
    dest.write(&src, straight(&state)).expect("write");
    let stored = stored_state(&state, "__global__").expect("global state stored");
    assert!(
        stored.get("global").is_some_and(Value::is_object),
        "{stored}"
    );
    assert!(stored.get("global_").is_none());
    let sent = stdin_lines(dir.path());
    assert!(sent.iter().any(|l| l["state"]["global"].is_object()));
    // Fed back to the source: nothing new the second time.
    let again = dest.write(&src, straight(&state)).expect("again");
    assert_eq!(again.streams()["users"].records_sent, 0);
}

#[test]
fn a_slow_destination_paces_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let src = source(json!({"count": 400, "products_count": 0}));
    let dest = destination(dir.path(), json!({"slow_ms": 1, "slow_every": 100}));
    let result = dest.write(&src, straight(&state)).expect("write");
    assert_eq!(result.processed_records(), 800);
}

#[test]
fn temp_files_are_private_and_secrets_stay_out_of_logs() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let src = source(json!({"count": 3}));
    let dest = destination(dir.path(), json!({"api_key": "sup3r-s3cret-value"}));
    let result = dest.write(&src, straight(&state)).expect("write");
    let log = std::fs::read_to_string(result.log_file().expect("log file")).unwrap_or_default();
    assert!(!log.contains("sup3r-s3cret-value"), "secret in the log");
    let argv: Value = read_jsonl(&dir.path().join("dest/argv.json"))
        .into_iter()
        .next()
        .expect("argv");
    let config_path = argv
        .as_array()
        .and_then(|a| {
            a.iter()
                .position(|v| v == "--config")
                .and_then(|i| a.get(i + 1))
        })
        .and_then(Value::as_str)
        .expect("--config path")
        .to_string();
    // Removed after the run; while it ran it was 0600 (checked by the connectors tests).
    assert!(!Path::new(&config_path).exists(), "temp config removed");
}

/// A source (Python, stdlib) that sends records of three streams interleaved, one with a 5 MB
/// field, one with awkward text, and a state after each stream's last record.
fn awkward_source(dir: &Path) -> ab::Source {
    let script = dir.join("source-awkward");
    std::fs::write(
        &script,
        r#"#!/usr/bin/env python3
import json, sys
cmd = sys.argv[1]
schema = {"type": "object", "properties": {"id": {"type": "integer"}, "text": {"type": "string"}}}
streams = ["a", "b", "c"]
def out(m): sys.stdout.write(json.dumps(m, ensure_ascii=False) + "\n")
if cmd == "spec":
    out({"type": "SPEC", "spec": {"connectionSpecification": {"type": "object"}}})
elif cmd == "discover":
    out({"type": "CATALOG", "catalog": {"streams": [{"name": s, "json_schema": schema,
        "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"]]} for s in streams]}})
elif cmd == "read":
    texts = ["x" * (5 * 1024 * 1024), "日本語 \u2028 \u2029 \"quoted\" back\\slash\ttab\nnewline 🦀 e\u0301", ""]
    for i in range(6):
        s = streams[i % 3]
        out({"type": "RECORD", "record": {"stream": s, "data": {"id": i, "text": texts[i % 3]}, "emitted_at": 1700000000000 + i}})
    for s in streams:
        out({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": s}, "stream_state": {"done": True}}}})
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut s = ab::get_source(
        &script.to_string_lossy(),
        Some(json!({})),
        ab::SourceOptions::default(),
    )
    .expect("source");
    s.select_all_streams().expect("select");
    s
}

#[test]
fn large_and_awkward_records_arrive_intact_in_source_order_or_stream_by_stream() {
    let dir = tempfile::tempdir().unwrap();
    let src = awkward_source(dir.path());
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let dest = destination(dir.path(), json!({}));
    dest.write(&src, straight(&state)).expect("straight");
    let order: Vec<(String, i64)> = stdin_lines(dir.path())
        .iter()
        .filter(|l| l["type"] == "RECORD")
        .map(|l| {
            (
                l["record"]["stream"].as_str().unwrap().to_string(),
                l["record"]["data"]["id"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, i64)> = (0..6)
        .map(|i| (["a", "b", "c"][i as usize % 3].to_string(), i))
        .collect();
    assert_eq!(order, expected, "straight through keeps the source's order");
    let check = |dir: &Path| {
        let a = table(dir, "a");
        assert_eq!(a[0]["text"].as_str().map(str::len), Some(5 * 1024 * 1024));
        let b = table(dir, "b");
        assert_eq!(
            b[0]["text"],
            json!("日本語 \u{2028} \u{2029} \"quoted\" back\\slash\ttab\nnewline 🦀 e\u{301}")
        );
    };
    check(dir.path());

    // Through a cache: stream by stream, each block followed by its state and COMPLETE.
    let dir2 = tempfile::tempdir().unwrap();
    let cache = ab::DuckDbCache::new(dir2.path().join("cache.duckdb"));
    let dest2 = destination(dir2.path(), json!({}));
    dest2
        .write(
            &src,
            ab::WriteOptions {
                cache: ab::CacheChoice::Given(cache),
                ..Default::default()
            },
        )
        .expect("through the cache");
    let streams: Vec<String> = stdin_lines(dir2.path())
        .iter()
        .filter(|l| l["type"] == "RECORD")
        .map(|l| l["record"]["stream"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(streams, ["a", "a", "b", "b", "c", "c"]);
    check(dir2.path());
}

#[test]
fn a_new_cache_reads_from_the_state_the_destination_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let state = ab::DuckDbCache::new(dir.path().join("state.duckdb"));
    let dest = destination(dir.path(), json!({}));
    let src = source(json!({"count": 8, "products_count": 0}));
    let via = |cache: &ab::DuckDbCache| ab::WriteOptions {
        cache: ab::CacheChoice::Given(cache.clone()),
        state_cache: ab::CacheChoice::Given(state.clone()),
        ..Default::default()
    };
    let first = ab::DuckDbCache::new(dir.path().join("first.duckdb"));
    let written = dest.write(&src, via(&first)).expect("first write");
    assert_eq!(written.streams()["users"].records_sent, 8);
    // A fresh cache has no state of its own: the read starts from what the destination
    // confirmed (PyAirbyte's JoinedStateProvider), so no user is read or sent again.
    let second = ab::DuckDbCache::new(dir.path().join("second.duckdb"));
    let again = dest.write(&src, via(&second)).expect("second write");
    assert_eq!(
        again.read_result().map(|r| r.streams()["users"].records),
        Some(0)
    );
    assert_eq!(again.streams()["users"].records_sent, 0);
    assert_eq!(
        ids(&table(dir.path(), "users")),
        (1..=8).collect::<Vec<_>>()
    );
}
