//! Records as documents for LLM pipelines (PyAirbyte's `Document` and `DocumentRenderer`,
//! `airbyte/documents.py` and `airbyte/_util/document_rendering.py`).
//!
//! A document's content is Markdown: `# <title>` when a title property is given, the metadata
//! as a fenced YAML block (` ```yaml `, written exactly as PyYAML's `yaml.dump` writes it) when
//! `render_metadata` is set or no content property is given, then the content properties:
//! one is written as it is, several each under a `## Title Case` header.
//!
//! Unlike PyAirbyte, which leaves `id` empty (its issue #319), documents get an id: the values
//! of the primary key properties (joined with `|` for a composite key), else the record's
//! `_airbyte_raw_id`; and `last_modified` is the cursor property's value when it is a
//! timestamp.
//!
//! ```
//! use abrs_caches::documents::DocumentRenderer;
//! use serde_json::json;
//!
//! let record = json!({"id": 1, "name": "Ada", "bio": "Wrote the first program."});
//! let renderer = DocumentRenderer::new()
//!     .title("name")
//!     .content(["bio"])
//!     .primary_key(["id"]);
//! let doc = renderer.render_document(record.as_object().expect("an object"))?;
//! assert_eq!(doc.content, "# Ada\n\nWrote the first program.");
//! assert_eq!(doc.id.as_deref(), Some("1"));
//! assert_eq!(doc.metadata["id"], json!(1));
//! # Ok::<(), abrs_caches::documents::DocumentError>(())
//! ```

mod python_text;
mod pyyaml;
mod yaml_resolver;

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::CacheError;
use crate::records::{AB_RAW_ID_COLUMN, StreamRecord};

pub use python_text::python_str;
pub use pyyaml::dump as yaml_dump;

/// A record rendered as a document (PyAirbyte's `Document`; duck-types LangChain's
/// `Document` through [`Document::page_content`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    /// A unique id: the primary key's values, else the record's `_airbyte_raw_id`.
    pub id: Option<String>,
    /// The record rendered as Markdown.
    pub content: String,
    /// The metadata properties and their values (the record's other properties by default).
    pub metadata: Map<String, Value>,
    /// When the record last changed: its cursor value, when that is a timestamp.
    pub last_modified: Option<DateTime<Utc>>,
}

impl Document {
    /// The content (LangChain's name for it).
    pub fn page_content(&self) -> &str {
        &self.content
    }
}

/// A document prints as its content (PyAirbyte's `__str__`).
impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.content)
    }
}

/// Why a record could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// A property asked for is not a field of the record.
    #[error(
        "the records have no property `{property}` (asked for as the documents' {role}); their \
         properties are: {available}"
    )]
    UnknownProperty {
        /// The property asked for.
        property: String,
        /// What it was asked for as: title, content, metadata or primary key.
        role: &'static str,
        /// The record's properties, comma-separated.
        available: String,
    },
    /// Reading the records failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// A record the renderer can read: fields by name, and their names in record order.
pub trait RecordFields {
    /// The value of a field, if the record has it.
    fn field(&self, name: &str) -> Option<&Value>;
    /// The field names, in the record's order.
    fn field_names(&self) -> Vec<String>;
}

