//! `HttpRequester`: builds a request from the manifest's URL, options and authenticator, sends
//! it, and retries or fails as its error handler says.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{InterpolatedRequestOptions, RequestOptions};
use crate::auth::{self, Authenticator};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::error_handlers::{self, ErrorHandler, ResponseAction};
use crate::factory::Node;
use crate::http::{HttpClient, HttpRequest, HttpResponse, RequestBody};
use crate::interpolation::{Context, InterpolatedString};
use crate::url_join::urljoin;

/// Methods whose requests carry a body (as the CDK's `BODY_REQUEST_METHODS`).
const BODY_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH"];

/// An `HttpRequester`.
#[derive(Debug)]
pub struct HttpRequester {
    name: String,
    url_base: Option<InterpolatedString>,
    path_template: Option<InterpolatedString>,
    url: Option<InterpolatedString>,
    method: String,
    options: InterpolatedRequestOptions,
    /// The authenticator.
    pub authenticator: Arc<dyn Authenticator>,
    error_handler: Arc<dyn ErrorHandler>,
    api_budget: Option<Arc<super::ApiBudget>>,
    path: ManifestPath,
}

impl HttpRequester {
    /// Builds it from its node; `name` is the stream's.
    pub fn from_node(node: Node<'_>, name: &str) -> Result<Self> {
        let auth_path = node.child_path("authenticator");
        let authenticator = match node.child("authenticator", &auth_path)? {
            Some(a) => auth::from_requester_node(a, node)?,
            None => auth::no_auth(),
        };
        let handler_path = node.child_path("error_handler");
        let error_handler = match node.child("error_handler", &handler_path)? {
            Some(h) => error_handlers::from_node(h)?,
            None => error_handlers::default_handler(),
        };
        let method = node
            .opt_str("http_method")?
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase();
        let url_base = node.opt_interpolated("url_base")?;
        let url = node.opt_interpolated("url")?;
        if url_base.is_none() && url.is_none() {
            return Err(EngineError::manifest(
                node.path,
                "HttpRequester requires url_base or url",
            ));
        }
        Ok(Self {
            name: name.to_string(),
            url_base,
            path_template: node.opt_interpolated("path")?,
            url,
            method,
            options: InterpolatedRequestOptions::from_node(node)?,
            authenticator,
            error_handler,
            api_budget: node.env.api_budget.clone(),
            path: node.path.clone(),
        })
    }

    /// The URL base rendered in `context` (used by `RequestPath` pagination).
    pub fn url_base(&self, context: &Context) -> Result<String> {
        match self.url_base.as_ref().or(self.url.as_ref()) {
            Some(u) => u
                .eval_to_string(context)
                .map_err(|e| EngineError::interpolation(&self.path.key("url_base"), e)),
            None => Ok(String::new()),
        }
    }

    /// The full URL (`_get_url`): `url_base` joined with the path (the paginator's when it
    /// gives one), else `url`.
    fn full_url(&self, context: &Context, path_override: Option<&str>) -> Result<String> {
        let eval = |s: &InterpolatedString, key: &str| {
            s.eval_to_string(context)
                .map_err(|e| EngineError::interpolation(&self.path.key(key), e))
        };
        let url_base = match &self.url_base {
            Some(u) => eval(u, "url_base")?,
            None => String::new(),
        };
        let url = match &self.url {
            Some(u) => eval(u, "url")?,
            None => String::new(),
        };
        let path = match path_override {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => match &self.path_template {
                Some(p) => eval(p, "path")?.trim_start_matches('/').to_string(),
                None => String::new(),
            },
        };
        let join = |base: &str, path: &str| -> Result<String> {
            if path.is_empty() {
                return Ok(base.to_string());
            }
            let base = if base.ends_with('/') {
                base.to_string()
            } else {
                format!("{base}/")
            };
            urljoin(&base, path).map_err(|e| EngineError::manifest(&self.path, e.0))
        };
        if !url_base.is_empty() {
            join(&url_base, &path)
        } else if !path.is_empty() {
            join(&url, &path)
        } else {
            Ok(url)
        }
    }

    /// Sends one request for `context` with the retriever's `extra` options (paginator and
    /// stream slicer), retrying as the error handler says. A response the error handler
    /// ignores is returned as it is (its records are not read, and it ends the slice).
    pub fn send(
        &self,
        client: &HttpClient,
        context: &Context,
        extra: RequestOptions,
        path_override: Option<&str>,
    ) -> Result<HttpResponse> {
        self.exchange(client, context, extra, path_override)
            .map(|(_, response)| response)
    }

    /// [`HttpRequester::send`], with the request as it was sent (an async job's templates read
    /// the creation request's headers: `creation_response.request.headers`).
    pub fn exchange(
        &self,
        client: &HttpClient,
        context: &Context,
        extra: RequestOptions,
        path_override: Option<&str>,
    ) -> Result<(HttpRequest, HttpResponse)> {
        let mut options = self.options.eval(context)?;
        let auth_options = self.authenticator.request_options(client)?;
        options.combine(auth_options)?;
        options.combine(extra)?;
        let url = self.full_url(context, path_override)?;
        let request = self.build(url, options)?;
        let response = self.send_with_retries(client, &request)?;
        Ok((request, response))
    }

    /// The name of the stream it requests for.
    pub fn stream_name(&self) -> &str {
        &self.name
    }

    /// Where the requester is in the manifest.
    pub fn manifest_path(&self) -> &ManifestPath {
        &self.path
    }

