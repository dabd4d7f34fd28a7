//! Paginators: `DefaultPaginator` with its strategies (`CursorPagination`, `OffsetIncrement`,
//! `PageIncrement`), and `NoPagination`.

mod cursor_pagination;
mod default_paginator;
mod offset_increment;
mod page_increment;

pub use cursor_pagination::CursorPagination;
pub use default_paginator::DefaultPaginator;
pub use offset_increment::OffsetIncrement;
pub use page_increment::PageIncrement;

use std::borrow::Cow;

use serde_json::Value;

use crate::engine_error::Result;
use crate::factory::Node;
use crate::http::HttpResponse;
use crate::requesters::RequestOptions;
pub use crate::truthiness::truthy;

/// What a strategy sees of the page just read.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// The response.
    pub response: &'a HttpResponse,
    /// Its first decoded body (what templates see as `response`).
    pub body: &'a Value,
    /// The same body when it is the whole parsed JSON response, shared (converted for
    /// templates lazily, [`Page::set_response`]).
    pub shared_body: Option<&'a std::sync::Arc<Value>>,
    /// Records the selector extracted from it (before filtering).
    pub extracted: usize,
    /// Records emitted from it.
    pub emitted: usize,
    /// The last record emitted.
    pub last_record: Option<&'a Value>,
    /// The token that fetched it (`None` for the first page without an initial token).
    pub last_token: Option<&'a Value>,
}

impl Page<'_> {
    /// Sets `response` in `context` to the page's body.
    pub fn set_response(&self, context: &mut crate::interpolation::Context) {
        match self.shared_body {
            Some(shared) => context.set_shared("response", shared),
            None => context.set("response", self.body),
        };
    }
}

/// A pagination strategy.
pub trait PaginationStrategy: Send + Sync + std::fmt::Debug {
    /// The token of the first request (`initial_token`).
    fn initial_token(&self) -> Option<Value>;
    /// The next page's token, `None` when the read is done.
    fn next_page_token(&self, page: Page<'_>) -> Result<Option<Value>>;
    /// The page size to inject, when it has one.
    fn page_size(&self) -> Result<Option<i64>>;
}

/// A paginator.
pub trait Paginator: Send + Sync + std::fmt::Debug {
    /// The token of the first request.
    fn initial_token(&self) -> Option<Value>;
    /// The next page's token (the inner value, without the `next_page_token` wrapper).
    fn next_page_token(&self, page: Page<'_>) -> Result<Option<Value>>;
    /// What the token (and page size) add to a request.
    fn request_options(&self, token: Option<&Value>) -> Result<RequestOptions>;
    /// The path to request instead of the requester's (a `RequestPath` token).
    fn path(&self, token: Option<&Value>) -> Option<String>;
}

/// The paginator of a retriever's `paginator` node (`NoPagination` when absent).
pub fn from_node(node: Option<Node<'_>>) -> Result<Box<dyn Paginator>> {
    let Some(node) = node else {
        return Ok(Box::new(NoPagination));
    };
    Ok(match node.type_name() {
        "NoPagination" => Box::new(NoPagination),
        "DefaultPaginator" => Box::new(DefaultPaginator::from_node(node)?),
        _ => return Err(node.unsupported()),
    })
}

/// The strategy of a `DefaultPaginator`'s `pagination_strategy` node.
pub fn strategy_from_node(node: Node<'_>) -> Result<Box<dyn PaginationStrategy>> {
    Ok(match node.type_name() {
        "CursorPagination" => Box::new(CursorPagination::from_node(node)?),
        "OffsetIncrement" => Box::new(OffsetIncrement::from_node(node)?),
        "PageIncrement" => Box::new(PageIncrement::from_node(node)?),
        _ => return Err(node.unsupported()),
    })
}

/// `NoPagination`: one page.
#[derive(Debug, Clone, Copy)]
pub struct NoPagination;

impl Paginator for NoPagination {
    fn initial_token(&self) -> Option<Value> {
        None
    }
    fn next_page_token(&self, _page: Page<'_>) -> Result<Option<Value>> {
        Ok(None)
    }
    fn request_options(&self, _token: Option<&Value>) -> Result<RequestOptions> {
        Ok(RequestOptions::default())
    }
    fn path(&self, _token: Option<&Value>) -> Option<String> {
        None
    }
}

/// The first body a JSON decoder yields for a response (a list body yields its first item; an
/// empty or invalid body yields `{}`), which is what pagination templates see as `response`.
pub fn first_body(response: &HttpResponse) -> Cow<'_, Value> {
    match response.json() {
        Some(Value::Array(items)) => items
            .first()
            .map(Cow::Borrowed)
            .unwrap_or_else(|| Cow::Owned(Value::Object(Default::default()))),
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(Value::Object(Default::default())),
    }
}
