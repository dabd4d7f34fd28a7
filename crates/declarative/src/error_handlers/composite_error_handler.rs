//! `CompositeErrorHandler`: its handlers in order; the first that says success, retry or
//! ignore decides, else the last one's verdict stands.

use std::sync::Arc;
use std::time::Duration;

use super::{ErrorHandler, ErrorResolution, ResponseAction, fallback_resolution};
use crate::engine_error::{EngineError, Result};
use crate::factory::Node;
use crate::http::HttpResponse;

/// A `CompositeErrorHandler`.
#[derive(Debug)]
pub struct CompositeErrorHandler {
    error_handlers: Vec<Arc<dyn ErrorHandler>>,
}

impl CompositeErrorHandler {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        node.required("error_handlers")?;
        let path = node.child_path("error_handlers");
        let mut error_handlers = Vec::new();
        for (i, item) in node
            .opt_array("error_handlers")?
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = path.index(i);
            error_handlers.push(super::from_node(node.node(item, &at)?)?);
        }
        if error_handlers.is_empty() {
            return Err(EngineError::manifest(
                node.path,
                "CompositeErrorHandler expects at least 1 underlying error handler",
            ));
        }
        Ok(Self { error_handlers })
    }
}

impl ErrorHandler for CompositeErrorHandler {
    fn interpret(
        &self,
        outcome: std::result::Result<&HttpResponse, &EngineError>,
    ) -> Result<ErrorResolution> {
        let mut last = None;
        for handler in &self.error_handlers {
            let resolution = handler.interpret(outcome)?;
            if matches!(
                resolution.action,
                ResponseAction::Success | ResponseAction::Retry | ResponseAction::Ignore
            ) {
                return Ok(resolution);
            }
            last = Some(resolution);
        }
        Ok(last.unwrap_or_else(|| fallback_resolution(outcome)))
    }

    /// The first handler's.
    fn max_retries(&self) -> u32 {
        self.error_handlers
            .first()
            .map_or(super::default_error_handler::DEFAULT_MAX_RETRIES, |h| {
                h.max_retries()
            })
    }

    /// The longest of its handlers'.
    fn max_time(&self) -> Duration {
        self.error_handlers
            .iter()
            .map(|h| h.max_time())
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// The HttpClient gets the handlers' strategies flattened into one list and takes the
    /// first non-zero wait: the same as asking each handler in turn.
    fn backoff_time(
        &self,
        response: Option<&HttpResponse>,
        attempt_count: u32,
    ) -> Result<Option<f64>> {
        for handler in &self.error_handlers {
            if let Some(t) = handler.backoff_time(response, attempt_count)? {
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
    use crate::factory::BuildEnv;
    use serde_json::json;

    #[test]
    fn first_success_retry_or_ignore_wins() {
        let node = json!({"type": "CompositeErrorHandler", "error_handlers": [
            {"type": "DefaultErrorHandler", "max_retries": 3, "response_filters": [
                {"type": "HttpResponseFilter", "action": "FAIL", "http_codes": [403]}]},
            {"type": "DefaultErrorHandler", "backoff_strategies": [
                {"type": "ConstantBackoffStrategy", "backoff_time_in_seconds": 4}],
             "response_filters": [
                {"type": "HttpResponseFilter", "action": "IGNORE", "http_codes": [403, 404]}]}]});
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        let h = CompositeErrorHandler::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
        let r = |status| HttpResponse::new(status, vec![], b"{}".to_vec(), "u".into());
        // The first handler fails 404 by the default mapping; the second ignores it.
        assert_eq!(
            h.interpret(Ok(&r(404))).unwrap().action,
            ResponseAction::Ignore
        );
        // 403: the first says FAIL, the second IGNORE: IGNORE wins (FAIL does not stop the walk).
        assert_eq!(
            h.interpret(Ok(&r(403))).unwrap().action,
            ResponseAction::Ignore
        );
        assert_eq!(
            h.interpret(Ok(&r(401))).unwrap().action,
            ResponseAction::Fail
        );
        assert_eq!(
            h.interpret(Ok(&r(200))).unwrap().action,
            ResponseAction::Success
        );
        assert_eq!(h.max_retries(), 3);
        assert_eq!(h.max_time(), Duration::from_secs(600));
        assert_eq!(h.backoff_time(None, 1).unwrap(), Some(4.0));
        let empty = json!({"type": "CompositeErrorHandler", "error_handlers": []});
        assert!(CompositeErrorHandler::from_node(Node::new(&empty, &path, &env).unwrap()).is_err());
    }
}
