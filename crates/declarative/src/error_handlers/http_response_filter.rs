//! `HttpResponseFilter`: matches a response by status (`http_codes`), by a Jinja `predicate`
//! over the body and headers, or by a substring of the API's error message
//! (`error_message_contains`), and says what to do with it.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as JinjaValue};
use serde_json::{Map, Value};

use super::{
    ErrorResolution, FailureType, ResponseAction, default_resolution, parse_response_error_message,
};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpResponse;
use crate::interpolation::{Context, InterpolatedBoolean, InterpolatedString};

/// An `HttpResponseFilter`.
#[derive(Debug, Clone)]
pub struct HttpResponseFilter {
    action: Option<ResponseAction>,
    failure_type: Option<FailureType>,
    http_codes: Vec<u16>,
    error_message_contains: Option<String>,
    predicate: Option<InterpolatedBoolean>,
    error_message: InterpolatedString,
    config: Value,
    path: ManifestPath,
}

impl HttpResponseFilter {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let action = node
            .opt_str("action")?
            .map(|a| ResponseAction::parse(&a, &node.child_path("action")))
            .transpose()?;
        let failure_type = node
            .opt_str("failure_type")?
            .map(|f| FailureType::parse(&f, &node.child_path("failure_type")))
            .transpose()?;
        let mut http_codes = Vec::new();
        for (i, code) in node
            .opt_array("http_codes")?
            .into_iter()
            .flatten()
            .enumerate()
        {
            let code = code
                .as_u64()
                .or_else(|| code.as_str().and_then(|s| s.trim().parse().ok()))
                .and_then(|c| u16::try_from(c).ok())
                .ok_or_else(|| {
                    EngineError::manifest(
                        &node.child_path("http_codes").index(i),
                        format!("expected an HTTP status code, found {code}"),
                    )
                })?;
            http_codes.push(code);
        }
        // The factory passes `predicate or ""` and `error_message_contains or ""`: empty means none.
        let predicate = match node.get("predicate") {
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::Bool(false)) => None,
            Some(v) => Some(InterpolatedBoolean::from_json(v, node.parameters())),
            None => None,
        };
        Ok(Self {
            action,
            failure_type,
            http_codes,
            error_message_contains: node
                .opt_str("error_message_contains")?
                .filter(|s| !s.is_empty()),
            predicate,
            error_message: InterpolatedString::new(
                node.opt_str("error_message")?.unwrap_or_default(),
                node.parameters(),
            ),
            config: node.config().clone(),
            path: node.path.clone(),
        })
    }

    /// The filter the CDK appends to every `DefaultErrorHandler`'s list: no action, it never
    /// matches.
    pub fn inert(config: &Value) -> Self {
        Self {
            action: None,
            failure_type: None,
            http_codes: Vec::new(),
            error_message_contains: None,
            predicate: None,
            error_message: InterpolatedString::new("", &Map::new()),
            config: config.clone(),
            path: ManifestPath::root(),
        }
    }

    /// `matches`: the resolution when the response matches this filter and the filter has an
    /// action. Transport failures never match.
    pub fn matches(
        &self,
        outcome: std::result::Result<&HttpResponse, &EngineError>,
    ) -> Result<Option<ErrorResolution>> {
        let Ok(response) = outcome else {
            return Ok(None);
        };
        let Some(action) = self.action else {
            return Ok(None);
        };
        let matched = self.http_codes.contains(&response.status)
            || self.matches_predicate(response)?
            || self.contains_error_message(response);
        if !matched {
            return Ok(None);
        }
        let default = default_resolution(response.status);
        let message = self.error_message(response)?;
        let message = match message {
            Some(m) => m,
            None => default
                .as_ref()
                .and_then(|d| d.message.clone())
                .unwrap_or_default(),
        };
        let failure_type = match (self.failure_type, &default) {
            (Some(f), _) if action == ResponseAction::Fail => f,
            (_, Some(d)) => d.failure_type.unwrap_or(FailureType::SystemError),
            _ => FailureType::SystemError,
        };
        Ok(Some(ErrorResolution::with(action, failure_type, message)))
    }

    /// The variables the CDK gives `predicate` and `error_message`: the body (`{}` when it is
    /// not JSON), the headers (case-insensitive, as requests' headers are) and the URL without
    /// its query, fragment and credentials.
    fn context(&self, response: &HttpResponse, config: &Value) -> Context {
        let body = response
            .json()
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let mut context = Context::new(config);
        context.set("response", &body);
        context.set_value(
            "headers",
            JinjaValue::from_object(Headers(response.headers.clone())),
        );
        context.set("request_url", &Value::String(request_url(&response.url)));
        context
    }

    fn matches_predicate(&self, response: &HttpResponse) -> Result<bool> {
        let Some(predicate) = &self.predicate else {
            return Ok(false);
        };
        // The CDK evaluates the predicate with `config=None`.
        predicate
            .eval(&self.context(response, &Value::Null))
            .map_err(|e| EngineError::interpolation(&self.path.key("predicate"), e))
    }

    fn contains_error_message(&self, response: &HttpResponse) -> bool {
        let Some(needle) = &self.error_message_contains else {
            return false;
        };
        parse_response_error_message(response)
            .is_some_and(|m| !m.is_empty() && m.contains(needle.as_str()))
    }

    fn error_message(&self, response: &HttpResponse) -> Result<Option<String>> {
        if self.error_message.as_str().is_empty() {
            return Ok(None);
        }
        let text = self
            .error_message
            .eval_to_string(&self.context(response, &self.config))
            .map_err(|e| EngineError::interpolation(&self.path.key("error_message"), e))?;
        Ok((!text.is_empty()).then_some(text))
    }
}

