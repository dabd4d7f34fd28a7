//! `offset_api_key.yaml` (OffsetIncrement with offset + limit, an API key header) against the
//! mock API: spec, check, discover and read, with the exact requests airbyte-cdk 7.39.1 sends
//! for this manifest (recorded by running the CDK against a twin of this mock).

mod support;

use abrs_declarative::DeclarativeSource;
use serde_json::{Value, json};
use support::{Messages, MockServer, RecordedRequest, Routes, catalog, load_manifest};

const MANIFEST: &str = "offset_api_key.yaml";
const API_KEY: &str = "ak-secret-123";

/// One page of `n` records as the API pages them: `offset` (default 0) and `limit`.
fn page(key: &str, n: usize, r: &RecordedRequest, make: impl Fn(usize) -> Value) -> Value {
    let offset: usize = r.param("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: usize = r.param("limit").and_then(|v| v.parse().ok()).unwrap_or(100);
    let records: Vec<Value> = (1..=n).map(make).skip(offset).take(limit).collect();
    json!({key: records, "meta": {"total": n.to_string()}})
}

fn campaign(i: usize) -> Value {
    json!({"id": format!("c{i}"), "name": format!("Campaign {i}")})
}

fn contact(i: usize) -> Value {
    json!({"id": format!("p{i}"), "email": format!("p{i}@example.com")})
}

/// 7 campaigns (pages of 3, 3 and 1) and exactly 3 contacts (a full page, then an empty one).
fn api() -> MockServer {
    MockServer::start(
        Routes::new()
            .get("/api/3/campaigns", |r| page("campaigns", 7, r, campaign))
            .get("/api/3/contacts", |r| page("contacts", 3, r, contact)),
    )
}

fn source(server: &MockServer) -> DeclarativeSource {
    DeclarativeSource::new(
        load_manifest(MANIFEST),
        json!({"api_key": API_KEY, "base_url": server.url()}),
    )
    .expect("the source")
}

fn assert_api_key_on_every_request(server: &MockServer) {
    for r in server.requests() {
        assert_eq!(r.header("Api-Token"), Some(API_KEY), "{}", r.line());
        assert_eq!(r.header("Authorization"), None, "{}", r.line());
        assert!(r.body.is_empty(), "a GET without a body: {}", r.line());
    }
}

#[test]
fn spec_is_the_manifests_spec() {
    let spec = DeclarativeSource::spec(&load_manifest(MANIFEST)).expect("spec");
    assert_eq!(
        spec,
        json!({
            "connectionSpecification": {
                "type": "object",
                "$schema": "http://json-schema.org/draft-07/schema#",
                "required": ["api_key", "base_url"],
                "properties": {
                    "api_key": {"type": "string", "title": "API Key", "airbyte_secret": true,
                        "description": "API Key", "order": 0},
                    "base_url": {"type": "string",
                        "description": "The API's address (the tests' mock server)", "order": 1}
                },
                "additionalProperties": true
            },
            "supportsNormalization": false,
            "supportsDBT": false
        })
    );
}

#[test]
fn check_reads_the_first_page_of_the_check_stream() {
    let server = api();
    assert_eq!(source(&server).check(), (true, None));
    let lines: Vec<String> = server
        .requests()
        .iter()
        .map(RecordedRequest::line)
        .collect();
    assert_eq!(lines, ["GET /api/3/campaigns?limit=3"]);
    assert_api_key_on_every_request(&server);
}

#[test]
fn discover_gives_the_inline_schemas_and_primary_keys() {
    let server = api();
    let catalog = source(&server).discover().expect("discover");
    let streams = catalog["streams"].as_array().expect("a list of streams");
    let mut entries: Vec<Value> = streams.clone();
    // The CDK also writes `is_file_based: false`; the protocol default, not compared here.
    for m in entries.iter_mut().filter_map(Value::as_object_mut) {
        m.remove("is_file_based");
    }
    assert_eq!(
        entries,
        [
            json!({"name": "campaigns", "json_schema": {"type": "object",
                "$schema": "http://json-schema.org/schema#", "additionalProperties": true,
                "properties": {"id": {"type": "string"}, "name": {"type": ["string", "null"]}}},
                "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"]],
                "is_resumable": false}),
            json!({"name": "contacts", "json_schema": {"type": "object",
                "$schema": "http://json-schema.org/schema#", "additionalProperties": true,
                "properties": {"id": {"type": "string"}, "email": {"type": ["string", "null"]}}},
                "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"]],
                "is_resumable": false}),
        ]
    );
    assert!(server.requests().is_empty(), "discover sends no request");
}

#[test]
fn read_follows_the_offsets_until_a_short_or_empty_page() {
    let server = api();
    let out = Messages::read(
        &source(&server),
        &catalog(&[("campaigns", "full_refresh"), ("contacts", "full_refresh")]),
        None,
    );
    assert_eq!(out.result, Ok(()), "{:#?}", out.all);
    assert!(out.errors().is_empty(), "{:?}", out.errors());

    assert_eq!(
        out.records("campaigns"),
        (1..=7).map(campaign).collect::<Vec<_>>()
    );
    assert_eq!(
        out.records("contacts"),
        (1..=3).map(contact).collect::<Vec<_>>()
    );

    // Pages of one stream are requested in order: no offset first, then the records seen.
    let lines = |path: &str| -> Vec<String> {
        server
            .requests_to(path)
            .iter()
            .map(RecordedRequest::line)
            .collect()
    };
    assert_eq!(
        lines("/api/3/campaigns"),
        [
            "GET /api/3/campaigns?limit=3",
            "GET /api/3/campaigns?limit=3&offset=3",
            "GET /api/3/campaigns?limit=3&offset=6",
        ]
    );
    // A full last page needs one more, empty, page to end.
    assert_eq!(
        lines("/api/3/contacts"),
        [
            "GET /api/3/contacts?limit=3&orders[email]=ASC",
            "GET /api/3/contacts?limit=3&offset=3&orders[email]=ASC",
        ]
    );
    assert_eq!(server.requests().len(), 5);
    assert_api_key_on_every_request(&server);

    for stream in ["campaigns", "contacts"] {
        assert_eq!(
            out.final_state(stream),
            json!({"__ab_no_cursor_state_message": true})
        );
        assert_eq!(out.statuses(stream), ["STARTED", "RUNNING", "COMPLETE"]);
    }
}

#[test]
fn read_of_one_configured_stream_requests_only_that_stream() {
    let server = api();
    let out = Messages::read(
        &source(&server),
        &catalog(&[("contacts", "full_refresh")]),
        None,
    );
    assert_eq!(out.result, Ok(()), "{:#?}", out.all);
    assert!(out.records("campaigns").is_empty());
    assert_eq!(out.records("contacts").len(), 3);
    assert!(server.requests_to("/api/3/campaigns").is_empty());
}
