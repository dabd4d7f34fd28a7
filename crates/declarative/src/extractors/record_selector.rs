//! `RecordSelector`: extract, filter, transform and normalize the records of a response, in
//! the CDK's order (`transform_before_filtering` swaps the first two).

use std::sync::Arc;

use serde_json::Value;

use super::{DpathExtractor, RecordFilter};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::http::HttpResponse;
use crate::interpolation::Context;
use crate::schema::SchemaNormalizer;
use crate::transformations::{self, Transformation};

/// The records of one page, and how many the extractor found before filtering.
#[derive(Debug, Default)]
pub struct SelectedPage {
    /// The records to emit.
    pub records: Vec<Value>,
    /// How many records the extractor returned (what record-counting paginators count).
    pub extracted: usize,
}

/// A `RecordSelector` with the stream's transformations.
#[derive(Debug)]
pub struct RecordSelector {
    extractor: DpathExtractor,
    filter: Option<RecordFilter>,
    transformations: Vec<Box<dyn Transformation>>,
    /// `transform_before_filtering` as written; `None` takes the CDK's default (true for a
    /// client-side incremental stream, else false).
    transform_before_filtering: Option<bool>,
    client_side_incremental: bool,
    normalizer: Option<SchemaNormalizer>,
    path: ManifestPath,
}

impl RecordSelector {
    /// Builds it from its node and the stream's `transformations` (given to the retriever by
    /// the stream, as the CDK's factory does).
    pub fn from_node(
        node: Node<'_>,
        transformations: &[Value],
        transformations_path: &ManifestPath,
    ) -> Result<Self> {
        if node.type_name() != "RecordSelector" {
            return Err(node.unsupported());
        }
        let extractor_path = node.child_path("extractor");
        let extractor_node = node
            .child("extractor", &extractor_path)?
            .ok_or_else(|| node.error("extractor", "RecordSelector requires an extractor"))?;
        let extractor = DpathExtractor::from_node(extractor_node)?;
        let filter_path = node.child_path("record_filter");
        let filter = match node.child("record_filter", &filter_path)? {
            Some(f) => Some(RecordFilter::from_node(f)?),
            None => None,
        };
        let mut built = Vec::new();
        for (i, item) in transformations.iter().enumerate() {
            let path = transformations_path.index(i);
            built.push(transformations::from_node(node.node(item, &path)?)?);
        }
        let normalizer = match node.get("schema_normalization") {
            None => None,
            Some(Value::String(s)) if s == "None" => None,
            Some(Value::String(s)) if s == "Default" => Some(SchemaNormalizer::Default),
            Some(Value::Object(custom)) => {
                return Err(EngineError::UnsupportedComponent {
                    at: node.child_path("schema_normalization"),
                    type_name: custom
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("CustomSchemaNormalization")
                        .into(),
                });
            }
            Some(other) => {
                return Err(node.error(
                    "schema_normalization",
                    format!("unknown schema_normalization {other}: expected None or Default"),
                ));
            }
        };
        Ok(Self {
            extractor,
            filter,
            transformations: built,
            transform_before_filtering: node.opt_bool("transform_before_filtering")?,
            client_side_incremental: false,
            normalizer,
            path: node.path.clone(),
        })
    }

    /// The selector with its extractor reading bodies with `decoder` (the retriever's: the
    /// CDK's factory gives the extractor the retriever's decoder, `JsonDecoder` by default).
    pub fn with_decoder(mut self, decoder: crate::decoders::Decoder) -> Self {
        self.extractor = self.extractor.with_decoder(decoder);
        self
    }

    /// Marks the stream as client-side incremental (`incremental_sync.is_client_side_incremental`),
    /// which makes `transform_before_filtering` default to true, as the CDK's factory does.
    pub fn with_client_side_incremental(mut self, client_side: bool) -> Self {
        self.client_side_incremental = client_side;
        self
    }

    /// Whether the transformations run before the filter.
    pub fn transforms_before_filtering(&self) -> bool {
        self.transform_before_filtering
            .unwrap_or(self.client_side_incremental)
    }

    /// The records of `response`. A response that is not OK (an ignored error) gives none.
    /// `context` is the request's (`config`, `stream_slice`, `next_page_token`); `schema` the
    /// stream's, for the normalization (none when it is empty, as in the CDK).
    pub fn select(
        &self,
        response: &HttpResponse,
        context: &Context,
        schema: &Value,
    ) -> Result<SelectedPage> {
        if !response.ok() {
            return Ok(SelectedPage::default());
        }
        let extracted = self.extractor.extract(response)?;
        self.filter_and_transform(extracted, context, schema)
    }

    /// The field path of the records when they are emitted as extracted (no filter, no
    /// transformation, no normalization for `schema`) from a JSON body by a plain path: they
    /// can then be moved out of the body, not copied (see [`DpathExtractor::plain_path`]).
    pub fn passthrough_path(&self, schema: &Value) -> Option<Vec<String>> {
        let normalizes =
            self.normalizer.is_some() && schema.as_object().is_some_and(|s| !s.is_empty());
        if self.filter.is_some()
            || !self.transformations.is_empty()
            || self.client_side_incremental
            || normalizes
        {
            return None;
        }
        self.extractor.plain_path()
    }

    /// A selector that only extracts (no filter, transformation or normalization): an async
    /// job's download retriever, whose records the `AsyncRetriever`'s own selector then
    /// filters and transforms.
    pub fn extract_only(extractor: DpathExtractor, path: ManifestPath) -> Self {
        Self {
            extractor,
            filter: None,
            transformations: Vec::new(),
            transform_before_filtering: None,
            client_side_incremental: false,
            normalizer: None,
            path,
        }
    }

