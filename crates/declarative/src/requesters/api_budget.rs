//! The manifest's `api_budget` (`HTTPAPIBudget`): client-side rate limits on the requests of
//! every `HttpRequester`, as the CDK's `call_rate.py`.
//!
//! A request takes a call from the first policy whose matchers match it (a policy without
//! matchers matches everything; a request no policy matches is not limited). When the policy
//! has no call left, the request waits until it has, then goes. Every response then updates
//! the policy from the API's own counters (`ratelimit_remaining_header`,
//! `ratelimit_reset_header`, or a rate-limit status counting as no calls left).
//!
//! Two differences from the CDK, both fixes:
//! * A `FixedWindowCallRatePolicy`'s first window starts with its first request and lasts
//!   `period`. The CDK starts it ten days ahead, waiting for a reset header: against an API
//!   that sends none, the call after `call_limit` waits ten days.
//! * When the API says no call is left, a `MovingWindowCallRatePolicy`'s smallest window is
//!   filled, so the next request waits for it. The CDK adds one call (a boolean taken for a
//!   count), so it goes on sending.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::engine_error::{EngineError, Result};
use crate::factory::{Node, kind};
use crate::http::{HttpRequest, HttpResponse};
use crate::interpolation::{Context, InterpolatedString, iso8601};

/// Where the budget reads the time and how it waits; a trait so that tests can run a budget
/// on a clock of their own.
pub trait BudgetClock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration);
}

/// The real clock: `Instant::now` and `thread::sleep`.
#[derive(Debug, Default)]
pub struct SystemClock;

impl BudgetClock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// An `HTTPAPIBudget`, shared by every requester of a source.
#[derive(Debug)]
pub struct ApiBudget {
    policies: Vec<Policy>,
    reset_header: String,
    remaining_header: String,
    rate_limit_statuses: Vec<u16>,
    clock: Arc<dyn BudgetClock>,
}

#[derive(Debug)]
struct Policy {
    matchers: Vec<RequestMatcher>,
    limit: Limit,
}

#[derive(Debug)]
enum Limit {
    Unlimited,
    Fixed(Mutex<FixedWindow>),
    Moving(Mutex<MovingWindow>),
}

/// `call_limit` calls per `period`, the count reset at each window's end.
#[derive(Debug)]
struct FixedWindow {
    call_limit: u64,
    period: Duration,
    /// The end of the current window; `None` until the first request.
    next_reset: Option<Instant>,
    used: u64,
}

/// At most `limit` calls in any `interval` before now, for each rate.
#[derive(Debug)]
struct MovingWindow {
    /// `(limit, interval)`, as the manifest lists them.
    rates: Vec<(u64, Duration)>,
    /// The calls made, oldest first, with their weights.
    calls: VecDeque<(Instant, u64)>,
}

/// An `HttpRequestRegexMatcher`.
#[derive(Debug)]
struct RequestMatcher {
    method: Option<String>,
    url_base: Option<String>,
    path_pattern: Option<fancy_regex::Regex>,
    params: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    weight: Option<u64>,
}

