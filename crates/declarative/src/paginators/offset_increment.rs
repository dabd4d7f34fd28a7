//! `OffsetIncrement`: the next token is the offset of the next record, until a short page.

use serde_json::Value;

use super::{Page, PaginationStrategy};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::{Context, InterpolatedString};

/// An `OffsetIncrement` strategy.
#[derive(Debug)]
pub struct OffsetIncrement {
    page_size: Option<InterpolatedString>,
    inject_on_first_request: bool,
    config: Value,
    path: ManifestPath,
}

impl OffsetIncrement {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let page_size = match node.get("page_size") {
            None => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                return Err(node.error("page_size", format!("expected an integer, found {other}")));
            }
        };
        Ok(Self {
            page_size: page_size.map(|s| InterpolatedString::new(s, node.parameters())),
            inject_on_first_request: node.opt_bool("inject_on_first_request")?.unwrap_or(false),
            config: node.config().clone(),
            path: node.path.key("page_size"),
        })
    }

    fn eval_size(&self, context: &Context) -> Result<Option<i64>> {
        let Some(size) = &self.page_size else {
            return Ok(None);
        };
        match size
            .eval(context)
            .map_err(|e| EngineError::interpolation(&self.path, e))?
        {
            Value::Number(n) if n.as_i64().is_some() => Ok(n.as_i64()),
            other => Err(EngineError::manifest(
                &self.path,
                format!(
                    "{other} is of type {}. Expected <class 'int'>",
                    crate::factory::kind(&other)
                ),
            )),
        }
    }
}

impl PaginationStrategy for OffsetIncrement {
    fn initial_token(&self) -> Option<Value> {
        self.inject_on_first_request.then(|| Value::from(0))
    }

    fn next_page_token(&self, page: Page<'_>) -> Result<Option<Value>> {
        let size = page.extracted as i64;
        let mut context = Context::new(&self.config);
        page.set_response(&mut context);
        let requested = self.eval_size(&context)?;
        if requested.is_some_and(|r| r != 0 && size < r) || size == 0 {
            return Ok(None);
        }
        match page.last_token {
            None | Some(Value::Null) => Ok(Some(Value::from(size))),
            Some(Value::Number(n)) if n.as_i64().is_some() => {
                Ok(Some(Value::from(n.as_i64().unwrap_or(0) + size)))
            }
            Some(other) => Err(EngineError::Input(format!(
                "Last page token value {other} for OffsetIncrement pagination strategy was not an integer"
            ))),
        }
    }

    fn page_size(&self) -> Result<Option<i64>> {
        self.eval_size(&Context::new(&self.config))
    }
}
