//! [`Slice`]: one unit of a stream's read (a partition and a cursor window), as the CDK's
//! `StreamSlice`.

use serde_json::{Map, Value};

use crate::interpolation::{Context, StreamSlice};

/// A partition (from partition routers), a cursor window (from the incremental cursor) and
/// extra fields (e.g. the parent record), kept apart as the CDK keeps them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slice {
    /// The partition: `{"parent_id": "7"}`; empty for a stream without partitions.
    pub partition: Map<String, Value>,
    /// The cursor window: `{"start_time": ..., "end_time": ...}`; empty without a cursor.
    pub cursor_slice: Map<String, Value>,
    /// Extra fields, not part of the slice's identity (`parent_slice`'s record, ...).
    pub extra_fields: Map<String, Value>,
}

impl Slice {
    /// The slice as the template value `stream_slice`.
    pub fn template_value(&self) -> StreamSlice {
        StreamSlice::new(
            &Value::Object(self.partition.clone()),
            &Value::Object(self.cursor_slice.clone()),
            &Value::Object(self.extra_fields.clone()),
        )
    }

    /// The partition and cursor slice merged (what `dict(stream_slice)` gives in Python).
    pub fn merged(&self) -> Map<String, Value> {
        let mut out = self.partition.clone();
        for (k, v) in &self.cursor_slice {
            out.insert(k.clone(), v.clone());
        }
        out
    }

    /// Whether the slice has neither partition nor cursor values.
    pub fn is_empty(&self) -> bool {
        self.partition.is_empty() && self.cursor_slice.is_empty()
    }
}

/// The context components evaluate their templates in for one request: `config`,
/// `stream_slice` (and its aliases), `next_page_token`.
pub fn request_context(
    config: &Value,
    slice: Option<&Slice>,
    next_page_token: Option<&Value>,
) -> Context {
    let mut context = Context::new(config);
    match next_page_token {
        Some(token) => {
            context.set("next_page_token", token);
        }
        None => {
            context.set("next_page_token", &Value::Null);
        }
    }
    match slice {
        Some(slice) => context.with_stream_slice(slice.template_value()),
        None => context.with_stream_slice(StreamSlice::default()),
    }
}
