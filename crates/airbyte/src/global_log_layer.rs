//! The `tracing` layer that writes the global log file (PyAirbyte's
//! `<root>/<YYYY-MM-DD>/airbyte-log-<id>.log`): `YYYY-MM-DD HH:MM:SS - LEVEL - message` lines,
//! or JSON objects when `AIRBYTE_STRUCTURED_LOGGING` is on (structlog's keys: `event`, `level`,
//! `timestamp`, plus the event's fields).

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Writes events to the global log.
pub struct GlobalLogLayer {
    structured: bool,
}

impl GlobalLogLayer {
    /// The filter the global log uses: our own info-level events; the HTTP, TLS and Postgres
    /// crates' chatter stays out.
    pub fn default_filter() -> tracing_subscriber::filter::Targets {
        use tracing_subscriber::filter::{LevelFilter, Targets};
        Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target("hyper", LevelFilter::WARN)
            .with_target("hyper_util", LevelFilter::WARN)
            .with_target("reqwest", LevelFilter::WARN)
            .with_target("rustls", LevelFilter::WARN)
            .with_target("tokio_postgres", LevelFilter::WARN)
    }

    /// The layer, in the format the environment asks for.
    pub fn from_env() -> Self {
        Self {
            structured: crate::logs::structured_logging(),
        }
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: Map<String, Value>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.rest.insert(
                field.name().to_string(),
                Value::String(format!("{value:?}")),
            );
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.rest
                .insert(field.name().to_string(), Value::String(value.to_string()));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.rest
            .insert(field.name().to_string(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.rest
            .insert(field.name().to_string(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest
            .insert(field.name().to_string(), Value::from(value));
    }
}

impl<S: Subscriber> Layer<S> for GlobalLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = event.metadata().level().to_string();
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let line = if self.structured {
            let mut obj = fields.rest;
            obj.insert("event".into(), Value::String(fields.message));
            obj.insert("level".into(), Value::String(level.to_lowercase()));
            obj.insert("timestamp".into(), Value::String(now));
            format!("{}\n", Value::Object(obj))
        } else {
            let mut text = format!("{now} - {level} - {}", fields.message);
            for (k, v) in &fields.rest {
                let v = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                let _ = write!(text, " {k}={v}");
            }
            text.push('\n');
            text
        };
        let _ = crate::logs::GlobalLogWriter.write_all(line.as_bytes());
    }
}
