//! The Airbyte protocol for airbyte-rs: message, catalog and state types (v0.18 models) and a
//! fast line decoder.
//!
//! ```
//! use abrs_protocol::{decode_message, MessageType};
//! let msg = decode_message(br#"{"type":"LOG","log":{"level":"INFO","message":"hi"}}"#)
//!     .unwrap()
//!     .unwrap();
//! assert_eq!(msg.r#type, MessageType::Log);
//! ```

mod decode;
mod enums;
mod envelope_scan;
mod messages;
mod record_peek;

pub use decode::{
    DecodeError, Decoded, MemberSpan, RecordRef, decode_line, decode_line_with, decode_message,
    excerpt,
};
#[doc(hidden)]
pub use decode::{decode_line_serde, object_members_serde};
pub use enums::*;
#[doc(hidden)]
pub use envelope_scan::{scan_record, scan_record_with};
pub use messages::*;
pub use record_peek::peek_record_stream;

/// Re-exported so that users of [`RecordRef`] need not depend on serde_json themselves.
pub use serde_json::value::RawValue;
