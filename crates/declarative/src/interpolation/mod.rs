//! Jinja with the CDK's semantics (`airbyte_cdk/sources/declarative/interpolation`), on
//! minijinja.
//!
//! What the CDK does, and so what [`Interpolator::eval`] does:
//! * the context is `config`, the component's `parameters`, and what the component passes
//!   ([`Context`]); `stream_interval` and `stream_partition` alias `stream_slice`;
//! * a template naming `stream_state` is refused (the CDK dropped it);
//! * a variable that is neither in the context nor a macro is an error, not an empty string;
//! * an empty result, or an undefined value hit while rendering, falls back to the default;
//! * the rendered text goes through Python's `ast.literal_eval` (`"1"` → 1, `"[1]"` → a list),
//!   kept as text when it is not a literal or not of the wanted types;
//! * values render as Python's `str()` (`True`, `None`, `{'a': 1}`);
//! * the CDK's macros and filters, Python's `strftime`/`strptime`, the datetime types and
//!   their arithmetic, Python's string/dict/list methods (minijinja-contrib's `pycompat`).

mod context;
pub mod datetime;
mod desugar;
pub mod digest;
mod filters;
mod interpolated;
pub mod iso8601;
pub mod literal;
pub mod macros;
pub mod printf;
pub mod python_repr;
pub mod strftime;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, RwLock};

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, ErrorKind};

pub use context::{Context, StreamSlice};
pub use interpolated::{
    InterpolatedBoolean, InterpolatedMapping, InterpolatedNestedMapping, InterpolatedString,
};
pub use literal::LiteralKind;

/// Why a template could not be evaluated. Messages carry the template (manifest text), never
/// the context's values (they hold secrets).
#[derive(Debug, Clone, thiserror::Error)]
pub enum InterpolationError {
    /// The template does not parse.
    #[error("invalid Jinja in {template:?}: {message}")]
    Syntax {
        /// The template.
        template: String,
        /// The parser's message.
        message: String,
    },
    /// The template names variables the context does not have.
    #[error("Jinja macro has undeclared variables: {names:?} in {template:?}")]
    UndeclaredVariables {
        /// The template.
        template: String,
        /// The missing names.
        names: Vec<String>,
    },
    /// The template uses a variable the CDK no longer supports.
    #[error("{message} (in {template:?})")]
    UnsupportedVariable {
        /// The template.
        template: String,
        /// The CDK's explanation.
        message: String,
    },
    /// Rendering failed (an undefined value where one is needed, a type error, a failing macro).
    #[error("cannot evaluate {template:?}: {message}")]
    Render {
        /// The template.
        template: String,
        /// What failed.
        message: String,
        /// Whether it was an undefined value (the CDK falls back to the default then).
        undefined: bool,
        /// Whether it was what Python raises as a `TypeError` (the CDK then returns the
        /// template text itself).
        type_error: bool,
    },
}

const STREAM_STATE_MESSAGE: &str = "`stream_state` is no longer supported for interpolation. We recommend using `stream_interval` instead. Please reference the CDK Migration Guide for more information.";

struct Prepared {
    undeclared: Vec<String>,
}

/// A Jinja environment with the CDK's macros and filters, and a cache of compiled templates.
/// [`Interpolator::shared`] is one for the whole process.
///
/// Templates are compiled once and kept for the interpolator's life, keyed by their text: feed
/// it the manifest's strings, not text built at run time.
pub struct Interpolator {
    env: RwLock<Environment<'static>>,
    prepared: RwLock<HashMap<String, Arc<Prepared>>>,
    globals: HashSet<String>,
}

impl std::fmt::Debug for Interpolator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interpolator").finish_non_exhaustive()
    }
}

impl Default for Interpolator {
    fn default() -> Self {
        Self::new()
    }
}

static SHARED: LazyLock<Interpolator> = LazyLock::new(Interpolator::new);

