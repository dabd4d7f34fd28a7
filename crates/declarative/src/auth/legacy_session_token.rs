//! `LegacySessionTokenAuthenticator`: a session token in a header (`header`). A token in the
//! config is checked first (`GET {url_base}{validate_session_url}`: 401 means invalid); else,
//! or when it is invalid, username and password log in (`POST {url_base}{login_url}` with a JSON
//! body) and the token is read at `session_token_response_key`. Logins are cached for the
//! whole process, as the CDK's `get_new_session_token` cache does.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use serde_json::{Value, json};

use super::Authenticator;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::{HttpClient, HttpRequest, RequestBody};
use crate::interpolation::{Context, InterpolatedString};
use crate::requesters::{RequestOptions, python_str};
use crate::truthiness::truthy;

/// A login: (login URL, username, password, key).
type LoginKey = (String, String, String, String);

/// `cacheSessionTokenAuthenticator`: the token of each login, for the whole process.
static LOGINS: LazyLock<Mutex<HashMap<LoginKey, String>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A `LegacySessionTokenAuthenticator`.
#[derive(Debug)]
pub struct LegacySessionTokenAuthenticator {
    api_url: InterpolatedString,
    header: InterpolatedString,
    session_token: InterpolatedString,
    session_token_response_key: InterpolatedString,
    username: InterpolatedString,
    password: InterpolatedString,
    login_url: InterpolatedString,
    validate_session_url: InterpolatedString,
    config: Value,
    path: ManifestPath,
}

impl LegacySessionTokenAuthenticator {
    /// Builds it from its node; `url_base` is the requester's (`url` or `url_base`).
    pub fn from_node(node: Node<'_>, url_base: Option<&str>) -> Result<Self> {
        let url_base = url_base.ok_or_else(|| {
            EngineError::manifest(
                node.path,
                "LegacySessionTokenAuthenticator needs the url_base of its requester",
            )
        })?;
        let params = node.parameters();
        let text = |key: &str| -> Result<InterpolatedString> {
            Ok(InterpolatedString::new(
                node.opt_str(key)?.unwrap_or_default(),
                params,
            ))
        };
        Ok(Self {
            api_url: InterpolatedString::new(url_base, params),
            header: node.interpolated("header")?,
            session_token: text("session_token")?,
            session_token_response_key: text("session_token_response_key")?,
            username: text("username")?,
            password: text("password")?,
            login_url: node.interpolated("login_url")?,
            validate_session_url: node.interpolated("validate_session_url")?,
            config: node.config().clone(),
            path: node.path.clone(),
        })
    }

    fn eval(&self, template: &InterpolatedString, key: &str) -> Result<Value> {
        template
            .eval(&Context::new(&self.config))
            .map_err(|e| EngineError::interpolation(&self.path.key(key), e))
    }

    fn eval_str(&self, template: &InterpolatedString, key: &str) -> Result<String> {
        Ok(python_str(&self.eval(template, key)?))
    }

    fn connection_error(&self, message: String) -> EngineError {
        EngineError::Input(format!("{message} (authenticator {})", self.path))
    }

    /// `is_valid_session_token`.
    fn is_valid(&self, client: &HttpClient, header: &str, token: &str) -> Result<bool> {
        let url = format!(
            "{}{}",
            self.eval_str(&self.api_url, "url_base")?,
            self.eval_str(&self.validate_session_url, "validate_session_url")?
        );
        let mut headers = vec![(header.to_string(), token.to_string())];
        super::add_requests_default_headers(&mut headers);
        let request = HttpRequest {
            method: "GET".into(),
            url,
            headers,
            body: None,
        };
        let response = client.send(&request)?;
        match response.status {
            s if s < 400 => Ok(true),
            401 => {
                tracing::info!("Unable to connect by session token from config: HTTP 401");
                Ok(false)
            }
            s => Err(self.connection_error(client.secrets().mask(&format!(
                "Error while validating session token: {s} for url: {}",
                request.url
            )))),
        }
    }

