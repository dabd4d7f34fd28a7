//! Unit tests of `datetime_based_cursor.rs`.
use super::*;
use crate::factory::BuildEnv;
use serde_json::json;

fn dt(text: &str) -> Dt {
    chrono::DateTime::parse_from_rfc3339(text).unwrap()
}

fn cursor(manifest: Value, config: Value) -> DatetimeBasedCursor {
    let env = BuildEnv {
        config,
        directory: None,
        ..Default::default()
    };
    let path = ManifestPath::root().key("incremental_sync");
    let node = Node::new(&manifest, &path, &env).unwrap();
    DatetimeBasedCursor::from_node(node).unwrap()
}

fn days(n: i64) -> PyDuration {
    PyDuration::exact(TimeDelta::days(n))
}

fn pairs(windows: &[Map<String, Value>]) -> Vec<(String, String)> {
    let text = |w: &Map<String, Value>, k: &str| w[k].as_str().unwrap().to_string();
    windows
        .iter()
        .map(|w| (text(w, "start_time"), text(w, "end_time")))
        .collect()
}

#[test]
fn steps_with_granularity_end_one_unit_early_except_the_last() {
    let slicer = Slicer {
        start: dt("2024-01-01T00:00:00Z"),
        step: Some(days(2)),
        granularity: Some(days(1)),
        lookback: None,
        clamping: Clamping::None,
        compare_strictly: false,
    };
    let end = dt("2024-01-06T00:00:00Z");
    let intervals = vec![Interval {
        start: slicer.start,
        end: slicer.start,
        most_recent: Some(slicer.start),
    }];
    let w = slicer.windows(&intervals, end).unwrap();
    let days_of: Vec<(u32, u32)> = w.iter().map(|(a, b)| (a.day(), b.day())).collect();
    assert_eq!(days_of, vec![(1, 2), (3, 4), (5, 6)]);
}

#[test]
fn no_step_is_one_window_to_the_end() {
    let slicer = Slicer {
        start: dt("2024-01-01T00:00:00Z"),
        step: None,
        granularity: None,
        lookback: None,
        clamping: Clamping::None,
        compare_strictly: false,
    };
    let end = dt("2024-03-01T12:00:00Z");
    let intervals = vec![Interval {
        start: slicer.start,
        end: slicer.start,
        most_recent: Some(slicer.start),
    }];
    assert_eq!(
        slicer.windows(&intervals, end).unwrap(),
        vec![(slicer.start, end)]
    );
    // Nothing to read when the state is already at the end without a granularity.
    let done = vec![Interval {
        start: slicer.start,
        end,
        most_recent: Some(end),
    }];
    assert!(slicer.windows(&done, end).unwrap().is_empty());
}

#[test]
fn lookback_starts_before_the_state_but_not_before_the_start() {
    let slicer = Slicer {
        start: dt("2024-01-01T00:00:00Z"),
        step: None,
        granularity: None,
        lookback: Some(days(3)),
        clamping: Clamping::None,
        compare_strictly: false,
    };
    let end = dt("2024-01-20T00:00:00Z");
    let state = dt("2024-01-10T00:00:00Z");
    let intervals = vec![Interval {
        start: slicer.start,
        end: state,
        most_recent: Some(state),
    }];
    assert_eq!(
        slicer.windows(&intervals, end).unwrap(),
        vec![(dt("2024-01-07T00:00:00Z"), end)]
    );
    let early = dt("2024-01-02T00:00:00Z");
    let intervals = vec![Interval {
        start: slicer.start,
        end: early,
        most_recent: Some(early),
    }];
    assert_eq!(
        slicer.windows(&intervals, end).unwrap(),
        vec![(slicer.start, end)]
    );
}

