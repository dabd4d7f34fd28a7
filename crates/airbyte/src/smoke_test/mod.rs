//! The destination smoke test's data: PyAirbyte's `source-smoke-test` scenarios, and a source
//! that sends them, run in-process.
//!
//! `abrs destination-smoke-test` (PyAirbyte's `pyab destination-smoke-test`) writes these
//! scenarios to a destination to find what it mishandles: types, nulls, naming, wide and sparse
//! tables, duplicate keys, large values. Each [`Scenario`] is one stream. The scenarios are
//! PyAirbyte 0.71's (`airbyte/cli/smoke_test_source/_scenarios.py`), with the same names,
//! schemas, primary keys and records, so that results compare across the two.
//!
//! ```
//! use airbyte::smoke_test;
//!
//! let mut scenarios = smoke_test::select_scenarios("basic_types,null_handling")?;
//! scenarios = smoke_test::merge_scenarios(scenarios, Vec::new())?;
//! let mut source = smoke_test::scenario_source(scenarios);
//! source.select_all_streams()?;
//! let records: Vec<_> = source.get_records("basic_types", None)?.collect::<Result<_, _>>()?;
//! assert_eq!(records.len(), 3);
//! # Ok::<(), airbyte::Error>(())
//! ```

mod custom;
mod executor;
mod scenarios;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::source::Source;

pub use custom::{load_custom_scenarios, parse_custom_scenarios};
pub use executor::ScenarioExecutor;
pub use scenarios::{DEFAULT_LARGE_BATCH_COUNT, LARGE_BATCH_STREAM, large_batch_scenario};

/// The connector name of the scenario source (PyAirbyte's script is `source-smoke-test`).
pub const SOURCE_NAME: &str = "source-smoke-test";

/// The predefined scenario the preflight write copies.
pub const PREFLIGHT_SCENARIO: &str = "basic_types";

/// The stream of the preflight write: not `basic_types`, so that the preflight data lands in a
/// table of its own and never mixes with the main run's.
pub const PREFLIGHT_STREAM_NAME: &str = "_preflight_basic_types";

/// One smoke-test scenario: a stream with its schema, primary key and records.
///
/// The scenario's name is its stream's name (as in PyAirbyte).
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The scenario's name, which is also the name of its stream.
    pub name: String,
    /// What the scenario tests.
    pub description: String,
    /// The stream's JSON schema (an object schema with `properties`).
    pub json_schema: Value,
    /// The stream's primary key: a list of key paths, each a list of field names
    /// (`[["id"]]`), or `None` for a stream without one.
    pub primary_key: Option<Vec<Vec<String>>>,
    /// The records the source sends, in order.
    pub records: Vec<Map<String, Value>>,
    /// Whether the scenario is in the `fast` set: every predefined scenario except the
    /// high-volume `large_batch_stream`. Custom scenarios are fast.
    pub fast: bool,
}

/// Every predefined scenario, in PyAirbyte's order (`large_batch_stream` with
/// [`DEFAULT_LARGE_BATCH_COUNT`] records).
pub fn scenarios() -> Vec<Scenario> {
    scenarios::predefined()
}

/// The names of the predefined scenarios, in order.
pub fn scenario_names() -> Vec<String> {
    scenarios().into_iter().map(|s| s.name).collect()
}

/// The predefined scenarios a `--scenarios` value asks for:
///
/// * `fast` (PyAirbyte's default): every scenario except the high-volume `large_batch_stream`;
/// * `all`: every scenario;
/// * a comma-separated list of names (case-sensitive, spaces around names ignored, duplicates
///   once), returned in the predefined order.
///
/// `fast` and `all` are matched without regard to case or surrounding spaces. An empty value
/// selects no predefined scenario (a run of custom scenarios only, as in PyAirbyte). An
/// unknown name is [`Error::Input`] listing the valid names; PyAirbyte ignores unknown names,
/// which silently tests less than asked.
pub fn select_scenarios(spec: &str) -> Result<Vec<Scenario>> {
    let all = scenarios();
    match spec.trim().to_lowercase().as_str() {
        "all" => return Ok(all),
        "fast" => return Ok(all.into_iter().filter(|s| s.fast).collect()),
        _ => {}
    }
    let wanted: Vec<&str> = spec
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let known: HashSet<&str> = all.iter().map(|s| s.name.as_str()).collect();
    let unknown: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|n| !known.contains(n))
        .collect();
    if !unknown.is_empty() {
        return Err(unknown_scenarios(&unknown, &all));
    }
    let wanted: HashSet<&str> = wanted.into_iter().collect();
    Ok(all
        .into_iter()
        .filter(|s| wanted.contains(s.name.as_str()))
        .collect())
}