    fn build(&self, url: String, options: RequestOptions) -> Result<HttpRequest> {
        for (k, v) in &options.params {
            if v.is_object() {
                return Err(EngineError::Input(format!(
                    "Invalid value for `{k}` parameter. The values of request params cannot be an object."
                )));
            }
        }
        let url = with_query(&url, &options.params).map_err(|m| EngineError::Request {
            method: self.method.clone(),
            url: url.clone(),
            message: m,
        })?;
        let headers = options
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), python_str(v)))
            .collect();
        let mut body = None;
        if BODY_METHODS.contains(&self.method.as_str()) {
            let has_data = !options.body_data.is_empty() || options.body_text.is_some();
            if !options.body_json.is_empty() && has_data {
                return Err(EngineError::Input(
                    "At the same time only one of the 'request_body_data' and 'request_body_json' functions can return data".into(),
                ));
            }
            if !options.body_json.is_empty() {
                body = Some(RequestBody::Json(Value::Object(options.body_json)));
            } else if let Some(text) = options.body_text {
                body = Some(RequestBody::Raw(text));
            } else if !options.body_data.is_empty() {
                body = Some(RequestBody::Form(form_pairs(&options.body_data)));
            }
        }
        Ok(HttpRequest {
            method: self.method.clone(),
            url,
            headers,
            body,
        })
    }

    /// Sends `request` until the error handler accepts the response, as the CDK's
    /// `HttpClient._send_with_retry` does (the retry budget is [`error_handlers::Retrier`]'s).
    fn send_with_retries(
        &self,
        client: &HttpClient,
        request: &HttpRequest,
    ) -> Result<HttpResponse> {
        let mut retrier = error_handlers::Retrier::new(self.error_handler.as_ref());
        loop {
            retrier.start_attempt();
            // Each attempt is a call against the budget, as the CDK's limiter session counts
            // every request it sends.
            if let Some(budget) = &self.api_budget {
                budget.acquire(request);
            }
            let outcome = client.send(request);
            if let (Some(budget), Ok(response)) = (&self.api_budget, &outcome) {
                budget.update_from_response(request, response);
            }
            let resolution = self.error_handler.interpret(outcome.as_ref())?;
            match resolution.action {
                ResponseAction::Success => return outcome,
                ResponseAction::Ignore => {
                    tracing::info!(
                        stream = %self.name,
                        url = %client.secrets().mask(&request.url),
                        message = resolution.message.as_deref().unwrap_or(""),
                        "ignoring the response"
                    );
                    return outcome;
                }
                ResponseAction::Fail => {
                    let error = error_handlers::fail_error(
                        request,
                        outcome,
                        &resolution,
                        client.secrets(),
                        &self.name,
                        &self.path,
                    );
                    return Err(
                        if resolution.failure_type == Some(error_handlers::FailureType::ConfigError)
                        {
                            EngineError::ConfigError(Box::new(error))
                        } else {
                            error
                        },
                    );
                }
                ResponseAction::Retry | ResponseAction::RateLimited => {
                    let decision = retrier.decide(
                        self.error_handler.as_ref(),
                        &resolution,
                        outcome.as_ref().ok(),
                    )?;
                    match decision {
                        error_handlers::RetryDecision::GiveUp => {
                            return Err(error_handlers::exhausted_error(
                                request,
                                outcome,
                                &resolution,
                                retrier.attempts(),
                                client.secrets(),
                                &self.name,
                                &self.path,
                            ));
                        }
                        error_handlers::RetryDecision::Wait(wait) => {
                            tracing::info!(
                                stream = %self.name,
                                attempt = retrier.attempts(),
                                wait_s = wait.as_secs_f64(),
                                "retrying a request"
                            );
                            std::thread::sleep(wait);
                        }
                    }
                }
            }
        }
    }
}

/// A value as Python's `str()` shows it in a header or query string.
pub use crate::interpolation::python_repr::json_python_str as python_str;

fn form_pairs(map: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            Value::Array(items) => {
                for item in items {
                    out.push((k.clone(), python_str(item)));
                }
            }
            Value::Null => {}
            other => out.push((k.clone(), python_str(other))),
        }
    }
    out
}

/// `url` with `params` appended as Python requests does (`urlencode(doseq=True)`), after
/// dropping those the URL already has with the same value (`_dedupe_query_params`).
pub fn with_query(url: &str, params: &Map<String, Value>) -> std::result::Result<String, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    if params.is_empty() {
        return Ok(parsed.to_string());
    }
    let existing: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let first_value = |key: &str| {
        existing
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let pairs = form_pairs(
        &params
            .iter()
            .filter(|(k, v)| first_value(k).is_none_or(|existing| existing != python_str(v)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    if pairs.is_empty() {
        return Ok(parsed.to_string());
    }
    let encoded: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    let query = match parsed.query() {
        Some(q) if !q.is_empty() => format!("{q}&{encoded}"),
        _ => encoded,
    };
    parsed.set_query(Some(&query));
    Ok(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_is_appended_and_deduplicated_as_requests_does() {
        let params = json!({"page": 2, "q": "a b", "flag": true, "ids": [1, 2], "size": "10"});
        let url = with_query("https://x.io/v1/items?size=10", params.as_object().unwrap()).unwrap();
        assert_eq!(
            url,
            "https://x.io/v1/items?size=10&page=2&q=a+b&flag=True&ids=1&ids=2"
        );
    }
}
