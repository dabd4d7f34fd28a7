//! The manifest's `api_budget` on a real read: requests wait for the budget (a lower bound on
//! the read's time; the waits themselves are checked on a manual clock beside the code), the
//! records and requests stay the CDK's, and a malformed budget is an error at its place.

mod support;

use std::time::{Duration, Instant};

use abrs_declarative::DeclarativeSource;
use serde_json::{Value, json};
use support::{Messages, MockServer, RecordedRequest, Routes, catalog, load_manifest_rewritten};

const MANIFEST: &str = "offset_api_key.yaml";

fn page(key: &str, n: usize, r: &RecordedRequest) -> Value {
    let offset: usize = r.param("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: usize = r.param("limit").and_then(|v| v.parse().ok()).unwrap_or(100);
    let records: Vec<Value> = (1..=n)
        .map(|i| json!({"id": format!("{key}{i}")}))
        .skip(offset)
        .take(limit)
        .collect();
    json!({key: records})
}

fn api() -> MockServer {
    MockServer::start(
        Routes::new()
            .get("/api/3/campaigns", |r| page("campaigns", 7, r))
            .get("/api/3/contacts", |r| page("contacts", 3, r)),
    )
}

fn source_with_budget(server: &MockServer, budget: &str) -> Result<DeclarativeSource, String> {
    let manifest = load_manifest_rewritten(
        MANIFEST,
        "type: DeclarativeSource\n",
        &format!("type: DeclarativeSource\napi_budget: {budget}\n"),
    );
    DeclarativeSource::new(manifest, json!({"api_key": "k", "base_url": server.url()}))
        .map_err(|e| e.to_string())
}

#[test]
fn a_moving_window_spaces_the_matched_requests_and_changes_nothing_else() {
    let server = api();
    // Two calls per second to /campaigns; /contacts is not limited.
    let source = source_with_budget(
        &server,
        r#"{type: HTTPAPIBudget, policies: [{type: MovingWindowCallRatePolicy,
            rates: [{type: Rate, limit: "{{ 1 + 1 }}", interval: PT1S}],
            matchers: [{type: HttpRequestRegexMatcher, method: GET, url_path_pattern: "/campaigns$"}]}]}"#,
    )
    .expect("the source");
    let started = Instant::now();
    let out = Messages::read(
        &source,
        &catalog(&[("campaigns", "full_refresh"), ("contacts", "full_refresh")]),
        None,
    );
    let elapsed = started.elapsed();
    assert_eq!(out.result, Ok(()), "{:#?}", out.all);
    assert_eq!(out.records("campaigns").len(), 7);
    assert_eq!(out.records("contacts").len(), 3);
    // Three pages of campaigns: the third waited for the first to be a second old.
    assert!(
        elapsed >= Duration::from_millis(950),
        "the third /campaigns request did not wait: {elapsed:?}"
    );
    let lines: Vec<String> = server
        .requests_to("/api/3/campaigns")
        .iter()
        .map(RecordedRequest::line)
        .collect();
    assert_eq!(
        lines,
        [
            "GET /api/3/campaigns?limit=3",
            "GET /api/3/campaigns?limit=3&offset=3",
            "GET /api/3/campaigns?limit=3&offset=6"
        ]
    );
}

#[test]
fn the_apis_no_calls_left_makes_the_next_request_wait() {
    let server = MockServer::start(Routes::new().route("GET", "/api/3/campaigns", |r| {
        let body = page("campaigns", 4, r);
        support::MockResponse::json(body).header("X-RateLimit-Remaining", "0")
    }));
    let source = source_with_budget(
        &server,
        r#"{type: HTTPAPIBudget, ratelimit_remaining_header: X-RateLimit-Remaining,
            policies: [{type: MovingWindowCallRatePolicy, rates: [{type: Rate, limit: 100, interval: PT1S}]}]}"#,
    )
    .expect("the source");
    let started = Instant::now();
    let out = Messages::read(&source, &catalog(&[("campaigns", "full_refresh")]), None);
    assert_eq!(out.result, Ok(()), "{:#?}", out.all);
    assert_eq!(out.records("campaigns").len(), 4);
    // Two pages; the API said no call was left after the first.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_malformed_budget_is_an_error_naming_its_place() {
    let server = api();
    let message = source_with_budget(
        &server,
        "{type: HTTPAPIBudget, policies: [{type: FixedWindowCallRatePolicy, call_limit: 10, period: soon}]}",
    )
    .expect_err("an error");
    assert!(
        message.contains("api_budget.policies[0].period"),
        "{message}"
    );
    assert!(message.contains("ISO-8601 duration"), "{message}");
    assert!(server.requests().is_empty());
}
