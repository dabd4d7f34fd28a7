//! Backoff strategies: how long to wait before retrying a request (`ConstantBackoffStrategy`,
//! `ExponentialBackoffStrategy`, `WaitTimeFromHeader`, `WaitUntilTimeFromHeader`), and the
//! helpers they share with the CDK (`get_numeric_value_from_header`, the interpolated caps).

use std::hash::{BuildHasher, Hasher};

use serde_json::Value;

use super::{
    ConstantBackoffStrategy, ExponentialBackoffStrategy, WaitTimeFromHeader,
    WaitUntilTimeFromHeader,
};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpResponse;
use crate::interpolation::{Context, InterpolatedString};

/// A backoff strategy.
pub trait BackoffStrategy: Send + Sync + std::fmt::Debug {
    /// The wait in seconds before the next attempt, after `attempt_count` attempts (1-based),
    /// or `None` for "no opinion" (then the next strategy, or the CDK's default, decides).
    fn backoff_time(
        &self,
        response: Option<&HttpResponse>,
        attempt_count: u32,
    ) -> Result<Option<f64>>;
}

/// The strategy of a `backoff_strategies` item.
pub fn from_node(node: Node<'_>) -> Result<Box<dyn BackoffStrategy>> {
    Ok(match node.type_name() {
        "ConstantBackoffStrategy" | "ConstantBackoff" => {
            Box::new(ConstantBackoffStrategy::from_node(node)?)
        }
        "ExponentialBackoffStrategy" | "ExponentialBackoff" => {
            Box::new(ExponentialBackoffStrategy::from_node(node)?)
        }
        "WaitTimeFromHeader" => Box::new(WaitTimeFromHeader::from_node(node)?),
        "WaitUntilTimeFromHeader" => Box::new(WaitUntilTimeFromHeader::from_node(node)?),
        _ => return Err(node.unsupported()),
    })
}

/// A number field that may be a template (`backoff_time_in_seconds: "{{ config.wait }}"`),
/// kept as the text the CDK makes of it (`str(value)`).
pub(super) fn number_template(node: &Node<'_>, key: &str) -> Result<Option<InterpolatedString>> {
    Ok(node
        .opt_str(key)?
        .map(|s| InterpolatedString::new(s, node.parameters())))
}

/// `float(template.eval(config))`.
pub(super) fn eval_number(
    template: &InterpolatedString,
    config: &Value,
    at: &ManifestPath,
) -> Result<f64> {
    let value = template
        .eval(&Context::new(config))
        .map_err(|e| EngineError::interpolation(at, e))?;
    as_float(&value).ok_or_else(|| {
        EngineError::manifest(
            at,
            format!("could not convert {value} to a number of seconds"),
        )
    })
}

/// Python's `float(value)` for what a template evaluates to.
pub(super) fn as_float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => parse_float(s),
        _ => None,
    }
}

/// Python's `float(text)`: surrounding whitespace allowed, `inf`/`nan` too.
pub(super) fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    t.replace('_', "").parse::<f64>().ok()
}

/// `get_numeric_value_from_header`: the header's value as a number, after an optional regex
/// (Python's `re.match`: anchored at the start; the whole match is used).
pub(super) fn numeric_header(
    response: &HttpResponse,
    header: &str,
    regex: Option<&fancy_regex::Regex>,
) -> Option<f64> {
    let value = response.header(header)?;
    if value.is_empty() {
        return None;
    }
    let mut text = value;
    if let Some(regex) = regex
        && let Ok(Some(m)) = regex.find(value)
        && m.start() == 0
    {
        text = m.as_str();
    }
    parse_float(text)
}

/// Compiles a Python regular expression.
pub(super) fn compile_regex(pattern: &str, at: &ManifestPath) -> Result<fancy_regex::Regex> {
    fancy_regex::Regex::new(pattern)
        .map_err(|e| EngineError::manifest(at, format!("invalid regex {pattern:?}: {e}")))
}

/// `random.uniform(low, high)`.
pub(super) fn uniform(low: f64, high: f64) -> f64 {
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let unit = (bits >> 11) as f64 / (1u64 << 53) as f64;
    low + (high - low) * unit
}

/// `max_waiting_time_in_seconds`: evaluated once when the strategy is built (a template that
/// cannot be evaluated is a manifest error at start-up, as in the CDK) and on every check.
#[derive(Debug, Clone)]
pub(super) struct MaxWaitingTime {
    template: InterpolatedString,
    path: ManifestPath,
}

impl MaxWaitingTime {
    pub(super) fn from_node(node: &Node<'_>) -> Result<Option<Self>> {
        let Some(template) = number_template(node, "max_waiting_time_in_seconds")? else {
            return Ok(None);
        };
        let cap = Self {
            template,
            path: node.child_path("max_waiting_time_in_seconds"),
        };
        cap.eval(node.config())?;
        Ok(Some(cap))
    }

    pub(super) fn eval(&self, config: &Value) -> Result<f64> {
        let seconds = eval_number(&self.template, config, &self.path)?;
        if !seconds.is_finite() {
            return Err(EngineError::manifest(
                &self.path,
                format!("resolved to {seconds}, which is not a finite number"),
            ));
        }
        Ok(seconds)
    }

    /// The CDK's refusal to wait `wait` seconds or more.
    pub(super) fn refuse(&self, wait: f64, max: f64) -> EngineError {
        EngineError::Input(format!(
            "The rate limit wait time is longer than the connector is allowed to wait: rate limit wait time {wait}s is greater than or equal to the maximum of {max}s this stream is allowed to wait ({}). Stopping the stream...",
            self.path
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_numbers_as_the_cdk_reads_them() {
        let r = HttpResponse::new(
            429,
            vec![
                ("retry-after".into(), " 12.5 ".into()),
                ("x-wait".into(), "30s left".into()),
            ],
            vec![],
            "https://a".into(),
        );
        assert_eq!(numeric_header(&r, "Retry-After", None), Some(12.5));
        assert_eq!(numeric_header(&r, "X-Wait", None), None);
        let re = fancy_regex::Regex::new(r"\d+").unwrap();
        assert_eq!(numeric_header(&r, "x-wait", Some(&re)), Some(30.0));
        assert_eq!(numeric_header(&r, "missing", Some(&re)), None);
        let u = uniform(2.0, 4.0);
        assert!((2.0..=4.0).contains(&u));
    }
}
