//! `ConstantBackoffStrategy`: the same wait before every retry, with optional jitter.

use serde_json::Value;

use super::BackoffStrategy;
use super::backoff_strategy::{eval_number, number_template, uniform};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpResponse;
use crate::interpolation::InterpolatedString;

/// A `ConstantBackoffStrategy`.
#[derive(Debug, Clone)]
pub struct ConstantBackoffStrategy {
    backoff_time_in_seconds: InterpolatedString,
    jitter_range_in_seconds: Option<f64>,
    config: Value,
    path: ManifestPath,
}

impl ConstantBackoffStrategy {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        node.required("backoff_time_in_seconds")?;
        let backoff_time_in_seconds = number_template(&node, "backoff_time_in_seconds")?
            .ok_or_else(|| node.error("backoff_time_in_seconds", "expected a number"))?;
        Ok(Self {
            backoff_time_in_seconds,
            jitter_range_in_seconds: jitter(&node)?,
            config: node.config().clone(),
            path: node.child_path("backoff_time_in_seconds"),
        })
    }
}

/// `jitter_range_in_seconds`, which must not be negative.
pub(super) fn jitter(node: &Node<'_>) -> Result<Option<f64>> {
    let jitter = node.opt_f64("jitter_range_in_seconds")?;
    if jitter.is_some_and(|j| j < 0.0) {
        return Err(EngineError::manifest(
            &node.child_path("jitter_range_in_seconds"),
            "jitter_range_in_seconds must be greater than or equal to 0",
        ));
    }
    Ok(jitter)
}

impl BackoffStrategy for ConstantBackoffStrategy {
    fn backoff_time(
        &self,
        _response: Option<&HttpResponse>,
        _attempt_count: u32,
    ) -> Result<Option<f64>> {
        let seconds = eval_number(&self.backoff_time_in_seconds, &self.config, &self.path)?;
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
    fn constant_wait_from_a_number_or_the_config() {
        let env = BuildEnv {
            config: json!({"wait": "7"}),
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        for (node, expected) in [
            (json!({"backoff_time_in_seconds": 30}), 30.0),
            (json!({"backoff_time_in_seconds": 2.5}), 2.5),
            (
                json!({"backoff_time_in_seconds": "{{ config['wait'] }}"}),
                7.0,
            ),
        ] {
            let s =
                ConstantBackoffStrategy::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
            assert_eq!(s.backoff_time(None, 3).unwrap(), Some(expected));
        }
        let node = json!({"backoff_time_in_seconds": 1, "jitter_range_in_seconds": 2});
        let s = ConstantBackoffStrategy::from_node(Node::new(&node, &path, &env).unwrap()).unwrap();
        let w = s.backoff_time(None, 1).unwrap().unwrap();
        assert!((1.0..=5.0).contains(&w));
        let node = json!({"backoff_time_in_seconds": 1, "jitter_range_in_seconds": -1});
        assert!(
            ConstantBackoffStrategy::from_node(Node::new(&node, &path, &env).unwrap()).is_err()
        );
    }
}
