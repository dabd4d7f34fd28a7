//! `OAuthAuthenticator` (the CDK's `DeclarativeOauth2Authenticator`): an access token from a
//! token endpoint (grant `refresh_token` or `client_credentials`, or any other grant type the
//! manifest names), fetched on the first request and again when it has expired, sent as
//! `Authorization: Bearer <token>`; or an `access_token_value` used as it is.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use super::Authenticator;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::{HttpClient, HttpRequest, HttpResponse, RequestBody};
use crate::interpolation::{Context, InterpolatedMapping, InterpolatedString};
use crate::requesters::{RequestOptions, python_str, with_query};
use crate::truthiness::truthy;

/// How long the CDK retries a token request that failed with 429, 5xx or a network error.
const REFRESH_MAX_TIME: Duration = Duration::from_secs(300);
/// How deep the token and expiry are looked for in the response.
const MAX_DEPTH: usize = 5;

/// An `OAuthAuthenticator`.
#[derive(Debug)]
pub struct OAuthAuthenticator {
    config: Value,
    path: ManifestPath,
    token_refresh_endpoint: Option<InterpolatedString>,
    client_id_name: InterpolatedString,
    client_id: Option<InterpolatedString>,
    client_secret_name: InterpolatedString,
    client_secret: Option<InterpolatedString>,
    refresh_token_name: InterpolatedString,
    refresh_token: Option<InterpolatedString>,
    access_token_name: InterpolatedString,
    expires_in_name: InterpolatedString,
    grant_type_name: InterpolatedString,
    grant_type: InterpolatedString,
    scopes: Vec<String>,
    refresh_request_body: InterpolatedMapping,
    refresh_request_headers: InterpolatedMapping,
    send_as_query_params: bool,
    /// `token_expiry_date_format` is set: the expiry field is a date, not a number of seconds.
    expiry_is_time_of_expiration: bool,
    refresh_token_error_status_codes: Vec<u16>,
    refresh_token_error_key: String,
    refresh_token_error_values: Vec<String>,
    state: Mutex<TokenState>,
    /// With `refresh_token_updater` (the CDK's `SingleUseRefreshTokenOauth2Authenticator`):
    /// the tokens live in the config, shared by every stream.
    single_use: Option<SingleUse>,
}

/// The cached token. Without a token the expiry is `datetime.min` (expired).
#[derive(Debug, Clone)]
struct TokenState {
    access_token: Option<String>,
    expiry: DateTime<Utc>,
}

impl TokenState {
    fn has_expired(&self) -> bool {
        match &self.access_token {
            None => true,
            Some(_) => Utc::now() > self.expiry,
        }
    }
}

