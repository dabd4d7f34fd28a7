//! One state from two stores (PyAirbyte's `JoinedStateProvider`): the cache's state first, the
//! destination's for the streams the cache knows nothing of.

use std::collections::HashSet;

use abrs_protocol::{AirbyteStateMessage, StateType};

/// Joins `primary` (the cache's state) with `secondary` (the destination's), per stream:
///
/// * a GLOBAL state in `primary` is the answer; else one in `secondary` when `primary` has
///   no state at all (a GLOBAL and STREAM states cannot be mixed in one `--state`);
/// * else `primary`'s STREAM states, plus `secondary`'s for the other streams;
/// * a LEGACY state only when nothing else is there, `primary`'s first.
pub fn join_states(
    primary: Vec<AirbyteStateMessage>,
    secondary: Vec<AirbyteStateMessage>,
) -> Vec<AirbyteStateMessage> {
    let is = |m: &AirbyteStateMessage, t: StateType| m.kind() == t;
    if let Some(g) = primary.iter().find(|m| is(m, StateType::Global)) {
        return vec![g.clone()];
    }
    if primary.is_empty()
        && let Some(g) = secondary.iter().find(|m| is(m, StateType::Global))
    {
        return vec![g.clone()];
    }
    let stream_of = |m: &AirbyteStateMessage| {
        m.stream
            .as_ref()
            .filter(|_| is(m, StateType::Stream))
            .map(|s| {
                (
                    s.stream_descriptor.name.clone(),
                    s.stream_descriptor.namespace.clone(),
                )
            })
    };
    let mut out: Vec<AirbyteStateMessage> = primary
        .iter()
        .filter(|m| stream_of(m).is_some())
        .cloned()
        .collect();
    let known: HashSet<_> = out.iter().filter_map(stream_of).collect();
    out.extend(
        secondary
            .iter()
            .filter(|m| stream_of(m).is_some_and(|k| !known.contains(&k)))
            .cloned(),
    );
    if out.is_empty() {
        let legacy = |v: &[AirbyteStateMessage]| {
            v.iter()
                .find(|m| stream_of(m).is_none() && !is(m, StateType::Global))
                .cloned()
        };
        out.extend(legacy(&primary).or_else(|| legacy(&secondary)));
    }
    out
}

/// Drops the state of `streams` (streams the destination overwrites, which are read in full).
pub(crate) fn without_streams(
    mut states: Vec<AirbyteStateMessage>,
    streams: &HashSet<String>,
) -> Vec<AirbyteStateMessage> {
    if streams.is_empty() {
        return states;
    }
    states.retain(|m| {
        m.stream
            .as_ref()
            .is_none_or(|s| !streams.contains(&s.stream_descriptor.name))
    });
    for m in &mut states {
        if let Some(g) = &mut m.global {
            g.stream_states
                .retain(|s| !streams.contains(&s.stream_descriptor.name));
        }
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(v: serde_json::Value) -> AirbyteStateMessage {
        serde_json::from_value(v).unwrap()
    }

    fn stream(name: &str, c: i64) -> AirbyteStateMessage {
        state(
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": {"c": c}}}),
        )
    }

    #[test]
    fn the_cache_wins_per_stream() {
        let joined = join_states(vec![stream("a", 1)], vec![stream("a", 9), stream("b", 2)]);
        assert_eq!(joined, vec![stream("a", 1), stream("b", 2)]);
        assert_eq!(
            join_states(vec![], vec![stream("b", 2)]),
            vec![stream("b", 2)]
        );
    }

    #[test]
    fn global_states_are_not_mixed() {
        let g = state(
            json!({"type": "GLOBAL", "global": {"shared_state": {"x": 1}, "stream_states": [
            {"stream_descriptor": {"name": "a"}, "stream_state": {"c": 1}},
            {"stream_descriptor": {"name": "b"}, "stream_state": {"c": 2}}]}}),
        );
        assert_eq!(
            join_states(vec![g.clone()], vec![stream("b", 2)]),
            vec![g.clone()]
        );
        assert_eq!(join_states(vec![], vec![g.clone()]), vec![g.clone()]);
        assert_eq!(
            join_states(vec![stream("a", 1)], vec![g.clone()]),
            vec![stream("a", 1)]
        );
        let only: HashSet<String> = ["a".to_string()].into();
        let dropped = without_streams(vec![g], &only);
        let names: Vec<_> = dropped[0]
            .global
            .as_ref()
            .unwrap()
            .stream_states
            .iter()
            .map(|s| s.stream_descriptor.name.clone())
            .collect();
        assert_eq!(names, ["b"]);
    }
}
