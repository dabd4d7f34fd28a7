//! `WaitUntilTimeFromHeader`: a header gives the time (epoch seconds) at which the request may
//! be retried; wait until then, at least `min_wait`, at most `max_waiting_time_in_seconds`.

use serde_json::Value;

use super::BackoffStrategy;
use super::backoff_strategy::{MaxWaitingTime, as_float, numeric_header};
use super::wait_time_from_header::header_and_regex;
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpResponse;
use crate::interpolation::{Context, InterpolatedString};

/// A `WaitUntilTimeFromHeader`.
#[derive(Debug, Clone)]
pub struct WaitUntilTimeFromHeader {
    header: InterpolatedString,
    regex: Option<InterpolatedString>,
    min_wait: Option<InterpolatedString>,
    max_waiting_time: Option<MaxWaitingTime>,
    config: Value,
    path: ManifestPath,
}

impl WaitUntilTimeFromHeader {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        Ok(Self {
            header: node.interpolated("header")?,
            regex: node
                .opt_interpolated("regex")?
                .filter(|r| !r.as_str().is_empty()),
            min_wait: node.opt_interpolated("min_wait")?,
            max_waiting_time: MaxWaitingTime::from_node(&node)?,
            config: node.config().clone(),
            path: node.path.clone(),
        })
    }

    fn capped(&self, wait: f64) -> Result<f64> {
        if let Some(cap) = &self.max_waiting_time {
            let max = cap.eval(&self.config)?;
            if wait >= max {
                return Err(cap.refuse(wait, max));
            }
        }
        Ok(wait)
    }

    /// `min_wait` evaluated; `None` when absent or falsy (the CDK tests `if min_wait`).
    fn min_wait(&self) -> Result<Option<f64>> {
        let Some(template) = &self.min_wait else {
            return Ok(None);
        };
        let at = self.path.key("min_wait");
        let value = template
            .eval(&Context::new(&self.config))
            .map_err(|e| EngineError::interpolation(&at, e))?;
        if matches!(&value, Value::Null | Value::Bool(false))
            || matches!(&value, Value::String(s) if s.is_empty())
        {
            return Ok(None);
        }
        let seconds = as_float(&value).ok_or_else(|| {
            EngineError::manifest(
                &at,
                format!("could not convert {value} to a number of seconds"),
            )
        })?;
        Ok((seconds != 0.0).then_some(seconds))
    }
}

impl BackoffStrategy for WaitUntilTimeFromHeader {
    fn backoff_time(
        &self,
        response: Option<&HttpResponse>,
        _attempt_count: u32,
    ) -> Result<Option<f64>> {
        let now = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
        let (header, regex) =
            header_and_regex(&self.header, self.regex.as_ref(), &self.config, &self.path)?;
        let wait_until = response
            .and_then(|r| numeric_header(r, &header, regex.as_ref()))
            .filter(|v| *v != 0.0);
        let min_wait = self.min_wait()?;
        let Some(wait_until) = wait_until else {
            return min_wait.map(|m| self.capped(m)).transpose();
        };
        let wait = wait_until - now;
        match min_wait {
            Some(m) => self.capped(wait.max(m)).map(Some),
            None if wait < 0.0 => Ok(None),
            None => self.capped(wait).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use serde_json::json;

    fn strategy(node: Value) -> WaitUntilTimeFromHeader {
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        WaitUntilTimeFromHeader::from_node(Node::new(&node, &path, &env).unwrap()).unwrap()
    }

    fn response(at: f64) -> HttpResponse {
        HttpResponse::new(
            429,
            vec![("x-reset".into(), format!("{at}"))],
            vec![],
            "https://a".into(),
        )
    }

    #[test]
    fn waits_until_the_header_time() {
        let now = chrono::Utc::now().timestamp() as f64;
        let s = strategy(json!({"header": "X-Reset"}));
        let w = s
            .backoff_time(Some(&response(now + 60.0)), 1)
            .unwrap()
            .unwrap();
        assert!((55.0..=61.0).contains(&w), "{w}");
        assert_eq!(
            s.backoff_time(Some(&response(now - 60.0)), 1).unwrap(),
            None
        );
        assert_eq!(s.backoff_time(None, 1).unwrap(), None);
        let s = strategy(json!({"header": "X-Reset", "min_wait": 10}));
        assert_eq!(
            s.backoff_time(Some(&response(now - 60.0)), 1).unwrap(),
            Some(10.0)
        );
        assert_eq!(s.backoff_time(None, 1).unwrap(), Some(10.0));
        let s = strategy(
            json!({"header": "X-Reset", "min_wait": 10, "max_waiting_time_in_seconds": 5}),
        );
        assert!(s.backoff_time(None, 1).is_err());
    }
}
