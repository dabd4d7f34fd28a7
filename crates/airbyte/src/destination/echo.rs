//! Which STATE echoes confirm what: the states we sent, in order, and the destination's
//! echoes matched against them.
//!
//! A destination echoes a STATE once everything before it is committed. We keep, per state
//! key (a stream, or the one GLOBAL/LEGACY slot), the states sent and not yet confirmed. An
//! echo confirms the state it matches and every earlier one of the same key. An echo of a
//! state older than one already confirmed (a destination that reorders) is stale and changes
//! nothing; an echo of a state we never sent is unknown, ignored with a warning. States are
//! compared without their `sourceStats`/`destinationStats`, by a hash of their JSON with
//! object keys in sorted order and numbers as floats, so a destination that re-serializes
//! them (other key order, `1.0` for `1`) still matches.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use abrs_protocol::{AirbyteStateMessage, StateType};
use serde_json::Value;

/// States remembered per key before the oldest are forgotten (their echoes then count as
/// unknown): bounds memory for sources that send a state per record to a destination that
/// echoes only the last one.
const MAX_PENDING_PER_KEY: usize = 100_000;
/// Confirmed states remembered per key, to tell a late echo (stale) from a foreign one.
const RECENT_CONFIRMED: usize = 64;

/// What confirming a state means beyond storing it: the cache rows a replay sent before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplayMark {
    pub(crate) stream: String,
    /// The cache table the rows came from.
    pub(crate) table: String,
    /// The highest `_airbyte_raw_id` sent (or the previous mark when nothing new was sent).
    pub(crate) through: Option<String>,
}

struct Pending {
    seq: u64,
    fingerprint: u64,
    marks: Vec<ReplayMark>,
}

/// The verdict on one echoed state.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Echo {
    /// The newest confirmed state of its key: store it; these replays are confirmed.
    Confirmed(Vec<ReplayMark>),
    /// A state older than one already confirmed: keep the newer one.
    Stale,
    /// Not a state we sent.
    Unknown,
}

/// The states sent and the echoes seen (see the module doc).
#[derive(Default)]
pub(crate) struct EchoTracker {
    next_seq: u64,
    pending: HashMap<String, VecDeque<Pending>>,
    confirmed: HashMap<String, (u64, VecDeque<u64>)>,
    /// Echoes of states never sent.
    pub(crate) unknown: u64,
    /// Echoes older than a confirmed state.
    pub(crate) stale: u64,
}

/// The slot a state fills: its stream, or the GLOBAL or LEGACY slot.
pub(crate) fn state_key(state: &AirbyteStateMessage) -> String {
    match (state.kind(), &state.stream) {
        (StateType::Stream, Some(s)) => match &s.stream_descriptor.namespace {
            Some(ns) => format!("stream:{ns}.{}", s.stream_descriptor.name),
            None => format!("stream:{}", s.stream_descriptor.name),
        },
        (StateType::Global, _) => "global".to_string(),
        _ => "legacy".to_string(),
    }
}

fn hash_value(v: &Value, h: &mut DefaultHasher) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => {
            2u8.hash(h);
            match n.as_f64() {
                // -0.0 and 0.0 are one value.
                Some(0.0) => 0u64.hash(h),
                Some(f) => f.to_bits().hash(h),
                None => n.to_string().hash(h),
            }
        }
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(items) => {
            (4u8, items.len()).hash(h);
            items.iter().for_each(|i| hash_value(i, h));
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(h);
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                k.hash(h);
                hash_value(&map[k], h);
            }
        }
    }
}

/// The state's identity, without the statistics either side adds.
pub(crate) fn fingerprint(state: &AirbyteStateMessage) -> u64 {
    let mut value = serde_json::to_value(state).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("sourceStats");
        map.remove("destinationStats");
    }
    let mut h = DefaultHasher::new();
    hash_value(&value, &mut h);
    h.finish()
}

impl EchoTracker {
    /// Notes a state about to be sent, with what its confirmation confirms.
    pub(crate) fn sent(&mut self, state: &AirbyteStateMessage, marks: Vec<ReplayMark>) {
        self.next_seq += 1;
        let queue = self.pending.entry(state_key(state)).or_default();
        if queue.len() >= MAX_PENDING_PER_KEY {
            queue.pop_front();
        }
        queue.push_back(Pending {
            seq: self.next_seq,
            fingerprint: fingerprint(state),
            marks,
        });
    }

    /// Judges an echoed state.
    pub(crate) fn echoed(&mut self, state: &AirbyteStateMessage) -> Echo {
        let key = state_key(state);
        let fp = fingerprint(state);
        let queue = self.pending.entry(key.clone()).or_default();
        let Some(pos) = queue.iter().position(|p| p.fingerprint == fp) else {
            let seen = self
                .confirmed
                .get(&key)
                .is_some_and(|(_, recent)| recent.contains(&fp));
            if seen {
                self.stale += 1;
                return Echo::Stale;
            }
            self.unknown += 1;
            return Echo::Unknown;
        };
        let seq = queue[pos].seq;
        let (last, recent) = self.confirmed.entry(key).or_default();
        if seq <= *last {
            self.stale += 1;
            return Echo::Stale;
        }
        *last = seq;
        let mut marks = Vec::new();
        for p in queue.drain(..=pos) {
            recent.push_back(p.fingerprint);
            if recent.len() > RECENT_CONFIRMED {
                recent.pop_front();
            }
            marks.extend(p.marks);
        }
        Echo::Confirmed(marks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_state(stream: &str, cursor: i64) -> AirbyteStateMessage {
        serde_json::from_value(serde_json::json!({
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"cursor": cursor, "b": [1, {"x": null}]}}
        }))
        .unwrap()
    }

    #[test]
    fn echoes_confirm_in_order_and_late_ones_are_stale() {
        let mut t = EchoTracker::default();
        let mark = |n: &str| ReplayMark {
            stream: n.into(),
            table: "t".into(),
            through: Some(n.into()),
        };
        t.sent(&stream_state("a", 1), vec![mark("1")]);
        t.sent(&stream_state("a", 2), vec![mark("2")]);
        t.sent(&stream_state("b", 1), vec![]);
        // Re-serialized with other key order, a float, and stats added: still a match.
        let echo: AirbyteStateMessage = serde_json::from_value(serde_json::json!({
            "destinationStats": {"recordCount": 5.0},
            "stream": {"stream_state": {"b": [1.0, {"x": null}], "cursor": 2.0}, "stream_descriptor": {"name": "a"}},
            "type": "STREAM"
        }))
        .unwrap();
        assert_eq!(t.echoed(&echo), Echo::Confirmed(vec![mark("1"), mark("2")]));
        assert_eq!(t.echoed(&stream_state("a", 1)), Echo::Stale);
        assert_eq!(t.echoed(&stream_state("a", 3)), Echo::Unknown);
        assert_eq!(t.echoed(&stream_state("b", 1)), Echo::Confirmed(vec![]));
        assert_eq!((t.stale, t.unknown), (1, 1));
    }

    #[test]
    fn a_reordered_pair_keeps_the_newer_state() {
        let mut t = EchoTracker::default();
        t.sent(&stream_state("a", 1), vec![]);
        t.sent(&stream_state("a", 2), vec![]);
        assert!(matches!(
            t.echoed(&stream_state("a", 2)),
            Echo::Confirmed(_)
        ));
        assert_eq!(t.echoed(&stream_state("a", 1)), Echo::Stale);
    }
}
