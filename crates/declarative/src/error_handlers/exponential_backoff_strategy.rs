//! `ExponentialBackoffStrategy`: `factor * 2 ** attempt_count` seconds, with optional jitter.

use serde_json::Value;

use super::BackoffStrategy;
use super::backoff_strategy::{eval_number, number_template, uniform};
use super::constant_backoff_strategy::jitter;
use crate::engine_error::Result;
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpResponse;
use crate::interpolation::InterpolatedString;

/// An `ExponentialBackoffStrategy`.
#[derive(Debug, Clone)]
pub struct ExponentialBackoffStrategy {
    factor: InterpolatedString,
    jitter_range_in_seconds: Option<f64>,
    config: Value,
    path: ManifestPath,
}

impl ExponentialBackoffStrategy {
    /// Builds it from its node (`factor` defaults to 5, as the factory's `model.factor or 5`).
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        // `model.factor or 5`: a numeric 0 or an empty string mean the default.
        let falsy = match node.get("factor") {
            Some(Value::Number(n)) => n.as_f64() == Some(0.0),
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        let factor = match number_template(&node, "factor")? {
            Some(f) if !falsy => f,
            _ => InterpolatedString::new("5", node.parameters()),
        };
        Ok(Self {
            factor,
            jitter_range_in_seconds: jitter(&node)?,
            config: node.config().clone(),
            path: node.child_path("factor"),
        })
    }
}

impl BackoffStrategy for ExponentialBackoffStrategy {
    fn backoff_time(
        &self,
        _response: Option<&HttpResponse>,
        attempt_count: u32,
    ) -> Result<Option<f64>> {
        let factor = eval_number(&self.factor, &self.config, &self.path)?;
        let seconds = factor * 2f64.powi(attempt_count.min(1023) as i32);
        Ok(Some(match self.jitter_range_in_seconds {
            None => seconds,
            Some(j) => uniform(seconds, seconds + j * 2.0),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    #[test]
    fn doubles_with_each_attempt() {
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        let node = json!({});
        let s =
            ExponentialBackoffStrategy::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
        // The CDK's HttpClient passes the 1-based count of requests sent: 5 * 2 ** 1 first.
        assert_eq!(s.backoff_time(None, 1).unwrap(), Some(10.0));
        let node = json!({"factor": 1.5});
        let s =
            ExponentialBackoffStrategy::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
        assert_eq!(s.backoff_time(None, 2).unwrap(), Some(6.0));
    }
}
