//! `SessionTokenAuthenticator`: a login request (`login_requester`, an `HttpRequester`) gives a
//! session token (at `session_token_path` in its decoded response), which the data requests
//! carry as an API key (`request_authentication: ApiKey`, optionally through an `api_token`
//! template over `session_token`) or as a bearer token (`Bearer`). With an
//! `expiration_duration` the token is reused until it expires; without one, every request
//! logs in again (as the CDK's `SessionTokenProvider` does).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Months, Utc};
use serde_json::Value;

use super::Authenticator;
use super::token::{ApiKeyAuthenticator, BearerAuthenticator, TokenProvider};
use crate::decoders::Decoder;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpClient;
use crate::interpolation::InterpolatedString;
use crate::interpolation::datetime::{PyDuration, parse_duration};
use crate::requesters::{HttpRequester, RequestOption, RequestOptions};
use crate::slice::request_context;

/// The CDK's `SessionTokenProvider`.
#[derive(Debug)]
pub struct SessionTokenProvider {
    login_requester: HttpRequester,
    session_token_path: Vec<String>,
    expiration_duration: Option<PyDuration>,
    decoder: Decoder,
    config: Value,
    path: ManifestPath,
    state: Mutex<Option<(Value, DateTime<Utc>)>>,
}

impl SessionTokenProvider {
    /// The session token: the cached one while it is valid, else a new login.
    pub fn get_token(&self, client: &HttpClient) -> Result<Value> {
        let Some(duration) = self.expiration_duration else {
            return self.login(client);
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, expires)) = state.as_ref()
            && *expires >= Utc::now()
        {
            return Ok(token.clone());
        }
        let token = self.login(client)?;
        *state = Some((token.clone(), add_duration(Utc::now(), duration)));
        Ok(token)
    }

    fn login(&self, client: &HttpClient) -> Result<Value> {
        let context = request_context(&self.config, None, None);
        let response =
            self.login_requester
                .send(client, &context, RequestOptions::default(), None)?;
        let first = self
            .decoder
            .decode(&response)?
            .into_iter()
            .next()
            .unwrap_or(Value::Null);
        let mut current = &first;
        for key in &self.session_token_path {
            let next = match current {
                Value::Object(map) => map.get(key),
                Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            current = next.ok_or_else(|| {
                EngineError::manifest(
                    &self.path.key("session_token_path"),
                    format!(
                        "the login response has no session token at {:?}",
                        self.session_token_path
                    ),
                )
            })?;
        }
        if current.is_null() {
            return Err(EngineError::manifest(
                &self.path.key("session_token_path"),
                "Failed to get session token, token is None",
            ));
        }
        if let Value::String(s) = current {
            client.secrets().add(s);
        }
        Ok(current.clone())
    }
}

/// `now + duration`, months first (isodate's `Duration`).
fn add_duration(now: DateTime<Utc>, duration: PyDuration) -> DateTime<Utc> {
    let shifted = if duration.months >= 0 {
        now.checked_add_months(Months::new(duration.months.unsigned_abs()))
    } else {
        now.checked_sub_months(Months::new(duration.months.unsigned_abs()))
    };
    shifted.unwrap_or(now) + duration.delta
}

