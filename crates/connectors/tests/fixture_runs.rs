//! Runs the fixture connectors through the real process machinery.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use abrs_connectors::{
    ConnectorError, ConnectorProcess, Executor, Flow, Invocation, PathExecutor, RunSummary, Verb,
};
use abrs_protocol::{
    AirbyteMessage, AirbyteStateMessage, ConnectionStatusKind, Decoded, FailureType, MessageType,
    StateType,
};
use common::*;
use serde_json::{Value, json};

/// The result, the records by stream and the state messages of a read.
type ReadOutcome = (
    Result<RunSummary, ConnectorError>,
    BTreeMap<String, Vec<Value>>,
    Vec<AirbyteStateMessage>,
);

/// Reads with `config`, collecting records per stream and the state messages.
fn read_all(
    exec: &dyn Executor,
    config: Value,
    state: Option<&[AirbyteStateMessage]>,
) -> ReadOutcome {
    let catalog = fixture_catalog(exec, &config, None);
    let mut inv = Invocation::read(config, catalog);
    if let Some(s) = state {
        inv = inv.with_state_messages(s);
    }
    let mut records: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut states = Vec::new();
    let result = exec.execute(inv).unwrap().for_each(|m| {
        match m {
            Decoded::Record(r) => records
                .entry(r.stream.to_string())
                .or_default()
                .push(serde_json::from_str(r.data.get()).unwrap()),
            Decoded::Message(m) => {
                if let Some(s) = m.state {
                    states.push(s);
                }
            }
            Decoded::Blank => unreachable!("blank lines are not passed on"),
        }
        Ok::<_, ConnectorError>(Flow::Continue)
    });
    (result, records, states)
}

#[test]
fn spec_check_discover_read() {
    let exec = fixture();
    exec.ensure_installation(false).unwrap();
    let spec = abrs_connectors::spec(&exec).unwrap();
    assert_eq!(
        spec.connection_specification["properties"]["count"]["default"],
        json!(10)
    );

    let status = abrs_connectors::check(&exec, &json!({})).unwrap();
    assert_eq!(status.status, ConnectionStatusKind::Succeeded);

    let catalog = abrs_connectors::discover(&exec, &json!({})).unwrap();
    let names: Vec<_> = catalog.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["users", "products", "PurchaseOrders"]);

    let (result, records, states) = read_all(&exec, json!({"count": 7, "seed": 3}), None);
    let summary = result.unwrap();
    assert_eq!(records["users"].len(), 7);
    assert_eq!(records["products"].len(), 5);
    assert_eq!(records["PurchaseOrders"].len(), 7);
    assert_eq!(records["users"][0]["address"]["geo"]["lat"], json!(-37.5));
    assert_eq!(
        records["users"][0]["contact.email"],
        json!("user4@example.com")
    );
    assert_eq!(summary.records, 19);
    assert_eq!(summary.unparsable_lines, 0);
    assert_eq!(summary.messages_by_type["RECORD"], 19);
    assert_eq!(summary.messages_by_type["LOG"], 2);
    assert_eq!(summary.messages_by_type["STATE"], 2);
    assert_eq!(summary.messages_by_type["TRACE"], 6); // STARTED + COMPLETE per stream
    assert_eq!(states.len(), 2);
    assert_eq!(summary.exit.unwrap().code, Some(0));
    assert!(!summary.stopped_early);
    assert!(summary.bytes > 1000);

    // LOG messages and stderr are in the connector's log file, in PyAirbyte's layout.
    let log_file = summary.log_file.unwrap();
    let log = std::fs::read_to_string(&log_file).unwrap();
    assert!(
        log.contains("INFO - Starting read of 3 configured streams"),
        "{log}"
    );
    assert!(
        log.contains("STDERR - fixture: starting read (mode=normal)"),
        "{log}"
    );
    let file_name = log_file.file_name().unwrap().to_str().unwrap();
    assert!(file_name.starts_with("source-fixture-log-") && file_name.ends_with(".log"));
    assert_eq!(
        log_file.parent().unwrap().file_name().unwrap(),
        "source-fixture"
    );
}