#[test]
fn monthly_steps_and_day_clamping() {
    let slicer = Slicer {
        start: dt("2024-01-31T00:00:00Z"),
        step: Some(PyDuration {
            months: 1,
            delta: TimeDelta::zero(),
        }),
        granularity: Some(PyDuration::exact(TimeDelta::microseconds(1))),
        lookback: None,
        clamping: Clamping::None,
        compare_strictly: false,
    };
    let end = dt("2024-03-15T00:00:00Z");
    let intervals = vec![Interval {
        start: slicer.start,
        end: slicer.start,
        most_recent: Some(slicer.start),
    }];
    let w = slicer.windows(&intervals, end).unwrap();
    assert_eq!(
        w[0],
        (
            dt("2024-01-31T00:00:00Z"),
            dt("2024-02-28T23:59:59.999999Z")
        )
    );
    assert_eq!(w[1].0, dt("2024-02-29T00:00:00Z"));
    assert_eq!(w.last().unwrap().1, end);
    assert_eq!(
        Clamping::Day.clamp(dt("2024-01-31T05:00:00Z"), true),
        dt("2024-02-01T00:00:00Z")
    );
    assert_eq!(
        Clamping::Month.clamp(dt("2024-01-31T05:00:00Z"), false),
        dt("2024-01-01T00:00:00Z")
    );
    // 2024-01-03 is a Wednesday; the next Monday is the 8th, the previous the 1st.
    assert_eq!(
        Clamping::Week(0).clamp(dt("2024-01-03T05:00:00Z"), true),
        dt("2024-01-08T00:00:00Z")
    );
    assert_eq!(
        Clamping::Week(0).clamp(dt("2024-01-03T05:00:00Z"), false),
        dt("2024-01-01T00:00:00Z")
    );
}

#[test]
fn merging_touching_intervals_keeps_the_latest_record() {
    let ms = PyDuration::exact(TimeDelta::milliseconds(1));
    let a = Interval {
        start: dt("2024-01-01T00:00:00Z"),
        end: dt("2024-01-02T00:00:00Z"),
        most_recent: Some(dt("2024-01-01T10:00:00Z")),
    };
    let b = Interval {
        start: dt("2024-01-02T00:00:00.001Z"),
        end: dt("2024-01-03T00:00:00Z"),
        most_recent: None,
    };
    let c = Interval {
        start: dt("2024-01-05T00:00:00Z"),
        end: dt("2024-01-06T00:00:00Z"),
        most_recent: None,
    };
    let merged = merge_intervals(&[c.clone(), b, a], &ms);
    assert_eq!(merged.len(), 2);
    assert_eq!(merged[0].end, dt("2024-01-03T00:00:00Z"));
    assert_eq!(merged[0].most_recent, Some(dt("2024-01-01T10:00:00Z")));
    assert_eq!(merged[1], c);
}

fn dixa_like() -> Value {
    json!({
        "type": "DatetimeBasedCursor",
        "cursor_field": "updated_at",
        "cursor_datetime_formats": ["%ms"],
        "datetime_format": "%ms",
        "step": "P{{ config.batch_size }}D",
        "cursor_granularity": "P1D",
        "start_datetime": {"type": "MinMaxDatetime", "datetime": "{{ config['start_date'] }}", "datetime_format": "%Y-%m-%d", "$parameters": {}},
        "end_datetime": {"type": "MinMaxDatetime", "datetime": "2024-01-10", "datetime_format": "%Y-%m-%d", "$parameters": {}},
        "start_time_option": {"type": "RequestOption", "inject_into": "request_parameter", "field_name": "updated_after", "$parameters": {}},
        "end_time_option": {"type": "RequestOption", "inject_into": "request_parameter", "field_name": "updated_before", "$parameters": {}},
        "$parameters": {}
    })
}

#[test]
fn windows_are_formatted_and_injected() {
    let c = cursor(
        dixa_like(),
        json!({"start_date": "2024-01-01", "batch_size": 5}),
    );
    let mut run = c.start(None).unwrap();
    let windows = run.windows().unwrap();
    assert_eq!(
        pairs(&windows),
        vec![
            ("1704067200000".to_string(), "1704412800000".to_string()),
            ("1704499200000".to_string(), "1704844800000".to_string()),
        ]
    );
    let options = run.request_options(&windows[0]).unwrap();
    assert_eq!(
        options.params.get("updated_after"),
        Some(&json!("1704067200000"))
    );
    assert_eq!(
        options.params.get("updated_before"),
        Some(&json!("1704412800000"))
    );
}