/// `HttpResponseFilter._request_url`: scheme, host and path only.
fn request_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => String::new(),
    }
}

/// Response headers as a template sees them: a mapping whose lookups ignore case, like
/// requests' `CaseInsensitiveDict` (`'Retry-After' in headers`, `headers.get('X-Rate')`).
#[derive(Debug)]
struct Headers(Vec<(String, String)>);

impl Object for Headers {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JinjaValue) -> Option<JinjaValue> {
        let key = key.as_str()?;
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| JinjaValue::from(v.clone()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.0
                .iter()
                .map(|(k, _)| JinjaValue::from(k.clone()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    fn filter(node: Value) -> HttpResponseFilter {
        let env = BuildEnv {
            config: json!({"name": "x"}),
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        HttpResponseFilter::from_node(Node::new(&node, &path, &env).unwrap()).unwrap()
    }

    fn response(status: u16, body: &str, headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse::new(
            status,
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body.as_bytes().to_vec(),
            "https://user:pw@api.io/v1/items?key=secret#f".into(),
        )
    }

    #[test]
    fn http_codes_match_with_the_default_message_and_failure_type() {
        let f = filter(
            json!({"type": "HttpResponseFilter", "action": "IGNORE", "http_codes": [403, 404]}),
        );
        let r = f.matches(Ok(&response(403, "{}", &[]))).unwrap().unwrap();
        assert_eq!(r.action, ResponseAction::Ignore);
        assert_eq!(r.failure_type, Some(FailureType::ConfigError));
        assert_eq!(
            r.message.as_deref(),
            Some(
                "HTTP Status Code: 403. Error: Forbidden. You don't have permission to access this resource."
            )
        );
        assert!(f.matches(Ok(&response(500, "{}", &[]))).unwrap().is_none());
    }

    #[test]
    fn failure_type_only_applies_to_fail() {
        let f = filter(
            json!({"action": "FAIL", "http_codes": [404], "failure_type": "config_error",
            "error_message": "missing {{ response.id }} for {{ config.name }} at {{ request_url }}"}),
        );
        let r = f
            .matches(Ok(&response(404, r#"{"id": 7}"#, &[])))
            .unwrap()
            .unwrap();
        assert_eq!(r.failure_type, Some(FailureType::ConfigError));
        assert_eq!(
            r.message.as_deref(),
            Some("missing 7 for x at https://api.io/v1/items")
        );
        let f =
            filter(json!({"action": "RETRY", "http_codes": [404], "failure_type": "config_error"}));
        let r = f.matches(Ok(&response(404, "{}", &[]))).unwrap().unwrap();
        assert_eq!(r.failure_type, Some(FailureType::SystemError));
    }

    #[test]
    fn predicate_sees_body_and_case_insensitive_headers() {
        let f = filter(
            json!({"action": "RETRY", "predicate": "{{ 'Retry-After' in headers and response.error.code == 32000 }}"}),
        );
        let hit = response(
            200,
            r#"{"error": {"code": 32000}}"#,
            &[("retry-after", "3")],
        );
        let r = f.matches(Ok(&hit)).unwrap().unwrap();
        assert_eq!(r.action, ResponseAction::Retry);
        assert_eq!(r.message, None);
        let miss = response(200, r#"{"error": {"code": 32000}}"#, &[]);
        assert!(f.matches(Ok(&miss)).unwrap().is_none());
        let f =
            filter(json!({"action": "IGNORE", "predicate": "{{ headers.get('X-Left') == '0' }}"}));
        assert!(
            f.matches(Ok(&response(200, "{}", &[("x-left", "0")])))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn error_message_contains_reads_the_api_message() {
        let f = filter(json!({"action": "IGNORE", "error_message_contains": "not enabled"}));
        let r = response(
            400,
            r#"{"errors": [{"message": "This API is not enabled"}]}"#,
            &[],
        );
        assert!(f.matches(Ok(&r)).unwrap().is_some());
        assert!(
            f.matches(Ok(&response(400, r#"{"message": "nope"}"#, &[])))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_filter_without_action_never_matches() {
        let f = filter(json!({"http_codes": [404]}));
        assert!(f.matches(Ok(&response(404, "{}", &[]))).unwrap().is_none());
        assert!(
            HttpResponseFilter::inert(&json!({}))
                .matches(Ok(&response(404, "{}", &[])))
                .unwrap()
                .is_none()
        );
    }
}
