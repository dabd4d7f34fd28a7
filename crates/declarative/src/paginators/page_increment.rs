//! `PageIncrement`: the next token is the next page number, until a short page.

use serde_json::Value;

use super::cursor_pagination::page_size_of;
use super::{Page, PaginationStrategy};
use crate::engine_error::{EngineError, Result};
use crate::factory::Node;

/// A `PageIncrement` strategy.
#[derive(Debug)]
pub struct PageIncrement {
    page_size: Option<i64>,
    start_from_page: i64,
    inject_on_first_request: bool,
}

impl PageIncrement {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        Ok(Self {
            page_size: page_size_of(node)?,
            start_from_page: node.opt_i64("start_from_page")?.unwrap_or(0),
            inject_on_first_request: node.opt_bool("inject_on_first_request")?.unwrap_or(false),
        })
    }
}

impl PaginationStrategy for PageIncrement {
    fn initial_token(&self) -> Option<Value> {
        self.inject_on_first_request
            .then(|| Value::from(self.start_from_page))
    }

    fn next_page_token(&self, page: Page<'_>) -> Result<Option<Value>> {
        let size = page.extracted as i64;
        if self.page_size.is_some_and(|p| p != 0 && size < p) || size == 0 {
            return Ok(None);
        }
        match page.last_token {
            None | Some(Value::Null) => Ok(Some(Value::from(self.start_from_page + 1))),
            Some(Value::Number(n)) if n.as_i64().is_some() => {
                Ok(Some(Value::from(n.as_i64().unwrap_or(0) + 1)))
            }
            Some(other) => Err(EngineError::Input(format!(
                "Last page token value {other} for PageIncrement pagination strategy was not an integer"
            ))),
        }
    }

    fn page_size(&self) -> Result<Option<i64>> {
        Ok(self.page_size)
    }
}
