//! `SimpleRetriever`: for one slice, request page after page and select their records, as the
//! CDK's `SimpleRetriever._read_pages` does.

use serde_json::Value;

use crate::engine_error::{EngineError, Result};
use crate::extractors::RecordSelector;
use crate::factory::Node;
use crate::http::HttpClient;
use crate::paginators::{self, Page, Paginator};
use crate::requesters::{HttpRequester, RequestOptions};
use crate::slice::{Slice, request_context};

/// Pages requested for one slice before the read is stopped as a runaway pagination.
const MAX_PAGES_PER_SLICE: usize = 100_000;

/// A `SimpleRetriever`.
#[derive(Debug)]
pub struct SimpleRetriever {
    /// The requester.
    pub requester: HttpRequester,
    selector: RecordSelector,
    paginator: Box<dyn Paginator>,
    ignore_slicer_on_paginated: bool,
    config: Value,
}

/// What the stream slicer adds to each request of a slice.
pub type SlicerOptions<'a> = &'a dyn Fn(&Slice) -> Result<RequestOptions>;

impl SimpleRetriever {
    /// Builds it from its node; `stream` is the stream's node (for its name and
    /// `transformations`).
    pub fn from_node(node: Node<'_>, stream: Node<'_>, name: &str) -> Result<Self> {
        if node.type_name() != "SimpleRetriever" {
            return Err(node.unsupported());
        }
        let requester_path = node.child_path("requester");
        let requester_node = node
            .child("requester", &requester_path)?
            .ok_or_else(|| node.error("requester", "SimpleRetriever requires a requester"))?;
        if requester_node.type_name() != "HttpRequester" {
            return Err(requester_node.unsupported());
        }
        let requester = HttpRequester::from_node(requester_node, name)?;
        let selector_path = node.child_path("record_selector");
        let selector_node = node
            .child("record_selector", &selector_path)?
            .ok_or_else(|| {
                node.error(
                    "record_selector",
                    "SimpleRetriever requires a record_selector",
                )
            })?;
        let transformations_path = stream.child_path("transformations");
        let transformations = stream
            .opt_array("transformations")?
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let client_side = stream
            .get("incremental_sync")
            .and_then(|c| c.get("is_client_side_incremental"))
            .is_some_and(|v| v.as_bool() == Some(true));
        let selector =
            RecordSelector::from_node(selector_node, transformations, &transformations_path)?
                .with_client_side_incremental(client_side);
        let paginator_path = node.child_path("paginator");
        let paginator = paginators::from_node(node.child("paginator", &paginator_path)?)?;
        Ok(Self {
            requester,
            selector,
            paginator,
            ignore_slicer_on_paginated: node
                .opt_bool("ignore_stream_slicer_parameters_on_paginated_requests")?
                .unwrap_or(false),
            config: node.config().clone(),
        })
    }

    /// Reads every page of `slice`, handing each record to `on_record`, which returns `false`
    /// to stop early (a connection check needs one record). `stop_after` ends the pagination
    /// after a page whose last record it holds for (a data feed's cursor).
    pub fn read_slice(
        &self,
        client: &HttpClient,
        slice: &Slice,
        schema: &Value,
        slicer_options: SlicerOptions<'_>,
        stop_after: Option<&dyn Fn(&Value) -> bool>,
        on_record: &mut dyn FnMut(Value) -> Result<bool>,
    ) -> Result<()> {
        let mut token: Option<Value> = self.paginator.initial_token();
        for _ in 0..MAX_PAGES_PER_SLICE {
            let wrapped = token
                .as_ref()
                .map(|t| serde_json::json!({ "next_page_token": t }));
            let context = request_context(&self.config, Some(slice), wrapped.as_ref());
            let mut extra = self.paginator.request_options(token.as_ref())?;
            if token.is_none() || !self.ignore_slicer_on_paginated {
                extra.combine(slicer_options(slice)?)?;
            }
            let path = self.paginator.path(token.as_ref());
            let response = self
                .requester
                .send(client, &context, extra, path.as_deref())?;
            let page = self.selector.select(&response, &context, schema)?;
            let emitted = page.records.len();
            let last_record = page.records.last().cloned();
            for record in page.records {
                if !on_record(record)? {
                    return Ok(());
                }
            }
            if !response.ok() {
                // An ignored error response ends the slice (`if not response: break`).
                return Ok(());
            }
            // A data feed is read newest first: a page ending before the cursor's start ends it.
            if let (Some(stop), Some(last)) = (stop_after, last_record.as_ref())
                && stop(last)
            {
                return Ok(());
            }
            let next = self.paginator.next_page_token(Page {
                response: &response,
                extracted: page.extracted,
                emitted,
                last_record: last_record.as_ref(),
                last_token: token.as_ref(),
            })?;
            match next {
                Some(next) => token = Some(next),
                None => return Ok(()),
            }
        }
        Err(EngineError::Input(format!(
            "stopped after {MAX_PAGES_PER_SLICE} pages of one slice: the paginator never ends (check its stop_condition)"
        )))
    }
}