#[test]
fn messages_iterator_parses_records() {
    let exec = fixture();
    let config = json!({"count": 2});
    let catalog = fixture_catalog(&exec, &config, Some(&["users"]));
    let msgs: Vec<AirbyteMessage> = exec
        .execute(Invocation::read(config, catalog))
        .unwrap()
        .into_messages()
        .collect::<Result<_, _>>()
        .unwrap();
    let records: Vec<_> = msgs.iter().filter_map(|m| m.record.as_ref()).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].data["id"], json!(2));
    assert!(records[1].emitted_at > 0);
    assert!(
        msgs.iter().all(|m| m.r#type != MessageType::Log),
        "LOG messages are not passed on"
    );
}

#[test]
fn failing_check_is_an_answer() {
    let status = abrs_connectors::check(&fixture(), &json!({"check_should_fail": true})).unwrap();
    assert_eq!(status.status, ConnectionStatusKind::Failed);
    assert!(status.message.unwrap().contains("refuses the connection"));
}

#[test]
fn crash_mid_read_fails_with_exit_code_and_log_tail() {
    let (result, records, _) = read_all(
        &fixture(),
        json!({"count": 10, "mode": "crash_mid_read"}),
        None,
    );
    assert_eq!(
        records["users"].len(),
        5,
        "records before the crash are delivered"
    );
    let err = result.unwrap_err();
    let abrs_connectors::ConnectorFailure {
        verb,
        exit,
        message,
        log_tail,
        log_file,
        ..
    } = err.failure().unwrap();
    assert_eq!(*verb, Verb::Read);
    assert_eq!(exit.unwrap().code, Some(1));
    assert!(message.is_none());
    assert!(
        log_tail.iter().any(|l| l.contains("simulated crash")),
        "{log_tail:?}"
    );
    assert!(log_file.is_some());
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        text.contains("source-fixture") && text.contains("exit code 1"),
        "{text}"
    );
    assert!(
        text.contains("simulated crash") && text.contains("log file"),
        "{text}"
    );
}

#[test]
fn trace_error_with_exit_0_fails() {
    let (result, records, _) = read_all(
        &fixture(),
        json!({"count": 3, "mode": "trace_error_exit0"}),
        None,
    );
    assert_eq!(records["users"].len(), 3);
    let err = result.unwrap_err();
    assert_eq!(err.failure_type(), Some(&FailureType::ConfigError));
    let abrs_connectors::ConnectorFailure {
        exit,
        message,
        internal_message,
        ..
    } = err.failure().unwrap();
    assert_eq!(exit.unwrap().code, Some(0));
    assert_eq!(
        message.as_deref(),
        Some("Simulated config error: the API key is invalid.")
    );
    assert_eq!(
        internal_message.as_deref(),
        Some("401 Unauthorized from the fixture API")
    );
    let text = err.to_string();
    eprintln!("{text}");
    assert!(text.contains("check your config"), "{text}");

    // The owned iterator ends with the same error.
    let exec = fixture();
    let config = json!({"count": 1, "mode": "trace_error_exit0"});
    let catalog = fixture_catalog(&exec, &config, Some(&["products"]));
    let items: Vec<_> = exec
        .execute(Invocation::read(config, catalog))
        .unwrap()
        .into_messages()
        .collect();
    assert!(matches!(items.last(), Some(Err(ConnectorError::Failed(_)))));
    let traces = items
        .iter()
        .filter(|m| matches!(m, Ok(m) if m.r#type == MessageType::Trace));
    assert_eq!(
        traces.count(),
        3,
        "STARTED, COMPLETE and the ERROR are passed on"
    );
}

#[test]
fn junk_lines_are_counted_and_logged() {
    let (result, records, _) =
        read_all(&fixture(), json!({"count": 10, "mode": "junk_lines"}), None);
    let summary = result.unwrap();
    assert_eq!(records["users"].len(), 10);
    assert_eq!(summary.records, 25);
    // Two junk lines after every third record: users 3, products 1, orders 3.
    assert_eq!(summary.unparsable_lines, 14);
    let log = std::fs::read_to_string(summary.log_file.unwrap()).unwrap();
    assert!(log.contains("this is not json, just a stray print"));
}

#[test]
fn dropping_the_iterator_stops_a_hanging_connector_and_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let wrapper = fixtures().join("source-sh-wrapper");
    let exec = PathExecutor::new("source-sh-wrapper", wrapper.to_str().unwrap()).unwrap();
    let config = json!({"mode": "hang", "pid_file": pid_file});
    let catalog = configure(&abrs_connectors::discover(&exec, &config).unwrap(), None);
    let process = exec
        .execute(Invocation::read(config, catalog).with_grace_period(Duration::from_secs(5)))
        .unwrap();
    let pid = process.pid().unwrap() as i32;
    let mut messages = process.into_messages();
    let mut records = 0;
    for m in messages.by_ref() {
        if m.unwrap().r#type == MessageType::Record {
            records += 1;
            if records == 3 {
                break;
            }
        }
    }
    let grandchild: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(pid) && pid_alive(grandchild));
    let start = Instant::now();
    drop(messages);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "SIGTERM was enough"
    );
    assert!(!pid_alive(pid), "the connector is stopped and reaped");
    // The python grandchild got SIGTERM too; it is reaped by init, so give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_running(grandchild) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !pid_running(grandchild),
        "the wrapper's child is stopped too"
    );
}

