//! What goes wrong is said once, clearly, and where: a component type no CDK knows (its type and
//! its manifest path), a `$ref` to nothing (the reference), a Jinja template that does not parse
//! (the template and its manifest path), and a 401 from the API (the request, with the API key
//! masked everywhere: the key must not appear in the error nor anywhere in the output).

mod support;

use abrs_declarative::{DeclarativeSource, Manifest};
use serde_json::{Value, json};
use support::{
    Messages, MockResponse, MockServer, Routes, catalog, dump, load_manifest, manifest_path,
};

/// An API that would answer the error manifests' stream, so that a request sent is seen.
fn items_api() -> MockServer {
    MockServer::start(Routes::new().route("GET", "/items", |_| {
        MockResponse::json(json!({"data": [{"id": 1}]}))
    }))
}

fn items_config(server: &MockServer) -> Value {
    json!({"api_key": "items-key-0001", "base_url": server.url(), "region": "eu"})
}

#[test]
fn an_unknown_component_type_names_the_type_and_where_it_is() {
    let server = items_api();
    let path = manifest_path("errors/unknown_component.yaml");
    // The loader may accept the manifest (the CDK's validation is not the loader's); the first
    // command that builds the stream must refuse it.
    let error = match Manifest::from_path(&path) {
        Err(e) => e.to_string(),
        Ok(manifest) => {
            let source =
                DeclarativeSource::new(manifest, items_config(&server)).expect("the source");
            let discover = source
                .discover()
                .expect_err("discover must fail")
                .to_string();
            let out = Messages::read(&source, &catalog(&[("items", "full_refresh")]), None);
            let read = out.result.clone().expect_err("read must fail");
            assert!(out.records("items").is_empty());
            assert!(read.contains("DefaultPagintor"), "{read}");
            // At most one error trace besides the read's result, and it says the same.
            let traces = out.errors();
            assert!(traces.len() <= 1, "{traces:?}");
            for t in &traces {
                assert!(t.contains("DefaultPagintor"), "{t}");
            }
            let (ok, message) = source.check();
            assert!(!ok);
            assert!(message.unwrap_or_default().contains("DefaultPagintor"));
            discover
        }
    };
    assert!(error.contains("DefaultPagintor"), "{error}");
    assert!(error.contains("streams[0].retriever.paginator"), "{error}");
    assert!(server.requests().is_empty(), "nothing is requested");
}

#[test]
fn a_bad_reference_names_the_reference_and_where_it_is_written() {
    let error = Manifest::from_path(manifest_path("errors/bad_reference.yaml"))
        .expect_err("the manifest must not load")
        .to_string();
    assert!(error.contains("#/definitions/requestor"), "{error}");
    assert!(error.contains("streams[0].retriever.requester"), "{error}");
    assert_eq!(error.lines().count(), 1, "one error: {error}");
}

#[test]
fn a_jinja_error_names_the_template_and_where_it_is() {
    let server = items_api();
    let source = DeclarativeSource::new(
        load_manifest("errors/jinja_error.yaml"),
        items_config(&server),
    )
    .expect("the source");
    let out = Messages::read(&source, &catalog(&[("items", "full_refresh")]), None);
    assert!(out.result.is_err(), "{:#?}", out.all);
    let errors = out.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("{{ config['region' }}"), "{}", errors[0]);
    assert!(
        errors[0].contains("streams[0].retriever.requester.path"),
        "{}",
        errors[0]
    );
    assert!(out.records("items").is_empty());
    assert_eq!(
        out.statuses("items").last().map(String::as_str),
        Some("INCOMPLETE")
    );
    assert!(server.requests().is_empty(), "nothing is requested");

    let (ok, message) = source.check();
    assert!(!ok);
    let message = message.unwrap_or_default();
    assert!(message.contains("{{ config['region' }}"), "{message}");
    assert!(
        message.contains("streams[0].retriever.requester.path"),
        "{message}"
    );
}

/// `cursor_next_url.yaml` puts the API key in the query string; the API refuses it with a 401
/// whose body repeats it.
const API_KEY: &str = "org-slug:s3cr3tkey";

fn refusing_api() -> MockServer {
    MockServer::start(Routes::new().route("GET", "/v2/labels", |r| {
        let key = r.param("api_key").unwrap_or("");
        MockResponse::status(
            401,
            json!({"errors": [{"code": "unauthorized", "detail": format!("invalid api key {key}")}]}),
        )
    }))
}

fn cursor_source(server: &MockServer) -> DeclarativeSource {
    DeclarativeSource::new(
        load_manifest("cursor_next_url.yaml"),
        json!({"api_key": API_KEY, "base_url": server.url(),
            "iban": "FR7630001007941234567890185", "start_date": "2024-01-01"}),
    )
    .expect("the source")
}

#[test]
fn a_401_names_the_request_with_the_api_key_masked() {
    let server = refusing_api();
    let out = Messages::read(
        &cursor_source(&server),
        &catalog(&[("labels", "full_refresh")]),
        None,
    );
    let result = out.result.clone().expect_err("the read must fail");
    assert!(result.contains("labels"), "{result}");

    let errors = out.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0];
    assert!(error.contains("401"), "{error}");
    assert!(error.contains("GET"), "{error}");
    assert!(error.contains("/v2/labels?api_key=****"), "{error}");

    // The key appears nowhere: not raw, not URL-encoded (org-slug%3As3cr3tkey), not in the
    // response body quoted in the error.
    let text = dump(&out);
    assert!(!text.contains("s3cr3tkey"), "the API key leaked:\n{text}");

    // A 401 is not retried (the CDK's default error mapping fails at once).
    assert_eq!(server.requests_to("/v2/labels").len(), 1);
    assert_eq!(
        out.statuses("labels").last().map(String::as_str),
        Some("INCOMPLETE")
    );
}

#[test]
fn a_401_fails_check_with_the_api_key_masked() {
    let server = refusing_api();
    let (ok, message) = cursor_source(&server).check();
    assert!(!ok);
    let message = message.unwrap_or_default();
    assert!(message.contains("401"), "{message}");
    assert!(message.contains("labels"), "{message}");
    assert!(
        !message.contains("s3cr3tkey"),
        "the API key leaked: {message}"
    );
}
