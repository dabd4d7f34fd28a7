//! `DefaultErrorHandler`: the manifest's response filters in order (the first that matches
//! decides), then success for an ok response, then the CDK's `DEFAULT_ERROR_MAPPING`, then a
//! retry; its backoff strategies say how long to wait.

use std::time::Duration;

use super::backoff_strategy::{self, BackoffStrategy};
use super::{
    ErrorHandler, ErrorResolution, HttpResponseFilter, default_resolution, fallback_resolution,
};
use crate::engine_error::{EngineError, Result};
use crate::factory::Node;
use crate::http::HttpResponse;
use crate::interpolation::{Context, InterpolatedString};

/// The CDK's `max_retries` default.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// `DefaultErrorHandler.max_time` (the factory never sets it): 10 minutes.
pub const DEFAULT_MAX_TIME: Duration = Duration::from_secs(600);

/// A `DefaultErrorHandler`.
#[derive(Debug)]
pub struct DefaultErrorHandler {
    response_filters: Vec<HttpResponseFilter>,
    max_retries: u32,
    backoff_strategies: Vec<Box<dyn BackoffStrategy>>,
}

impl Default for DefaultErrorHandler {
    fn default() -> Self {
        Self {
            response_filters: Vec::new(),
            max_retries: DEFAULT_MAX_RETRIES,
            backoff_strategies: Vec::new(),
        }
    }
}

impl DefaultErrorHandler {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let mut response_filters = Vec::new();
        let filters_path = node.child_path("response_filters");
        for (i, item) in node
            .opt_array("response_filters")?
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = filters_path.index(i);
            response_filters.push(HttpResponseFilter::from_node(node.node(item, &at)?)?);
        }
        // The factory appends a filter without an action; it never matches, so it is left out.
        let mut backoff_strategies = Vec::new();
        let strategies_path = node.child_path("backoff_strategies");
        for (i, item) in node
            .opt_array("backoff_strategies")?
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = strategies_path.index(i);
            backoff_strategies.push(backoff_strategy::from_node(node.node(item, &at)?)?);
        }
        Ok(Self {
            response_filters,
            max_retries: max_retries(&node)?,
            backoff_strategies,
        })
    }

    /// The backoff strategies, in order.
    pub fn backoff_strategies(&self) -> &[Box<dyn BackoffStrategy>] {
        &self.backoff_strategies
    }
}

/// `max_retries`: an integer, or a template over the config evaluated once (default `"5"`).
fn max_retries(node: &Node<'_>) -> Result<u32> {
    let at = node.child_path("max_retries");
    let value = match node.get("max_retries") {
        None => return Ok(DEFAULT_MAX_RETRIES),
        Some(serde_json::Value::String(s)) => InterpolatedString::new(s.clone(), node.parameters())
            .with_default("5")
            .eval(&Context::new(node.config()))
            .map_err(|e| EngineError::interpolation(&at, e))?,
        Some(other) => other.clone(),
    };
    let n = match &value {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
        serde_json::Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
    .ok_or_else(|| {
        EngineError::manifest(
            &at,
            format!("DefaultErrorHandler.max_retries did not evaluate to an integer (got {value})"),
        )
    })?;
    // A negative count means no retry (`max(0, max_retries) + 1` tries).
    Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

impl ErrorHandler for DefaultErrorHandler {
    fn interpret(
        &self,
        outcome: std::result::Result<&HttpResponse, &EngineError>,
    ) -> Result<ErrorResolution> {
        for filter in &self.response_filters {
            if let Some(resolution) = filter.matches(outcome)? {
                return Ok(resolution);
            }
        }
        Ok(match outcome {
            Ok(response) if response.ok() => ErrorResolution::success(),
            Ok(response) => {
                default_resolution(response.status).unwrap_or_else(|| fallback_resolution(outcome))
            }
            Err(_) => fallback_resolution(outcome),
        })
    }

    fn max_retries(&self) -> u32 {
        self.max_retries
    }

    fn max_time(&self) -> Duration {
        DEFAULT_MAX_TIME
    }

    fn backoff_time(
        &self,
        response: Option<&HttpResponse>,
        attempt_count: u32,
    ) -> Result<Option<f64>> {
        for strategy in &self.backoff_strategies {
            // `if backoff_time:` — 0 and None both defer to the next strategy.
            if let Some(t) = strategy.backoff_time(response, attempt_count)?
                && t != 0.0
            {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ManifestPath;
    use crate::error_handlers::ResponseAction;
    use crate::factory::BuildEnv;
    use serde_json::{Value, json};

    fn handler(node: Value, config: Value) -> DefaultErrorHandler {
        let env = BuildEnv {
            config,
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        DefaultErrorHandler::from_node(Node::new(&node, &path, &env).unwrap()).unwrap()
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(
            status,
            vec![],
            body.as_bytes().to_vec(),
            "https://a/x".into(),
        )
    }

    #[test]
    fn filters_first_then_success_then_the_default_mapping() {
        let h = handler(
            json!({"type": "DefaultErrorHandler", "response_filters": [
                {"type": "HttpResponseFilter", "action": "IGNORE", "http_codes": [404]},
                {"type": "HttpResponseFilter", "action": "FAIL", "http_codes": [404, 500]},
                {"type": "HttpResponseFilter", "action": "RETRY", "predicate": "{{ response.retry }}"}]}),
            json!({}),
        );
        let action = |status, body| h.interpret(Ok(&response(status, body))).unwrap().action;
        assert_eq!(action(404, "{}"), ResponseAction::Ignore);
        assert_eq!(action(500, "{}"), ResponseAction::Fail);
        // A filter also applies to an ok response.
        assert_eq!(action(200, r#"{"retry": true}"#), ResponseAction::Retry);
        assert_eq!(action(200, "{}"), ResponseAction::Success);
        assert_eq!(action(401, "{}"), ResponseAction::Fail);
        assert_eq!(action(429, "{}"), ResponseAction::RateLimited);
        assert_eq!(action(409, "{}"), ResponseAction::Retry);
        let transport = EngineError::Request {
            method: "GET".into(),
            url: "u".into(),
            message: "refused".into(),
        };
        assert_eq!(
            h.interpret(Err(&transport)).unwrap().action,
            ResponseAction::Retry
        );
    }

    #[test]
    fn max_retries_and_backoff() {
        assert_eq!(handler(json!({}), json!({})).max_retries(), 5);
        assert_eq!(
            handler(json!({"max_retries": 2}), json!({})).max_retries(),
            2
        );
        let h = handler(json!({"max_retries": "{{ config['n'] }}"}), json!({"n": 9}));
        assert_eq!(h.max_retries(), 9);
        let h = handler(
            json!({"backoff_strategies": [
                {"type": "WaitTimeFromHeader", "header": "Retry-After"},
                {"type": "ConstantBackoffStrategy", "backoff_time_in_seconds": 3}]}),
            json!({}),
        );
        let with_header = HttpResponse::new(
            429,
            vec![("retry-after".into(), "8".into())],
            vec![],
            "u".into(),
        );
        assert_eq!(h.backoff_time(Some(&with_header), 1).unwrap(), Some(8.0));
        assert_eq!(
            h.backoff_time(Some(&response(429, "")), 1).unwrap(),
            Some(3.0)
        );
        assert_eq!(
            handler(json!({}), json!({})).backoff_time(None, 1).unwrap(),
            None
        );
    }
}