impl RecordFields for Map<String, Value> {
    fn field(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
    fn field_names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

/// Field lookups ignore case and spelling, as [`StreamRecord::get`] does.
impl RecordFields for StreamRecord {
    fn field(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
    fn field_names(&self) -> Vec<String> {
        self.keys().map(str::to_string).collect()
    }
}

/// How to render records as documents (PyAirbyte's `DocumentRenderer`, with its defaults:
/// no title, no content properties, metadata = every property that is neither the title nor
/// content, metadata not rendered unless there is no content).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentRenderer {
    /// The property whose value is the `# title`.
    pub title_property: Option<String>,
    /// The properties that make the content; several get `## Title Case` headers. `None` or
    /// empty: the content is the metadata block.
    pub content_properties: Option<Vec<String>>,
    /// The properties kept as metadata. `None` or empty: every property of the first record
    /// that is neither the title nor content (PyAirbyte fixes the list at the first record).
    pub metadata_properties: Option<Vec<String>>,
    /// Also render the metadata (as YAML) above the content.
    pub render_metadata: bool,
    /// The properties whose values make the document id (not in PyAirbyte). `None` or empty:
    /// the record's `_airbyte_raw_id`.
    pub primary_key_properties: Option<Vec<String>>,
    /// The property whose timestamp is `last_modified` (not in PyAirbyte).
    pub cursor_property: Option<String>,
}

fn names<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

fn non_empty(list: &Option<Vec<String>>) -> Option<&[String]> {
    list.as_deref().filter(|l| !l.is_empty())
}

impl DocumentRenderer {
    /// PyAirbyte's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the title property.
    pub fn title(mut self, property: impl Into<String>) -> Self {
        self.title_property = Some(property.into());
        self
    }

    /// Sets the content properties.
    pub fn content<S: Into<String>>(mut self, properties: impl IntoIterator<Item = S>) -> Self {
        self.content_properties = Some(names(properties));
        self
    }

    /// Sets the metadata properties.
    pub fn metadata<S: Into<String>>(mut self, properties: impl IntoIterator<Item = S>) -> Self {
        self.metadata_properties = Some(names(properties));
        self
    }

    /// Renders the metadata above the content, or not.
    pub fn render_metadata(mut self, render: bool) -> Self {
        self.render_metadata = render;
        self
    }

    /// Sets the properties whose values make the document id.
    pub fn primary_key<S: Into<String>>(mut self, properties: impl IntoIterator<Item = S>) -> Self {
        self.primary_key_properties = Some(names(properties));
        self
    }

    /// Sets the property whose timestamp is `last_modified`.
    pub fn cursor(mut self, property: impl Into<String>) -> Self {
        self.cursor_property = Some(property.into());
        self
    }

    /// The metadata properties for a record: the ones given, else the record's properties that
    /// are neither the title nor content.
    fn metadata_for(&self, record: &impl RecordFields) -> Vec<String> {
        if let Some(given) = non_empty(&self.metadata_properties) {
            return given.to_vec();
        }
        let content = self.content_properties.as_deref().unwrap_or_default();
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        record
            .field_names()
            .into_iter()
            .filter(|k| !content.iter().any(|c| same(c, k)))
            .filter(|k| self.title_property.as_deref().is_none_or(|t| !same(t, k)))
            .collect()
    }

    /// Renders one record.
    pub fn render_document(&self, record: &impl RecordFields) -> Result<Document, DocumentError> {
        self.render_with(record, &self.metadata_for(record))
    }

    fn render_with(
        &self,
        record: &impl RecordFields,
        metadata_properties: &[String],
    ) -> Result<Document, DocumentError> {
        let get = |property: &str, role: &'static str| {
            record
                .field(property)
                .ok_or_else(|| DocumentError::UnknownProperty {
                    property: property.to_string(),
                    role,
                    available: record.field_names().join(", "),
                })
        };
        let mut metadata = Map::new();
        for key in metadata_properties {
            metadata.insert(key.clone(), get(key, "metadata")?.clone());
        }
        let mut content = String::new();
        if let Some(title) = &self.title_property {
            content.push_str("# ");
            content.push_str(&python_str(get(title, "title")?));
            content.push_str("\n\n");
        }
        let content_properties = self.content_properties.as_deref().unwrap_or_default();
        if self.render_metadata || content_properties.is_empty() {
            content.push_str("```yaml\n");
            content.push_str(&yaml_dump(&Value::Object(metadata.clone())));
            content.push_str("```\n");
        }
        match content_properties {
            [] => {}
            [only] => content.push_str(&python_str(get(only, "content")?)),
            several => {
                for (i, key) in several.iter().enumerate() {
                    if i > 0 {
                        content.push('\n');
                    }
                    content.push_str("## ");
                    content.push_str(&title_case(key));
                    content.push_str("\n\n");
                    content.push_str(&python_str(get(key, "content")?));
                    content.push_str("\n\n");
                }
            }
        }
        let id = match non_empty(&self.primary_key_properties) {
            Some(keys) => {
                let mut parts = Vec::with_capacity(keys.len());
                for key in keys {
                    parts.push(python_str(get(key, "primary key")?));
                }
                Some(parts.join("|"))
            }
            None => record
                .field(AB_RAW_ID_COLUMN)
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let last_modified = self
            .cursor_property
            .as_deref()
            .and_then(|c| record.field(c))
            .and_then(Value::as_str)
            .and_then(parse_timestamp);
        Ok(Document {
            id,
            content,
            metadata,
            last_modified,
        })
    }

    /// Renders records lazily. The metadata properties are fixed at the first record, as
    /// PyAirbyte does; the iteration ends after the first error.
    pub fn render_documents<I, R, E>(self, records: I) -> Documents<I>
    where
        I: Iterator<Item = Result<R, E>>,
        R: RecordFields,
        E: From<DocumentError>,
    {
        Documents {
            renderer: self,
            records,
            metadata_properties: None,
            failed: false,
        }
    }
}

/// PyAirbyte's `_to_title_case`: `snake_case` → `Snake Case`, the rest of each word kept as it
/// is (an empty word, which makes PyAirbyte fail, stays empty).
pub fn title_case(name: &str) -> String {
    name.split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An RFC 3339 timestamp, or a date and time without a zone (taken as UTC).
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

/// Documents rendered from records, one at a time.
pub struct Documents<I> {
    renderer: DocumentRenderer,
    records: I,
    metadata_properties: Option<Vec<String>>,
    failed: bool,
}

impl<I> fmt::Debug for Documents<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Documents")
            .field("renderer", &self.renderer)
            .field("metadata_properties", &self.metadata_properties)
            .finish_non_exhaustive()
    }
}

impl<I> Documents<I> {
    /// The renderer.
    pub fn renderer(&self) -> &DocumentRenderer {
        &self.renderer
    }
}

impl<I, R, E> Iterator for Documents<I>
where
    I: Iterator<Item = Result<R, E>>,
    R: RecordFields,
    E: From<DocumentError>,
{
    type Item = Result<Document, E>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let record = match self.records.next()? {
            Ok(r) => r,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        let metadata = self
            .metadata_properties
            .get_or_insert_with(|| self.renderer.metadata_for(&record));
        let out = self.renderer.render_with(&record, metadata);
        if out.is_err() {
            self.failed = true;
        }
        Some(out.map_err(E::from))
    }
}

#[cfg(test)]
mod tests;