impl OAuthAuthenticator {
    /// Builds it from its node, checking it as the CDK does when it builds it.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        if node.get("profile_assertion").is_some()
            || node.opt_bool("use_profile_assertion").ok().flatten() == Some(true)
        {
            return Err(EngineError::manifest(
                &node.child_path("profile_assertion"),
                "the native engine does not support the OAuth profile assertion flow; run this manifest with the Python CDK instead (`--use-python`)",
            ));
        }
        let params = node.parameters();
        let config = node.config().clone();
        let context = Context::new(&config);
        let named = |key: &str, default: &str| -> Result<InterpolatedString> {
            let text = node.opt_str(key)?.filter(|s| !s.is_empty());
            Ok(InterpolatedString::new(
                text.unwrap_or_else(|| default.into()),
                params,
            ))
        };
        // `InterpolatedString.create(x) if x else x`: an empty template stays empty.
        let optional = |key: &str| -> Result<Option<InterpolatedString>> {
            Ok(node
                .opt_str(key)?
                .map(|s| InterpolatedString::new(s, params)))
        };
        let client_id = optional("client_id")?;
        let client_secret = optional("client_secret")?;
        if client_id.is_none() || client_secret.is_none() {
            return Err(EngineError::manifest(
                node.path,
                "OAuthAuthenticator configuration error: Both 'client_id' and 'client_secret' are required for the basic OAuth flow.",
            ));
        }
        let refresh_token = optional("refresh_token")?;
        let grant_type = named("grant_type", "refresh_token")?;
        let updater_path = node.child_path("refresh_token_updater");
        let single_use = match node.child("refresh_token_updater", &updater_path)? {
            Some(updater) => Some(SingleUse::from_node(
                &node,
                updater,
                &client_id,
                &client_secret,
            )?),
            None => None,
        };
        let grant = grant_type
            .eval_to_string(&context)
            .map_err(|e| EngineError::interpolation(&node.child_path("grant_type"), e))?;
        if grant == "refresh_token" && refresh_token.is_none() && single_use.is_none() {
            return Err(EngineError::manifest(
                node.path,
                "OAuthAuthenticator configuration error: A 'refresh_token' is required when the 'grant_type' is set to 'refresh_token'.",
            ));
        }
        let mapping = |key: &str| -> Result<InterpolatedMapping> {
            Ok(InterpolatedMapping::new(
                node.opt_object(key)?.cloned().unwrap_or_default(),
                params,
            ))
        };
        let access_token = match node.opt_str("access_token_value")? {
            Some(template) if !template.is_empty() => Some(
                InterpolatedString::new(template, params)
                    .eval_to_string(&context)
                    .map_err(|e| {
                        EngineError::interpolation(&node.child_path("access_token_value"), e)
                    })?,
            ),
            _ => None,
        };
        let expiry = initial_expiry(&node, &context)?;
        let scopes = node.opt_str_list("scopes")?.unwrap_or_default();
        let codes = node
            .opt_array("refresh_token_error_status_codes")?
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_u64().and_then(|c| u16::try_from(c).ok()))
            .collect();
        Ok(Self {
            path: node.path.clone(),
            token_refresh_endpoint: optional("token_refresh_endpoint")?,
            client_id_name: named("client_id_name", "client_id")?,
            client_id,
            client_secret_name: named("client_secret_name", "client_secret")?,
            client_secret,
            refresh_token_name: named("refresh_token_name", "refresh_token")?,
            refresh_token,
            access_token_name: named("access_token_name", "access_token")?,
            expires_in_name: named("expires_in_name", "expires_in")?,
            grant_type_name: named("grant_type_name", "grant_type")?,
            grant_type,
            scopes,
            refresh_request_body: mapping("refresh_request_body")?,
            refresh_request_headers: mapping("refresh_request_headers")?,
            send_as_query_params: node
                .opt_bool("send_refresh_request_as_query_params")?
                .unwrap_or(false),
            expiry_is_time_of_expiration: node
                .opt_str("token_expiry_date_format")?
                .is_some_and(|f| !f.is_empty()),
            refresh_token_error_status_codes: codes,
            refresh_token_error_key: node.opt_str("refresh_token_error_key")?.unwrap_or_default(),
            refresh_token_error_values: node
                .opt_str_list("refresh_token_error_values")?
                .unwrap_or_default(),
            state: Mutex::new(TokenState {
                access_token,
                expiry,
            }),
            single_use,
            config,
        })
    }

    fn context(&self) -> Context {
        Context::new(&self.config)
    }

    fn eval(&self, template: &InterpolatedString, key: &str) -> Result<Value> {
        template
            .eval(&self.context())
            .map_err(|e| EngineError::interpolation(&self.path.key(key), e))
    }

    fn eval_str(&self, template: &InterpolatedString, key: &str) -> Result<String> {
        template
            .eval_to_string(&self.context())
            .map_err(|e| EngineError::interpolation(&self.path.key(key), e))
    }

    /// `get_token_refresh_endpoint`: `None` without one; an error when it renders empty.
    fn endpoint(&self) -> Result<Option<String>> {
        let Some(template) = &self.token_refresh_endpoint else {
            return Ok(None);
        };
        let url = self.eval_str(template, "token_refresh_endpoint")?;
        if url.is_empty() || url == "None" {
            return Err(EngineError::manifest(
                &self.path.key("token_refresh_endpoint"),
                "OAuthAuthenticator was unable to evaluate token_refresh_endpoint parameter",
            ));
        }
        Ok(Some(url))
    }

    fn headers(&self) -> Result<Map<String, Value>> {
        self.refresh_request_headers
            .eval(&self.context(), None)
            .map_err(|e| EngineError::interpolation(&self.path.key("refresh_request_headers"), e))
    }

    /// `_build_standard_refresh_args`: grant type, client credentials (unless the refresh
    /// headers carry an `Authorization`), refresh token, scopes, then the extra body fields
    /// that do not collide with those.
    /// The client credentials and refresh token of the normal flow, from the templates.
    fn credentials(&self) -> Result<Credentials> {
        let client_id = match &self.client_id {
            Some(t) if !t.as_str().is_empty() => self.eval(t, "client_id")?,
            _ => Value::Null,
        };
        let client_secret = match &self.client_secret {
            Some(t) if !t.as_str().is_empty() => self.eval(t, "client_secret")?,
            Some(_) => Value::String(String::new()),
            None => Value::Null,
        };
        let refresh_token = match &self.refresh_token {
            Some(t) => Value::String(self.eval_str(t, "refresh_token")?),
            None => Value::Null,
        };
        Ok(Credentials {
            client_id,
            client_secret,
            refresh_token_name: self.eval_str(&self.refresh_token_name, "refresh_token_name")?,
            refresh_token,
        })
    }

    fn refresh_args(
        &self,
        headers: &Map<String, Value>,
        credentials: Credentials,
    ) -> Result<Vec<(String, Value)>> {
        let mut args: Vec<(String, Value)> = Vec::new();
        let set = |args: &mut Vec<(String, Value)>, key: String, value: Value| match args
            .iter_mut()
            .find(|(k, _)| *k == key)
        {
            Some(slot) => slot.1 = value,
            None => args.push((key, value)),
        };
        set(
            &mut args,
            self.eval_str(&self.grant_type_name, "grant_type_name")?,
            self.eval(&self.grant_type, "grant_type")?,
        );
        if !headers.contains_key("Authorization") {
            let client_id = credentials.client_id;
            if !truthy(&client_id) {
                return Err(EngineError::manifest(
                    &self.path.key("client_id"),
                    "OAuthAuthenticator was unable to evaluate client_id parameter",
                ));
            }
            set(
                &mut args,
                self.eval_str(&self.client_id_name, "client_id_name")?,
                client_id,
            );
            let client_secret = credentials.client_secret;
            if !truthy(&client_secret) {
                tracing::warn!(
                    "OAuthAuthenticator was unable to evaluate client_secret parameter hence it'll be empty"
                );
            }
            set(
                &mut args,
                self.eval_str(&self.client_secret_name, "client_secret_name")?,
                client_secret,
            );
        }
        set(
            &mut args,
            credentials.refresh_token_name,
            credentials.refresh_token,
        );
        if !self.scopes.is_empty() {
            set(
                &mut args,
                "scopes".into(),
                Value::Array(self.scopes.iter().cloned().map(Value::String).collect()),
            );
        }
        let extra = self
            .refresh_request_body
            .eval(&self.context(), None)
            .map_err(|e| EngineError::interpolation(&self.path.key("refresh_request_body"), e))?;
        for (k, v) in extra {
            if !args.iter().any(|(existing, _)| *existing == k) {
                args.push((k, v));
            }
        }
        Ok(args)
    }

    /// The token request, as `requests.request("POST", ..., data=..., headers=..., params=...)`
    /// builds it.
    fn refresh_request(&self, endpoint: &str, credentials: Credentials) -> Result<HttpRequest> {
        let headers = self.headers()?;
        let args = self.refresh_args(&headers, credentials)?;
        let pairs = form_pairs(&args);
        let (body, query) = if self.send_as_query_params {
            (Vec::new(), pairs)
        } else {
            (pairs, Vec::new())
        };
        let url = if query.is_empty() {
            endpoint.to_string()
        } else {
            let mut params = Map::new();
            let mut list: Vec<(String, Vec<Value>)> = Vec::new();
            for (k, v) in query {
                match list.iter_mut().find(|(key, _)| *key == k) {
                    Some((_, values)) => values.push(Value::String(v)),
                    None => list.push((k, vec![Value::String(v)])),
                }
            }
            for (k, mut values) in list {
                let value = if values.len() == 1 {
                    values.remove(0)
                } else {
                    Value::Array(values)
                };
                params.insert(k, value);
            }
            with_query(endpoint, &params).map_err(|m| EngineError::Request {
                method: "POST".into(),
                url: endpoint.to_string(),
                message: m,
            })?
        };
        let mut headers: Vec<(String, String)> = headers
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), python_str(v)))
            .collect();
        super::add_requests_default_headers(&mut headers);
        Ok(HttpRequest {
            method: "POST".into(),
            url,
            headers,
            // requests sends no body (and no Content-Type) for empty data.
            body: (!body.is_empty()).then_some(RequestBody::Form(body)),
        })
    }

    /// `_make_handled_request` with its backoff: 429, 5xx and network errors are retried
    /// (1, 2, 4, ... s) for up to 5 minutes; other failures end the read.
    fn send_refresh(&self, client: &HttpClient, request: &HttpRequest) -> Result<Value> {
        let started = Instant::now();
        let mut tries: u32 = 0;
        let response = loop {
            tries += 1;
            let elapsed = started.elapsed();
            let outcome = client.send(request);
            let retryable = match &outcome {
                Err(EngineError::Request { .. }) => true,
                Ok(r) => r.status == 429 || r.status >= 500,
                Err(_) => false,
            };
            if !retryable || elapsed >= REFRESH_MAX_TIME {
                break outcome?;
            }
            let wait = Duration::from_secs_f64(2f64.powi(tries.saturating_sub(1).min(30) as i32))
                .min(REFRESH_MAX_TIME.saturating_sub(elapsed));
            tracing::info!(
                attempt = tries,
                wait_s = wait.as_secs_f64(),
                "retrying the OAuth token request"
            );
            std::thread::sleep(wait);
        };
        if !response.ok() {
            return Err(self.refresh_failed(client, request, &response));
        }
        serde_json::from_slice(&response.body).map_err(|e| EngineError::Decode {
            url: client.secrets().mask(&request.url),
            message: format!(
                "OAuth access token refresh request failed: the response is not JSON ({e})"
            ),
        })
    }

    fn refresh_failed(
        &self,
        client: &HttpClient,
        request: &HttpRequest,
        response: &HttpResponse,
    ) -> EngineError {
        let body: String = response.text().chars().take(1000).collect();
        let content = response.json().and_then(Value::as_object);
        let rejected = self
            .refresh_token_error_status_codes
            .contains(&response.status)
            && content
                .and_then(|c| c.get(&self.refresh_token_error_key))
                .and_then(Value::as_str)
                .is_some_and(|v| self.refresh_token_error_values.iter().any(|x| x == v));
        let lead = if rejected {
            "Refresh token was rejected by the OAuth provider (invalid, expired, or already used). Re-authenticate this source's credentials in its connection settings."
        } else {
            "The OAuth token endpoint refused the token request: check the client id, client secret and refresh token in the config."
        };
        let secrets = client.secrets();
        EngineError::HttpStatus {
            method: request.method.clone(),
            url: secrets.mask(&request.url),
            status: response.status,
            message: secrets.mask(&format!(
                "{lead} (authenticator {}); response: {body}",
                self.path
            )),
        }
    }

    /// `refresh_access_token`: the token and its expiry from the endpoint's answer.
    fn refresh(
        &self,
        client: &HttpClient,
        endpoint: &str,
        state: &TokenState,
    ) -> Result<TokenState> {
        let request = self.refresh_request(endpoint, self.credentials()?)?;
        let body = self.send_refresh(client, &request)?;
        self.token_from(client, &request, &body, state)
    }

    /// The token and its expiry from the token endpoint's answer.
    fn token_from(
        &self,
        client: &HttpClient,
        request: &HttpRequest,
        body: &Value,
        state: &TokenState,
    ) -> Result<TokenState> {
        let token_name = self.eval_str(&self.access_token_name, "access_token_name")?;
        let token = find_value(body, &token_name, 0).map_err(|m| self.error(m))?;
        let token = match token {
            Some(t) if truthy(&t) => python_str(&t),
            _ => {
                return Err(EngineError::Decode {
                    url: client.secrets().mask(&request.url),
                    message: format!(
                        "Token refresh API response was missing access token {token_name}"
                    ),
                });
            }
        };
        client.secrets().add(&token);
        let expires_name = self.eval_str(&self.expires_in_name, "expires_in_name")?;
        let expires = find_value(body, &expires_name, 0).map_err(|m| self.error(m))?;
        let expiry = match expires.filter(|v| !v.is_null()) {
            Some(value) => self.parse_expiry(&value)?,
            None if !state.has_expired() => state.expiry,
            // The CDK's default lifetime when the answer gives none: one hour.
            None => Utc::now() + TimeDelta::hours(1),
        };
        Ok(TokenState {
            access_token: Some(token),
            expiry,
        })
    }

    /// `_parse_token_expiration_date`: a date when a format is configured, else seconds.
    fn parse_expiry(&self, value: &Value) -> Result<DateTime<Utc>> {
        let text = python_str(value);
        if self.expiry_is_time_of_expiration {
            return ab_datetime_parse(&text)
                .ok_or_else(|| self.error(format!("Invalid token expiry date format: {text:?}")));
        }
        let seconds = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|f| f.is_finite())
        .ok_or_else(|| {
            self.error(format!(
                "Invalid expires_in value: {text}. Expected number of seconds when no format specified."
            ))
        })?;
        Ok(Utc::now() + TimeDelta::seconds(seconds.trunc() as i64))
    }

    fn error(&self, message: impl Into<String>) -> EngineError {
        EngineError::manifest(&self.path, message)
    }

    /// The access token: the given one, or the cached one while it is valid, else a new one.
    pub fn access_token(&self, client: &HttpClient) -> Result<String> {
        let endpoint = self.endpoint()?;
        if let (Some(single_use), Some(endpoint)) = (&self.single_use, &endpoint) {
            return self.single_use_token(client, single_use, endpoint);
        }
        // One refresh at a time, as the CDK's class-level refresh lock does.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if endpoint.is_none() {
            // `_is_access_token_flow`: a token given directly, no endpoint to renew it.
            return state.access_token.clone().ok_or_else(|| {
                self.error("access_token is not set: the OAuthAuthenticator has neither access_token_value nor token_refresh_endpoint")
            });
        }
        if state.has_expired()
            && let Some(endpoint) = &endpoint
        {
            *state = self.refresh(client, endpoint, &state)?;
        }
        state
            .access_token
            .clone()
            .ok_or_else(|| self.error("access_token is not set"))
    }
}

