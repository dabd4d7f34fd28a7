//! `cursor_next_url.yaml` against the mock API: CursorPagination with a page number from the
//! body injected as a query parameter, a next URL from the body followed with RequestPath (the
//! query parameters it already has not repeated), and the `Link` header's next URL; an API key
//! in the query string; request_parameters given through `$parameters`. The expected requests
//! are those airbyte-cdk 7.39.1 sends for this manifest (recorded by running the CDK against a
//! twin of this mock).

mod support;

use abrs_declarative::DeclarativeSource;
use serde_json::{Value, json};
use support::{
    Messages, MockResponse, MockServer, RecordedRequest, Routes, catalog, load_manifest,
};

const MANIFEST: &str = "cursor_next_url.yaml";
const API_KEY: &str = "org-slug:s3cr3tkey";
const IBAN: &str = "FR7630001007941234567890185";

fn api() -> MockServer {
    // The next URLs name the server itself; its address is known only once it listens.
    let base = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let (tables_base, events_base) = (base.clone(), base.clone());
    let server = MockServer::start(
        Routes::new()
            .get("/v2/labels", |r| match r.param("current_page") {
                Some("2") => json!({"labels": [{"id": "l3"}], "meta": {"next_page": null}}),
                _ => json!({"labels": [{"id": "l1"}, {"id": "l2"}], "meta": {"next_page": 2}}),
            })
            .get("/v2/transactions", |_| {
                json!({"transactions": [{"id": "t1"}], "meta": {"next_page": null}})
            })
            .get("/v2/table/tables", move |r| match r.param("page") {
                Some("2") => json!({"results": [{"id": "tb3"}], "links": {"next": null}}),
                _ => json!({"results": [{"id": "tb1"}, {"id": "tb2"}], "links": {"next":
                    format!("{}/v2/table/tables/?page=2&page_size=2", tables_base.get().map_or("", |s| s))}}),
            })
            .route("GET", "/v2/events", move |r| match r.param("after") {
                Some("e2") => MockResponse::json(json!({"events": [{"id": "e3"}]})),
                _ => MockResponse::json(json!({"events": [{"id": "e1"}, {"id": "e2"}]})).header(
                    "Link",
                    &format!(
                        "<{}/v2/events?after=e2>; rel=\"next\"",
                        events_base.get().map_or("", |s| s)
                    ),
                ),
            }),
    );
    let _ = base.set(server.url());
    server
}

fn config(server: &MockServer) -> Value {
    json!({"api_key": API_KEY, "base_url": server.url(), "iban": IBAN, "start_date": "2024-01-01"})
}

fn source(server: &MockServer) -> DeclarativeSource {
    DeclarativeSource::new(load_manifest(MANIFEST), config(server)).expect("the source")
}

fn ids(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("?"))
        .collect()
}

fn lines(server: &MockServer, path: &str) -> Vec<String> {
    server
        .requests_to(path)
        .iter()
        .map(RecordedRequest::line)
        .collect()
}

#[test]
fn spec_keeps_the_documentation_url() {
    let spec = DeclarativeSource::spec(&load_manifest(MANIFEST)).expect("spec");
    assert_eq!(
        spec["documentationUrl"],
        "https://docs.airbyte.com/integrations/sources/qonto"
    );
    assert_eq!(
        spec["connectionSpecification"]["title"],
        "Cursor Pagination Spec"
    );
    assert_eq!(
        spec["connectionSpecification"]["properties"]["api_key"]["airbyte_secret"],
        true
    );
}

#[test]
fn check_reads_labels() {
    let server = api();
    assert_eq!(source(&server).check(), (true, None));
    assert_eq!(
        server
            .requests()
            .first()
            .map(RecordedRequest::line)
            .as_deref(),
        Some("GET /v2/labels?api_key=org-slug:s3cr3tkey")
    );
}

#[test]
fn discover_lists_the_streams_of_string_references() {
    let server = api();
    let catalog = source(&server).discover().expect("discover");
    let names: Vec<&str> = catalog["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(names, ["labels", "transactions", "tables", "events"]);
    for s in catalog["streams"].as_array().into_iter().flatten() {
        assert_eq!(s["source_defined_primary_key"], json!([["id"]]), "{s}");
        assert_eq!(s["supported_sync_modes"], json!(["full_refresh"]), "{s}");
    }
}

#[test]
fn read_follows_every_kind_of_cursor() {
    let server = api();
    let out = Messages::read(
        &source(&server),
        &catalog(&[
            ("labels", "full_refresh"),
            ("transactions", "full_refresh"),
            ("tables", "full_refresh"),
            ("events", "full_refresh"),
        ]),
        None,
    );
    assert_eq!(out.result, Ok(()), "{:#?}", out.all);

    // The page number from the body, injected as `current_page`.
    assert_eq!(ids(&out.records("labels")), ["l1", "l2", "l3"]);
    assert_eq!(
        lines(&server, "/v2/labels"),
        [
            "GET /v2/labels?api_key=org-slug:s3cr3tkey",
            "GET /v2/labels?api_key=org-slug:s3cr3tkey&current_page=2",
        ]
    );

    // request_parameters written in the stream's $parameters reach the requester.
    assert_eq!(ids(&out.records("transactions")), ["t1"]);
    assert_eq!(
        lines(&server, "/v2/transactions"),
        [
            "GET /v2/transactions?api_key=org-slug:s3cr3tkey&iban=FR7630001007941234567890185&settled_at_from=2024-01-01"
        ]
    );

    // The next URL from the body, requested as it is (page_size already in it is not repeated).
    assert_eq!(ids(&out.records("tables")), ["tb1", "tb2", "tb3"]);
    assert_eq!(
        lines(&server, "/v2/table/tables/"),
        [
            "GET /v2/table/tables/?api_key=org-slug:s3cr3tkey&page_size=2",
            "GET /v2/table/tables/?api_key=org-slug:s3cr3tkey&page=2&page_size=2",
        ]
    );
    for r in server.requests_to("/v2/table/tables/") {
        let sizes = r.query.iter().filter(|(k, _)| k == "page_size").count();
        assert_eq!(sizes, 1, "page_size once: {:?}", r.query);
    }

    // The Link header's next URL.
    assert_eq!(ids(&out.records("events")), ["e1", "e2", "e3"]);
    assert_eq!(
        lines(&server, "/v2/events"),
        [
            "GET /v2/events?api_key=org-slug:s3cr3tkey",
            "GET /v2/events?after=e2&api_key=org-slug:s3cr3tkey",
        ]
    );

    assert_eq!(server.requests().len(), 7, "{:?}", server.sorted_lines());
    for r in server.requests() {
        assert_eq!(r.header("Authorization"), None, "{}", r.line());
    }
    for stream in ["labels", "transactions", "tables", "events"] {
        assert_eq!(
            out.final_state(stream),
            json!({"__ab_no_cursor_state_message": true})
        );
    }
}
