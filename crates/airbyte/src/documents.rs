//! Records as documents for LLM pipelines (PyAirbyte's `airbyte.documents`): [`Document`],
//! [`DocumentRenderer`], [`CachedDataset::to_documents`](crate::CachedDataset::to_documents),
//! [`LazyDataset::to_documents`] and [`Source::get_documents`].
//!
//! Rendering is PyAirbyte's, byte for byte: a `# title`, the metadata as PyYAML writes it in a
//! ` ```yaml ` block (when `render_metadata` is set or there is no content property), then the
//! content properties (several under `## Title Case` headers). Unlike PyAirbyte, documents get
//! ids: the primary key's values (the stream's own key for records read from a source), else
//! the record's `_airbyte_raw_id`; `last_modified` is the cursor's value when it is a timestamp.
//!
//! ```no_run
//! use airbyte as ab;
//! # fn demo(source: &ab::Source) -> ab::Result<()> {
//! let renderer = ab::documents::DocumentRenderer::new()
//!     .title("name")
//!     .content(["description"]);
//! for doc in source.get_documents("products", Some(10), renderer)? {
//!     let doc = doc?;
//!     println!("{:?}: {}", doc.id, doc);
//! }
//! # Ok(()) }
//! ```

pub use abrs_caches::documents::{
    Document, DocumentError, DocumentRenderer, Documents, RecordFields, python_str, title_case,
    yaml_dump,
};

use crate::dataset::LazyDataset;
use crate::error::{Error, Result};
use crate::source::Source;

impl From<DocumentError> for Error {
    fn from(err: DocumentError) -> Self {
        match err {
            DocumentError::Cache(source) => Error::Cache { source },
            unknown @ DocumentError::UnknownProperty { .. } => Error::input(
                unknown.to_string(),
                "name properties the stream's records have (title, content, metadata and \
                 primary key properties)",
            ),
        }
    }
}

impl LazyDataset {
    /// The records as documents, rendered as they arrive (PyAirbyte's `to_documents`). Without
    /// primary key or cursor properties in `renderer`, the stream's own (the source's defaults)
    /// are used for ids and `last_modified`.
    pub fn to_documents(self, mut renderer: DocumentRenderer) -> Documents<LazyDataset> {
        let stream = &self.stream_metadata().stream;
        if renderer.primary_key_properties.is_none()
            && let Some(key) = &stream.source_defined_primary_key
        {
            let fields: Vec<String> = key.iter().filter_map(|p| p.first().cloned()).collect();
            if !fields.is_empty() {
                renderer.primary_key_properties = Some(fields);
            }
        }
        if renderer.cursor_property.is_none() {
            renderer.cursor_property = stream
                .default_cursor_field
                .as_ref()
                .and_then(|c| c.first().cloned());
        }
        renderer.render_documents(self)
    }
}

impl Source {
    /// Reads a stream and renders its records as documents (PyAirbyte's `get_documents`):
    /// [`Source::get_records`] then [`LazyDataset::to_documents`].
    pub fn get_documents(
        &self,
        stream: &str,
        limit: Option<usize>,
        renderer: DocumentRenderer,
    ) -> Result<Documents<LazyDataset>> {
        Ok(self.get_records(stream, limit)?.to_documents(renderer))
    }
}
