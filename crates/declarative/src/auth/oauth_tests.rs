//! Unit tests of `oauth.rs`.
use super::*;
use crate::auth::test_server::TestServer;
use crate::factory::BuildEnv;
use crate::http::{HttpClientOptions, Secrets};
use serde_json::json;

fn build(node: Value, config: Value) -> Result<OAuthAuthenticator> {
    let env = BuildEnv {
        config,
        directory: None,
        ..Default::default()
    };
    let path = ManifestPath::root();
    OAuthAuthenticator::from_node(Node::new(&node, &path, &env)?)
}

fn client() -> HttpClient {
    HttpClient::new(&HttpClientOptions::default(), Secrets::default()).unwrap()
}

#[test]
fn refresh_token_grant_posts_the_form_once_and_caches_the_token() {
    let server = TestServer::start(vec![(
        200,
        r#"{"data": {"access_token": "tok-1", "expires_in": "3600"}}"#.into(),
    )]);
    let auth = build(
        json!({"type": "OAuthAuthenticator", "client_id": "{{ config.id }}", "client_secret": "{{ config.secret }}",
            "refresh_token": "{{ config.refresh }}", "token_refresh_endpoint": format!("{}/token", server.url()),
            "scopes": ["read", "write:all"], "refresh_request_body": {"extra": "{{ config.id }}", "grant_type": "ignored"},
            "refresh_request_headers": {"X-Custom": "1"}}),
        json!({"id": "my-id", "secret": "my secret", "refresh": "r/1"}),
    )
    .unwrap();
    let client = client();
    let options = auth.request_options(&client).unwrap();
    assert_eq!(options.headers["Authorization"], json!("Bearer tok-1"));
    // Cached: no second token request.
    auth.request_options(&client).unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert!(r.starts_with("POST /token HTTP/1.1\r\n"), "{r}");
    let lower = r.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/x-www-form-urlencoded"),
        "{r}"
    );
    assert!(lower.contains("x-custom: 1"), "{r}");
    let body = r.split("\r\n\r\n").nth(1).unwrap();
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("client_id", "my-id"),
            ("client_secret", "my secret"),
            ("extra", "my-id"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "r/1"),
            ("scopes", "read"),
            ("scopes", "write:all")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(client.secrets().mask("x tok-1 y"), "x **** y");
}

#[test]
fn an_expired_token_is_fetched_again() {
    let server = TestServer::start(vec![
        (200, r#"{"access_token": "first", "expires_in": 0}"#.into()),
        (200, r#"{"access_token": "second"}"#.into()),
    ]);
    let auth = build(
        json!({"client_id": "a", "client_secret": "b", "grant_type": "client_credentials",
            "token_refresh_endpoint": server.url()}),
        json!({}),
    )
    .unwrap();
    let client = client();
    assert_eq!(auth.access_token(&client).unwrap(), "first");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(auth.access_token(&client).unwrap(), "second");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // client_credentials: no refresh_token field.
    assert!(!requests[0].contains("refresh_token"), "{}", requests[0]);
}

#[test]
fn credentials_in_an_authorization_header_stay_out_of_the_body() {
    let server = TestServer::start(vec![(200, r#"{"access_token": "t"}"#.into())]);
    let auth = build(
        json!({"client_id": "a", "client_secret": "b", "grant_type": "client_credentials",
            "token_refresh_endpoint": server.url(), "send_refresh_request_as_query_params": true,
            "refresh_request_headers": {"Authorization": "Basic xyz"}}),
        json!({}),
    )
    .unwrap();
    auth.access_token(&client()).unwrap();
    let r = &server.requests()[0];
    assert!(
        r.starts_with("POST /?grant_type=client_credentials HTTP/1.1"),
        "{r}"
    );
    assert!(!r.to_ascii_lowercase().contains("content-type"), "{r}");
}

#[test]
fn access_token_value_without_endpoint_is_used_as_is() {
    let auth = build(
        json!({"client_id": "a", "client_secret": "b", "refresh_token": "r", "access_token_value": "{{ config.t }}"}),
        json!({"t": "given"}),
    )
    .unwrap();
    assert_eq!(auth.access_token(&client()).unwrap(), "given");
}

#[test]
fn configuration_errors_and_endpoint_failures() {
    assert!(
        build(
            json!({"client_id": "a", "token_refresh_endpoint": "http://x"}),
            json!({})
        )
        .is_err()
    );
    assert!(
        build(
            json!({"client_id": "a", "client_secret": "b", "token_refresh_endpoint": "http://x"}),
            json!({})
        )
        .is_err()
    );
    let server = TestServer::start(vec![(401, r#"{"error": "invalid_grant"}"#.into())]);
    let auth = build(
        json!({"client_id": "a", "client_secret": "s3cret-value", "grant_type": "client_credentials",
            "token_refresh_endpoint": server.url()}),
        json!({}),
    )
    .unwrap();
    let client = client();
    client.secrets().add("s3cret-value");
    let e = auth.access_token(&client).unwrap_err();
    assert!(
        matches!(e, EngineError::HttpStatus { status: 401, .. }),
        "{e}"
    );
    let missing = TestServer::start(vec![(200, r#"{"token": "x"}"#.into())]);
    let auth = build(
        json!({"client_id": "a", "client_secret": "b", "grant_type": "client_credentials", "token_refresh_endpoint": missing.url()}),
        json!({}),
    )
    .unwrap();
    assert!(
        auth.access_token(&client)
            .unwrap_err()
            .to_string()
            .contains("missing access token access_token")
    );
}

#[test]
fn single_use_refresh_tokens_live_in_the_shared_config() {
    let server = TestServer::start(vec![(
        200,
        r#"{"access_token": "new-access", "refresh_token": "new-refresh", "expires_in": 3600}"#
            .into(),
    )]);
    let node = json!({"client_id": "{{ config.id }}", "client_secret": "sec", "refresh_token": "{{ config.refresh_token }}",
        "token_refresh_endpoint": server.url(),
        "refresh_token_updater": {"refresh_token_name": "refresh_token", "access_token_config_path": ["access_token"],
            "refresh_token_config_path": ["refresh_token"], "token_expiry_date_config_path": ["token_expiry_date"]}});
    let config = json!({"id": "single-use-id", "refresh_token": "old-refresh", "access_token": "old",
        "token_expiry_date": "2020-01-01T00:00:00Z"});
    let a = build(node.clone(), config.clone()).unwrap();
    let b = build(node, config).unwrap();
    let client = client();
    assert_eq!(a.access_token(&client).unwrap(), "new-access");
    // Another stream's authenticator sees the renewed token in the shared config.
    assert_eq!(b.access_token(&client).unwrap(), "new-access");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].contains("refresh_token=old-refresh"),
        "{}",
        requests[0]
    );
    assert!(
        requests[0].contains("client_id=single-use-id"),
        "{}",
        requests[0]
    );
}

#[test]
fn expiry_dates_and_lookup() {
    assert_eq!(
        ab_datetime_parse("1700000000").map(|d| d.timestamp()),
        Some(1_700_000_000)
    );
    assert!(ab_datetime_parse("2024-01-02T03:04:05Z").is_some());
    assert!(ab_datetime_parse("soon").is_none());
    let body = json!({"a": {"b": [{"expires_at": null}, {"expires_at": 5}]}});
    assert_eq!(find_value(&body, "expires_at", 0).unwrap(), Some(json!(5)));
    let deep = json!({"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}});
    assert!(find_value(&deep, "x", 0).is_err());
}
