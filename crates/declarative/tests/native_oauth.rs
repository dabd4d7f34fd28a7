//! `oauth_refresh_token.yaml` against the mock API: OAuthAuthenticator with the refresh_token
//! grant. The token is fetched once (a form POST with the client's credentials and the scopes)
//! and reused on every page while it is valid, and fetched again once it has expired. The
//! expected requests are those airbyte-cdk 7.39.1 sends for this manifest (recorded by running
//! the CDK against a twin of this mock).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use abrs_declarative::DeclarativeSource;
use serde_json::json;
use support::{
    Messages, MockResponse, MockServer, RecordedRequest, Routes, catalog, load_manifest,
};

const MANIFEST: &str = "oauth_refresh_token.yaml";
const CLIENT_SECRET: &str = "cafe0123beef";
const REFRESH_TOKEN: &str = "beef4567dead";

/// The token endpoint answers `access-<n>` to its n-th call, valid `lifetime(n)` seconds; the
/// activities need a token it gave. `slow_first_page` makes the first page take longer than the
/// first token lives.
fn api(lifetime: fn(usize) -> u64, slow_first_page: bool) -> MockServer {
    let calls = Arc::new(AtomicUsize::new(0));
    MockServer::start(
        Routes::new()
            .route("POST", "/oauth/token", move |_| {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                MockResponse::json(json!({"access_token": format!("access-{n}"),
                    "expires_in": lifetime(n), "token_type": "Bearer"}))
            })
            .route("GET", "/api/v3/athlete/activities", move |r| {
                if !r
                    .header("Authorization")
                    .is_some_and(|a| a.starts_with("Bearer access-"))
                {
                    return MockResponse::status(401, json!({"message": "Authorization Error"}));
                }
                let page: u32 = r.param("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                if page == 1 && slow_first_page {
                    std::thread::sleep(Duration::from_millis(1500));
                }
                MockResponse::json(match page {
                    1 => json!([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]),
                    2 => json!([{"id": 3, "name": "c"}, {"id": 4, "name": "d"}]),
                    3 => json!([{"id": 5, "name": "e"}]),
                    _ => json!([]),
                })
            }),
    )
}

fn source(server: &MockServer) -> DeclarativeSource {
    DeclarativeSource::new(
        load_manifest(MANIFEST),
        json!({"base_url": server.url(), "client_id": "12345",
            "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}),
    )
    .expect("the source")
}

fn read(server: &MockServer) -> Messages {
    let out = Messages::read(
        &source(server),
        &catalog(&[("activities", "full_refresh")]),
        None,
    );
    assert_eq!(out.result, Ok(()), "{:#?}", out.all);
    let ids: Vec<i64> = out
        .records("activities")
        .iter()
        .map(|r| r["id"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    assert_eq!(
        out.final_state("activities"),
        json!({"__ab_no_cursor_state_message": true})
    );
    out
}

fn assert_token_request(r: &RecordedRequest) {
    assert_eq!(r.line(), "POST /oauth/token");
    assert_eq!(
        r.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(r.header("Authorization"), None);
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        r.form(),
        [
            pair("grant_type", "refresh_token"),
            pair("client_id", "12345"),
            pair("client_secret", CLIENT_SECRET),
            pair("refresh_token", REFRESH_TOKEN),
            pair("scopes", "read_all"),
            pair("scopes", "activity:read_all"),
        ]
    );
}

/// `(line, Authorization)` of each API request, in order.
fn api_requests(server: &MockServer) -> Vec<(String, String)> {
    server
        .requests_to("/api/v3/athlete/activities")
        .iter()
        .map(|r| {
            assert!(
                r.body.is_empty(),
                "an empty request_body_json sends no body: {}",
                r.line()
            );
            (
                r.line(),
                r.header("Authorization").unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn pages(tokens: [&str; 3]) -> Vec<(String, String)> {
    let lines = [
        "GET /api/v3/athlete/activities?per_page=2",
        "GET /api/v3/athlete/activities?page=2&per_page=2",
        "GET /api/v3/athlete/activities?page=3&per_page=2",
    ];
    lines
        .iter()
        .zip(tokens)
        .map(|(l, t)| (l.to_string(), format!("Bearer {t}")))
        .collect()
}

#[test]
fn the_token_is_fetched_once_and_reused_on_every_page() {
    let server = api(|_| 3600, false);
    let out = read(&server);
    let requests = server.requests();
    assert_eq!(requests.len(), 4, "{:?}", server.sorted_lines());
    assert_token_request(&requests[0]);
    assert_eq!(
        api_requests(&server),
        pages(["access-1", "access-1", "access-1"])
    );
    // The token and the client's secrets are never shown.
    let text = support::dump(&out);
    for secret in [CLIENT_SECRET, REFRESH_TOKEN] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
}

#[test]
fn an_expired_token_is_refreshed_before_the_next_request() {
    // The first token lives 1 s and the first page takes 1.5 s: the second page needs a new one.
    let server = api(|n| if n == 1 { 1 } else { 3600 }, true);
    read(&server);
    let tokens: Vec<RecordedRequest> = server.requests_to("/oauth/token");
    assert_eq!(tokens.len(), 2, "{:?}", server.sorted_lines());
    for t in &tokens {
        assert_token_request(t);
    }
    assert_eq!(
        api_requests(&server),
        pages(["access-1", "access-2", "access-2"])
    );
    // In order: token, page 1, token again, pages 2 and 3.
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/oauth/token",
            "/api/v3/athlete/activities",
            "/oauth/token",
            "/api/v3/athlete/activities",
            "/api/v3/athlete/activities",
        ]
    );
}

#[test]
fn check_fetches_a_token_then_reads() {
    let server = api(|_| 3600, false);
    assert_eq!(source(&server).check(), (true, None));
    let requests = server.requests();
    assert!(requests.len() >= 2, "{:?}", server.sorted_lines());
    assert_token_request(&requests[0]);
    assert_eq!(
        requests[1].line(),
        "GET /api/v3/athlete/activities?per_page=2"
    );
    assert_eq!(requests[1].header("Authorization"), Some("Bearer access-1"));
}

#[test]
fn spec_and_discover() {
    let spec = DeclarativeSource::spec(&load_manifest(MANIFEST)).expect("spec");
    assert_eq!(
        spec["documentationUrl"],
        "https://docs.airbyte.com/integrations/sources/strava"
    );
    assert_eq!(
        spec["connectionSpecification"]["properties"]["refresh_token"]["airbyte_secret"],
        true
    );

    let server = api(|_| 3600, false);
    let catalog = source(&server).discover().expect("discover");
    let mut entry = catalog["streams"][0].clone();
    if let Some(m) = entry.as_object_mut() {
        m.remove("is_file_based");
    }
    assert_eq!(
        entry,
        json!({"name": "activities", "json_schema": {"$schema": "https://json-schema.org/draft-07/schema#",
            "type": ["null", "object"], "additionalProperties": true,
            "properties": {"id": {"type": ["null", "integer"]}, "name": {"type": ["null", "string"]}}},
            "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"]],
            "is_resumable": false})
    );
    assert!(server.requests().is_empty(), "discover fetches no token");
}