#[test]
fn state_is_the_latest_record_in_the_cursor_format() {
    let c = cursor(
        dixa_like(),
        json!({"start_date": "2024-01-01", "batch_size": 5}),
    );
    let mut run = c.start(None).unwrap();
    let windows = run.windows().unwrap();
    // No record yet: the state is the start.
    assert_eq!(run.state(), json!({"updated_at": "1704067200000"}));
    assert!(
        run.observe(&windows[0], &json!({"updated_at": 1704100000000i64}))
            .unwrap()
    );
    assert!(
        run.observe(&windows[0], &json!({"updated_at": "1704090000000"}))
            .unwrap()
    );
    assert!(run.observe(&windows[0], &json!({"other": 1})).unwrap());
    run.close_window(&windows[0]).unwrap();
    run.close_window(&windows[1]).unwrap();
    assert_eq!(run.state(), json!({"updated_at": "1704100000000"}));
}

#[test]
fn incoming_state_moves_the_start_and_keeps_its_keys() {
    let c = cursor(
        dixa_like(),
        json!({"start_date": "2024-01-01", "batch_size": 30}),
    );
    let state = json!({"updated_at": "1704412800000", "extra": 1});
    let mut run = c.start(Some(&state)).unwrap();
    let windows = run.windows().unwrap();
    assert_eq!(
        pairs(&windows),
        vec![("1704412800000".into(), "1704844800000".into())]
    );
    assert_eq!(
        run.state(),
        json!({"updated_at": "1704412800000", "extra": 1})
    );
    // A state older than the start is ignored.
    let old = json!({"updated_at": "1600000000000"});
    let mut run = c.start(Some(&old)).unwrap();
    assert_eq!(pairs(&run.windows().unwrap())[0].0, "1704067200000");
    // A concurrent state is read too (its first interval's most recent value).
    let concurrent = json!({"state_type": "date-range", "slices": [
        {"start": "1704067200000", "end": "1704412800000", "most_recent_cursor_value": "1704300000000"}]});
    let mut run = c.start(Some(&concurrent)).unwrap();
    // The last interval is read again from its end.
    assert_eq!(pairs(&run.windows().unwrap())[0].0, "1704412800000");
    assert_eq!(run.state(), json!({"updated_at": "1704300000000"}));
    assert!(c.start(Some(&json!({"updated_at": "yesterday"}))).is_err());
}

#[test]
fn client_side_filtering_uses_state_lookback_and_end() {
    let manifest = json!({
        "type": "DatetimeBasedCursor",
        "cursor_field": "updated",
        "datetime_format": "%Y-%m-%dT%H:%M:%SZ",
        "cursor_datetime_formats": ["%Y-%m-%d"],
        "start_datetime": "{{ config.start }}",
        "end_datetime": "2024-02-01T00:00:00Z",
        "lookback_window": "P{{ config.lookback }}D",
        "is_client_side_incremental": true,
        "$parameters": {}
    });
    let c = cursor(
        manifest,
        json!({"start": "2024-01-01T00:00:00Z", "lookback": 2}),
    );
    let state = json!({"updated": "2024-01-10T00:00:00Z"});
    let mut run = c.start(Some(&state)).unwrap();
    let windows = run.windows().unwrap();
    assert_eq!(
        pairs(&windows),
        vec![("2024-01-08T00:00:00Z".into(), "2024-02-01T00:00:00Z".into())]
    );
    let w = &windows[0];
    assert!(
        !run.observe(w, &json!({"updated": "2024-01-07T23:59:59Z"}))
            .unwrap()
    );
    assert!(run.observe(w, &json!({"updated": "2024-01-08"})).unwrap());
    assert!(
        !run.observe(w, &json!({"updated": "2024-02-01T00:00:01Z"}))
            .unwrap()
    );
    assert!(run.observe(w, &json!({"updated": "not a date"})).unwrap());
    run.close_window(w).unwrap();
    // The record before the state does not move it back.
    assert_eq!(run.state(), json!({"updated": "2024-01-10T00:00:00Z"}));
}

#[test]
fn step_and_granularity_go_together() {
    let manifest = json!({
        "type": "DatetimeBasedCursor", "cursor_field": "u", "datetime_format": "%Y-%m-%d",
        "start_datetime": "2024-01-01", "step": "P1D", "$parameters": {}
    });
    let env = BuildEnv {
        config: json!({}),
        directory: None,
        ..Default::default()
    };
    let path = ManifestPath::root();
    let node = Node::new(&manifest, &path, &env).unwrap();
    assert!(DatetimeBasedCursor::from_node(node).is_err());
}

