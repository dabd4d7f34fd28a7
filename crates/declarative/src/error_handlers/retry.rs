//! The retry budget of one request, spent as the CDK's `HttpClient._send_with_retry` spends
//! it, and the errors a request ends with (a `FAIL`, or retries exhausted).
//!
//! The CDK nests three `backoff` decorators around each send, each with its own count of
//! tries: innermost the backoff strategies' waits (`UserDefinedBackoffException`: sleep the
//! wait + 1 s; `max_tries` and `max_time`), then rate limits without a strategy's wait
//! (`RateLimitBackoffException`: 1, 2, 4, ... s; `max_tries` only), outermost every other
//! retry (`DefaultBackoffException`: 1, 2, 4, ... s, capped by what is left of `max_time`;
//! `max_tries` and `max_time`). An outer retry calls the inner decorators afresh, which
//! restarts their counts; [`Retrier`] keeps the three counts the same way.

use std::time::{Duration, Instant};

use super::{ErrorHandler, ErrorResolution, ResponseAction, parse_response_error_message};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::http::{HttpRequest, HttpResponse, Secrets};

/// What to do after a retryable verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RetryDecision {
    /// Sleep this long, then send the request again.
    Wait(Duration),
    /// The budget is spent: fail with [`exhausted_error`].
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    User,
    RateLimit,
    Default,
}

/// One backoff decorator's state: its tries, and when its current call began.
#[derive(Debug, Clone, Copy)]
struct Loop {
    tries: u32,
    started: Instant,
    /// Time since `started` when the current try began (what `backoff` compares to max_time).
    elapsed: Duration,
}

impl Loop {
    fn new(now: Instant) -> Self {
        Self {
            tries: 0,
            started: now,
            elapsed: Duration::ZERO,
        }
    }

    fn begin_try(&mut self, now: Instant) {
        self.tries += 1;
        self.elapsed = now.duration_since(self.started);
    }
}

/// The retry state of one request.
#[derive(Debug)]
pub struct Retrier {
    max_tries: u32,
    max_time: Duration,
    attempts: u32,
    user: Loop,
    rate: Loop,
    default: Loop,
    /// The level that asked for the retry now starting (its loop goes on, inner ones restart).
    pending: Option<Level>,
}

impl Retrier {
    /// A fresh budget: `max_retries + 1` tries, `max_time` of retrying.
    pub fn new(handler: &dyn ErrorHandler) -> Self {
        let now = Instant::now();
        Self {
            max_tries: handler.max_retries().saturating_add(1),
            max_time: handler.max_time(),
            attempts: 0,
            user: Loop::new(now),
            rate: Loop::new(now),
            default: Loop::new(now),
            pending: None,
        }
    }

    /// Call before each send; returns the attempt's 1-based number (the CDK's
    /// `_request_attempt_count`, which backoff strategies are given).
    pub fn start_attempt(&mut self) -> u32 {
        let now = Instant::now();
        match self.pending.take() {
            None => {
                self.default.begin_try(now);
                self.rate.begin_try(now);
                self.user.begin_try(now);
            }
            Some(Level::User) => self.user.begin_try(now),
            Some(Level::RateLimit) => {
                self.rate.begin_try(now);
                self.user = Loop::new(now);
                self.user.begin_try(now);
            }
            Some(Level::Default) => {
                self.default.begin_try(now);
                self.rate = Loop::new(now);
                self.rate.begin_try(now);
                self.user = Loop::new(now);
                self.user.begin_try(now);
            }
        }
        self.attempts += 1;
        self.attempts
    }

    /// The number of requests sent so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// After a `RETRY` or `RATE_LIMITED` verdict on the current attempt: how long to wait, or
    /// give up. Errors are the backoff strategies' (a wait over `max_waiting_time_in_seconds`).
    pub fn decide(
        &mut self,
        handler: &dyn ErrorHandler,
        resolution: &ErrorResolution,
        response: Option<&HttpResponse>,
    ) -> Result<RetryDecision> {
        let strategy_wait = handler.backoff_time(response, self.attempts)?;
        let (level, wait) = match strategy_wait {
            // The CDK sleeps one extra second "to cover any fractions of second".
            Some(seconds) => (Level::User, seconds.max(0.0) + 1.0),
            None if resolution.action == ResponseAction::RateLimited => {
                (Level::RateLimit, expo(self.rate.tries))
            }
            None => (Level::Default, expo(self.default.tries)),
        };
        let state = match level {
            Level::User => self.user,
            Level::RateLimit => self.rate,
            Level::Default => self.default,
        };
        let out_of_tries = state.tries >= self.max_tries;
        // The rate-limit decorator has no max_time.
        let out_of_time = level != Level::RateLimit && state.elapsed >= self.max_time;
        if out_of_tries || out_of_time {
            return Ok(RetryDecision::GiveUp);
        }
        let mut wait = Duration::from_secs_f64(wait.min(1e9));
        if level == Level::Default {
            wait = wait.min(self.max_time.saturating_sub(state.elapsed));
        }
        self.pending = Some(level);
        Ok(RetryDecision::Wait(wait))
    }
}

/// `backoff.expo` (factor 1, base 2) for the try that just failed: 1, 2, 4, ... s.
fn expo(tries: u32) -> f64 {
    2f64.powi(tries.saturating_sub(1).min(60) as i32)
}

