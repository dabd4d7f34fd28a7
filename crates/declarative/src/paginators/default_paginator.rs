//! `DefaultPaginator`: a strategy, and where its token and page size go.

use serde_json::{Map, Value};

use super::{Page, PaginationStrategy, Paginator, strategy_from_node, truthy};
use crate::engine_error::{EngineError, Result};
use crate::factory::Node;
use crate::requesters::{InjectInto, RequestOption, RequestOptions};

#[derive(Debug)]
enum TokenOption {
    Request(RequestOption),
    /// `RequestPath`: the token is the next URL.
    Path,
}

/// A `DefaultPaginator`.
#[derive(Debug)]
pub struct DefaultPaginator {
    strategy: Box<dyn PaginationStrategy>,
    token_option: Option<TokenOption>,
    size_option: Option<RequestOption>,
    config: Value,
}

impl DefaultPaginator {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let strategy_path = node.child_path("pagination_strategy");
        let strategy_node = node
            .child("pagination_strategy", &strategy_path)?
            .ok_or_else(|| {
                node.error(
                    "pagination_strategy",
                    "DefaultPaginator requires pagination_strategy",
                )
            })?;
        let strategy = strategy_from_node(strategy_node)?;
        let token_path = node.child_path("page_token_option");
        let token_option = match node.child("page_token_option", &token_path)? {
            None => None,
            Some(n) if n.type_name() == "RequestPath" => Some(TokenOption::Path),
            Some(n) => Some(TokenOption::Request(RequestOption::from_node(n)?)),
        };
        let size_path = node.child_path("page_size_option");
        let size_option = match node.child("page_size_option", &size_path)? {
            None => None,
            Some(n) => Some(RequestOption::from_node(n)?),
        };
        if size_option.is_some() && strategy.page_size()?.is_none() {
            return Err(EngineError::manifest(
                node.path,
                "page_size_option cannot be set if the pagination strategy does not have a page_size",
            ));
        }
        Ok(Self {
            strategy,
            token_option,
            size_option,
            config: node.config().clone(),
        })
    }
}

impl Paginator for DefaultPaginator {
    fn initial_token(&self) -> Option<Value> {
        self.strategy.initial_token()
    }

    fn next_page_token(&self, page: Page<'_>) -> Result<Option<Value>> {
        Ok(self.strategy.next_page_token(page)?.filter(truthy))
    }

    fn request_options(&self, token: Option<&Value>) -> Result<RequestOptions> {
        let mut options = RequestOptions::default();
        if let (Some(TokenOption::Request(option)), Some(token)) = (&self.token_option, token)
            && !token.is_null()
        {
            option.inject(
                options.target(option.inject_into),
                token.clone(),
                &self.config,
            )?;
        }
        if let Some(option) = &self.size_option
            && let Some(size) = self.strategy.page_size()?
            && size != 0
        {
            let target: &mut Map<String, Value> = options.target(option.inject_into);
            option.inject(target, Value::from(size), &self.config)?;
        }
        let _ = InjectInto::Header;
        Ok(options)
    }

    fn path(&self, token: Option<&Value>) -> Option<String> {
        match (&self.token_option, token) {
            (Some(TokenOption::Path), Some(token)) if truthy(token) => Some(match token {
                Value::String(s) => s.clone(),
                other => crate::requesters::python_str(other),
            }),
            _ => None,
        }
    }
}