#[test]
fn flow_stop_kills_a_connector_that_ignores_sigterm() {
    let exec = fixture();
    let config = json!({"mode": "hang", "ignore_sigterm": true});
    let catalog = fixture_catalog(&exec, &config, None);
    let grace = Duration::from_millis(300);
    let process = exec
        .execute(Invocation::read(config, catalog).with_grace_period(grace))
        .unwrap();
    let pid = process.pid().unwrap() as i32;
    let mut seen = 0;
    let start = Instant::now();
    let summary = process
        .for_each(|m| {
            if let Decoded::Record(_) = m {
                seen += 1;
                if seen == 2 {
                    return Ok::<_, ConnectorError>(Flow::Stop);
                }
            }
            Ok(Flow::Continue)
        })
        .unwrap();
    assert!(
        start.elapsed() >= grace,
        "SIGKILL comes only after the grace period"
    );
    assert!(summary.stopped_early);
    assert_eq!(summary.records, 2);
    assert_eq!(summary.exit.unwrap().signal, Some(libc::SIGKILL));
    assert!(!pid_alive(pid));
}

#[test]
fn callback_error_stops_the_connector_and_is_returned() {
    #[derive(Debug)]
    enum MyError {
        Connector(#[allow(dead_code)] ConnectorError),
        Full,
    }
    impl From<ConnectorError> for MyError {
        fn from(e: ConnectorError) -> Self {
            Self::Connector(e)
        }
    }
    let exec = fixture();
    let config = json!({"count": 1000, "sleep_per_record": 0.01});
    let catalog = fixture_catalog(&exec, &config, Some(&["users"]));
    let process = exec.execute(Invocation::read(config, catalog)).unwrap();
    let pid = process.pid().unwrap() as i32;
    let result = process.for_each(|_| Err::<Flow, _>(MyError::Full));
    assert!(matches!(result, Err(MyError::Full)));
    assert!(!pid_alive(pid));
}

#[test]
fn temp_files_are_private_and_removed() {
    let exec = fixture();
    let config = json!({"count": 1, "api_key": "s3cr3t"});
    let catalog = fixture_catalog(&exec, &config, None);
    let state = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {}}}]);
    let process = exec
        .execute(Invocation::read(config.clone(), catalog).with_state(state.clone()))
        .unwrap();
    let dir = process.files_dir().unwrap().to_path_buf();
    assert_eq!(dir.metadata().unwrap().permissions().mode() & 0o777, 0o700);
    for (name, expected) in [
        ("config.json", Some(&config)),
        ("catalog.json", None),
        ("state.json", Some(&state)),
    ] {
        let path = dir.join(name);
        assert_eq!(
            path.metadata().unwrap().permissions().mode() & 0o777,
            0o600,
            "{name}"
        );
        let content: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if let Some(e) = expected {
            assert_eq!(&content, e);
        }
    }
    assert!(process.command_line().contains("--state"));
    let summary = process
        .for_each(|_| Ok::<_, ConnectorError>(Flow::Continue))
        .unwrap();
    assert!(!dir.exists(), "removed at the end");
    // The secret is in no log line.
    let log = std::fs::read_to_string(summary.log_file.unwrap()).unwrap();
    assert!(!log.contains("s3cr3t"));

    // Also removed when the process is dropped unread.
    let process = exec.execute(Invocation::check(json!({}))).unwrap();
    let dir = process.files_dir().unwrap().to_path_buf();
    assert!(dir.exists());
    drop(process);
    assert!(!dir.exists());
}

