//! `WaitTimeFromHeader`: the wait a response header asks for (`Retry-After: 30`), optionally
//! extracted with a regex and capped by `max_waiting_time_in_seconds`.

use serde_json::Value;

use super::BackoffStrategy;
use super::backoff_strategy::{MaxWaitingTime, compile_regex, numeric_header};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpResponse;
use crate::interpolation::{Context, InterpolatedString};

/// A `WaitTimeFromHeader`.
#[derive(Debug, Clone)]
pub struct WaitTimeFromHeader {
    header: InterpolatedString,
    regex: Option<InterpolatedString>,
    max_waiting_time: Option<MaxWaitingTime>,
    config: Value,
    path: ManifestPath,
}

impl WaitTimeFromHeader {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        Ok(Self {
            header: node.interpolated("header")?,
            regex: node
                .opt_interpolated("regex")?
                .filter(|r| !r.as_str().is_empty()),
            max_waiting_time: MaxWaitingTime::from_node(&node)?,
            config: node.config().clone(),
            path: node.path.clone(),
        })
    }
}

/// The header name and the compiled regex of a header strategy, evaluated with the config.
pub(super) fn header_and_regex(
    header: &InterpolatedString,
    regex: Option<&InterpolatedString>,
    config: &Value,
    path: &ManifestPath,
) -> Result<(String, Option<fancy_regex::Regex>)> {
    let context = Context::new(config);
    let name = header
        .eval_to_string(&context)
        .map_err(|e| EngineError::interpolation(&path.key("header"), e))?;
    let regex = match regex {
        Some(r) => {
            let at = path.key("regex");
            let pattern = r
                .eval_to_string(&context)
                .map_err(|e| EngineError::interpolation(&at, e))?;
            Some(compile_regex(&pattern, &at)?)
        }
        None => None,
    };
    Ok((name, regex))
}

impl BackoffStrategy for WaitTimeFromHeader {
    fn backoff_time(
        &self,
        response: Option<&HttpResponse>,
        _attempt_count: u32,
    ) -> Result<Option<f64>> {
        let (header, regex) =
            header_and_regex(&self.header, self.regex.as_ref(), &self.config, &self.path)?;
        let Some(response) = response else {
            return Ok(None);
        };
        let value = numeric_header(response, &header, regex.as_ref());
        if let Some(cap) = &self.max_waiting_time {
            let max = cap.eval(&self.config)?;
            // A header of 0 asks for no wait, which no cap refuses (`header_value and ...`).
            if let Some(v) = value
                && v != 0.0
                && v >= max
            {
                return Err(cap.refuse(v, max));
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    fn strategy(node: Value) -> WaitTimeFromHeader {
        let env = BuildEnv {
            config: json!({"cap": 100}),
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        WaitTimeFromHeader::from_node(Node::new(&node, &path, &env).unwrap()).unwrap()
    }

    fn response(value: &str) -> HttpResponse {
        HttpResponse::new(
            429,
            vec![("retry-after".into(), value.into())],
            vec![],
            "https://a".into(),
        )
    }

    #[test]
    fn reads_the_header_with_regex_and_cap() {
        let s = strategy(json!({"header": "Retry-After"}));
        assert_eq!(
            s.backoff_time(Some(&response("30")), 1).unwrap(),
            Some(30.0)
        );
        assert_eq!(s.backoff_time(None, 1).unwrap(), None);
        let s = strategy(json!({"header": "retry-after", "regex": "[-+]?\\d+"}));
        assert_eq!(
            s.backoff_time(Some(&response("42 seconds")), 1).unwrap(),
            Some(42.0)
        );
        let s = strategy(
            json!({"header": "Retry-After", "max_waiting_time_in_seconds": "{{ config.cap }}"}),
        );
        assert_eq!(
            s.backoff_time(Some(&response("99")), 1).unwrap(),
            Some(99.0)
        );
        assert!(s.backoff_time(Some(&response("100")), 1).is_err());
        assert_eq!(s.backoff_time(Some(&response("0")), 1).unwrap(), Some(0.0));
    }
}
