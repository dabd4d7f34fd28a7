//! `incremental_datetime.yaml` against the mock API: a DatetimeBasedCursor in one-day windows
//! (`step: P1D`, `cursor_granularity: PT1S`), the window's bounds as query parameters,
//! PageIncrement inside each window, a bearer token; then a second read with the first read's
//! state, which requests only the windows after it. The expected requests and states are those
//! airbyte-cdk 7.39.1 gives for this manifest (recorded by running the CDK against a twin of
//! this mock): windows `[start, start + 1 day - 1 s]`, ..., the last one ending at the end
//! datetime itself; the state is the greatest cursor value read; a second read starts at the
//! state's value (inclusive).

mod support;

use abrs_declarative::DeclarativeSource;
use serde_json::{Value, json};
use support::{Messages, MockServer, Routes, catalog, load_manifest};

const MANIFEST: &str = "incremental_datetime.yaml";
const TOKEN: &str = "tok-abcdef";

/// The API's records: `updated_at` is the cursor.
const ACTIVITY: &[(&str, &str)] = &[
    ("a1", "2024-01-01T05:00:00Z"),
    ("a2", "2024-01-01T10:00:00Z"),
    ("a3", "2024-01-01T20:00:00Z"),
    ("a4", "2024-01-02T08:00:00Z"),
    ("a5", "2024-01-02T12:00:00Z"),
    ("a6", "2024-01-03T09:00:00Z"),
];

fn activity(id: &str) -> Value {
    let (id, at) = ACTIVITY
        .iter()
        .find(|(i, _)| *i == id)
        .copied()
        .unwrap_or(("?", "?"));
    json!({"id": id, "updated_at": at})
}

/// The records with `date_from <= updated_at <= date_to`, in pages of `page_size` numbered from
/// 0 (no `page`: the first): the CDK's PageIncrement without `start_from_page` asks for the
/// first page without `page`, then for `page=1`.
fn api() -> MockServer {
    MockServer::start(Routes::new().get("/v1/activity/dom1", |r| {
        let from = r.param("date_from").unwrap_or("");
        let to = r.param("date_to").unwrap_or("");
        let page: usize = r.param("page").and_then(|p| p.parse().ok()).unwrap_or(0);
        let size: usize = r
            .param("page_size")
            .and_then(|p| p.parse().ok())
            .unwrap_or(100);
        let records: Vec<Value> = ACTIVITY
            .iter()
            .filter(|(_, at)| from <= *at && *at <= to)
            .skip(page * size)
            .take(size)
            .map(|(id, _)| activity(id))
            .collect();
        json!({"data": records})
    }))
}

fn source(server: &MockServer, end_date: &str) -> DeclarativeSource {
    DeclarativeSource::new(
        load_manifest(MANIFEST),
        json!({"api_token": TOKEN, "base_url": server.url(), "domain_id": "dom1",
            "start_date": "2024-01-01T00:00:00Z", "end_date": end_date}),
    )
    .expect("the source")
}

fn sorted_ids(records: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = records
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("?").to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

fn window(from: &str, to: &str, page: Option<u32>) -> String {
    let page = page.map(|p| format!("&page={p}")).unwrap_or_default();
    format!("GET /v1/activity/dom1?date_from={from}&date_to={to}&limit=100{page}&page_size=2")
}

#[test]
fn discover_says_the_stream_is_incremental_on_its_cursor() {
    let server = api();
    let catalog = source(&server, "2024-01-03T00:00:00Z")
        .discover()
        .expect("discover");
    let mut entry = catalog["streams"][0].clone();
    if let Some(m) = entry.as_object_mut() {
        m.remove("is_file_based");
    }
    assert_eq!(
        entry,
        json!({"name": "activity", "json_schema": {"type": "object", "additionalProperties": true,
            "properties": {"id": {"type": "string"}, "updated_at": {"type": "string", "format": "date-time"}}},
            "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true,
            "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]],
            "is_resumable": true})
    );
}

#[test]
fn read_goes_window_by_window_and_the_next_read_starts_at_the_state() {
    let server = api();
    let first = Messages::read(
        &source(&server, "2024-01-03T00:00:00Z"),
        &catalog(&[("activity", "incremental")]),
        None,
    );
    assert_eq!(first.result, Ok(()), "{:#?}", first.all);
    assert_eq!(
        sorted_ids(&first.records("activity")),
        ["a1", "a2", "a3", "a4", "a5"]
    );
    assert_eq!(
        server.sorted_lines(),
        sorted(vec![
            window("2024-01-01T00:00:00Z", "2024-01-01T23:59:59Z", None),
            window("2024-01-01T00:00:00Z", "2024-01-01T23:59:59Z", Some(1)),
            window("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", None),
            window("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", Some(1)),
        ])
    );
    for r in server.requests() {
        assert_eq!(
            r.header("Authorization"),
            Some(format!("Bearer {TOKEN}").as_str()),
            "{}",
            r.line()
        );
    }
    assert_eq!(
        first.final_state("activity"),
        json!({"updated_at": "2024-01-02T12:00:00Z"})
    );

    // The second read: the first read's state, and a later end. It starts at the state's value.
    server.clear();
    let state = first.state_for_next_read();
    let second = Messages::read(
        &source(&server, "2024-01-04T00:00:00Z"),
        &catalog(&[("activity", "incremental")]),
        Some(&state),
    );
    assert_eq!(second.result, Ok(()), "{:#?}", second.all);
    assert_eq!(
        server.sorted_lines(),
        sorted(vec![
            window("2024-01-02T12:00:00Z", "2024-01-03T11:59:59Z", None),
            window("2024-01-02T12:00:00Z", "2024-01-03T11:59:59Z", Some(1)),
            window("2024-01-03T12:00:00Z", "2024-01-04T00:00:00Z", None),
        ])
    );
    // The record at the state's value itself is read again (the lower bound is inclusive).
    assert_eq!(sorted_ids(&second.records("activity")), ["a5", "a6"]);
    assert_eq!(
        second.final_state("activity"),
        json!({"updated_at": "2024-01-03T09:00:00Z"})
    );
}

#[test]
fn a_state_after_the_end_requests_nothing_and_keeps_the_state() {
    let server = api();
    let state = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "activity"},
        "stream_state": {"updated_at": "2024-01-05T00:00:00Z"}}}]);
    let out = Messages::read(
        &source(&server, "2024-01-03T00:00:00Z"),
        &catalog(&[("activity", "incremental")]),
        Some(&state),
    );
    assert_eq!(out.result, Ok(()), "{:#?}", out.all);
    assert!(server.requests().is_empty(), "{:?}", server.sorted_lines());
    assert!(out.records("activity").is_empty());
    assert_eq!(
        out.final_state("activity"),
        json!({"updated_at": "2024-01-05T00:00:00Z"})
    );
}

#[test]
fn spec_and_check() {
    let spec = DeclarativeSource::spec(&load_manifest(MANIFEST)).expect("spec");
    assert_eq!(
        spec["documentationUrl"],
        "https://docs.airbyte.com/integrations/sources/mailersend"
    );
    assert_eq!(
        spec["connectionSpecification"]["required"],
        json!([
            "api_token",
            "base_url",
            "domain_id",
            "start_date",
            "end_date"
        ])
    );

    // check reads the first page of the first window.
    let server = api();
    assert_eq!(
        source(&server, "2024-01-03T00:00:00Z").check(),
        (true, None)
    );
    assert_eq!(
        server.requests().first().map(|r| r.line()),
        Some(window("2024-01-01T00:00:00Z", "2024-01-01T23:59:59Z", None))
    );
}