/// The client credentials and refresh token a token request sends.
#[derive(Debug, Clone)]
struct Credentials {
    client_id: Value,
    client_secret: Value,
    refresh_token_name: String,
    refresh_token: Value,
}

/// The configs the single-use flow mutates, by the config they started from: the CDK writes
/// the new tokens into the connector config every stream shares.
static SHARED_CONFIGS: LazyLock<Mutex<HashMap<String, Value>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// `refresh_token_updater`: where the tokens are in the config.
#[derive(Debug, Clone)]
struct SingleUse {
    refresh_token_name: String,
    access_token_path: Vec<String>,
    refresh_token_path: Vec<String>,
    expiry_path: Vec<String>,
    client_id: Value,
    client_secret: Value,
}

impl SingleUse {
    fn from_node(
        node: &Node<'_>,
        updater: Node<'_>,
        client_id: &Option<InterpolatedString>,
        client_secret: &Option<InterpolatedString>,
    ) -> Result<Self> {
        let path = |key: &str, default: &[&str]| -> Result<Vec<String>> {
            Ok(updater
                .opt_str_list(key)?
                .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect()))
        };
        let context = Context::new(node.config());
        // The factory evaluates the credentials once; `credentials.client_id` (and
        // `client_secret`) in the config win over them.
        let credential = |template: &Option<InterpolatedString>, key: &str| -> Result<Value> {
            let given = match template {
                Some(t) if !t.as_str().is_empty() => t
                    .eval(&context)
                    .map_err(|e| EngineError::interpolation(&node.child_path(key), e))?,
                _ => Value::String(String::new()),
            };
            let from_config =
                dpath_get(node.config(), &["credentials".to_string(), key.to_string()]);
            Ok(from_config.cloned().unwrap_or(given))
        };
        Ok(Self {
            refresh_token_name: updater
                .opt_str("refresh_token_name")?
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "refresh_token".into()),
            access_token_path: path("access_token_config_path", &["credentials", "access_token"])?,
            refresh_token_path: path(
                "refresh_token_config_path",
                &["credentials", "refresh_token"],
            )?,
            expiry_path: path(
                "token_expiry_date_config_path",
                &["credentials", "token_expiry_date"],
            )?,
            client_id: credential(client_id, "client_id")?,
            client_secret: credential(client_secret, "client_secret")?,
        })
    }

    /// `get_token_expiry_date`: the config's date; empty or absent means yesterday.
    fn expiry(&self, config: &Value, at: &ManifestPath) -> Result<DateTime<Utc>> {
        match dpath_get(config, &self.expiry_path) {
            None => Ok(Utc::now() - TimeDelta::days(1)),
            Some(Value::String(s)) if s.is_empty() => Ok(Utc::now() - TimeDelta::days(1)),
            Some(v) => {
                let text = python_str(v);
                ab_datetime_parse(&text).ok_or_else(|| {
                    EngineError::manifest(
                        at,
                        format!(
                            "Invalid token expiry date in the config at {:?}: {text:?}",
                            self.expiry_path
                        ),
                    )
                })
            }
        }
    }
}