fn states_of(states: &[AirbyteStateMessage], kind: StateType) -> Vec<AirbyteStateMessage> {
    assert!(states.iter().all(|s| s.kind() == kind), "{states:?}");
    states.to_vec()
}

#[test]
fn incremental_reads_resume_from_state() {
    let exec = fixture();
    for (state_type, kind) in [
        ("stream", StateType::Stream),
        ("global", StateType::Global),
        ("legacy", StateType::Legacy),
    ] {
        let config = json!({"count": 6, "state_type": state_type, "state_every": 4});
        let (result, records, states) = read_all(&exec, config.clone(), None);
        result.unwrap();
        assert_eq!(records["users"].len(), 6);
        let states = states_of(&states, kind.clone());
        // users: after 4 and at the end (6); orders: same.
        assert_eq!(states.len(), 4, "{state_type}");
        let to_pass: Vec<_> = match kind {
            StateType::Stream => states.clone(),
            _ => vec![states.last().unwrap().clone()],
        };
        let (result, records, again) = read_all(&exec, config.clone(), Some(&to_pass));
        result.unwrap();
        assert!(!records.contains_key("users"), "{state_type}: no new users");
        assert!(
            !records.contains_key("PurchaseOrders"),
            "{state_type}: no new orders"
        );
        assert_eq!(records["products"].len(), 5, "full refresh stream");
        assert!(!again.is_empty());

        // More users appear: only the new ones come.
        let config = json!({"count": 8, "state_type": state_type});
        let (result, records, _) = read_all(&exec, config, Some(&to_pass));
        result.unwrap();
        let ids: Vec<_> = records["users"].iter().map(|r| r["id"].clone()).collect();
        assert_eq!(ids, [json!(7), json!(8)], "{state_type}");
    }
}

#[test]
fn data_quirk_options() {
    let exec = fixture();
    let config =
        json!({"count": 4, "duplicate_pks": true, "bad_values": true, "extra_columns": true});
    let (result, records, _) = read_all(&exec, config.clone(), None);
    result.unwrap();
    let users = &records["users"];
    assert_eq!(users.len(), 6);
    assert_eq!(users[4]["id"], json!(1));
    assert_eq!(users[4]["age"], json!(99));
    assert_eq!(users[1]["age"], json!("abc"));
    assert_eq!(users[2]["created_at"], json!("not-a-date"));
    assert!(
        records["products"][0].get("Name").is_some()
            && records["products"][0].get("name").is_some()
    );
    let catalog = abrs_connectors::discover(&exec, &config).unwrap();
    assert!(
        catalog.streams[1].json_schema["properties"]
            .get("Name")
            .is_some()
    );
}

