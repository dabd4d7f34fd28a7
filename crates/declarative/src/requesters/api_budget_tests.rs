//! The budget's waits, on a clock that moves only when the budget sleeps.

use super::*;
use crate::error::ManifestPath;
use crate::factory::BuildEnv;
use serde_json::json;

/// A clock that moves only when the budget sleeps, recording each sleep.
#[derive(Debug)]
struct ManualClock {
    start: Instant,
    state: Mutex<(Duration, Vec<Duration>)>,
}

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            state: Mutex::new((Duration::ZERO, Vec::new())),
        })
    }
    fn advance(&self, d: Duration) {
        lock(&self.state).0 += d;
    }
    fn sleeps(&self) -> Vec<Duration> {
        lock(&self.state).1.clone()
    }
}

impl BudgetClock for ManualClock {
    fn now(&self) -> Instant {
        self.start + lock(&self.state).0
    }
    fn sleep(&self, duration: Duration) {
        let mut state = lock(&self.state);
        state.0 += duration;
        state.1.push(duration);
    }
}

fn budget(value: Value, config: Value, clock: Arc<ManualClock>) -> Result<ApiBudget> {
    let env = BuildEnv {
        config,
        ..Default::default()
    };
    let path = ManifestPath::root().key("api_budget");
    ApiBudget::from_node_with_clock(Node::new(&value, &path, &env)?, clock)
}

fn get(url: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        url: url.into(),
        headers: vec![("X-Sandbox".into(), "true".into())],
        body: None,
    }
}

