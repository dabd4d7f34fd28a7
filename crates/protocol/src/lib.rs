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
mod messages;

pub use decode::{DecodeError, Decoded, RecordRef, decode_line, decode_message, excerpt};
pub use enums::*;
pub use messages::*;

/// Re-exported so that users of [`RecordRef`] need not depend on serde_json themselves.
pub use serde_json::value::RawValue;