/// `dpath.get`: mappings by key, lists by index.
fn dpath_get<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut current = value;
    for key in path {
        current = match current {
            Value::Object(map) => map.get(key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// `dpath.new`: sets the value, creating the mappings on the way.
fn dpath_new(value: &mut Value, path: &[String], new: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = value;
    for key in parents {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let Value::Object(map) = current else { return };
        current = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !current.is_object() {
        *current = Value::Object(Map::new());
    }
    if let Value::Object(map) = current {
        map.insert(last.clone(), new);
    }
}

impl OAuthAuthenticator {
    /// The single-use flow: the token in the (shared, mutated) config while its expiry date
    /// is ahead, else a refresh with the config's refresh token, whose answer (access token,
    /// new refresh token, expiry) is written back into the config.
    fn single_use_token(
        &self,
        client: &HttpClient,
        su: &SingleUse,
        endpoint: &str,
    ) -> Result<String> {
        let key = serde_json::to_string(&self.config).unwrap_or_default();
        let mut store = SHARED_CONFIGS.lock().unwrap_or_else(|e| e.into_inner());
        let config = store.entry(key).or_insert_with(|| self.config.clone());
        let expiry = su.expiry(config, &self.path)?;
        if Utc::now() > expiry {
            let refresh_token = dpath_get(config, &su.refresh_token_path)
                .cloned()
                .unwrap_or_else(|| Value::String(String::new()));
            let credentials = Credentials {
                client_id: su.client_id.clone(),
                client_secret: su.client_secret.clone(),
                refresh_token_name: su.refresh_token_name.clone(),
                refresh_token,
            };
            let request = self.refresh_request(endpoint, credentials)?;
            let body = self.send_refresh(client, &request)?;
            let expired = TokenState {
                access_token: None,
                expiry,
            };
            let state = self.token_from(client, &request, &body, &expired)?;
            let new_refresh = find_value(&body, &su.refresh_token_name, 0)
                .map_err(|m| self.error(m))?
                .filter(|v| !v.is_null());
            if let Some(token) = state.access_token {
                dpath_new(config, &su.access_token_path, Value::String(token));
            }
            if let Some(refresh) = new_refresh {
                if let Value::String(s) = &refresh {
                    client.secrets().add(s);
                }
                dpath_new(config, &su.refresh_token_path, refresh);
            }
            dpath_new(
                config,
                &su.expiry_path,
                Value::String(
                    state
                        .expiry
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
                ),
            );
            tracing::info!(
                "the OAuth tokens were renewed; the updated config is kept for this run only"
            );
        }
        Ok(dpath_get(config, &su.access_token_path)
            .map(python_str)
            .unwrap_or_default())
    }
}

impl Authenticator for OAuthAuthenticator {
    fn request_options(&self, client: &HttpClient) -> Result<RequestOptions> {
        let token = self.access_token(client)?;
        let mut options = RequestOptions::default();
        options.headers.insert(
            "Authorization".into(),
            Value::String(format!("Bearer {token}")),
        );
        Ok(options)
    }
}

/// The expiry before the first token: `token_expiry_date` (a timestamp, or a date template
/// over the config), else yesterday (so that a given `access_token_value` is refreshed when
/// there is an endpoint).
fn initial_expiry(node: &Node<'_>, context: &Context) -> Result<DateTime<Utc>> {
    let at = node.child_path("token_expiry_date");
    let value = match node.get("token_expiry_date") {
        None => return Ok(Utc::now() - TimeDelta::days(1)),
        Some(Value::Number(n)) => Value::String(n.to_string()),
        Some(Value::String(s)) if s.is_empty() => return Ok(Utc::now() - TimeDelta::days(1)),
        Some(Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) => Value::String(s.clone()),
        Some(Value::String(s)) => InterpolatedString::new(s.clone(), node.parameters())
            .eval(context)
            .map_err(|e| EngineError::interpolation(&at, e))?,
        Some(other) => {
            return Err(EngineError::manifest(
                &at,
                format!("Invalid token expiry date format: {other}"),
            ));
        }
    };
    let text = python_str(&value);
    ab_datetime_parse(&text).ok_or_else(|| {
        EngineError::manifest(&at, format!("Invalid token expiry date format: {text:?}"))
    })
}

/// `ab_datetime_parse`: a Unix timestamp (digits), else an ISO-8601 date or date-time (naive
/// means UTC).
pub(super) fn ab_datetime_parse(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        if t.len() > 10 {
            return None;
        }
        let seconds: i64 = t.parse().ok()?;
        return DateTime::from_timestamp(seconds, 0);
    }
    crate::interpolation::datetime::isoparse(t).map(|d| d.with_timezone(&Utc))
}

/// `_find_and_get_value_from_response`: the key at the top level, else the first non-null
/// value found depth-first in nested mappings and lists (at most 5 levels down).
fn find_value(data: &Value, key: &str, depth: usize) -> std::result::Result<Option<Value>, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "The maximum level of recursion is reached. Couldn't find the specified `{key}` in the response."
        ));
    }
    match data {
        Value::Object(map) => {
            if let Some(v) = map.get(key) {
                return Ok(Some(v.clone()));
            }
            for v in map.values() {
                if let Some(found) = find_value(v, key, depth + 1)?
                    && !found.is_null()
                {
                    return Ok(Some(found));
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                if let Some(found) = find_value(v, key, depth + 1)?
                    && !found.is_null()
                {
                    return Ok(Some(found));
                }
            }
        }
        _ => {}
    }
    Ok(None)
}

/// Form pairs as requests encodes a `data=` mapping: `None` dropped, lists repeated, other
/// values as `str()`.
pub(super) fn form_pairs(args: &[(String, Value)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in args {
        match v {
            Value::Null => {}
            Value::Array(items) => {
                for item in items.iter().filter(|i| !i.is_null()) {
                    out.push((k.clone(), python_str(item)));
                }
            }
            // Iterating a dict gives its keys.
            Value::Object(map) => {
                for key in map.keys() {
                    out.push((k.clone(), key.clone()));
                }
            }
            other => out.push((k.clone(), python_str(other))),
        }
    }
    out
}

#[cfg(test)]
#[path = "oauth_tests.rs"]
mod tests;