#[test]
fn partition_fields_name_the_window_keys() {
    let manifest = json!({
        "type": "DatetimeBasedCursor", "cursor_field": "u", "datetime_format": "%Y-%m-%d",
        "start_datetime": "2024-01-01", "end_datetime": "2024-01-03",
        "partition_field_start": "from", "partition_field_end": "to",
        "start_time_option": {"type": "RequestOption", "inject_into": "body_json", "field_path": ["range", "gte"], "$parameters": {}},
        "$parameters": {}
    });
    let c = cursor(manifest, json!({}));
    let mut run = c.start(None).unwrap();
    let windows = run.windows().unwrap();
    assert_eq!(
        Value::Object(windows[0].clone()),
        json!({"from": "2024-01-01", "to": "2024-01-03"})
    );
    let options = run.request_options(&windows[0]).unwrap();
    assert_eq!(
        Value::Object(options.body_json),
        json!({"range": {"gte": "2024-01-01"}})
    );
}

#[test]
fn zero_granularity_is_no_granularity() {
    let manifest = json!({
        "type": "DatetimeBasedCursor", "cursor_field": "airbyte_cursor",
        "datetime_format": "%Y-%m-%dT%H:%M:%S%z", "cursor_granularity": "PT0S", "step": "P30D",
        "start_datetime": "2024-01-01T00:00:00+0000", "end_datetime": "2024-02-15T00:00:00+0000",
        "$parameters": {}
    });
    let c = cursor(manifest, json!({}));
    let mut run = c.start(None).unwrap();
    // Windows share their boundaries, as without a granularity.
    assert_eq!(
        pairs(&run.windows().unwrap()),
        vec![
            (
                "2024-01-01T00:00:00+0000".into(),
                "2024-01-31T00:00:00+0000".into()
            ),
            (
                "2024-01-31T00:00:00+0000".into(),
                "2024-02-15T00:00:00+0000".into()
            ),
        ]
    );
}

#[test]
fn epoch_states_are_strings() {
    let manifest = json!({
        "type": "DatetimeBasedCursor", "cursor_field": "created", "datetime_format": "%s",
        "cursor_datetime_formats": ["%s"],
        "start_datetime": {"type": "MinMaxDatetime", "datetime": "2024-01-01T00:00:00Z", "datetime_format": "%Y-%m-%dT%H:%M:%SZ", "$parameters": {}},
        "$parameters": {}
    });
    let c = cursor(manifest, json!({}));
    // An integer state is read as well as a string one.
    let mut run = c.start(Some(&json!({"created": 1_704_153_600}))).unwrap();
    let windows = run.windows().unwrap();
    assert_eq!(windows[0]["start_time"], json!("1704153600"));
    assert!(
        run.observe(&windows[0], &json!({"created": 1_704_200_000}))
            .unwrap()
    );
    run.close_window(&windows[0]).unwrap();
    assert_eq!(run.state(), json!({"created": "1704200000"}));
}

#[test]
fn data_feed_stops_at_records_older_than_the_state() {
    let manifest = json!({
        "type": "DatetimeBasedCursor", "cursor_field": "date_created",
        "datetime_format": "%Y-%m-%dT%H:%M:%S.%fZ",
        "cursor_datetime_formats": ["%Y-%m-%dT%H:%M:%SZ"],
        "start_datetime": {"type": "MinMaxDatetime", "datetime": "1900-01-01T00:00:00.0Z", "datetime_format": "%Y-%m-%dT%H:%M:%S.%fZ", "$parameters": {}},
        "is_data_feed": true,
        "$parameters": {}
    });
    let c = cursor(manifest, json!({}));
    let state = json!({"date_created": "2024-01-10T00:00:00.000000Z"});
    let mut run = c.start(Some(&state)).unwrap();
    let windows = run.windows().unwrap();
    assert_eq!(
        windows[0]["start_time"],
        json!("2024-01-10T00:00:00.000000Z")
    );
    let old = json!({"date_created": "2024-01-09T00:00:00Z"});
    let new = json!({"date_created": "2024-01-11T00:00:00Z"});
    assert!(run.stops_pagination(&old));
    assert!(!run.stops_pagination(&new));
    assert!(!run.stops_pagination(&json!({})));
    assert!(!run.observe(&windows[0], &old).unwrap());
    assert!(run.observe(&windows[0], &new).unwrap());
    run.close_window(&windows[0]).unwrap();
    assert_eq!(
        run.state(),
        json!({"date_created": "2024-01-11T00:00:00.000000Z"})
    );
}
