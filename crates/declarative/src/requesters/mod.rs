//! Requesters: `HttpRequester`, `RequestOption`, the request options of a request, and the
//! manifest's `api_budget`.

mod api_budget;
mod http_requester;
mod request_option;
mod request_options;

pub use api_budget::{ApiBudget, BudgetClock, SystemClock};
pub use http_requester::{HttpRequester, python_str, with_query};
pub use request_option::{InjectInto, RequestOption};
pub use request_options::{InterpolatedRequestOptions, RequestOptions};