fn response(status: u16, headers: &[(&str, &str)]) -> HttpResponse {
    HttpResponse::new(
        status,
        headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect(),
        Vec::new(),
        String::new(),
    )
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn a_moving_window_waits_for_its_oldest_call_to_leave() {
    let clock = ManualClock::new();
    let b = budget(
        json!({"type": "HTTPAPIBudget", "policies": [{
            "type": "MovingWindowCallRatePolicy",
            "rates": [{"type": "Rate", "limit": "{{ config['calls'] }}", "interval": "PT10S"}],
            "matchers": []
        }]}),
        json!({"calls": 2}),
        clock.clone(),
    )
    .unwrap();
    let r = get("https://api.example.com/v1/items");
    b.acquire(&r);
    clock.advance(secs(3));
    b.acquire(&r);
    assert!(clock.sleeps().is_empty());
    // The third call waits until the first is 10 s old: 7 s more.
    b.acquire(&r);
    assert_eq!(clock.sleeps(), vec![secs(7)]);
    // The fourth waits until the second (at 3 s) leaves: at 13 s, 3 s after the third.
    b.acquire(&r);
    assert_eq!(clock.sleeps(), vec![secs(7), secs(3)]);
}

#[test]
fn every_rate_of_a_moving_window_holds() {
    let clock = ManualClock::new();
    let b = budget(
        json!({"policies": [{
            "type": "MovingWindowCallRatePolicy",
            "rates": [
                {"limit": 2, "interval": "PT1S"},
                {"limit": 3, "interval": "PT1M"}
            ]
        }]}),
        Value::Null,
        clock.clone(),
    )
    .unwrap();
    let r = get("https://api.example.com/a");
    for _ in 0..3 {
        b.acquire(&r);
    }
    // 2 per second: the third waited a second; then 3 per minute holds the fourth until
    // the first call is a minute old.
    assert_eq!(clock.sleeps(), vec![secs(1)]);
    b.acquire(&r);
    assert_eq!(clock.sleeps(), vec![secs(1), secs(59)]);
}

#[test]
fn a_fixed_window_resets_after_its_period_and_follows_the_api() {
    let clock = ManualClock::new();
    let b = budget(
        json!({"policies": [{
            "type": "FixedWindowCallRatePolicy", "call_limit": 2, "period": "PT1M",
            "matchers": [{"type": "HttpRequestRegexMatcher", "url_path_pattern": "/items"}]
        }]}),
        Value::Null,
        clock.clone(),
    )
    .unwrap();
    let r = get("https://api.example.com/items");
    b.acquire(&r);
    clock.advance(secs(20));
    b.acquire(&r);
    b.acquire(&r);
    // The window opened with the first call: 40 s were left of it.
    assert_eq!(clock.sleeps(), vec![secs(40)]);
    // The API says one call is left of its own window: the policy counts it so.
    b.update_from_response(&r, &response(200, &[("ratelimit-remaining", "0")]));
    b.acquire(&r);
    assert_eq!(clock.sleeps(), vec![secs(40), secs(60)]);
    // A 429 counts as no call left.
    b.update_from_response(&r, &response(429, &[]));
    b.acquire(&r);
    assert_eq!(clock.sleeps().len(), 3);
}

#[test]
fn the_first_matching_policy_applies_and_unmatched_requests_are_free() {
    let clock = ManualClock::new();
    let b = budget(
        json!({"policies": [
            {"type": "UnlimitedCallRatePolicy", "matchers": [
                {"type": "HttpRequestRegexMatcher", "url_base": "https://api.example.com/",
                 "url_path_pattern": "^/v1/items$", "headers": {"x-sandbox": "true"}}
            ]},
            {"type": "FixedWindowCallRatePolicy", "call_limit": 3, "period": "PT1H",
             "matchers": [
                {"type": "HttpRequestRegexMatcher", "method": "get", "url_path_pattern": "/v1/",
                 "params": {"page": 2}, "weight": 2},
                {"type": "HttpRequestRegexMatcher", "url_path_pattern": "/v1/"}
             ]}
        ]}),
        Value::Null,
        clock.clone(),
    )
    .unwrap();
    // Sandbox calls to /v1/items are unlimited.
    for _ in 0..10 {
        b.acquire(&get("https://api.example.com/v1/items/"));
    }
    // Calls elsewhere are not limited at all.
    for _ in 0..10 {
        b.acquire(&get("https://api.example.com/v2/other"));
    }
    assert!(clock.sleeps().is_empty());
    // Page 2 weighs 2, other /v1/ calls 1: 2 + 1 fill the 3 calls of the hour.
    b.acquire(&get("https://api.example.com/v1/users?page=2"));
    b.acquire(&get("https://api.example.com/v1/users?page=3"));
    assert!(clock.sleeps().is_empty());
    b.acquire(&get("https://api.example.com/v1/users?page=4"));
    assert_eq!(clock.sleeps(), vec![secs(3600)]);
}

#[test]
fn the_api_running_out_fills_a_moving_window() {
    let clock = ManualClock::new();
    let b = budget(
        json!({"ratelimit_remaining_header": "X-Left", "policies": [{
            "type": "MovingWindowCallRatePolicy",
            "rates": [{"limit": 100, "interval": "PT30S"}]
        }]}),
        Value::Null,
        clock.clone(),
    )
    .unwrap();
    let r = get("https://api.example.com/a");
    b.acquire(&r);
    b.update_from_response(&r, &response(200, &[("X-Left", "7")]));
    b.acquire(&r);
    assert!(clock.sleeps().is_empty());
    b.update_from_response(&r, &response(200, &[("X-Left", "0")]));
    b.acquire(&r);
    assert_eq!(clock.sleeps(), vec![secs(30)]);
}

#[test]
fn mistakes_are_errors_at_their_place() {
    let clock = ManualClock::new();
    let cases = [
        (
            json!({"policies": [{"type": "MovingWindowCallRatePolicy", "rates": []}]}),
            "api_budget.policies[0].rates",
        ),
        (
            json!({"policies": [{"type": "FixedWindowCallRatePolicy", "call_limit": 5, "period": "P1M"}]}),
            "months",
        ),
        (
            json!({"policies": [{"type": "FixedWindowCallRatePolicy", "call_limit": 1, "period": "PT1S",
                "matchers": [{"type": "HttpRequestRegexMatcher", "weight": 2}]}]}),
            "api_budget.policies[0].matchers[0].weight",
        ),
        (
            json!({"policies": [{"type": "TokenBucketPolicy"}]}),
            "TokenBucketPolicy",
        ),
        (json!({"type": "HTTPAPIBudget"}), "requires `policies`"),
    ];
    for (value, expected) in cases {
        let message = budget(value, Value::Null, clock.clone())
            .unwrap_err()
            .to_string();
        assert!(message.contains(expected), "{message}");
    }
}
