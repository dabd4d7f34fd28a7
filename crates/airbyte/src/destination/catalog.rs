//! The configured catalog a destination gets: sync modes from the write strategy, and
//! generations that make only `replace` truncate.

use std::collections::BTreeMap;

use abrs_caches::{DestinationStreamProgress, WriteStrategy, resolve_write_method};
use abrs_protocol::{ConfiguredAirbyteCatalog, DestinationSyncMode, SyncMode};

use crate::error::Result;

/// How one stream is written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreamPlan {
    /// `overwrite`, `append` or `append_dedup`.
    pub(crate) mode: DestinationSyncMode,
    /// The progress to store before the write starts (new generation and sync id; the replay
    /// mark as it was).
    pub(crate) progress: DestinationStreamProgress,
}

impl StreamPlan {
    /// Whether the destination replaces the stream's data with this sync's: it then needs the
    /// whole stream, not what is new since the last write.
    pub(crate) fn truncates(&self) -> bool {
        self.mode == DestinationSyncMode::Overwrite
    }
}

/// Sets each stream's `destination_sync_mode` from the write strategy (PyAirbyte's table:
/// merge → `append_dedup`, append → `append`, replace → `overwrite`; `auto` by primary key and
/// cursor) and the v0.18 refresh fields from the stored progress:
///
/// * overwrite: `generation_id` = the previous one + 1 and `minimum_generation_id` = it, which
///   modern destinations read as "truncate at the end of this sync";
/// * append and append_dedup: the previous `generation_id` (≥ 0) and `minimum_generation_id`
///   = 0, so nothing is truncated (PyAirbyte sends 1/1 on every write, which truncates there);
/// * `sync_id` one more than the last write's, the same for all streams of this write.
///
/// A stream that is overwritten is read in full: `sync_mode` `full_refresh` where the stream
/// supports it, so that the source sends everything the destination will hold.
pub(crate) fn plan_catalog(
    catalog: &mut ConfiguredAirbyteCatalog,
    strategy: WriteStrategy,
    progress: &BTreeMap<String, DestinationStreamProgress>,
) -> Result<BTreeMap<String, StreamPlan>> {
    let sync_id = progress.values().map(|p| p.sync_id).max().unwrap_or(0) + 1;
    let mut plans = BTreeMap::new();
    for stream in &mut catalog.streams {
        let mode = resolve_write_method(strategy, stream)?.destination_sync_mode();
        let previous = progress
            .get(&stream.stream.name)
            .cloned()
            .unwrap_or_default();
        let (generation, minimum) = if mode == DestinationSyncMode::Overwrite {
            let g = previous.generation_id.max(0) + 1;
            (g, g)
        } else {
            (previous.generation_id.max(0), 0)
        };
        if mode == DestinationSyncMode::Overwrite {
            let modes = &stream.stream.supported_sync_modes;
            if modes.is_empty() || modes.contains(&SyncMode::FullRefresh) {
                stream.sync_mode = SyncMode::FullRefresh;
            }
        }
        stream.destination_sync_mode = mode.clone();
        stream.generation_id = Some(generation);
        stream.minimum_generation_id = Some(minimum);
        stream.sync_id = Some(sync_id);
        plans.insert(
            stream.stream.name.clone(),
            StreamPlan {
                mode,
                progress: DestinationStreamProgress {
                    generation_id: generation,
                    sync_id,
                    ..previous
                },
            },
        );
    }
    Ok(plans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use abrs_protocol::{AirbyteStream, ConfiguredAirbyteStream};

    fn stream(name: &str, pk: bool, cursor: bool) -> ConfiguredAirbyteStream {
        let mut s = AirbyteStream::new(
            name,
            serde_json::json!({"type": "object", "properties": {"id": {"type": "integer"}}}),
            vec![SyncMode::FullRefresh, SyncMode::Incremental],
        );
        if pk {
            s.source_defined_primary_key = Some(vec![vec!["id".into()]]);
        }
        ConfiguredAirbyteStream {
            stream: s,
            sync_mode: SyncMode::Incremental,
            cursor_field: cursor.then(|| vec!["id".to_string()]),
            destination_sync_mode: DestinationSyncMode::Overwrite,
            primary_key: None,
            generation_id: None,
            minimum_generation_id: None,
            sync_id: None,
            extra: Default::default(),
        }
    }

    fn catalog() -> ConfiguredAirbyteCatalog {
        ConfiguredAirbyteCatalog {
            streams: vec![
                stream("keyed", true, false),
                stream("cursored", false, true),
                stream("plain", false, false),
            ],
            extra: Default::default(),
        }
    }

    #[test]
    fn auto_follows_keys_and_only_overwrite_truncates() {
        let mut c = catalog();
        let mut progress = BTreeMap::new();
        progress.insert(
            "keyed".to_string(),
            DestinationStreamProgress {
                generation_id: 4,
                sync_id: 9,
                ..Default::default()
            },
        );
        progress.insert(
            "plain".to_string(),
            DestinationStreamProgress {
                generation_id: 2,
                sync_id: 9,
                ..Default::default()
            },
        );
        let plans = plan_catalog(&mut c, WriteStrategy::Auto, &progress).unwrap();
        let by_name = |n: &str| c.streams.iter().find(|s| s.stream.name == n).unwrap();
        let keyed = by_name("keyed");
        assert_eq!(
            keyed.destination_sync_mode,
            DestinationSyncMode::AppendDedup
        );
        assert_eq!(
            (keyed.generation_id, keyed.minimum_generation_id),
            (Some(4), Some(0))
        );
        assert_eq!(keyed.sync_mode, SyncMode::Incremental);
        let cursored = by_name("cursored");
        assert_eq!(cursored.destination_sync_mode, DestinationSyncMode::Append);
        assert_eq!(
            (cursored.generation_id, cursored.minimum_generation_id),
            (Some(0), Some(0))
        );
        let plain = by_name("plain");
        assert_eq!(plain.destination_sync_mode, DestinationSyncMode::Overwrite);
        assert_eq!(
            (plain.generation_id, plain.minimum_generation_id),
            (Some(3), Some(3))
        );
        assert_eq!(plain.sync_mode, SyncMode::FullRefresh);
        assert!(c.streams.iter().all(|s| s.sync_id == Some(10)));
        assert!(plans["plain"].truncates() && !plans["keyed"].truncates());
        assert_eq!(plans["plain"].progress.generation_id, 3);
    }

    #[test]
    fn merge_needs_a_primary_key_and_replace_truncates_everything() {
        let mut c = catalog();
        assert!(plan_catalog(&mut c, WriteStrategy::Merge, &BTreeMap::new()).is_err());
        let mut c = catalog();
        let plans = plan_catalog(&mut c, WriteStrategy::Replace, &BTreeMap::new()).unwrap();
        assert!(plans.values().all(StreamPlan::truncates));
        assert!(
            c.streams
                .iter()
                .all(|s| s.generation_id == Some(1) && s.minimum_generation_id == Some(1))
        );
        let mut c = catalog();
        plan_catalog(&mut c, WriteStrategy::Append, &BTreeMap::new()).unwrap();
        assert!(c.streams.iter().all(|s| {
            s.destination_sync_mode == DestinationSyncMode::Append
                && s.minimum_generation_id == Some(0)
        }));
    }
}