/// The error of a request the error handler says to fail on: the handler's message (else the
/// CDK's default message for the status), what the API said, and where: the request (secrets
/// masked), the stream and the requester.
pub fn fail_error(
    request: &HttpRequest,
    outcome: Result<HttpResponse>,
    resolution: &ErrorResolution,
    secrets: &Secrets,
    stream: &str,
    requester: &ManifestPath,
) -> EngineError {
    let response = match outcome {
        Err(e) => return e,
        Ok(r) => r,
    };
    let message = resolution.message.clone().unwrap_or_else(|| {
        format!(
            "'{}' request to '{}' failed with status code '{}'",
            request.method, request.url, response.status
        )
    });
    status_error(request, &response, message, secrets, stream, requester)
}

/// The error of a request whose retries are spent (the CDK's "Exhausted available request
/// attempts", or "API rate limit exceeded" after 429s).
pub fn exhausted_error(
    request: &HttpRequest,
    outcome: Result<HttpResponse>,
    resolution: &ErrorResolution,
    attempts: u32,
    secrets: &Secrets,
    stream: &str,
    requester: &ManifestPath,
) -> EngineError {
    let cause = resolution.message.clone().unwrap_or_else(|| {
        format!(
            "Request to {} failed, response action {}",
            request.url,
            resolution.action.name()
        )
    });
    match outcome {
        Err(e) => EngineError::Request {
            method: request.method.clone(),
            url: secrets.mask(&request.url),
            message: secrets.mask(&format!(
                "Exhausted available request attempts ({attempts}): {cause}; last error: {e} (stream {stream}, requester {requester})"
            )),
        },
        Ok(response) => {
            let lead = if response.status == 429 {
                "API rate limit exceeded"
            } else {
                "Exhausted available request attempts"
            };
            let message = format!("{lead} after {attempts} attempts: {cause}");
            status_error(request, &response, message, secrets, stream, requester)
        }
    }
}

fn status_error(
    request: &HttpRequest,
    response: &HttpResponse,
    message: String,
    secrets: &Secrets,
    stream: &str,
    requester: &ManifestPath,
) -> EngineError {
    let mut text = message;
    // What the API said, unless the message already carries it.
    if let Some(api) = parse_response_error_message(response)
        && !api.trim().is_empty()
        && !text.contains(api.trim())
    {
        let api: String = api.trim().chars().take(500).collect();
        text.push_str(&format!(" The API said: {api}"));
    }
    text.push_str(&format!(" (stream {stream}, requester {requester})"));
    EngineError::HttpStatus {
        method: request.method.clone(),
        url: secrets.mask(&request.url),
        status: response.status,
        message: secrets.mask(&text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_handlers::{DefaultErrorHandler, FailureType};
    use crate::factory::{BuildEnv, Node};
    use serde_json::{Value, json};

    fn handler(node: Value) -> DefaultErrorHandler {
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        DefaultErrorHandler::from_node(Node::new(&node, &path, &env).unwrap()).unwrap()
    }

    fn retry() -> ErrorResolution {
        ErrorResolution::with(ResponseAction::Retry, FailureType::TransientError, "boom")
    }

    fn waits(h: &DefaultErrorHandler, resolution: &ErrorResolution) -> Vec<RetryDecision> {
        let mut r = Retrier::new(h);
        let mut out = Vec::new();
        loop {
            r.start_attempt();
            let d = r.decide(h, resolution, None).unwrap();
            out.push(d);
            if d == RetryDecision::GiveUp {
                return out;
            }
        }
    }

    #[test]
    fn default_backoff_is_exponential_with_max_retries_plus_one_tries() {
        let h = handler(json!({"max_retries": 3}));
        let secs = |s| RetryDecision::Wait(Duration::from_secs(s));
        assert_eq!(
            waits(&h, &retry()),
            vec![secs(1), secs(2), secs(4), RetryDecision::GiveUp]
        );
        let rate =
            ErrorResolution::with(ResponseAction::RateLimited, FailureType::TransientError, "");
        assert_eq!(
            waits(&h, &rate),
            vec![secs(1), secs(2), secs(4), RetryDecision::GiveUp]
        );
        let none = handler(json!({"max_retries": 0}));
        assert_eq!(waits(&none, &retry()), vec![RetryDecision::GiveUp]);
    }

    #[test]
    fn strategies_wait_one_second_more_and_see_the_attempt_count() {
        let h = handler(json!({"max_retries": 2, "backoff_strategies": [
            {"type": "ExponentialBackoffStrategy", "factor": 1}]}));
        let secs = |s| RetryDecision::Wait(Duration::from_secs(s));
        // attempt_count 1 → 2 s + 1; 2 → 4 s + 1.
        assert_eq!(
            waits(&h, &retry()),
            vec![secs(3), secs(5), RetryDecision::GiveUp]
        );
    }

    #[test]
    fn errors_name_the_request_and_mask_secrets() {
        let secrets = Secrets::default();
        secrets.add("s3cr3t-key");
        let request = HttpRequest {
            method: "GET".into(),
            url: "https://api.io/v1/items?key=s3cr3t-key".into(),
            headers: vec![],
            body: None,
        };
        let response = HttpResponse::new(
            401,
            vec![],
            br#"{"message": "bad key s3cr3t-key"}"#.to_vec(),
            request.url.clone(),
        );
        let resolution = crate::error_handlers::default_resolution(401).unwrap();
        let e = fail_error(
            &request,
            Ok(response),
            &resolution,
            &secrets,
            "items",
            &ManifestPath::root(),
        );
        let text = e.to_string();
        assert!(text.starts_with("GET https://api.io/v1/items?key=**** returned HTTP 401: HTTP Status Code: 401. Error: Unauthorized."), "{text}");
        assert!(text.contains("The API said: bad key ****"), "{text}");
        assert!(text.contains("stream items"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
