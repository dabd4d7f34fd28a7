//! `DynamicDeclarativeStream`: streams made from a `stream_template` by a components
//! resolver, as the CDK's `_dynamic_stream_configs` makes them. `ConfigComponentsResolver`
//! fills the template once per entry of the config (`stream_config.configs_pointer`, with
//! `default_values`; several stream configs give every combination); `HttpComponentsResolver`
//! once per record its `retriever` reads. Each `components_mapping` entry evaluates `value`
//! (with `components_values`, `stream_template_config`, and `stream_slice` for the HTTP
//! resolver) and sets it at `field_path` in the template where that path exists (or creates it
//! with `create_or_update`). The filled streams get types and parameters propagated again
//! (parents' parameters winning unless `use_parent_parameters: false`).

use serde_json::{Map, Value};

use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::extractors::dpath;
use crate::factory::Node;
use crate::http::HttpClient;
use crate::interpolation::{Context, InterpolatedBoolean, Interpolator, LiteralKind};
use crate::loader::propagate_types_and_parameters;
use crate::partition_routers;
use crate::retrievers::SimpleRetriever;
use crate::slice::Slice;

/// One `ComponentMappingDefinition`.
#[derive(Debug)]
struct Mapping {
    field_path: Vec<String>,
    value: String,
    valid_types: Option<[LiteralKind; 1]>,
    create_or_update: bool,
    condition: Option<InterpolatedBoolean>,
    parameters: minijinja::Value,
    at: ManifestPath,
}

impl Mapping {
    fn from_node(node: Node<'_>) -> Result<Self> {
        let valid_types = match node.opt_str("value_type")?.as_deref() {
            None => None,
            Some("string") => Some([LiteralKind::Str]),
            Some("number") => Some([LiteralKind::Float]),
            Some("integer") => Some([LiteralKind::Int]),
            Some("boolean") => Some([LiteralKind::Bool]),
            Some("array") => Some([LiteralKind::List]),
            Some("object") => Some([LiteralKind::Dict]),
            Some("null") => Some([LiteralKind::None]),
            Some(other) => {
                return Err(node.error("value_type", format!("unknown value_type {other:?}")));
            }
        };
        Ok(Self {
            field_path: node.opt_str_list("field_path")?.ok_or_else(|| {
                node.error(
                    "field_path",
                    "ComponentMappingDefinition requires `field_path`",
                )
            })?,
            value: node.str("value")?,
            valid_types,
            create_or_update: node.opt_bool("create_or_update")?.unwrap_or(false),
            condition: node
                .get("condition")
                .filter(|c| c.as_str() != Some(""))
                .and_then(|_| node.opt_condition("condition")),
            parameters: minijinja::Value::from(minijinja::value::Serde(node.parameters())),
            at: node.path.clone(),
        })
    }

    /// Applies the mapping to `stream` (the template's copy) in `context`.
    fn apply(&self, stream: &mut Value, context: &Context, parse_yaml: bool) -> Result<()> {
        if let Some(condition) = &self.condition
            && !condition
                .eval(context)
                .map_err(|e| EngineError::interpolation(&self.at.key("condition"), e))?
        {
            return Ok(());
        }
        let interpolator = Interpolator::shared();
        let value = interpolator
            .eval(
                &self.value,
                context,
                Some(&self.parameters),
                None,
                self.valid_types.as_ref().map(|t| t.as_slice()),
            )
            .map_err(|e| EngineError::interpolation(&self.at.key("value"), e))?;
        let path = self
            .field_path
            .iter()
            .map(|p| {
                interpolator
                    .eval(p, context, Some(&self.parameters), None, None)
                    .map(|v| crate::interpolation::python_repr::json_python_str(&v))
                    .map_err(|e| EngineError::interpolation(&self.at.key("field_path"), e))
            })
            .collect::<Result<Vec<_>>>()?;
        let is_plain_string = value.is_string() && self.valid_types == Some([LiteralKind::Str]);
        let value = if parse_yaml && !is_plain_string {
            parse_yaml_if_possible(value)
        } else {
            value
        };
        let updated = set_existing(stream, &path, &value);
        if updated == 0 && self.create_or_update && crate::truthiness::truthy(&value) {
            dpath::new(stream, &path, value)
                .map_err(|e| EngineError::manifest(&self.at.key("field_path"), e))?;
        }
        Ok(())
    }
}