impl ApiBudget {
    /// Builds it from the manifest's `api_budget` node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        Self::from_node_with_clock(node, Arc::new(SystemClock))
    }

    /// Builds it on `clock` (tests).
    pub fn from_node_with_clock(node: Node<'_>, clock: Arc<dyn BudgetClock>) -> Result<Self> {
        match node.type_name() {
            "HTTPAPIBudget" | "" => {}
            _ => return Err(node.unsupported()),
        }
        let Some(policies) = each(&node, "policies", Policy::from_node)? else {
            return Err(node.error(
                "policies",
                "HTTPAPIBudget requires `policies`, a list of call rate policies",
            ));
        };
        let rate_limit_statuses = match node.get("status_codes_for_ratelimit_hit") {
            None => vec![429],
            Some(Value::Array(codes)) => codes
                .iter()
                .map(|c| {
                    c.as_u64()
                        .and_then(|c| u16::try_from(c).ok())
                        .ok_or_else(|| {
                            node.error(
                                "status_codes_for_ratelimit_hit",
                                format!("expected HTTP status codes, found {c}"),
                            )
                        })
                })
                .collect::<Result<_>>()?,
            Some(other) => {
                return Err(node.error(
                    "status_codes_for_ratelimit_hit",
                    format!("expected a list of status codes, found {}", kind(other)),
                ));
            }
        };
        let reset_header = node
            .opt_str("ratelimit_reset_header")?
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "ratelimit-reset".into());
        let remaining_header = node
            .opt_str("ratelimit_remaining_header")?
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "ratelimit-remaining".into());
        Ok(Self {
            policies,
            reset_header,
            remaining_header,
            rate_limit_statuses,
            clock,
        })
    }

    /// Takes a call for `request` from its policy, waiting while the policy has none left.
    pub fn acquire(&self, request: &HttpRequest) {
        let Some((policy, weight)) = self.matching(request) else {
            return;
        };
        loop {
            let wait = match &policy.limit {
                Limit::Unlimited => return,
                Limit::Fixed(window) => lock(window).try_acquire(weight, self.clock.now()),
                Limit::Moving(window) => lock(window).try_acquire(weight, self.clock.now()),
            };
            let Some(wait) = wait else { return };
            tracing::info!(
                url = %request.url,
                wait_s = wait.as_secs_f64(),
                "waiting for the manifest's api_budget to allow another call"
            );
            self.clock.sleep(wait);
        }
    }

    /// Brings `request`'s policy in line with what `response` says of the API's own limits.
    pub fn update_from_response(&self, request: &HttpRequest, response: &HttpResponse) {
        let Some((policy, _)) = self.matching(request) else {
            return;
        };
        let available = match response.header(&self.remaining_header) {
            Some(v) if !v.is_empty() => v.trim().parse::<u64>().ok(),
            _ if self.rate_limit_statuses.contains(&response.status) => Some(0),
            _ => None,
        };
        let reset = response
            .header(&self.reset_header)
            .filter(|v| !v.is_empty())
            .and_then(|v| v.trim().parse::<i64>().ok());
        let now = self.clock.now();
        match &policy.limit {
            Limit::Unlimited => {}
            Limit::Fixed(window) => {
                let reset = reset.map(|epoch| instant_of_epoch(epoch, now));
                lock(window).update(available, reset, now);
            }
            Limit::Moving(window) => {
                if available == Some(0) && reset.is_none() {
                    lock(window).fill(now);
                }
            }
        }
    }

    /// The first policy matching `request`, with the request's weight in it.
    fn matching(&self, request: &HttpRequest) -> Option<(&Policy, u64)> {
        if self.policies.is_empty() {
            return None;
        }
        let parts = RequestParts::of(request)?;
        self.policies.iter().find_map(|policy| {
            if policy.matchers.is_empty() {
                return Some((policy, 1));
            }
            policy
                .matchers
                .iter()
                .find(|m| m.matches(&parts))
                .map(|m| (policy, m.weight.unwrap_or(1)))
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere cannot leave a window half-updated in a way that matters here.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// `epoch` (seconds, the reset header) as an instant of this process's clock.
fn instant_of_epoch(epoch: i64, now: Instant) -> Instant {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let ahead = epoch - wall;
    if ahead >= 0 {
        now + Duration::from_secs(ahead.unsigned_abs())
    } else {
        now.checked_sub(Duration::from_secs(ahead.unsigned_abs()))
            .unwrap_or(now)
    }
}

impl Policy {
    fn from_node(node: Node<'_>) -> Result<Self> {
        let matchers = each(&node, "matchers", RequestMatcher::from_node)?.unwrap_or_default();
        let limit = match node.type_name() {
            "UnlimitedCallRatePolicy" => Limit::Unlimited,
            "FixedWindowCallRatePolicy" => {
                let call_limit = whole_number(&node, "call_limit")?;
                let period = duration(&node, "period")?;
                Limit::Fixed(Mutex::new(FixedWindow {
                    call_limit,
                    period,
                    next_reset: None,
                    used: 0,
                }))
            }
            "MovingWindowCallRatePolicy" => {
                let rates = each(&node, "rates", |rate| {
                    Ok((whole_number(&rate, "limit")?, duration(&rate, "interval")?))
                })?
                .filter(|r| !r.is_empty())
                .ok_or_else(|| {
                    node.error(
                        "rates",
                        "MovingWindowCallRatePolicy requires `rates`, a list of at least one Rate",
                    )
                })?;
                Limit::Moving(Mutex::new(MovingWindow {
                    rates,
                    calls: VecDeque::new(),
                }))
            }
            _ => return Err(node.unsupported()),
        };
        let lowest = match &limit {
            Limit::Unlimited => None,
            Limit::Fixed(w) => Some(lock(w).call_limit),
            Limit::Moving(w) => lock(w).rates.iter().map(|(l, _)| *l).min(),
        };
        if let Some(lowest) = lowest {
            for (i, matcher) in matchers.iter().enumerate() {
                if let Some(weight) = matcher.weight.filter(|w| *w > lowest) {
                    return Err(EngineError::manifest(
                        &node.child_path("matchers").index(i).key("weight"),
                        format!(
                            "a request's weight ({weight}) cannot exceed the policy's lowest call limit ({lowest}): such a request could never be sent"
                        ),
                    ));
                }
            }
        }
        Ok(Self { matchers, limit })
    }
}

impl FixedWindow {
    /// Takes `weight` calls at `now`, or says how long to wait for them.
    fn try_acquire(&mut self, weight: u64, now: Instant) -> Option<Duration> {
        let reset = *self.next_reset.get_or_insert(now + self.period);
        if now >= reset {
            // Windows follow one another at `period`, from the last reset the API or the
            // first request set.
            let mut next = reset + self.period;
            while next <= now {
                next += self.period;
            }
            self.next_reset = Some(next);
            self.used = 0;
        }
        if self.used + weight > self.call_limit {
            return Some(self.next_reset.map_or(Duration::ZERO, |r| r - now));
        }
        self.used += weight;
        None
    }

    /// The API's counters: fewer calls left than counted here, or another reset time.
    fn update(&mut self, available: Option<u64>, reset: Option<Instant>, now: Instant) {
        if self.next_reset.is_none_or(|r| now >= r) {
            self.try_acquire(0, now);
        }
        if let Some(available) = available {
            let left = self.call_limit.saturating_sub(self.used);
            if left > available {
                self.used = self.call_limit - available.min(self.call_limit);
            }
        }
        if let Some(reset) = reset {
            self.next_reset = Some(reset);
        }
    }
}

impl MovingWindow {
    /// Takes `weight` calls at `now`, or says how long to wait until every rate allows them.
    fn try_acquire(&mut self, weight: u64, now: Instant) -> Option<Duration> {
        let longest = self.rates.iter().map(|(_, i)| *i).max().unwrap_or_default();
        while let Some((at, _)) = self.calls.front() {
            if now.duration_since(*at) >= longest {
                self.calls.pop_front();
            } else {
                break;
            }
        }
        let mut wait = Duration::ZERO;
        for &(limit, interval) in &self.rates {
            let in_window = self.used_in(interval, now);
            if in_window + weight <= limit {
                continue;
            }
            // The oldest calls of the window must leave it until `weight` more fit.
            let mut to_free = in_window + weight - limit;
            for (at, w) in self
                .calls
                .iter()
                .filter(|(at, _)| now.duration_since(*at) < interval)
            {
                if to_free <= *w {
                    wait = wait.max(interval - now.duration_since(*at));
                    break;
                }
                to_free -= w;
            }
        }
        if wait > Duration::ZERO {
            return Some(wait);
        }
        self.calls.push_back((now, weight));
        None
    }

    /// The calls of the last `interval` before `now`.
    fn used_in(&self, interval: Duration, now: Instant) -> u64 {
        self.calls
            .iter()
            .filter(|(at, _)| now.duration_since(*at) < interval)
            .map(|(_, w)| w)
            .sum()
    }

    /// The API has no call left: the first rate's window counts as full from `now`.
    fn fill(&mut self, now: Instant) {
        let Some(&(limit, interval)) = self.rates.first() else {
            return;
        };
        let in_window = self.used_in(interval, now);
        if in_window < limit {
            self.calls.push_back((now, limit - in_window));
        }
    }
}

/// A request's URL taken apart as Python's `urlsplit` does, for the matchers.
struct RequestParts<'a> {
    method: &'a str,
    base: String,
    path: String,
    query: Vec<(String, String)>,
    headers: &'a [(String, String)],
}

impl<'a> RequestParts<'a> {
    fn of(request: &'a HttpRequest) -> Option<Self> {
        let url = url::Url::parse(&request.url).ok()?;
        let netloc = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => String::new(),
        };
        // The last value of a repeated parameter wins, as `dict(parse_qsl(...))`.
        let mut query: Vec<(String, String)> = Vec::new();
        for (k, v) in url.query_pairs() {
            if v.is_empty() {
                continue;
            }
            query.retain(|(name, _)| *name != k);
            query.push((k.into_owned(), v.into_owned()));
        }
        Some(Self {
            method: &request.method,
            base: format!("{}://{netloc}", url.scheme()),
            path: url.path().trim_end_matches('/').to_string(),
            query,
            headers: &request.headers,
        })
    }
}

impl RequestMatcher {
    fn from_node(node: Node<'_>) -> Result<Self> {
        match node.type_name() {
            "HttpRequestRegexMatcher" | "" => {}
            _ => return Err(node.unsupported()),
        }
        let path_pattern = match node.opt_str("url_path_pattern")? {
            Some(p) if !p.is_empty() => Some(fancy_regex::Regex::new(&p).map_err(|e| {
                node.error(
                    "url_path_pattern",
                    format!("is not a valid regular expression: {e}"),
                )
            })?),
            _ => None,
        };
        let weight = match node.get("weight") {
            None => None,
            Some(_) => {
                let w = whole_number(&node, "weight")?;
                if w < 1 {
                    return Err(node.error("weight", format!("must be 1 or more, found {w}")));
                }
                Some(w)
            }
        };
        Ok(Self {
            method: node.opt_str("method")?.map(|m| m.to_ascii_uppercase()),
            url_base: node
                .opt_str("url_base")?
                .map(|u| u.trim_end_matches('/').to_string()),
            path_pattern,
            params: string_pairs(node.opt_object("params")?, false),
            headers: string_pairs(node.opt_object("headers")?, true),
            weight,
        })
    }

    fn matches(&self, request: &RequestParts<'_>) -> bool {
        if self.method.as_deref().is_some_and(|m| m != request.method) {
            return false;
        }
        if self.url_base.as_deref().is_some_and(|b| b != request.base) {
            return false;
        }
        if let Some(pattern) = &self.path_pattern
            && !pattern.is_match(&request.path).unwrap_or(false)
        {
            return false;
        }
        let params_match = self
            .params
            .iter()
            .all(|(k, v)| request.query.iter().any(|(qk, qv)| qk == k && qv == v));
        let headers_match = self.headers.iter().all(|(k, v)| {
            request
                .headers
                .iter()
                .rev()
                .find(|(hk, _)| hk.eq_ignore_ascii_case(k))
                .is_some_and(|(_, hv)| hv == v)
        });
        params_match && headers_match
    }
}

/// Each component of the list `key`, built at its place; `None` when there is no such list.
fn each<T>(
    node: &Node<'_>,
    key: &str,
    build: impl Fn(Node<'_>) -> Result<T>,
) -> Result<Option<Vec<T>>> {
    let Some(items) = node.opt_array(key)? else {
        return Ok(None);
    };
    let list_path = node.child_path(key);
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = list_path.index(i);
            build(node.node(item, &path)?)
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// A mapping's entries as `str()` pairs (names lower-cased for headers).
fn string_pairs(map: Option<&Map<String, Value>>, lower_names: bool) -> Vec<(String, String)> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| {
            let name = if lower_names {
                k.to_ascii_lowercase()
            } else {
                k.clone()
            };
            (name, super::python_str(v))
        })
        .collect()
}

/// A whole number of at least 0: a number, or a template over the config (as the CDK's
/// `Rate.limit` and a matcher's `weight`).
fn whole_number(node: &Node<'_>, key: &str) -> Result<u64> {
    let value = node.required(key)?;
    let evaluated = match value {
        Value::String(text) => InterpolatedString::new(text.clone(), node.parameters())
            .eval(&Context::new(node.config()))
            .map_err(|e| EngineError::interpolation(&node.child_path(key), e))?,
        other => other.clone(),
    };
    evaluated
        .as_u64()
        .or_else(|| evaluated.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| node.error(key, format!("must be a whole number, found {evaluated}")))
}

/// An ISO-8601 duration of days and less (`PT1S`, `PT1M`, `P1D`): months and years have no
/// fixed length, and the CDK cannot use them either.
fn duration(node: &Node<'_>, key: &str) -> Result<Duration> {
    let text = node.str(key)?;
    let parsed = iso8601::parse_duration(&text).ok_or_else(|| {
        node.error(
            key,
            format!("expected an ISO-8601 duration such as PT1S or PT1H, found {text:?}"),
        )
    })?;
    if parsed.months != 0 {
        return Err(node.error(
            key,
            format!("{text:?} counts months or years, which have no fixed length: give it in days or less (P30D)"),
        ));
    }
    parsed
        .delta
        .to_std()
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| node.error(key, format!("must be a positive duration, found {text:?}")))
}

#[cfg(test)]
#[path = "api_budget_tests.rs"]
mod tests;
