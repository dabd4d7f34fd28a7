//! `AsyncRetriever` against the mock API, as airbyte-cdk 7.39.1 runs it: a job is created for
//! each slice, polled until the API says it is done, its results downloaded (a gzipped CSV
//! here) and run through the retriever's record selector, then deleted; a job that fails is
//! created again (3 attempts in all), a creation the API refuses for the user's config is not
//! retried. Polling waits are shortened to a few milliseconds.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use abrs_declarative::{DeclarativeSource, Manifest};
use serde_json::{Value, json};
use support::{Messages, MockResponse, MockServer, Routes, catalog};

fn manifest(base: &str, extra: &str) -> Manifest {
    Manifest::from_str(&manifest_text(base, extra)).expect("the manifest")
}

/// The manifest's text; `extra` is more of the retriever's fields (indented 6 spaces).
fn manifest_text(base: &str, extra: &str) -> String {
    format!(
        r#"
version: 6.44.0
type: DeclarativeSource
check: {{type: CheckStream, stream_names: [contacts]}}
streams:
  - type: DeclarativeStream
    name: contacts
    primary_key: [id]
    schema_loader:
      type: InlineSchemaLoader
      schema: {{type: object, properties: {{id: {{type: string}}, email: {{type: string}}}}}}
    transformations:
      - type: KeysToLower
    retriever:
      type: AsyncRetriever
      status_mapping:
        running: [pending]
        completed: [ready]
        failed: [failed]
        timeout: [timeout]
      status_extractor: {{type: DpathExtractor, field_path: [status]}}
      download_target_extractor: {{type: DpathExtractor, field_path: [urls]}}
      creation_requester:
        type: HttpRequester
        url_base: {base}
        path: /exports
        http_method: POST
        request_body_json: {{kind: "{{{{ config.kind }}}}"}}
        authenticator: {{type: BearerAuthenticator, api_token: "{{{{ config.key }}}}"}}
      polling_requester:
        type: HttpRequester
        url_base: {base}
        path: "/exports/{{{{ creation_response['id'] }}}}"
        authenticator: {{type: BearerAuthenticator, api_token: "{{{{ config.key }}}}"}}
      download_requester:
        type: HttpRequester
        url_base: ""
        path: "{{{{ download_target }}}}"
      delete_requester:
        type: HttpRequester
        url_base: {base}
        path: "/exports/{{{{ stream_slice.extra_fields['creation_response']['id'] }}}}"
        http_method: DELETE
      download_decoder:
        type: GzipDecoder
        decoder: {{type: CsvDecoder}}
      record_selector:
        type: RecordSelector
        extractor: {{type: DpathExtractor, field_path: [ignored]}}
        record_filter: {{type: RecordFilter, condition: "{{{{ record['ID'] != 'skip' }}}}"}}
{extra}
spec:
  connection_specification: {{type: object, properties: {{key: {{type: string, airbyte_secret: true}}}}}}
"#
    )
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn async_source(manifest: Manifest) -> DeclarativeSource {
    DeclarativeSource::new(manifest, json!({"key": "k-1", "kind": "all"}))
        .expect("the source")
        .with_async_poll_interval(Duration::from_millis(5))
}

/// An API whose job is pending at the first poll and ready at the second; `failures` job
/// creations fail first with `status`.
fn api(failures: usize, status: u16) -> (MockServer, Arc<AtomicUsize>) {
    let polls = Arc::new(AtomicUsize::new(0));
    let creations = Arc::new(AtomicUsize::new(0));
    let p = Arc::clone(&polls);
    let server_url = Arc::new(std::sync::OnceLock::<String>::new());
    let url = Arc::clone(&server_url);
    let server = MockServer::start(
        Routes::new()
            .route("POST", "/exports", move |_| {
                let n = creations.fetch_add(1, Ordering::SeqCst);
                if n < failures {
                    MockResponse::status(status, json!({"error": "nope"}))
                } else {
                    MockResponse::json(json!({"id": format!("job-{n}")}))
                }
            })
            .get("/exports/*", move |_| {
                let n = p.fetch_add(1, Ordering::SeqCst);
                let base = url.get().cloned().unwrap_or_default();
                if n == 0 {
                    json!({"status": "pending"})
                } else {
                    json!({"status": "ready", "urls": [format!("{base}/files/1.csv.gz"), format!("{base}/files/2.csv.gz")]})
                }
            })
            .route("GET", "/files/*", |r| MockResponse {
                status: 200,
                headers: vec![("Content-Type".into(), "application/gzip".into())],
                body: gzip(if r.path.ends_with("1.csv.gz") {
                    b"ID,Email\na,a@x.io\nskip,s@x.io\n"
                } else {
                    b"ID,Email\nb,b@x.io\n"
                }),
            })
            .route("DELETE", "/exports/*", |_| MockResponse::json(json!({}))),
    );
    server_url.set(server.url()).unwrap();
    (server, polls)
}

#[test]
fn a_job_is_created_polled_downloaded_selected_and_deleted() {
    let (server, _) = api(0, 500);
    let source = async_source(manifest(&server.url(), ""));
    let messages = Messages::read(&source, &catalog(&[("contacts", "full_refresh")]), None);
    assert_eq!(messages.result, Ok(()), "{:?}", messages.errors());
    let mut records = messages.records("contacts");
    records.sort_by_key(Value::to_string);
    assert_eq!(
        records,
        vec![
            json!({"id": "a", "email": "a@x.io"}),
            json!({"id": "b", "email": "b@x.io"})
        ]
    );
    assert_eq!(
        messages.final_state("contacts"),
        json!({"__ab_no_cursor_state_message": true})
    );
    let requests: Vec<(String, String)> = server
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let owned = |m: &str, p: &str| (m.to_string(), p.to_string());
    assert_eq!(
        requests,
        vec![
            owned("POST", "/exports"),
            owned("GET", "/exports/job-0"),
            owned("GET", "/exports/job-0"),
            owned("GET", "/files/1.csv.gz"),
            owned("GET", "/files/2.csv.gz"),
            owned("DELETE", "/exports/job-0"),
        ]
    );
    let create = &server.requests_to("/exports")[0];
    assert_eq!(create.json(), Some(json!({"kind": "all"})));
    assert_eq!(create.header("authorization"), Some("Bearer k-1"));
    // The download requester has no authenticator: the API's token does not leave for the files.
    assert_eq!(
        server.requests_to("/files/1.csv.gz")[0].header("authorization"),
        None
    );
}

#[test]
fn a_job_that_cannot_be_created_is_tried_three_times_then_fails_the_stream() {
    let (server, _) = api(usize::MAX, 404);
    let source = async_source(manifest(&server.url(), ""));
    let messages = Messages::read(&source, &catalog(&[("contacts", "full_refresh")]), None);
    assert!(messages.result.is_err());
    assert_eq!(server.requests_to("/exports").len(), 3);
    let errors = messages.errors();
    assert!(
        errors.iter().any(|e| e.contains("after 3 attempts")),
        "{errors:?}"
    );
    assert_eq!(
        messages.final_state("contacts"),
        json!({"__ab_no_cursor_state_message": true})
    );
    assert!(messages.records("contacts").is_empty());
}

#[test]
fn a_failed_creation_is_retried_and_a_config_error_is_not() {
    let (server, _) = api(1, 404);
    let source = async_source(manifest(&server.url(), ""));
    let messages = Messages::read(&source, &catalog(&[("contacts", "full_refresh")]), None);
    assert_eq!(messages.result, Ok(()), "{:?}", messages.errors());
    assert_eq!(messages.records("contacts").len(), 2);
    assert_eq!(server.requests_to("/exports").len(), 2);

    let (server, _) = api(usize::MAX, 401);
    let source = async_source(manifest(&server.url(), ""));
    let messages = Messages::read(&source, &catalog(&[("contacts", "full_refresh")]), None);
    assert!(messages.result.is_err());
    assert_eq!(
        server.requests_to("/exports").len(),
        1,
        "a config error is not retried"
    );
}

#[test]
fn a_status_the_mapping_does_not_know_fails_the_stream_with_its_value() {
    let server = MockServer::start(
        Routes::new()
            .route("POST", "/exports", |_| {
                MockResponse::json(json!({"id": "j"}))
            })
            .get("/exports/*", |_| json!({"status": "exploded"})),
    );
    let source = async_source(manifest(&server.url(), ""));
    let messages = Messages::read(&source, &catalog(&[("contacts", "full_refresh")]), None);
    let errors = messages.errors();
    assert!(
        errors.iter().any(|e| e.contains("`exploded` is unknown")),
        "{errors:?}"
    );
}

#[test]
fn a_job_the_api_fails_is_created_again_and_a_timed_out_one_is_aborted() {
    let creations = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&creations);
    let server_url = Arc::new(std::sync::OnceLock::<String>::new());
    let url = Arc::clone(&server_url);
    let server = MockServer::start(
        Routes::new()
            .route("POST", "/exports", move |_| {
                let n = c.fetch_add(1, Ordering::SeqCst);
                MockResponse::json(json!({"id": format!("job-{n}")}))
            })
            .get("/exports/*", move |r| {
                let base = url.get().cloned().unwrap_or_default();
                match r.path.as_str() {
                    "/exports/job-0" => json!({"status": "failed"}),
                    "/exports/job-1" => json!({"status": "timeout"}),
                    _ => json!({"status": "ready", "urls": [format!("{base}/files/2.csv.gz")]}),
                }
            })
            .route("GET", "/files/*", |_| MockResponse {
                status: 200,
                headers: vec![],
                body: gzip(b"ID,Email\nb,b@x.io\n"),
            })
            .route("DELETE", "/exports/*", |_| MockResponse::json(json!({})))
            .route("POST", "/abort/*", |_| MockResponse::json(json!({}))),
    );
    server_url.set(server.url()).unwrap();
    let abort = format!(
        "      abort_requester:\n        type: HttpRequester\n        url_base: {}\n        path: \"/abort/{{{{ creation_response.id }}}}\"\n        http_method: POST\n",
        server.url()
    );
    let text = manifest_text(&server.url(), &abort);
    let source = async_source(Manifest::from_str(&text).expect("the manifest"));
    let messages = Messages::read(&source, &catalog(&[("contacts", "full_refresh")]), None);
    assert_eq!(messages.result, Ok(()), "{:?}", messages.errors());
    assert_eq!(
        messages.records("contacts"),
        vec![json!({"id": "b", "email": "b@x.io"})]
    );
    assert_eq!(creations.load(Ordering::SeqCst), 3);
    // Only the timed-out job is aborted (a failed one is over on the API's side).
    let aborted: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/abort/"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(aborted, vec!["/abort/job-1".to_string()]);
}