/// `yaml.safe_load` of a string value (a value that is not YAML stays as it is).
fn parse_yaml_if_possible(value: Value) -> Value {
    match &value {
        Value::String(s) => serde_saphyr::from_str::<Value>(s).unwrap_or(value),
        _ => value,
    }
}

/// `dpath.set`: `value` at every existing path matching the glob `path`; how many were set.
fn set_existing(target: &mut Value, path: &[String], value: &Value) -> usize {
    let Some((first, rest)) = path.split_first() else {
        return 0;
    };
    let mut count = 0;
    match target {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if dpath::fnmatch(key, first) {
                    if rest.is_empty() {
                        *child = value.clone();
                        count += 1;
                    } else {
                        count += set_existing(child, rest, value);
                    }
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                if dpath::fnmatch(&i.to_string(), first) {
                    if rest.is_empty() {
                        *child = value.clone();
                        count += 1;
                    } else {
                        count += set_existing(child, rest, value);
                    }
                }
            }
        }
        _ => {}
    }
    count
}

/// The streams of one `dynamic_streams` entry (`at` is where it is), filled and propagated.
pub fn resolve(definition: Node<'_>, client: &HttpClient) -> Result<Vec<Value>> {
    let resolver_path = definition.child_path("components_resolver");
    let resolver = definition
        .child("components_resolver", &resolver_path)?
        .ok_or_else(|| {
            definition.error(
                "components_resolver",
                "DynamicDeclarativeStream requires a components_resolver",
            )
        })?;
    let template = definition.opt_object("stream_template")?.ok_or_else(|| {
        definition.error(
            "stream_template",
            "DynamicDeclarativeStream requires a stream_template",
        )
    })?;
    let template_value = Value::Object(template.clone());
    let mappings_path = resolver.child_path("components_mapping");
    let mappings = resolver
        .opt_array("components_mapping")?
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let path = mappings_path.index(i);
            Mapping::from_node(resolver.node(m, &path)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let base = Context::new(resolver.config()).with("stream_template_config", &template_value);
    let mut filled = Vec::new();
    match resolver.type_name() {
        "ConfigComponentsResolver" => {
            for values in config_combinations(resolver)? {
                let context = base.clone().with("components_values", &values);
                let mut stream = template_value.clone();
                for mapping in &mappings {
                    mapping.apply(&mut stream, &context, true)?;
                }
                filled.push(stream);
            }
        }
        "HttpComponentsResolver" => {
            if mappings.iter().any(|m| m.condition.is_some()) {
                return Err(resolver.error(
                    "components_mapping",
                    "`condition` is only supported for `ConfigComponentsResolver`",
                ));
            }
            let name = definition
                .opt_str("name")?
                .unwrap_or_else(|| "__http_components_resolver".into());
            for (values, slice) in http_records(resolver, client, &name)? {
                let context = base
                    .clone()
                    .with("components_values", &values)
                    .with_stream_slice(slice.template_value());
                let mut stream = template_value.clone();
                for mapping in &mappings {
                    mapping.apply(&mut stream, &context, false)?;
                }
                filled.push(stream);
            }
        }
        _ => return Err(resolver.unsupported()),
    }
    let use_parent = definition
        .opt_bool("use_parent_parameters")?
        .unwrap_or(true);
    let template_path = definition.child_path("stream_template");
    let mut out = Vec::with_capacity(filled.len());
    for stream in filled {
        let Value::Object(map) = stream else { continue };
        let mut propagated =
            propagate_types_and_parameters("", &map, &Map::new(), use_parent, &template_path)?;
        propagated
            .entry("type")
            .or_insert_with(|| Value::String("DeclarativeStream".into()));
        if !propagated.get("name").is_some_and(Value::is_string) {
            return Err(EngineError::manifest(
                &template_path,
                format!(
                    "Expected stream name {} to be a string",
                    propagated.get("name").cloned().unwrap_or(Value::Null)
                ),
            ));
        }
        out.push(Value::Object(propagated));
    }
    Ok(out)
}

/// Every combination of the resolver's stream configs (`_stream_config`): the entries each
/// `configs_pointer` finds in the config (plus `default_values`), one from each, merged.
fn config_combinations(resolver: Node<'_>) -> Result<Vec<Value>> {
    let configs: Vec<Value> = match resolver.required("stream_config")? {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    let context = Context::new(resolver.config());
    let mut lists: Vec<Vec<(usize, Value)>> = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        let path = resolver.child_path("stream_config").index(i);
        let node = resolver.node(config, &path)?;
        let pointer = node
            .opt_str_list("configs_pointer")?
            .unwrap_or_default()
            .iter()
            .map(|p| {
                crate::interpolation::InterpolatedString::new(p.clone(), node.parameters())
                    .eval_to_string(&context)
                    .map_err(|e| EngineError::interpolation(&path.key("configs_pointer"), e))
            })
            .collect::<Result<Vec<_>>>()?;
        let found = dpath::get(resolver.config(), &dpath::globs(&pointer))
            .ok()
            .flatten()
            .cloned();
        let mut entries = match found {
            None => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => vec![other],
        };
        if let Some(defaults) = node.opt_array("default_values")? {
            entries.extend(defaults.iter().cloned());
        }
        lists.push(entries.into_iter().enumerate().collect());
    }
    let mut combos: Vec<Vec<(usize, Value)>> = vec![Vec::new()];
    for list in &lists {
        let mut next = Vec::new();
        for combo in &combos {
            for item in list {
                let mut c = combo.clone();
                c.push(item.clone());
                next.push(c);
            }
        }
        combos = next;
    }
    Ok(combos
        .into_iter()
        .map(|combo| {
            let mut merged = Map::new();
            for (config_index, (element_index, element)) in combo.into_iter().enumerate() {
                match element {
                    Value::Object(m) => merged.extend(m),
                    other => {
                        merged
                            .entry(format!("source_config_{config_index}"))
                            .or_insert_with(|| {
                                Value::Array(vec![Value::from(element_index), other])
                            });
                    }
                }
            }
            Value::Object(merged)
        })
        .collect())
}

/// The records the HTTP resolver's retriever reads, each with its slice.
fn http_records(
    resolver: Node<'_>,
    client: &HttpClient,
    name: &str,
) -> Result<Vec<(Value, Slice)>> {
    let retriever_path = resolver.child_path("retriever");
    let retriever_node = resolver
        .child("retriever", &retriever_path)?
        .ok_or_else(|| {
            resolver.error("retriever", "HttpComponentsResolver requires a retriever")
        })?;
    let retriever = SimpleRetriever::from_node(retriever_node, resolver, name)?;
    let router = match retriever_node.get("partition_router") {
        None => None,
        Some(Value::Array(items)) if items.is_empty() => None,
        Some(value) => Some(partition_routers::from_value(
            retriever_node,
            value,
            &retriever_path.key("partition_router"),
        )?),
    };
    let mut slices = Vec::new();
    match &router {
        Some(router) => router.for_each_partition(client, None, &mut |slice| {
            slices.push(slice);
            Ok(true)
        })?,
        None => slices.push(Slice::default()),
    }
    let mut out = Vec::new();
    let empty = Value::Object(Map::new());
    for slice in slices {
        let options = |s: &Slice| match &router {
            Some(r) => r.request_options(s),
            None => Ok(Default::default()),
        };
        retriever.read_slice(client, &slice, &empty, &options, None, &mut |record| {
            out.push((record, slice.clone()));
            Ok(true)
        })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dpath_set_sets_existing_paths_only() {
        let mut v = json!({"a": {"b": 1, "c": 2}, "l": [{"x": 1}, {"x": 2}]});
        assert_eq!(
            set_existing(&mut v, &["a".into(), "b".into()], &json!(9)),
            1
        );
        assert_eq!(
            set_existing(&mut v, &["a".into(), "z".into()], &json!(9)),
            0
        );
        assert_eq!(
            set_existing(&mut v, &["l".into(), "*".into(), "x".into()], &json!(0)),
            2
        );
        assert_eq!(v, json!({"a": {"b": 9, "c": 2}, "l": [{"x": 0}, {"x": 0}]}));
    }

    #[test]
    fn yaml_values_are_parsed_as_the_cdk_does() {
        assert_eq!(parse_yaml_if_possible(json!("{a: 1}")), json!({"a": 1}));
        assert_eq!(parse_yaml_if_possible(json!("[1, 2]")), json!([1, 2]));
        assert_eq!(parse_yaml_if_possible(json!("plain")), json!("plain"));
        assert_eq!(parse_yaml_if_possible(json!(3)), json!(3));
    }
}