fn unknown_scenarios(unknown: &[&str], all: &[Scenario]) -> Error {
    let quoted = |names: &mut dyn Iterator<Item = &str>| {
        names
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Names are case-sensitive (`CamelCaseStreamName` tests exactly that): point at the
    // spelling meant.
    let hints: Vec<String> = unknown
        .iter()
        .filter_map(|u| {
            all.iter()
                .find(|s| s.name.eq_ignore_ascii_case(u))
                .map(|s| format!("`{u}` is spelled `{}`", s.name))
        })
        .collect();
    let hint = if hints.is_empty() {
        String::new()
    } else {
        format!(" ({})", hints.join("; "))
    };
    Error::input(
        format!(
            "unknown smoke-test scenario{} {}{hint}",
            if unknown.len() == 1 { "" } else { "s" },
            quoted(&mut unknown.iter().copied()),
        ),
        format!(
            "use `fast`, `all`, or a comma-separated list of these scenario names: {}",
            quoted(&mut all.iter().map(|s| s.name.as_str()))
        ),
    )
}

/// `selected` followed by `custom` (PyAirbyte unions custom scenarios with the predefined
/// ones). A custom scenario named like a selected one is [`Error::Input`]: PyAirbyte silently
/// drops it, so the user's scenario would not run.
pub fn merge_scenarios(selected: Vec<Scenario>, custom: Vec<Scenario>) -> Result<Vec<Scenario>> {
    let mut names: HashSet<String> = selected.iter().map(|s| s.name.clone()).collect();
    let mut merged = selected;
    for scenario in custom {
        if !names.insert(scenario.name.clone()) {
            return Err(Error::input(
                format!(
                    "the custom scenario `{}` has the same name as another selected scenario",
                    scenario.name
                ),
                "rename the custom scenario (its name is its stream's name, so it must be unique), \
                 or leave the predefined scenario of that name out of --scenarios",
            ));
        }
        merged.push(scenario);
    }
    Ok(merged)
}

/// The preflight scenario: `basic_types`'s schema and records under the stream name
/// [`PREFLIGHT_STREAM_NAME`]. PyAirbyte writes it before the requested scenarios so that a
/// destination that cannot take even basic types fails fast with a clear error.
pub fn preflight_scenario() -> Scenario {
    Scenario {
        name: PREFLIGHT_STREAM_NAME.to_string(),
        description: format!("Preflight check (based on '{PREFLIGHT_SCENARIO}')."),
        json_schema: scenarios::object_schema(scenarios::basic_types_properties()),
        primary_key: Some(vec![vec!["id".to_string()]]),
        records: scenarios::basic_types_records()
            .into_iter()
            .filter_map(|r| match r {
                Value::Object(map) => Some(map),
                _ => None,
            })
            .collect(),
        fast: true,
    }
}

/// A [`Source`] named [`SOURCE_NAME`] that sends `scenarios`, one stream each, run in-process
/// by a [`ScenarioExecutor`] (through the same protocol pipeline as any connector). Its config
/// is set to `{}`: nothing is selected yet (`select_all_streams` sends everything, as PyAirbyte's
/// `streams="*"`).
///
/// Scenarios with the same name as an earlier one are dropped (PyAirbyte's rule); use
/// [`merge_scenarios`] to have that reported instead.
pub fn scenario_source(scenarios: Vec<Scenario>) -> Source {
    scenario_source_in_namespace(scenarios, None)
}

/// [`scenario_source`] with every stream in `namespace` (PyAirbyte's smoke test puts each run in
/// a fresh `zz_deleteme_…` namespace, so that destinations write to a schema of its own). The
/// namespace is the source's `namespace` config setting, and can be changed with
/// [`Source::set_config`].
pub fn scenario_source_in_namespace(scenarios: Vec<Scenario>, namespace: Option<&str>) -> Source {
    let executor = ScenarioExecutor::new(scenarios);
    let mut source = Source::from_executor(SOURCE_NAME, Arc::new(executor));
    let config = match namespace {
        Some(ns) => json!({ "namespace": ns }),
        None => json!({}),
    };
    // An object config, no stream selection pending: setting it runs nothing and cannot fail.
    if let Err(err) = source.set_config(config, false) {
        tracing::warn!("could not set the config of {SOURCE_NAME}: {err}");
    }
    source
}
