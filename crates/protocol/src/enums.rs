//! String enums of the protocol.
//!
//! Every enum keeps values it does not know in an `Other` variant, so that a connector built
//! against a newer protocol still round-trips through us unchanged (the protocol's models are
//! `additionalProperties: true` and new enum values appear over time).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of the protocol types does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The protocol's text for this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(s) => s.as_str(),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(match s {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_string()),
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok(s.parse().unwrap_or_else(|never: std::convert::Infallible| match never {}))
            }
        }
    };
}

string_enum!(
    /// `AirbyteMessage.type`.
    MessageType {
        Record = "RECORD",
        State = "STATE",
        Log = "LOG",
        Spec = "SPEC",
        ConnectionStatus = "CONNECTION_STATUS",
        Catalog = "CATALOG",
        Trace = "TRACE",
        Control = "CONTROL",
        DestinationCatalog = "DESTINATION_CATALOG",
    }
);

string_enum!(
    /// How a source reads a stream.
    SyncMode { FullRefresh = "full_refresh", Incremental = "incremental" }
);

string_enum!(
    /// How a destination writes a stream.
    DestinationSyncMode {
        Append = "append",
        Overwrite = "overwrite",
        AppendDedup = "append_dedup",
        Update = "update",
        SoftDelete = "soft_delete",
    }
);

string_enum!(
    /// `AirbyteLogMessage.level`.
    LogLevel {
        Fatal = "FATAL",
        Error = "ERROR",
        Warn = "WARN",
        Info = "INFO",
        Debug = "DEBUG",
        Trace = "TRACE",
    }
);

string_enum!(
    /// `AirbyteConnectionStatus.status`.
    ConnectionStatusKind { Succeeded = "SUCCEEDED", Failed = "FAILED" }
);

string_enum!(
    /// `AirbyteTraceMessage.type`.
    TraceType {
        Error = "ERROR",
        Estimate = "ESTIMATE",
        StreamStatus = "STREAM_STATUS",
        Analytics = "ANALYTICS",
    }
);

string_enum!(
    /// `AirbyteErrorTraceMessage.failure_type`.
    FailureType {
        SystemError = "system_error",
        ConfigError = "config_error",
        TransientError = "transient_error",
    }
);

string_enum!(
    /// `AirbyteEstimateTraceMessage.type`.
    EstimateType { Stream = "STREAM", Sync = "SYNC" }
);

string_enum!(
    /// `AirbyteStreamStatusTraceMessage.status`.
    StreamStatus {
        Started = "STARTED",
        Running = "RUNNING",
        Complete = "COMPLETE",
        Incomplete = "INCOMPLETE",
    }
);

string_enum!(
    /// `AirbyteStreamStatusReason.type`.
    StreamStatusReasonType { RateLimited = "RATE_LIMITED" }
);

string_enum!(
    /// `AirbyteStateMessage.type`.
    StateType { Global = "GLOBAL", Stream = "STREAM", Legacy = "LEGACY" }
);

string_enum!(
    /// `AirbyteControlMessage.type`.
    OrchestratorType { ConnectorConfig = "CONNECTOR_CONFIG" }
);

string_enum!(
    /// `AirbyteRecordMessageMetaChange.change`.
    ChangeType { Nulled = "NULLED", Truncated = "TRUNCATED" }
);

string_enum!(
    /// `AirbyteRecordMessageMetaChange.reason`.
    ChangeReason {
        SourceRecordSizeLimitation = "SOURCE_RECORD_SIZE_LIMITATION",
        DestinationRecordSizeLimitation = "DESTINATION_RECORD_SIZE_LIMITATION",
        PlatformRecordSizeLimitation = "PLATFORM_RECORD_SIZE_LIMITATION",
        SourceFieldSizeLimitation = "SOURCE_FIELD_SIZE_LIMITATION",
        DestinationFieldSizeLimitation = "DESTINATION_FIELD_SIZE_LIMITATION",
        PlatformFieldSizeLimitation = "PLATFORM_FIELD_SIZE_LIMITATION",
        SourceSerializationError = "SOURCE_SERIALIZATION_ERROR",
        DestinationSerializationError = "DESTINATION_SERIALIZATION_ERROR",
        PlatformSerializationError = "PLATFORM_SERIALIZATION_ERROR",
        SourceRetrievalError = "SOURCE_RETRIEVAL_ERROR",
        DestinationTypecastError = "DESTINATION_TYPECAST_ERROR",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_round_trip() {
        let v: SyncMode = serde_json::from_str("\"full_refresh\"").unwrap();
        assert_eq!(v, SyncMode::FullRefresh);
        let v: SyncMode = serde_json::from_str("\"someday_mode\"").unwrap();
        assert_eq!(v, SyncMode::Other("someday_mode".into()));
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"someday_mode\"");
    }
}