impl Interpolator {
    /// A new environment (its own template cache).
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_formatter(|out, _state, value| {
            out.write_str(&python_repr::python_str(value))
                .map_err(|e| minijinja::Error::new(ErrorKind::WriteFailure, e.to_string()))
        });
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        // The CDK removes `range` (it can make templates arbitrarily expensive).
        env.remove_global("range");
        macros::register(&mut env);
        filters::register(&mut env);
        env.add_function(desugar::ADD_FUNCTION, |a: Value, b: Value| {
            datetime::add(&a, &b)
        });
        env.add_function(desugar::SUB_FUNCTION, |a: Value, b: Value| {
            datetime::sub(&a, &b)
        });
        env.add_function(desugar::MOD_FUNCTION, |a: Value, b: Value| {
            printf::modulo(&a, &b)
        });
        env.add_function(desugar::NEG_FUNCTION, |a: Value| datetime::negate(&a));
        for (name, op) in [
            (desugar::LT_FUNCTION, "<"),
            (desugar::LE_FUNCTION, "<="),
            (desugar::GT_FUNCTION, ">"),
            (desugar::GE_FUNCTION, ">="),
        ] {
            env.add_function(name, move |a: Value, b: Value| {
                datetime::compare(&a, &b, op)
            });
        }
        let globals = env.globals().map(|(name, _)| name.to_string()).collect();
        Self {
            env: RwLock::new(env),
            prepared: RwLock::new(HashMap::new()),
            globals,
        }
    }

    /// The process-wide interpolator.
    pub fn shared() -> &'static Interpolator {
        &SHARED
    }

    fn prepare(&self, template: &str) -> Result<Arc<Prepared>, InterpolationError> {
        if let Ok(cache) = self.prepared.read()
            && let Some(p) = cache.get(template)
        {
            return Ok(p.clone());
        }
        let source = desugar::desugar(template).unwrap_or_else(|| template.to_string());
        let mut env = self.env.write().map_err(|_| poisoned(template))?;
        env.add_template_owned(template.to_string(), source)
            .map_err(|e| InterpolationError::Syntax {
                template: template.to_string(),
                message: detail(&e),
            })?;
        let compiled = env
            .get_template(template)
            .map_err(|e| InterpolationError::Syntax {
                template: template.to_string(),
                message: detail(&e),
            })?;
        let mut undeclared: Vec<String> = compiled
            .undeclared_variables(false)
            .into_iter()
            .filter(|n| !self.globals.contains(n))
            .collect();
        undeclared.sort();
        drop(env);
        let prepared = Arc::new(Prepared { undeclared });
        if let Ok(mut cache) = self.prepared.write() {
            cache.insert(template.to_string(), prepared.clone());
        }
        Ok(prepared)
    }

    /// Renders `template` to text (no literal evaluation, no default).
    pub fn render(
        &self,
        template: &str,
        context: &Context,
        parameters: Option<&Value>,
    ) -> Result<String, InterpolationError> {
        if template.contains("stream_state") {
            return Err(InterpolationError::UnsupportedVariable {
                template: template.to_string(),
                message: STREAM_STATE_MESSAGE.into(),
            });
        }
        let prepared = self.prepare(template)?;
        let mut slice = None;
        if let Some(stream_slice) = context.vars.get("stream_slice") {
            for alias in ["stream_interval", "stream_partition"] {
                if context.vars.contains_key(alias) {
                    return Err(InterpolationError::Render {
                        template: template.to_string(),
                        message: format!(
                            "Found reserved keyword {alias} in interpolation context. This is unexpected and indicative of a bug in the CDK."
                        ),
                        undefined: false,
                        type_error: false,
                    });
                }
            }
            slice = Some(stream_slice.clone());
        }
        let scope = context::Scope {
            vars: context.vars.clone(),
            parameters: parameters.cloned(),
            slice,
        };
        let missing: Vec<String> = prepared
            .undeclared
            .iter()
            .filter(|n| !scope.has(n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(InterpolationError::UndeclaredVariables {
                template: template.to_string(),
                names: missing,
            });
        }
        let env = self.env.read().map_err(|_| poisoned(template))?;
        let compiled = env
            .get_template(template)
            .map_err(|e| InterpolationError::Syntax {
                template: template.to_string(),
                message: detail(&e),
            })?;
        compiled.render(Value::from_object(scope)).map_err(|e| {
            let message = detail(&e);
            InterpolationError::Render {
                template: template.to_string(),
                undefined: e.kind() == ErrorKind::UndefinedError
                    || is_undefined_operand(&e, &message),
                type_error: is_type_error(&e, &message),
                message,
            }
        })
    }

    /// The CDK's `_eval`: a Python `TypeError` while rendering gives the template text itself.
    fn render_or_text(
        &self,
        template: &str,
        context: &Context,
        parameters: Option<&Value>,
    ) -> Result<String, InterpolationError> {
        match self.render(template, context, parameters) {
            Err(InterpolationError::Render {
                type_error: true, ..
            }) => Ok(template.to_string()),
            other => other,
        }
    }

    /// The CDK's `JinjaInterpolation.eval`: render, fall back to `default` when the result is
    /// empty or an undefined value was hit, then evaluate the text as a Python literal (kept as
    /// text when it is not one, or not one of `valid_types`). No default and nothing rendered
    /// gives null.
    pub fn eval(
        &self,
        template: &str,
        context: &Context,
        parameters: Option<&Value>,
        default: Option<&str>,
        valid_types: Option<&[LiteralKind]>,
    ) -> Result<serde_json::Value, InterpolationError> {
        match self.render_or_text(template, context, parameters) {
            Ok(text) if !text.is_empty() => return Ok(literal_or_text(text, valid_types)),
            Ok(_) => {}
            Err(InterpolationError::Render {
                undefined: true, ..
            }) => {}
            Err(e) => return Err(e),
        }
        match default {
            None => Ok(serde_json::Value::Null),
            Some(default) => {
                let text = self.render_or_text(default, context, parameters)?;
                Ok(literal_or_text(text, valid_types))
            }
        }
    }
}

