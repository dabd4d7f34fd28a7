//! Default component types and `$parameters`, pushed down the tree as the CDK's
//! `ManifestComponentTransformer.propagate_types_and_parameters` does.
//!
//! * A mapping without `type` gets the default type of the field that holds it
//!   (`SimpleRetriever.requester` → `HttpRequester`, ...; [`DEFAULT_MODEL_TYPES`]), or with a
//!   `class_name`, the `Custom*` type of that field ([`CUSTOM_COMPONENTS_MAPPING`]).
//! * A component's `$parameters` are its parent's overlaid by its own. Every parameter is also
//!   copied into the component as a field unless the component has a truthy value there
//!   (Python's `component.get(key) or value`), and the remaining ones are kept in `$parameters`
//!   for interpolation (`{{ parameters.name }}`).
//! * A parameter named like the field a child sits in is not passed into that child.
//! * JSON-schema objects (`type: object` or a list/mapping `type`) are left alone.

use serde_json::{Map, Value};

use crate::error::{DeclarativeError, ManifestPath};
pub(crate) use crate::truthiness::truthy as is_truthy;

/// The `$parameters` key.
pub const PARAMETERS_KEY: &str = "$parameters";

/// `"<ParentType>.<field>"` → the type a component in that field has when it names none.
pub const DEFAULT_MODEL_TYPES: &[(&str, &str)] = &[
    (
        "CompositeErrorHandler.error_handlers",
        "DefaultErrorHandler",
    ),
    ("CursorPagination.decoder", "JsonDecoder"),
    ("DatetimeBasedCursor.end_datetime", "MinMaxDatetime"),
    ("DatetimeBasedCursor.end_time_option", "RequestOption"),
    ("DatetimeBasedCursor.start_datetime", "MinMaxDatetime"),
    ("DatetimeBasedCursor.start_time_option", "RequestOption"),
    ("DeclarativeSource.check", "CheckStream"),
    ("DeclarativeSource.spec", "Spec"),
    ("DeclarativeSource.streams", "DeclarativeStream"),
    ("DeclarativeStream.retriever", "SimpleRetriever"),
    ("DeclarativeStream.schema_loader", "JsonFileSchemaLoader"),
    (
        "DynamicDeclarativeStream.stream_template",
        "DeclarativeStream",
    ),
    (
        "DynamicDeclarativeStream.components_resolver",
        "ConfigComponentResolver",
    ),
    ("HttpComponentsResolver.retriever", "SimpleRetriever"),
    (
        "HttpComponentsResolver.components_mapping",
        "ComponentMappingDefinition",
    ),
    ("ConfigComponentsResolver.stream_config", "StreamConfig"),
    (
        "ConfigComponentsResolver.components_mapping",
        "ComponentMappingDefinition",
    ),
    ("DefaultErrorHandler.response_filters", "HttpResponseFilter"),
    ("DefaultPaginator.decoder", "JsonDecoder"),
    ("DefaultPaginator.page_size_option", "RequestOption"),
    ("DpathExtractor.decoder", "JsonDecoder"),
    ("DpathExtractor.record_expander", "RecordExpander"),
    ("HttpRequester.error_handler", "DefaultErrorHandler"),
    ("ListPartitionRouter.request_option", "RequestOption"),
    ("ParentStreamConfig.request_option", "RequestOption"),
    ("ParentStreamConfig.stream", "DeclarativeStream"),
    ("RecordExpander.parent_fields", "ParentFieldPath"),
    ("RecordSelector.extractor", "DpathExtractor"),
    ("RecordSelector.record_filter", "RecordFilter"),
    ("SimpleRetriever.paginator", "NoPagination"),
    ("SimpleRetriever.record_selector", "RecordSelector"),
    ("SimpleRetriever.requester", "HttpRequester"),
    (
        "SubstreamPartitionRouter.parent_stream_configs",
        "ParentStreamConfig",
    ),
    ("AddFields.fields", "AddedFieldDefinition"),
    (
        "CustomPartitionRouter.parent_stream_configs",
        "ParentStreamConfig",
    ),
    ("DynamicSchemaLoader.retriever", "SimpleRetriever"),
    ("SchemaTypeIdentifier.types_map", "TypesMap"),
];

