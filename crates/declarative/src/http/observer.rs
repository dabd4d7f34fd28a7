//! [`HttpObserver`]: a hook that sees every request the engine sends with its response, and
//! the slices a retriever reads (the Connector Builder's test read is built on it).

use super::{HttpRequest, HttpResponse};
use crate::slice::Slice;

/// Watches a run's HTTP traffic. Set on the client with [`super::HttpClient::with_observer`];
/// methods are called on the thread that sends (partitions read concurrently call it from
/// several threads).
pub trait HttpObserver: Send + Sync {
    /// A retriever of `stream` starts reading `slice`; `false` skips the slice (no request is
    /// sent for it), which is how a test read stops after its last slice.
    fn slice_started(&self, stream: &str, slice: &Slice) -> bool {
        let _ = (stream, slice);
        true
    }

    /// `request` was sent and `response` came back (any status). The request holds its
    /// secrets unmasked: mask them before showing them.
    fn exchange(&self, request: &HttpRequest, response: &HttpResponse);

    /// Pages read per slice at most; a slice ends quietly after them (`None`: all).
    fn page_limit(&self) -> Option<usize> {
        None
    }
}
