//! The CDK's interpolated values: [`InterpolatedString`], [`InterpolatedBoolean`],
//! [`InterpolatedMapping`], [`InterpolatedNestedMapping`].

use std::sync::atomic::{AtomicU8, Ordering};

use minijinja::value::{Serde, Value};
use serde_json::{Map, Value as Json};

use super::{Context, InterpolationError, Interpolator, LiteralKind};

fn parameters_value(parameters: &Map<String, Json>) -> Value {
    Value::from(Serde(parameters))
}

const UNKNOWN: u8 = 0;
const PLAIN: u8 = 1;
const TEMPLATE: u8 = 2;

/// A manifest string evaluated with the component's `parameters` (`InterpolatedString`):
/// without a default, the string itself is the default (so an undefined value is an error
/// and an empty render gives `""`). A string that evaluates to itself once is plain and is
/// not rendered again.
#[derive(Debug)]
pub struct InterpolatedString {
    string: String,
    default: String,
    parameters: Value,
    plain: AtomicU8,
}

impl Clone for InterpolatedString {
    fn clone(&self) -> Self {
        Self {
            string: self.string.clone(),
            default: self.default.clone(),
            parameters: self.parameters.clone(),
            plain: AtomicU8::new(self.plain.load(Ordering::Relaxed)),
        }
    }
}

impl PartialEq for InterpolatedString {
    fn eq(&self, other: &Self) -> bool {
        self.string == other.string && self.default == other.default
    }
}

impl InterpolatedString {
    /// `string` with the component's `$parameters`.
    pub fn new(string: impl Into<String>, parameters: &Map<String, Json>) -> Self {
        let string = string.into();
        Self {
            default: string.clone(),
            string,
            parameters: parameters_value(parameters),
            plain: AtomicU8::new(UNKNOWN),
        }
    }

    /// With a default (used when the string renders empty or hits an undefined value); an
    /// empty default means none, as in the CDK (`default or string`).
    pub fn with_default(mut self, default: impl Into<String>) -> Self {
        let default = default.into();
        if !default.is_empty() {
            self.default = default;
        }
        self
    }

    /// The string as written.
    pub fn as_str(&self) -> &str {
        &self.string
    }

    /// Evaluates with the shared [`Interpolator`].
    pub fn eval(&self, context: &Context) -> Result<Json, InterpolationError> {
        self.eval_with(Interpolator::shared(), context)
    }

    /// Evaluates with `interpolator`.
    pub fn eval_with(
        &self,
        interpolator: &Interpolator,
        context: &Context,
    ) -> Result<Json, InterpolationError> {
        if self.plain.load(Ordering::Relaxed) == PLAIN {
            return Ok(Json::String(self.string.clone()));
        }
        let value = interpolator.eval(
            &self.string,
            context,
            Some(&self.parameters),
            Some(&self.default),
            None,
        )?;
        if self.plain.load(Ordering::Relaxed) == UNKNOWN {
            let plain = matches!(&value, Json::String(s) if *s == self.string);
            self.plain
                .store(if plain { PLAIN } else { TEMPLATE }, Ordering::Relaxed);
        }
        Ok(value)
    }

    /// Evaluates to text as the CDK's `str(interpolated.eval(...))` does (URLs, header
    /// values): a string as it is, anything else as Python's `str` (`100`, `True`, `None`,
    /// `['a', 'b']`).
    pub fn eval_to_string(&self, context: &Context) -> Result<String, InterpolationError> {
        Ok(match self.eval(context)? {
            Json::String(s) => s,
            Json::Null => "None".into(),
            Json::Bool(true) => "True".into(),
            Json::Bool(false) => "False".into(),
            other => super::python_repr::python_str(&Value::from(Serde(other))),
        })
    }
}

/// A condition (`InterpolatedBoolean`): false when it evaluates to one of the CDK's
/// `FALSE_VALUES` (`False`, `false`, `None`, `0`, `0.0`, `""`, `[]`, `{}`, `()`, and the
/// strings `"{}"`, `"[]"`, `"()"`, `"0"`, `"0.0"`), true otherwise; the default is `False`.
#[derive(Debug, Clone)]
pub struct InterpolatedBoolean {
    condition: Result<String, bool>,
    parameters: Value,
}

impl InterpolatedBoolean {
    /// A condition written as a string.
    pub fn new(condition: impl Into<String>, parameters: &Map<String, Json>) -> Self {
        Self {
            condition: Ok(condition.into()),
            parameters: parameters_value(parameters),
        }
    }