/// `"<ParentType>.<field>"` → the type a component with a `class_name` and no `type` has.
pub const CUSTOM_COMPONENTS_MAPPING: &[(&str, &str)] = &[
    (
        "CompositeErrorHandler.backoff_strategies",
        "CustomBackoffStrategy",
    ),
    ("DeclarativeStream.retriever", "CustomRetriever"),
    ("DeclarativeStream.transformations", "CustomTransformation"),
    (
        "DefaultErrorHandler.backoff_strategies",
        "CustomBackoffStrategy",
    ),
    (
        "DefaultPaginator.pagination_strategy",
        "CustomPaginationStrategy",
    ),
    ("HttpRequester.authenticator", "CustomAuthenticator"),
    ("HttpRequester.error_handler", "CustomErrorHandler"),
    ("RecordSelector.extractor", "CustomRecordExtractor"),
    ("SimpleRetriever.partition_router", "CustomPartitionRouter"),
];

fn table_lookup(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Propagates types and parameters through `component`, which sits in the field
/// `parent_field_identifier` (`"SimpleRetriever.requester"`; `""` for the manifest itself).
/// With `use_parent_parameters`, the parent's parameters win over the component's own (the
/// CDK uses that for dynamic streams).
pub fn propagate_types_and_parameters(
    parent_field_identifier: &str,
    component: &Map<String, Value>,
    parent_parameters: &Map<String, Value>,
    use_parent_parameters: bool,
    at: &ManifestPath,
) -> Result<Map<String, Value>, DeclarativeError> {
    let mut propagated = component.clone();
    if !propagated.contains_key("type") {
        let table = if propagated.contains_key("class_name") {
            CUSTOM_COMPONENTS_MAPPING
        } else {
            DEFAULT_MODEL_TYPES
        };
        if let Some(found) = table_lookup(table, parent_field_identifier) {
            propagated.insert("type".into(), Value::String(found.into()));
        }
    }

    let own = match propagated.shift_remove(PARAMETERS_KEY) {
        None => Map::new(),
        Some(Value::Object(own)) => own,
        Some(Value::Null) => Map::new(),
        Some(other) => {
            return Err(DeclarativeError::Invalid {
                at: at.key(PARAMETERS_KEY),
                message: format!(
                    "$parameters must be a mapping, found {}",
                    super::parse::kind_name(&other)
                ),
            });
        }
    };
    let mut current = if use_parent_parameters {
        let mut merged = own;
        for (k, v) in parent_parameters {
            merged.insert(k.clone(), v.clone());
        }
        merged
    } else {
        let mut merged = parent_parameters.clone();
        for (k, v) in own {
            merged.insert(k, v);
        }
        merged
    };

    if is_json_schema_object(&propagated) {
        return Ok(propagated);
    }

    let Some(component_type) = propagated.get("type").map(type_name) else {
        // No type: only typed mappings directly below are components; they keep this field's identifier.
        let keys: Vec<String> = propagated.keys().cloned().collect();
        for key in keys {
            let is_component = matches!(propagated.get(&key), Some(Value::Object(m)) if m.get("type").is_some_and(is_truthy));
            if is_component && let Some(Value::Object(child)) = propagated.get(&key) {
                let child = propagate_types_and_parameters(
                    parent_field_identifier,
                    child,
                    &current,
                    use_parent_parameters,
                    &at.key(&key),
                )?;
                propagated.insert(key, Value::Object(child));
            }
        }
        return Ok(propagated);
    };

    // Fields that take their value from a parameter. In Python they hold the parameter's own
    // list object, so the in-place propagation into a list's items below also shows in the
    // component's `$parameters` (the CDK prints that in a schema it mistakes for a component).
    let mut from_parameters = std::collections::HashSet::new();
    for (key, value) in &current {
        let keep_own = propagated.get(key).is_some_and(is_truthy);
        if !keep_own {
            propagated.insert(key.clone(), value.clone());
            from_parameters.insert(key.clone());
        }
    }

    let keys: Vec<String> = propagated.keys().cloned().collect();
    for key in keys {
        let identifier = format!("{component_type}.{key}");
        let Some(value) = propagated.get_mut(&key) else {
            continue;
        };
        match value {
            Value::Object(child) => {
                let excluded = current.shift_remove(&key);
                *child = propagate_types_and_parameters(
                    &identifier,
                    child,
                    &current,
                    use_parent_parameters,
                    &at.key(&key),
                )?;
                restore(&mut current, key, excluded);
            }
            Value::Array(items) => {
                let mut excluded = current.shift_remove(&key);
                for (i, item) in items.iter_mut().enumerate() {
                    if let Value::Object(child) = item {
                        *child = propagate_types_and_parameters(
                            &identifier,
                            child,
                            &current,
                            use_parent_parameters,
                            &at.key(&key).index(i),
                        )?;
                    }
                }
                if excluded.is_some() && from_parameters.contains(&key) {
                    excluded = Some(Value::Array(items.clone()));
                }
                restore(&mut current, key, excluded);
            }
            _ => {}
        }
    }

    if !current.is_empty() {
        propagated.insert(PARAMETERS_KEY.into(), Value::Object(current));
    }
    Ok(propagated)
}

/// The CDK puts an excluded parameter back only when it is truthy (and at the end).
fn restore(current: &mut Map<String, Value>, key: String, excluded: Option<Value>) {
    if let Some(value) = excluded
        && is_truthy(&value)
    {
        current.insert(key, value);
    }
}

fn is_json_schema_object(component: &Map<String, Value>) -> bool {
    match component.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(_) | Value::Object(_)) => true,
        _ => false,
    }
}

