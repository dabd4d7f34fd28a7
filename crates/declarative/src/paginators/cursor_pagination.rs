//! `CursorPagination`: the next token is a template over the response (a cursor in the body,
//! a next URL, a Link header), until `stop_condition` holds.

use serde_json::Value;

use super::{Page, PaginationStrategy, truthy};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::{Context, InterpolatedBoolean, InterpolatedString};

/// A `CursorPagination` strategy.
#[derive(Debug)]
pub struct CursorPagination {
    cursor_value: InterpolatedString,
    stop_condition: Option<InterpolatedBoolean>,
    page_size: Option<i64>,
    config: Value,
    path: ManifestPath,
}

impl CursorPagination {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let cursor_value = node.interpolated("cursor_value")?;
        let page_size = page_size_of(node)?;
        Ok(Self {
            cursor_value,
            stop_condition: node.opt_condition("stop_condition"),
            page_size,
            config: node.config().clone(),
            path: node.path.clone(),
        })
    }
}

/// A strategy's `page_size`: an integer, or a template evaluated once with the config.
pub fn page_size_of(node: Node<'_>) -> Result<Option<i64>> {
    match node.get("page_size") {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64()),
        Some(Value::String(s)) => {
            let v = InterpolatedString::new(s.clone(), node.parameters())
                .eval(&Context::new(node.config()))
                .map_err(|e| EngineError::interpolation(&node.child_path("page_size"), e))?;
            match v {
                Value::Number(n) if n.as_i64().is_some() => Ok(n.as_i64()),
                other => Err(node.error(
                    "page_size",
                    format!(
                        "{other} is of type {}. Expected <class 'int'>",
                        crate::factory::kind(&other)
                    ),
                )),
            }
        }
        Some(other) => Err(node.error("page_size", format!("expected an integer, found {other}"))),
    }
}

impl PaginationStrategy for CursorPagination {
    fn initial_token(&self) -> Option<Value> {
        None
    }

    fn next_page_token(&self, page: Page<'_>) -> Result<Option<Value>> {
        let mut context = Context::new(&self.config);
        page.set_response(&mut context);
        context
            .set("headers", &page.response.headers_json())
            .set("last_record", page.last_record.unwrap_or(&Value::Null))
            .set("last_page_size", &Value::from(page.emitted));
        if let Some(stop) = &self.stop_condition
            && stop
                .eval(&context)
                .map_err(|e| EngineError::interpolation(&self.path.key("stop_condition"), e))?
        {
            return Ok(None);
        }
        let token = self
            .cursor_value
            .eval(&context)
            .map_err(|e| EngineError::interpolation(&self.path.key("cursor_value"), e))?;
        Ok(Some(token).filter(truthy))
    }

    fn page_size(&self) -> Result<Option<i64>> {
        Ok(self.page_size)
    }
}