/// Builds a `SessionTokenAuthenticator` node: an ApiKey or Bearer authenticator over the login.
pub fn from_node(node: Node<'_>) -> Result<Arc<dyn Authenticator>> {
    let requester_path = node.child_path("login_requester");
    let requester_node = node
        .child("login_requester", &requester_path)?
        .ok_or_else(|| {
            node.error(
                "login_requester",
                "SessionTokenAuthenticator requires login_requester",
            )
        })?;
    let login_requester = HttpRequester::from_node(requester_node, "login_requester")?;
    let decoder_path = node.child_path("decoder");
    let decoder = Decoder::from_node(node.child("decoder", &decoder_path)?)?;
    let session_token_path = node.opt_str_list("session_token_path")?.ok_or_else(|| {
        node.error(
            "session_token_path",
            "SessionTokenAuthenticator requires session_token_path",
        )
    })?;
    let expiration_duration = match node.opt_str("expiration_duration")? {
        None => None,
        Some(text) if text.is_empty() => None,
        Some(text) => Some(parse_duration(&text).ok_or_else(|| {
            node.error(
                "expiration_duration",
                format!("invalid ISO 8601 duration {text:?}"),
            )
        })?),
    };
    let provider = Arc::new(SessionTokenProvider {
        login_requester,
        session_token_path,
        expiration_duration,
        decoder,
        config: node.config().clone(),
        path: node.path.clone(),
        state: Mutex::new(None),
    });
    let auth_path = node.child_path("request_authentication");
    let auth = node
        .child("request_authentication", &auth_path)?
        .ok_or_else(|| {
            node.error(
                "request_authentication",
                "SessionTokenAuthenticator requires request_authentication",
            )
        })?;
    match auth.type_name() {
        "Bearer" => Ok(Arc::new(BearerAuthenticator::with_provider(
            TokenProvider::Session {
                provider,
                template: None,
                path: auth_path.clone(),
            },
            node.config(),
        ))),
        "ApiKey" => {
            let option_path = auth.child_path("inject_into");
            let option = auth.child("inject_into", &option_path)?.ok_or_else(|| {
                auth.error(
                    "inject_into",
                    "the ApiKey request_authentication requires inject_into",
                )
            })?;
            let option = RequestOption::from_node(option)?;
            let template = auth
                .opt_str("api_token")?
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "{{ session_token }}".into());
            Ok(Arc::new(ApiKeyAuthenticator::with_provider(
                TokenProvider::Session {
                    provider,
                    template: Some(InterpolatedString::new(template, node.parameters())),
                    path: auth.child_path("api_token"),
                },
                option,
                node.config(),
            )))
        }
        other => Err(EngineError::manifest(
            &auth_path,
            format!("unknown request_authentication type {other:?}: expected ApiKey or Bearer"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_server::TestServer;
    use crate::factory::BuildEnv;
    use crate::http::{HttpClientOptions, Secrets};
    use serde_json::json;

    fn build(node: Value) -> Arc<dyn Authenticator> {
        let env = BuildEnv {
            config: json!({"user": "me"}),
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        from_node(Node::new(&node, &path, &env).unwrap()).unwrap()
    }

    #[test]
    fn logs_in_and_injects_the_token() {
        let server = TestServer::start(vec![(200, r#"{"data": {"token": "sess-1"}}"#.into())]);
        let auth = build(json!({"type": "SessionTokenAuthenticator",
            "login_requester": {"type": "HttpRequester", "url_base": server.url(), "path": "/login",
                "http_method": "POST", "request_body_json": {"username": "{{ config.user }}"}},
            "session_token_path": ["data", "token"], "expiration_duration": "PT1H",
            "request_authentication": {"type": "ApiKey", "api_token": "Token {{ session_token }}",
                "inject_into": {"type": "RequestOption", "inject_into": "header", "field_name": "Authorization"}}}));
        let client = HttpClient::new(&HttpClientOptions::default(), Secrets::default()).unwrap();
        let o = auth.request_options(&client).unwrap();
        assert_eq!(o.headers["Authorization"], json!("Token sess-1"));
        auth.request_options(&client).unwrap();
        let requests = server.requests();
        // Cached for the expiration duration: one login.
        assert_eq!(requests.len(), 1);
        assert!(
            requests[0].starts_with("POST /login HTTP/1.1"),
            "{}",
            requests[0]
        );
        assert!(
            requests[0].ends_with(r#"{"username": "me"}"#),
            "{}",
            requests[0]
        );
        assert_eq!(client.secrets().mask("sess-1"), "****");
    }

    #[test]
    fn without_expiration_every_request_logs_in_and_bearer_works() {
        let server = TestServer::start(vec![(200, r#"{"token": "abc-123"}"#.into())]);
        let auth = build(json!({"type": "SessionTokenAuthenticator",
            "login_requester": {"type": "HttpRequester", "url_base": server.url(), "http_method": "GET"},
            "session_token_path": ["token"], "request_authentication": {"type": "Bearer"}}));
        let client = HttpClient::new(&HttpClientOptions::default(), Secrets::default()).unwrap();
        let o = auth.request_options(&client).unwrap();
        assert_eq!(o.headers["Authorization"], json!("Bearer abc-123"));
        auth.request_options(&client).unwrap();
        assert_eq!(server.requests().len(), 2);
    }

    #[test]
    fn a_missing_token_is_an_error() {
        let server = TestServer::start(vec![(200, r#"{"other": 1}"#.into())]);
        let auth = build(json!({"type": "SessionTokenAuthenticator",
            "login_requester": {"type": "HttpRequester", "url_base": server.url()},
            "session_token_path": ["token"], "request_authentication": {"type": "Bearer"}}));
        let client = HttpClient::new(&HttpClientOptions::default(), Secrets::default()).unwrap();
        assert!(auth.request_options(&client).is_err());
    }
}