fn type_name(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn propagate(id: &str, v: Value) -> Value {
        let Value::Object(m) = v else {
            panic!("not a map")
        };
        Value::Object(
            propagate_types_and_parameters(id, &m, &Map::new(), false, &ManifestPath::root())
                .unwrap(),
        )
    }

    #[test]
    fn default_types_are_filled_in_from_the_parent_field() {
        let v = propagate(
            "",
            json!({"type": "DeclarativeSource", "check": {"stream_names": ["a"]}, "streams": [{
                "retriever": {"requester": {"url": "u"}, "record_selector": {"extractor": {"field_path": []}}, "paginator": {"type": "DefaultPaginator", "page_size_option": {"field_name": "l", "inject_into": "request_parameter"}}}
            }]}),
        );
        assert_eq!(v["check"]["type"], "CheckStream");
        let s = &v["streams"][0];
        assert_eq!(s["type"], "DeclarativeStream");
        assert_eq!(s["retriever"]["type"], "SimpleRetriever");
        assert_eq!(s["retriever"]["requester"]["type"], "HttpRequester");
        assert_eq!(s["retriever"]["record_selector"]["type"], "RecordSelector");
        assert_eq!(
            s["retriever"]["record_selector"]["extractor"]["type"],
            "DpathExtractor"
        );
        assert_eq!(
            s["retriever"]["paginator"]["page_size_option"]["type"],
            "RequestOption"
        );
    }

    #[test]
    fn a_paginator_without_type_is_no_pagination_and_class_name_gives_custom_types() {
        let v = propagate(
            "DeclarativeStream.retriever",
            json!({"paginator": {}, "partition_router": {"class_name": "x.Y"}}),
        );
        assert_eq!(v["paginator"]["type"], "NoPagination");
        assert_eq!(v["partition_router"]["type"], "CustomPartitionRouter");
        let v = propagate("HttpRequester.authenticator", json!({"class_name": "a.B"}));
        assert_eq!(v["type"], "CustomAuthenticator");
    }

    #[test]
    fn parameters_flow_down_and_are_copied_into_fields_unless_set() {
        let v = propagate(
            "DeclarativeSource.streams",
            json!({"type": "DeclarativeStream", "$parameters": {"name": "users", "path": "/users", "primary_key": "id"},
                   "primary_key": "", "retriever": {"type": "SimpleRetriever", "requester": {"type": "HttpRequester", "path": "/own", "$parameters": {"extra": 1}}}}),
        );
        assert_eq!(v["name"], "users");
        assert_eq!(
            v["primary_key"], "id",
            "a falsy own value is replaced by the parameter"
        );
        assert_eq!(
            v["$parameters"],
            json!({"name": "users", "path": "/users", "primary_key": "id"})
        );
        let requester = &v["retriever"]["requester"];
        assert_eq!(requester["path"], "/own");
        assert_eq!(requester["extra"], 1);
        assert_eq!(
            requester["$parameters"],
            json!({"name": "users", "path": "/users", "primary_key": "id", "extra": 1})
        );
    }

    #[test]
    fn a_component_overrides_its_parents_parameters_unless_parent_wins() {
        let parent: Map<String, Value> = json!({"name": "parent"}).as_object().unwrap().clone();
        let comp = json!({"type": "DeclarativeStream", "$parameters": {"name": "own"}});
        let own = propagate_types_and_parameters(
            "",
            comp.as_object().unwrap(),
            &parent,
            false,
            &ManifestPath::root(),
        )
        .unwrap();
        assert_eq!(own["$parameters"]["name"], "own");
        let wins = propagate_types_and_parameters(
            "",
            comp.as_object().unwrap(),
            &parent,
            true,
            &ManifestPath::root(),
        )
        .unwrap();
        assert_eq!(wins["$parameters"]["name"], "parent");
    }

    #[test]
    fn a_parameter_named_like_the_field_is_not_passed_into_that_child() {
        let v = propagate(
            "",
            json!({"type": "SimpleRetriever", "$parameters": {"requester": "x", "name": "n"}, "requester": {"type": "HttpRequester"}}),
        );
        assert_eq!(v["requester"]["type"], "HttpRequester");
        assert_eq!(v["requester"]["$parameters"], json!({"name": "n"}));
    }

    #[test]
    fn json_schemas_are_left_alone_and_untyped_mappings_pass_parameters_to_typed_children() {
        let v = propagate(
            "DeclarativeStream.schema_loader",
            json!({"type": "InlineSchemaLoader", "$parameters": {"name": "s"}, "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}),
        );
        assert_eq!(
            v["schema"],
            json!({"type": "object", "properties": {"a": {"type": "string"}}})
        );
        let v = propagate(
            "",
            json!({"type": "DeclarativeSource", "$parameters": {"p": 1}, "definitions": {"req": {"type": "HttpRequester"}, "plain": {"a": 1}}}),
        );
        assert_eq!(v["definitions"]["req"]["p"], 1);
        assert_eq!(v["definitions"]["plain"], json!({"a": 1}));
    }

    #[test]
    fn a_list_taken_from_a_parameter_shows_its_propagated_items_in_the_parameters() {
        // Python's component field and its `$parameters` entry are one list object, changed in
        // place (goldcast's `type: array` schema, mistaken for a component, prints it).
        let v = propagate(
            "InlineSchemaLoader.schema",
            json!({"type": "array", "$parameters": {"routers": [{"type": "ListPartitionRouter"}], "path": "/p"}}),
        );
        let expected =
            json!([{"type": "ListPartitionRouter", "path": "/p", "$parameters": {"path": "/p"}}]);
        assert_eq!(v["routers"], expected);
        assert_eq!(v["$parameters"]["routers"], expected);
        // A component's own list is not the parameter's: the parameter stays as written.
        let v = propagate(
            "",
            json!({"type": "SimpleRetriever", "$parameters": {"routers": [{"type": "A"}]}, "routers": [{"type": "B"}]}),
        );
        assert_eq!(v["$parameters"]["routers"], json!([{"type": "A"}]));
    }

    #[test]
    fn lists_of_components_get_defaults_too() {
        let v = propagate(
            "",
            json!({"type": "CompositeErrorHandler", "error_handlers": [{"response_filters": [{"action": "RETRY"}]}]}),
        );
        assert_eq!(v["error_handlers"][0]["type"], "DefaultErrorHandler");
        assert_eq!(
            v["error_handlers"][0]["response_filters"][0]["type"],
            "HttpResponseFilter"
        );
    }
}