    /// `get_new_session_token`, cached.
    fn login(&self, client: &HttpClient, username: &Value, password: &Value) -> Result<String> {
        let url = format!(
            "{}{}",
            self.eval_str(&self.api_url, "url_base")?,
            self.eval_str(&self.login_url, "login_url")?
        );
        let key = self.eval_str(
            &self.session_token_response_key,
            "session_token_response_key",
        )?;
        let cache_key = (
            url.clone(),
            python_str(username),
            python_str(password),
            key.clone(),
        );
        if let Some(token) = LOGINS.lock().ok().and_then(|c| c.get(&cache_key).cloned()) {
            return Ok(token);
        }
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        super::add_requests_default_headers(&mut headers);
        let request = HttpRequest {
            method: "POST".into(),
            url,
            headers,
            body: Some(RequestBody::Json(
                json!({"username": username, "password": password}),
            )),
        };
        let response = client.send(&request)?;
        if !response.ok() {
            return Err(EngineError::HttpStatus {
                method: request.method.clone(),
                url: client.secrets().mask(&request.url),
                status: response.status,
                message: format!(
                    "Failed to retrieve new session token (authenticator {})",
                    self.path
                ),
            });
        }
        let token = response
            .json()
            .and_then(|body| body.get(&key))
            .map(python_str)
            .ok_or_else(|| {
                self.connection_error(format!(
                    "the login response has no session token at {key:?}"
                ))
            })?;
        client.secrets().add(&token);
        if let Ok(mut cache) = LOGINS.lock() {
            cache.insert(cache_key, token.clone());
        }
        Ok(token)
    }

    /// The `token` property.
    fn token(&self, client: &HttpClient, header: &str) -> Result<String> {
        let configured = self.eval(&self.session_token, "session_token")?;
        if truthy(&configured) {
            let token = python_str(&configured);
            if self.is_valid(client, header, &token)? {
                return Ok(token);
            }
        }
        let password = self.eval(&self.password, "password")?;
        let username = self.eval(&self.username, "username")?;
        if truthy(&password) && truthy(&username) {
            tracing::info!("Using generated session token by username and password");
            return self.login(client, &username, &password);
        }
        Err(self.connection_error(
            "Invalid credentials: session token is not valid or provide username and password"
                .into(),
        ))
    }
}

impl Authenticator for LegacySessionTokenAuthenticator {
    fn request_options(&self, client: &HttpClient) -> Result<RequestOptions> {
        let header = self.eval_str(&self.header, "header")?;
        let mut options = RequestOptions::default();
        if header.is_empty() {
            return Ok(options);
        }
        let token = self.token(client, &header)?;
        options.headers.insert(header, Value::String(token));
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_server::TestServer;
    use crate::factory::BuildEnv;
    use crate::http::{HttpClientOptions, Secrets};

    #[test]
    fn an_invalid_configured_token_falls_back_to_a_login() {
        let server = TestServer::start(vec![
            (401, "{}".into()),
            (200, r#"{"id": "sess-42"}"#.into()),
        ]);
        let node = json!({"type": "LegacySessionTokenAuthenticator", "header": "X-Session",
            "session_token": "{{ config.token }}", "session_token_response_key": "id",
            "username": "{{ config.user }}", "password": "{{ config.password }}",
            "login_url": "session", "validate_session_url": "user/current"});
        let env = BuildEnv {
            config: json!({"token": "old", "user": "u", "password": "p-unique-legacy"}),
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        let base = format!("{}/api/", server.url());
        let auth = LegacySessionTokenAuthenticator::from_node(
            Node::new(&node, &path, &env).unwrap(),
            Some(&base),
        )
        .unwrap();
        let client = HttpClient::new(&HttpClientOptions::default(), Secrets::default()).unwrap();
        let o = auth.request_options(&client).unwrap();
        assert_eq!(o.headers["X-Session"], json!("sess-42"));
        let requests = server.requests();
        assert!(
            requests[0].starts_with("GET /api/user/current HTTP/1.1"),
            "{}",
            requests[0]
        );
        assert!(requests[0].to_ascii_lowercase().contains("x-session: old"));
        assert!(
            requests[1].starts_with("POST /api/session HTTP/1.1"),
            "{}",
            requests[1]
        );
        assert!(requests[1].ends_with(r#"{"username": "u", "password": "p-unique-legacy"}"#));
    }
}