#[test]
fn control_messages_call_the_config_callback() {
    let exec = fixture();
    let config = json!({"count": 1, "emit_control": true, "api_key": "old"});
    let catalog = fixture_catalog(&exec, &config, Some(&["users"]));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let inv = Invocation::read(config, catalog)
        .with_config_change_callback(Arc::new(move |c| sink.lock().unwrap().push(c)));
    let mut passed_on = 0;
    exec.execute(inv)
        .unwrap()
        .for_each(|m| {
            if matches!(&m, Decoded::Message(m) if m.r#type == MessageType::Control) {
                passed_on += 1;
            }
            Ok::<_, ConnectorError>(Flow::Continue)
        })
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["api_key"], json!("refreshed-key"));
    assert_eq!(passed_on, 1);
}

#[test]
fn executable_errors_are_clear() {
    let err = PathExecutor::with_path_var(
        "source-nowhere",
        "source-nowhere",
        Some(std::ffi::OsStr::new("/nonexistent-a:/nonexistent-b")),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectorError::ExecutableNotFound { .. }));
    assert!(
        text.contains("source-nowhere") && text.contains("/nonexistent-a"),
        "{text}"
    );

    // Found on PATH by name.
    let exec = PathExecutor::with_path_var(
        "source-fixture",
        "source-fixture",
        Some(fixtures().as_os_str()),
    )
    .unwrap();
    exec.ensure_installation(false).unwrap();

    let missing = PathExecutor::new("source-gone", "/nonexistent/source-gone").unwrap();
    assert!(matches!(
        missing.ensure_installation(true),
        Err(ConnectorError::ExecutableNotFound { .. })
    ));
    assert!(matches!(
        missing.execute(Invocation::spec()),
        Err(ConnectorError::ExecutableNotFound { .. })
    ));

    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("source-plain");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let exec = PathExecutor::new("source-plain", plain.to_str().unwrap()).unwrap();
    assert!(matches!(
        exec.ensure_installation(false),
        Err(ConnectorError::NotExecutable { .. })
    ));
}

#[test]
fn missing_answer_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("source-silent");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'nothing to see' >&2\necho not-json\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exec = PathExecutor::new("source-silent", script.to_str().unwrap()).unwrap();
    let err = abrs_connectors::discover(&exec, &json!({})).unwrap_err();
    let ConnectorError::MissingMessage {
        expected, log_tail, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(expected, "CATALOG");
    assert!(
        log_tail.iter().any(|l| l.contains("nothing to see")),
        "{log_tail:?}"
    );
    assert!(
        log_tail.iter().any(|l| l.contains("not-json")),
        "{log_tail:?}"
    );
}

#[test]
fn in_process_connectors_share_the_pipeline() {
    let producer: abrs_connectors::InProcessProducer = Box::new(|out| {
        for i in 0..3 {
            writeln!(
                out,
                r#"{{"type":"RECORD","record":{{"stream":"s","data":{{"i":{i}}},"emitted_at":1}}}}"#
            )
            .map_err(|e| e.to_string())?;
        }
        writeln!(
            out,
            r#"{{"type":"LOG","log":{{"level":"INFO","message":"done"}}}}"#
        )
        .map_err(|e| e.to_string())?;
        Err("declarative source failed".to_string())
    });
    let process =
        ConnectorProcess::in_process("source-inproc", Invocation::new(Verb::Read), producer)
            .unwrap();
    let mut records = 0;
    let err = process
        .for_each(|m| {
            if let Decoded::Record(_) = m {
                records += 1;
            }
            Ok::<_, ConnectorError>(Flow::Continue)
        })
        .unwrap_err();
    assert_eq!(records, 3);
    let abrs_connectors::ConnectorFailure { exit, log_tail, .. } = err.failure().unwrap();
    assert_eq!(exit.unwrap().code, Some(1));
    assert!(
        log_tail
            .iter()
            .any(|l| l.contains("declarative source failed"))
    );
}

