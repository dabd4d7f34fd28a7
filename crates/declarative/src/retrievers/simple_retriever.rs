//! `SimpleRetriever`: for one slice, request page after page and select their records, as the
//! CDK's `SimpleRetriever._read_pages` does.

use serde_json::Value;

use crate::decoders::Decoder;
use crate::engine_error::{EngineError, Result};
use crate::extractors::{DpathExtractor, RecordSelector};
use crate::factory::Node;
use crate::http::{HttpClient, HttpResponse};
use crate::paginators::{self, Page, Paginator};
use crate::partition_routers::CHILD_RESPONSE;
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
    /// The retriever's decoder (what its paginator reads responses with).
    decoder: Decoder,
    /// The slice's extra fields are also top-level template variables (an async job's
    /// download requests: `{{ download_target }}`).
    extra_fields_in_context: bool,
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
        let decoder_path = node.child_path("decoder");
        let decoder = Decoder::from_node(node.child("decoder", &decoder_path)?)?;
        let selector =
            RecordSelector::from_node(selector_node, transformations, &transformations_path)?
                .with_client_side_incremental(client_side)
                .with_decoder(decoder.clone());
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
            decoder,
            extra_fields_in_context: false,
        })
    }

    /// An `AsyncRetriever`'s download retriever: `requester` read page by page with
    /// `paginator`, records selected by `selector`, the slice's extra fields (the download
    /// target, the job's responses) in the templates' context.
    pub fn for_download(
        requester: HttpRequester,
        selector: RecordSelector,
        paginator: Box<dyn Paginator>,
        decoder: Decoder,
        config: Value,
    ) -> Self {
        Self {
            requester,
            selector,
            paginator,
            ignore_slicer_on_paginated: false,
            config,
            decoder,
            extra_fields_in_context: true,
        }
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
        let observer = client.observer();
        if let Some(o) = observer
            && !o.slice_started(self.requester.stream_name(), slice)
        {
            return Ok(());
        }
        // A test read's page limit ends the slice quietly; the runaway guard is an error.
        let page_limit = observer.and_then(|o| o.page_limit());
        let mut first = true;
        let mut token: Option<Value> = match slice.extra_fields.get(CHILD_RESPONSE) {
            Some(_) => None,
            None => self.paginator.initial_token(),
        };
        for page_number in 0..MAX_PAGES_PER_SLICE {
            if page_limit.is_some_and(|limit| page_number >= limit) {
                return Ok(());
            }
            let wrapped = token
                .as_ref()
                .map(|t| serde_json::json!({ "next_page_token": t }));
            let mut context = request_context(&self.config, Some(slice), wrapped.as_ref());
            if self.extra_fields_in_context {
                for (k, v) in &slice.extra_fields {
                    if !context.contains(k) {
                        context.set(k, v);
                    }
                }
            }
            let mut extra = self.paginator.request_options(token.as_ref())?;
            if token.is_none() || !self.ignore_slicer_on_paginated {
                extra.combine(slicer_options(slice)?)?;
            }
            let path = self.paginator.path(token.as_ref());
            let lazy_page = match (first, slice.extra_fields.get(CHILD_RESPONSE)) {
                (true, Some(page)) => Some(page),
                _ => None,
            };
            first = false;
            let mut response = match lazy_page {
                // `LazySimpleRetriever`: the first page is in the parent record.
                Some(page) => HttpResponse::new(
                    200,
                    vec![("content-type".into(), "application/json".into())],
                    serde_json::to_vec(page).map_err(|e| EngineError::Input(e.to_string()))?,
                    format!("parent record of stream {}", self.requester.stream_name()),
                ),
                None => self
                    .requester
                    .send(client, &context, extra, path.as_deref())?,
            };
            // Records emitted as extracted from a JSON mapping are moved out of the parsed
            // body once the paginator has seen it, not copied.
            let passthrough = match (lazy_page, response.ok()) {
                (None, true) => self.selector.passthrough_path(schema),
                _ => None,
            };
            if let Some(path) = passthrough
                && let Some((emitted, last_record)) = response
                    .json_shared()
                    .filter(|body| body.is_object())
                    .and_then(|body| DpathExtractor::records_at(body, &path))
                    .filter(|records| records.iter().all(|r| r.is_object()))
                    .map(|records| (records.len(), records.last().map(|r| (*r).clone())))
            {
                let next = self.paginator.next_page_token(Page {
                    response: &response,
                    body: response.json().unwrap_or(&Value::Null),
                    shared_body: response.json_shared(),
                    extracted: emitted,
                    emitted,
                    last_record: last_record.as_ref(),
                    last_token: token.as_ref(),
                });
                let body = response.take_json().unwrap_or_default();
                for record in DpathExtractor::take_records(body, &path) {
                    if !on_record(record)? {
                        return Ok(());
                    }
                }
                if let (Some(stop), Some(last)) = (stop_after, last_record.as_ref())
                    && stop(last)
                {
                    return Ok(());
                }
                match next? {
                    Some(next) => token = Some(next),
                    None => return Ok(()),
                }
                continue;
            }
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
            // What pagination templates see as `response`: the first body the retriever's
            // decoder yields (the CDK's paginators decode with it).
            let body = match &self.decoder {
                Decoder::Json => paginators::first_body(&response),
                other => std::borrow::Cow::Owned(
                    other
                        .decode(&response)?
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| Value::Object(Default::default())),
                ),
            };
            // The whole parsed body, shared, when it is what templates see.
            let shared_body = response
                .json_shared()
                .filter(|shared| std::ptr::eq(&***shared, &*body));
            let next = self.paginator.next_page_token(Page {
                response: &response,
                body: &body,
                shared_body,
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
