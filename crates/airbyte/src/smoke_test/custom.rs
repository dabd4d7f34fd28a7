//! Custom scenarios (PyAirbyte's `--custom-scenarios FILE` and `custom_scenarios` config):
//! user-defined streams sent along with the predefined ones.

use std::collections::HashSet;
use std::path::Path;

use serde_json::{Map, Value};

use super::Scenario;
use crate::error::{Error, Result};

/// The description of a custom scenario that gives none (PyAirbyte's).
const DEFAULT_DESCRIPTION: &str = "Custom injected scenario";

const FORMAT_GUIDANCE: &str = "write the file as a list of scenarios (or a mapping with a \
    `custom_scenarios` list), each an object with `name` (the stream name), `json_schema` (an \
    object), and optionally `description`, `records` (a list of objects) and `primary_key` (a \
    list of key paths such as [[\"id\"]], or null)";

/// Reads custom scenarios from a JSON or YAML file, as `pyab destination-smoke-test
/// --custom-scenarios FILE` does: the file holds a list of scenarios, or a mapping whose
/// `custom_scenarios` key holds that list. See [`parse_custom_scenarios`] for a scenario's
/// shape. Errors ([`Error::Input`]) name the file and the scenario at fault.
pub fn load_custom_scenarios(path: &Path) -> Result<Vec<Scenario>> {
    let origin = format!("the custom scenarios file {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::input(
            format!("could not read {origin}: {e}"),
            "check the path given to --custom-scenarios",
        )
    })?;
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(json_err) => serde_saphyr::from_str(&text).map_err(|yaml_err| {
            let yaml_err = yaml_err.to_string();
            Error::input(
                format!(
                    "{origin} is neither JSON ({json_err}) nor YAML ({})",
                    yaml_err.lines().next().unwrap_or_default()
                ),
                FORMAT_GUIDANCE,
            )
        })?,
    };
    parse_custom_scenarios(&value, &origin)
}

/// Custom scenarios from a parsed document: a list of scenario objects, or an object whose
/// `custom_scenarios` key holds that list (PyAirbyte's MCP tool and source config pass the
/// list). `origin` names the document in errors.
///
/// A scenario is `{"name": …, "json_schema": {…}, "description"?: …, "records"?: [{…}, …],
/// "primary_key"?: [["id"], …] | null}`; other keys are ignored, as PyAirbyte does. The checks
/// are PyAirbyte's (an object, a name, an object schema, records that are objects) plus: the
/// primary key's shape, and names unique within the document. Custom scenarios are `fast`.
pub fn parse_custom_scenarios(value: &Value, origin: &str) -> Result<Vec<Scenario>> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(map) => match map.get("custom_scenarios") {
            Some(Value::Array(items)) => items,
            Some(_) => return Err(invalid(origin, "its `custom_scenarios` is not a list")),
            None => {
                return Err(invalid(
                    origin,
                    "it must contain a list of scenarios or a mapping with a `custom_scenarios` \
                     key",
                ));
            }
        },
        Value::Null => return Ok(Vec::new()),
        _ => {
            return Err(invalid(
                origin,
                "it must contain a list of scenarios or a mapping with a `custom_scenarios` key",
            ));
        }
    };
    let mut names = HashSet::new();
    let mut scenarios = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let scenario = parse_one(index, item).map_err(|problem| invalid(origin, &problem))?;
        if !names.insert(scenario.name.clone()) {
            return Err(invalid(
                origin,
                &format!(
                    "the scenario name '{}' is used twice (a name is a stream name, so it must be \
                     unique)",
                    scenario.name
                ),
            ));
        }
        scenarios.push(scenario);
    }
    Ok(scenarios)
}

fn invalid(origin: &str, problem: &str) -> Error {
    Error::input(format!("{origin} is not valid: {problem}"), FORMAT_GUIDANCE)
}

fn parse_one(index: usize, item: &Value) -> Result<Scenario, String> {
    let Value::Object(map) = item else {
        return Err(format!(
            "the custom scenario at index {index} must be an object"
        ));
    };
    let name = match map.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(format!(
                "the custom scenario at index {index} is missing 'name'"
            ));
        }
        Some(other) => {
            return Err(format!(
                "the custom scenario at index {index} has a 'name' that is not a string ({other})"
            ));
        }
    };
    let json_schema = match map.get("json_schema") {
        Some(schema @ Value::Object(_)) => schema.clone(),
        _ => {
            return Err(format!(
                "the custom scenario '{name}' must provide 'json_schema' as an object"
            ));
        }
    };
    let description = match map.get("description") {
        None | Some(Value::Null) => DEFAULT_DESCRIPTION.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(format!(
                "the custom scenario '{name}' has a 'description' that is not a string ({other})"
            ));
        }
    };
    let records = records(&name, map)?;
    let primary_key = primary_key(&name, map.get("primary_key"))?;
    Ok(Scenario {
        name,
        description,
        json_schema,
        primary_key,
        records,
        fast: true,
    })
}

fn records(name: &str, map: &Map<String, Value>) -> Result<Vec<Map<String, Value>>, String> {
    match map.get("records") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(j, r)| match r {
                Value::Object(record) => Ok(record.clone()),
                _ => Err(format!(
                    "the custom scenario '{name}' record at index {j} must be an object"
                )),
            })
            .collect(),
        Some(_) => Err(format!(
            "the custom scenario '{name}' has invalid 'records': expected an array of objects"
        )),
    }
}

fn primary_key(name: &str, value: Option<&Value>) -> Result<Option<Vec<Vec<String>>>, String> {
    let bad = || {
        format!(
            "the custom scenario '{name}' has an invalid 'primary_key': expected a list of key \
             paths, each a list of field names (e.g. [[\"id\"]]), or null"
        )
    };
    let paths = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(paths)) => paths,
        Some(_) => return Err(bad()),
    };
    paths
        .iter()
        .map(|path| match path {
            Value::Array(fields) if !fields.is_empty() => fields
                .iter()
                .map(|f| f.as_str().map(str::to_string).ok_or_else(bad))
                .collect(),
            _ => Err(bad()),
        })
        .collect::<Result<Vec<Vec<String>>, String>>()
        // An empty key is no key.
        .map(|key| (!key.is_empty()).then_some(key))
}
