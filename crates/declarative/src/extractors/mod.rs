//! Extractors: records out of responses (`DpathExtractor`), which of them to keep
//! (`RecordFilter`), all put together by the `RecordSelector`; and the `dpath` library's
//! operations they (and the transformations) are written with.

pub mod dpath;
mod dpath_extractor;
mod record_filter;
mod record_selector;

pub use dpath_extractor::{DpathExtractor, dpath_get, dpath_values};
pub use record_filter::RecordFilter;
pub use record_selector::{RecordSelector, SelectedPage};