    /// Filters, transforms and normalizes records extracted elsewhere (the CDK's
    /// `filter_and_transform`, which an `AsyncRetriever` runs on downloaded records).
    pub fn filter_and_transform(
        &self,
        extracted: Vec<Value>,
        context: &Context,
        schema: &Value,
    ) -> Result<SelectedPage> {
        let count = extracted.len();
        // The CDK's retriever gives the selector no page token: the filter sees
        // `next_page_token` as None and the transformations do not see it at all.
        let mut transform_context = context.clone();
        Arc::make_mut(&mut transform_context.vars).remove("next_page_token");
        let filter_context = transform_context
            .clone()
            .with("next_page_token", &Value::Null);
        let before = self.transforms_before_filtering();
        let normalize = self
            .normalizer
            .filter(|_| schema.as_object().is_some_and(|s| !s.is_empty()));
        let mut records = Vec::with_capacity(count);
        for mut record in extracted {
            if before {
                self.transform(&mut record, &transform_context)?;
            }
            if let Some(filter) = &self.filter
                && !filter.keep(&record, &filter_context)?
            {
                continue;
            }
            if !before {
                self.transform(&mut record, &transform_context)?;
            }
            if !record.is_object() {
                // The CDK fails on it too (`dict(record)` when normalizing or emitting it).
                return Err(EngineError::manifest(
                    &self.path.key("extractor"),
                    format!(
                        "the extractor returned a record that is not a mapping ({}); check its field_path",
                        crate::factory::kind(&record)
                    ),
                ));
            }
            if let Some(normalizer) = normalize {
                normalizer.normalize(&mut record, schema);
            }
            records.push(record);
        }
        Ok(SelectedPage {
            records,
            extracted: count,
        })
    }

    fn transform(&self, record: &mut Value, context: &Context) -> Result<()> {
        for t in &self.transformations {
            t.transform(record, context)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::BuildEnv;
    use crate::slice::{Slice, request_context};
    use serde_json::json;

    fn selector(node: Value, transformations: Value) -> RecordSelector {
        let env = BuildEnv {
            config: json!({}),
            directory: None,
            ..Default::default()
        };
        let path = ManifestPath::root();
        let tpath = ManifestPath::root().key("transformations");
        let items = transformations.as_array().cloned().unwrap_or_default();
        RecordSelector::from_node(Node::new(&node, &path, &env).unwrap(), &items, &tpath).unwrap()
    }

    fn response(body: &str) -> HttpResponse {
        HttpResponse::new(200, vec![], body.as_bytes().to_vec(), "http://x".into())
    }

    #[test]
    fn filter_then_transform_then_normalize() {
        let s = selector(
            json!({"type": "RecordSelector", "schema_normalization": "Default",
                   "extractor": {"type": "DpathExtractor", "field_path": ["data"]},
                   "record_filter": {"type": "RecordFilter", "condition": "{{ record.keep }}"}}),
            json!([{"type": "RemoveFields", "field_pointers": [["keep"]]}]),
        );
        let token = json!({"next_page_token": 2});
        let context = request_context(&json!({}), Some(&Slice::default()), Some(&token));
        let schema = json!({"type": "object", "properties": {"n": {"type": "string"}}});
        let page = s
            .select(
                &response(r#"{"data": [{"keep": true, "n": 1}, {"keep": false, "n": 2}]}"#),
                &context,
                &schema,
            )
            .unwrap();
        assert_eq!(page.extracted, 2);
        assert_eq!(page.records, vec![json!({"n": "1"})]);
        // No schema: no normalization.
        let page = s
            .select(
                &response(r#"{"data": [{"keep": true, "n": 1}]}"#),
                &context,
                &json!({}),
            )
            .unwrap();
        assert_eq!(page.records, vec![json!({"n": 1})]);
    }

    #[test]
    fn transform_before_filtering() {
        let s = selector(
            json!({"type": "RecordSelector", "transform_before_filtering": true,
                   "extractor": {"type": "DpathExtractor", "field_path": []},
                   "record_filter": {"type": "RecordFilter", "condition": "{{ record.added == 1 }}"}}),
            json!([{"type": "AddFields", "fields": [{"type": "AddedFieldDefinition", "path": ["added"], "value": "1"}]}]),
        );
        assert!(s.transforms_before_filtering());
        let context = request_context(&json!({}), None, None);
        let page = s
            .select(&response(r#"[{"a": 1}]"#), &context, &json!({}))
            .unwrap();
        assert_eq!(page.records, vec![json!({"a": 1, "added": 1})]);
        // The default follows the client-side incremental flag.
        let s = selector(
            json!({"type": "RecordSelector", "extractor": {"type": "DpathExtractor", "field_path": []}}),
            json!([]),
        );
        assert!(!s.transforms_before_filtering());
        assert!(
            s.with_client_side_incremental(true)
                .transforms_before_filtering()
        );
    }

    #[test]
    fn a_null_record_fails_unless_filtered_out() {
        let s = selector(
            json!({"type": "RecordSelector", "extractor": {"type": "DpathExtractor", "field_path": ["data"]}}),
            json!([]),
        );
        let context = request_context(&json!({}), None, None);
        assert!(
            s.select(&response(r#"{"data": [null]}"#), &context, &json!({}))
                .is_err()
        );
        let s = selector(
            json!({"type": "RecordSelector", "extractor": {"type": "DpathExtractor", "field_path": ["data"]},
                   "record_filter": {"type": "RecordFilter", "condition": "{{ record }}"}}),
            json!([]),
        );
        let page = s
            .select(
                &response(r#"{"data": [null, {"a": 1}]}"#),
                &context,
                &json!({}),
            )
            .unwrap();
        assert_eq!(page.records, vec![json!({"a": 1})]);
    }
}