fn literal_or_text(text: String, valid_types: Option<&[LiteralKind]>) -> serde_json::Value {
    match literal::literal_eval(&text) {
        Some((value, kind)) => {
            let ok = match valid_types {
                None => true,
                Some(types) => types.iter().any(|t| LiteralKind::accepts(*t, kind)),
            };
            if ok {
                value
            } else {
                serde_json::Value::String(text)
            }
        }
        None => serde_json::Value::String(text),
    }
}

fn poisoned(template: &str) -> InterpolationError {
    InterpolationError::Render {
        template: template.to_string(),
        message: "the template cache was poisoned by a panic".into(),
        undefined: false,
        type_error: false,
    }
}

/// minijinja's operators fail with "unsupported types undefined and ..." where Jinja2's
/// `Undefined` raises an `UndefinedError`.
fn is_undefined_operand(e: &minijinja::Error, message: &str) -> bool {
    e.kind() == ErrorKind::InvalidOperation
        && (message.contains("unsupported types undefined") || message.contains("and undefined"))
}

/// Whether minijinja's error is one Python raises as a `TypeError` (operators on values of
/// the wrong types, ordering values of different types).
fn is_type_error(e: &minijinja::Error, message: &str) -> bool {
    e.kind() == ErrorKind::InvalidOperation
        && !is_undefined_operand(e, message)
        && (message.contains(macros::TYPE_ERROR)
            || message.contains("operator on unsupported types")
            || message.contains("unable to calculate")
            // `x in None`: Python's "argument of type 'NoneType' is not iterable".
            || message.contains("cannot perform a containment check"))
}

/// minijinja's message with its cause chain, without the debug dump of the context.
fn detail(e: &minijinja::Error) -> String {
    let mut message = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(&format!(" ({cause})"));
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests;
