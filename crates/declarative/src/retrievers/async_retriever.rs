//! `AsyncRetriever`: for each slice, an async job is created, polled and downloaded
//! ([`JobRepository`]), and the downloaded records go through the retriever's
//! `record_selector` (filter, transformations, normalization; its extractor is not used), as
//! the CDK's `AsyncRetriever` does.
//!
//! Jobs run one at a time, as the CDK runs them by default (`max_concurrent_async_job_count`
//! of 1); a manifest asking for more still gets them one after the other (same records).

use std::time::Duration;

use serde_json::Value;

use super::SimpleRetriever;
use super::async_job::{AsyncJobStatusMap, DEFAULT_POLL_INTERVAL, JobRepository};
use crate::decoders::Decoder;
use crate::engine_error::{EngineError, Result};
use crate::extractors::{DpathExtractor, RecordSelector};
use crate::factory::Node;
use crate::http::HttpClient;
use crate::interpolation::{Context, InterpolatedString};
use crate::paginators;
use crate::requesters::HttpRequester;
use crate::slice::{Slice, request_context};

/// An `AsyncRetriever`.
#[derive(Debug)]
pub struct AsyncRetriever {
    jobs: JobRepository,
    selector: RecordSelector,
    config: Value,
}

impl AsyncRetriever {
    /// Builds it from its node; `stream` is the stream's node (for its `transformations`).
    pub fn from_node(node: Node<'_>, stream: Node<'_>, name: &str) -> Result<Self> {
        let requester = |key: &str, required: bool| -> Result<Option<HttpRequester>> {
            let path = node.child_path(key);
            match node.child(key, &path)? {
                Some(n) if n.type_name() == "HttpRequester" => {
                    Ok(Some(HttpRequester::from_node(n, name)?))
                }
                Some(n) => Err(n.unsupported()),
                None if required => {
                    Err(node.error(key, format!("AsyncRetriever requires `{key}`")))
                }
                None => Ok(None),
            }
        };
        let required = |key: &str| -> Result<HttpRequester> {
            requester(key, true)?
                .ok_or_else(|| node.error(key, format!("AsyncRetriever requires `{key}`")))
        };
        let decoder_path = node.child_path("decoder");
        let decoder = Decoder::from_node(node.child("decoder", &decoder_path)?)?;
        let extractor = |key: &str, decoder: &Decoder| -> Result<Option<DpathExtractor>> {
            let path = node.child_path(key);
            match node.child(key, &path)? {
                Some(n) => Ok(Some(
                    DpathExtractor::from_node(n)?.with_decoder(decoder.clone()),
                )),
                None => Ok(None),
            }
        };
        let download_target_requester = requester("download_target_requester", false)?;
        let download_target_extractor = extractor("download_target_extractor", &decoder)?;
        if download_target_requester.is_some() && download_target_extractor.is_none() {
            return Err(node.error(
                "download_target_extractor",
                "`download_target_extractor` is required with a `download_target_requester`",
            ));
        }
        let status_extractor = extractor("status_extractor", &decoder)?.ok_or_else(|| {
            node.error(
                "status_extractor",
                "AsyncRetriever requires `status_extractor`",
            )
        })?;
        let mapping_path = node.child_path("status_mapping");
        let status_mapping = AsyncJobStatusMap::from_node(
            node.child("status_mapping", &mapping_path)?
                .ok_or_else(|| {
                    node.error("status_mapping", "AsyncRetriever requires `status_mapping`")
                })?,
        )?;
        let download_decoder_path = node.child_path("download_decoder");
        let download_decoder =
            Decoder::from_node(node.child("download_decoder", &download_decoder_path)?)?;
        let download_extractor = match extractor("download_extractor", &download_decoder)? {
            Some(e) => e,
            None => DpathExtractor::whole_body(download_decoder.clone(), node.config().clone()),
        };
        let paginator_path = node.child_path("download_paginator");
        let download = SimpleRetriever::for_download(
            required("download_requester")?,
            RecordSelector::extract_only(download_extractor, node.child_path("download_extractor")),
            paginators::from_node(node.child("download_paginator", &paginator_path)?)?,
            download_decoder,
            node.config().clone(),
        );
        let selector_path = node.child_path("record_selector");
        let selector_node = node
            .child("record_selector", &selector_path)?
            .ok_or_else(|| {
                node.error(
                    "record_selector",
                    "AsyncRetriever requires a record_selector",
                )
            })?;
        let transformations_path = stream.child_path("transformations");
        let transformations = stream
            .opt_array("transformations")?
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let selector =
            RecordSelector::from_node(selector_node, transformations, &transformations_path)?;
        let whole_number = |key: &str| -> Result<Option<u64>> {
            let Some(text) = node.opt_str(key)? else {
                return Ok(None);
            };
            let value = InterpolatedString::new(text, &Default::default())
                .eval_to_string(&Context::new(node.config()))
                .map_err(|e| EngineError::interpolation(&node.child_path(key), e))?;
            let n: u64 = value
                .trim()
                .parse()
                .map_err(|_| node.error(key, format!("must be a whole number, found {value:?}")))?;
            Ok((n > 0).then_some(n))
        };
        let job_timeout =
            Duration::from_secs(60 * whole_number("polling_job_timeout")?.unwrap_or(60));
        let failed_retry_wait =
            whole_number("failed_retry_wait_time_in_seconds")?.map(Duration::from_secs);
        let jobs = JobRepository {
            creation: required("creation_requester")?,
            polling: required("polling_requester")?,
            download,
            download_target_requester,
            abort: requester("abort_requester", false)?,
            delete: requester("delete_requester", false)?,
            status_extractor,
            download_target_extractor,
            status_mapping,
            job_timeout,
            failed_retry_wait,
            poll_interval: node
                .env
                .async_poll_interval
                .unwrap_or(DEFAULT_POLL_INTERVAL),
            stream: name.to_string(),
            config: node.config().clone(),
        };
        Ok(Self {
            jobs,
            selector,
            config: node.config().clone(),
        })
    }

    /// Runs the job of `slice` and hands its records, selected, to `on_record` (which
    /// returns `false` to stop).
    pub fn read_slice(
        &self,
        client: &HttpClient,
        slice: &Slice,
        schema: &Value,
        on_record: &mut dyn FnMut(Value) -> Result<bool>,
    ) -> Result<()> {
        let context = request_context(&self.config, Some(slice), None);
        self.jobs.run(client, slice, &mut |raw| {
            let page = self
                .selector
                .filter_and_transform(vec![raw], &context, schema)?;
            for record in page.records {
                if !on_record(record)? {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }
}