    /// A condition written as a YAML boolean.
    pub fn constant(value: bool) -> Self {
        Self {
            condition: Err(value),
            parameters: Value::from(()),
        }
    }

    /// From the manifest value (a string or a boolean).
    pub fn from_json(value: &Json, parameters: &Map<String, Json>) -> Self {
        match value {
            Json::Bool(b) => Self::constant(*b),
            Json::String(s) => Self::new(s.clone(), parameters),
            other => Self::new(other.to_string(), parameters),
        }
    }

    /// Evaluates with the shared [`Interpolator`].
    pub fn eval(&self, context: &Context) -> Result<bool, InterpolationError> {
        let condition = match &self.condition {
            Err(b) => return Ok(*b),
            Ok(c) => c,
        };
        let value = Interpolator::shared().eval(
            condition,
            context,
            Some(&self.parameters),
            Some("False"),
            None,
        )?;
        Ok(!is_false_value(&value))
    }
}

fn is_false_value(value: &Json) -> bool {
    match value {
        Json::String(s) => matches!(
            s.as_str(),
            "False" | "false" | "{}" | "[]" | "()" | "" | "0" | "0.0"
        ),
        Json::Bool(b) => !b,
        Json::Null => true,
        Json::Number(n) => n.as_f64() == Some(0.0),
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
    }
}

/// A mapping whose keys and string values are interpolated (`InterpolatedMapping`: request
/// parameters, headers). Keys must evaluate to strings (else the key text is kept); values
/// that are not strings are kept as they are.
#[derive(Debug, Clone)]
pub struct InterpolatedMapping {
    mapping: Map<String, Json>,
    parameters: Value,
}

impl InterpolatedMapping {
    /// `mapping` with the component's `$parameters`.
    pub fn new(mapping: Map<String, Json>, parameters: &Map<String, Json>) -> Self {
        Self {
            mapping,
            parameters: parameters_value(parameters),
        }
    }

    /// Evaluates with the shared [`Interpolator`]; `valid_value_types` restricts what literal
    /// evaluation may turn a value into.
    pub fn eval(
        &self,
        context: &Context,
        valid_value_types: Option<&[LiteralKind]>,
    ) -> Result<Map<String, Json>, InterpolationError> {
        let interpolator = Interpolator::shared();
        let mut out = Map::with_capacity(self.mapping.len());
        for (key, value) in &self.mapping {
            let key = match interpolator.eval(
                key,
                context,
                Some(&self.parameters),
                None,
                Some(&[LiteralKind::Str]),
            )? {
                Json::String(s) => s,
                Json::Null => "None".to_string(),
                other => other.to_string(),
            };
            let value = match value {
                Json::String(s) => interpolator.eval(
                    s,
                    context,
                    Some(&self.parameters),
                    None,
                    valid_value_types,
                )?,
                other => other.clone(),
            };
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// A nested structure whose strings (keys and values, at any depth) are interpolated
/// (`InterpolatedNestedMapping`: JSON request bodies); members that evaluate to null are
/// dropped.
#[derive(Debug, Clone)]
pub struct InterpolatedNestedMapping {
    mapping: Json,
    parameters: Value,
}

impl InterpolatedNestedMapping {
    /// `mapping` with the component's `$parameters`.
    pub fn new(mapping: Json, parameters: &Map<String, Json>) -> Self {
        Self {
            mapping,
            parameters: parameters_value(parameters),
        }
    }

    /// Evaluates with the shared [`Interpolator`].
    pub fn eval(&self, context: &Context) -> Result<Json, InterpolationError> {
        self.eval_node(&self.mapping, context)
    }

    fn eval_node(&self, node: &Json, context: &Context) -> Result<Json, InterpolationError> {
        let interpolator = Interpolator::shared();
        Ok(match node {
            Json::String(s) => interpolator.eval(s, context, Some(&self.parameters), None, None)?,
            Json::Object(members) => {
                let mut out = Map::with_capacity(members.len());
                for (k, v) in members {
                    // The key as `json.dumps` writes a Python dict key: None → "null",
                    // True → "true", numbers as their text.
                    let key =
                        match interpolator.eval(k, context, Some(&self.parameters), None, None)? {
                            Json::String(s) => s,
                            other => other.to_string(),
                        };
                    let value = self.eval_node(v, context)?;
                    if !value.is_null() {
                        out.insert(key, value);
                    }
                }
                Json::Object(out)
            }
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|v| self.eval_node(v, context))
                    .collect::<Result<_, _>>()?,
            ),
            other => other.clone(),
        })
    }
}