#[test]
fn spawn_failure_is_clear() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("source-badshebang");
    std::fs::write(&script, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exec = PathExecutor::new("source-badshebang", script.to_str().unwrap()).unwrap();
    let err = exec.execute(Invocation::spec()).unwrap_err();
    assert!(matches!(err, ConnectorError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("interpreter"), "{err}");
}

#[test]
fn destination_stdin_is_pumped() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("destination-echo");
    // Echo back every input line as a LOG-free STATE... simply: cat stdin to stdout.
    std::fs::write(&script, "#!/bin/sh\ncat\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exec = PathExecutor::new("destination-echo", script.to_str().unwrap()).unwrap();
    let lines: Vec<Vec<u8>> = (0..5000)
        .map(|i| {
            format!(r#"{{"type":"STATE","state":{{"type":"LEGACY","data":{{"n":{i}}}}}}}"#)
                .into_bytes()
        })
        .collect();
    let catalog = abrs_protocol::ConfiguredAirbyteCatalog {
        streams: vec![],
        extra: Default::default(),
    };
    let inv = Invocation::write(
        json!({}),
        catalog,
        abrs_connectors::StdinSource::Lines(Box::new(lines.into_iter())),
    );
    let summary = exec
        .execute(inv)
        .unwrap()
        .for_each(|_| Ok::<_, ConnectorError>(Flow::Continue))
        .unwrap();
    assert_eq!(summary.messages_by_type["STATE"], 5000);
}

#[test]
fn a_connector_that_closes_stdout_but_lingers_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("source-linger");
    std::fs::write(
        &script,
        "#!/bin/sh\necho '{\"type\":\"SPEC\",\"spec\":{\"connectionSpecification\":{}}}'\nexec >&-\nexec sleep 30\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exec = PathExecutor::new("source-linger", script.to_str().unwrap()).unwrap();
    let start = Instant::now();
    let inv = Invocation::spec().with_grace_period(Duration::from_millis(300));
    let process = exec.execute(inv).unwrap();
    let pid = process.pid().unwrap() as i32;
    let spec = abrs_connectors::expect_message(process, MessageType::Spec).unwrap();
    assert!(spec.spec.is_some());
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(!pid_alive(pid));
}

#[test]
fn a_slow_consumer_holds_back_the_connector() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    let line = format!(
        "{{\"type\":\"RECORD\",\"record\":{{\"stream\":\"s\",\"data\":{{\"pad\":\"{}\"}},\"emitted_at\":1}}}}\n",
        "x".repeat(1000)
    );
    let producer: abrs_connectors::InProcessProducer = Box::new(move |out| {
        // 200 MB if nothing held it back.
        for _ in 0..200_000 {
            out.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
            counter.fetch_add(line.len() as u64, Ordering::SeqCst);
        }
        Ok(())
    });
    let process =
        ConnectorProcess::in_process("source-fast", Invocation::new(Verb::Read), producer).unwrap();
    let mut consumed = 0u64;
    let mut max_ahead = 0u64;
    let summary = process
        .for_each(|m| {
            if let Decoded::Record(r) = m {
                consumed += r.data.get().len() as u64 + 70;
                if consumed < 3_000_000 && consumed % 100_000 < 1100 {
                    std::thread::sleep(Duration::from_millis(20));
                }
                max_ahead = max_ahead.max(written.load(Ordering::SeqCst).saturating_sub(consumed));
            }
            Ok::<_, ConnectorError>(if consumed > 5_000_000 {
                Flow::Stop
            } else {
                Flow::Continue
            })
        })
        .unwrap();
    assert!(summary.stopped_early);
    eprintln!("max ahead: {max_ahead} bytes");
    // Bounded by the channel (8 chunks of ~256 KiB), the reader's buffer and the pipe.
    assert!(
        max_ahead < 4_000_000,
        "the connector ran {max_ahead} bytes ahead"
    );
    assert!(
        written.load(Ordering::SeqCst) < 10_000_000,
        "the producer was stopped"
    );
}
