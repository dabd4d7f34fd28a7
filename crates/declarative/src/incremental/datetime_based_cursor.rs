//! `DatetimeBasedCursor`, run as airbyte-cdk 7.39.1 runs it for a stream without a partition
//! router: converted to a `ConcurrentCursor` with a `CustomFormatConcurrentStreamStateConverter`
//! (sequential state), its windows sliced by `_split_per_slice_range`, its requests given the
//! window boundaries by a `DatetimeBasedRequestOptionsProvider`, and records filtered by
//! `should_be_synced` when the stream is a data feed or filters client-side.
//!
//! State while reading is a list of closed intervals (`start`, `end`,
//! `most_recent_cursor_value`) merged when they touch; the emitted state is the sequential one:
//! the incoming state's keys with the cursor field set to the first interval's most recent
//! cursor value (or its start), written in `datetime_format`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, Months, NaiveTime, TimeDelta, TimeZone};
use serde_json::{Map, Value};

use super::datetime_parser::{self, Dt, py_max, py_min};
use super::min_max_datetime::MinMaxDatetime;
use super::{CursorRun, IncrementalCursor};
use crate::engine_error::{EngineError, Result};
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::datetime::{PyDateTime, PyDuration};
use crate::interpolation::iso8601::parse_duration;
use crate::interpolation::{Context, InterpolatedString};
use crate::requesters::{RequestOption, RequestOptions};

const START_KEY: &str = "start";
const END_KEY: &str = "end";
const MOST_RECENT_KEY: &str = "most_recent_cursor_value";
const STATE_TYPE_KEY: &str = "state_type";

/// `dt + duration` with isodate's semantics: months first (the day clamped to the month's
/// end), then the exact part; `None` on overflow (Python's `OverflowError`).
pub fn add(dt: Dt, duration: &PyDuration) -> Option<Dt> {
    let shifted = match duration.months {
        0 => dt,
        m if m > 0 => dt.checked_add_months(Months::new(m.unsigned_abs()))?,
        m => dt.checked_sub_months(Months::new(m.unsigned_abs()))?,
    };
    shifted.checked_add_signed(duration.delta)
}

/// `dt - duration`.
pub fn sub(dt: Dt, duration: &PyDuration) -> Option<Dt> {
    add(dt, &duration.negate())
}

/// A `clamping.target`: windows' boundaries rounded to days, weeks or months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clamping {
    /// `NoClamping`.
    None,
    /// `DayClampingStrategy`.
    Day,
    /// `WeekClampingStrategy` with the weekday (0 = Monday).
    Week(u32),
    /// `MonthClampingStrategy`.
    Month,
}

impl Clamping {
    /// `clamp(value)`: to the next boundary (`ceiling`) or the previous one, in the value's own
    /// offset.
    pub fn clamp(self, value: Dt, ceiling: bool) -> Dt {
        let midnight = |d: Dt| -> Dt {
            d.offset()
                .from_local_datetime(&d.date_naive().and_time(NaiveTime::MIN))
                .single()
                .unwrap_or(d)
        };
        match self {
            Clamping::None => value,
            Clamping::Day => {
                let floor = midnight(value);
                if ceiling && floor != value {
                    floor + TimeDelta::days(1)
                } else {
                    floor
                }
            }
            Clamping::Month => {
                let floor = midnight(value);
                if value.day() == 1 {
                    return floor;
                }
                let first = floor.with_day(1).unwrap_or(floor);
                if ceiling {
                    first.checked_add_months(Months::new(1)).unwrap_or(first)
                } else {
                    first
                }
            }
            Clamping::Week(target) => {
                let weekday = value.weekday().num_days_from_monday() as i64;
                let target = i64::from(target);
                let diff = if weekday > target {
                    7 - (weekday - target)
                } else {
                    target - weekday
                };
                let delta = if ceiling || diff == 0 { diff } else { diff - 7 };
                midnight(value) + TimeDelta::days(delta)
            }
        }
    }
}

/// One closed interval of the cursor's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// The first instant read.
    pub start: Dt,
    /// The last instant read.
    pub end: Dt,
    /// The greatest cursor value of the records read in it.
    pub most_recent: Option<Dt>,
}

/// `merge_intervals`: sorted by (start, end), an interval that starts at most one `increment`
/// after the previous one's end joins it, keeping the greater most recent cursor value.
pub fn merge_intervals(intervals: &[Interval], increment: &PyDuration) -> Vec<Interval> {
    let mut sorted = intervals.to_vec();
    sorted.sort_by_key(|i| (i.start, i.end));
    let mut merged: Vec<Interval> = Vec::with_capacity(sorted.len());
    for current in sorted {
        if let Some(last) = merged.last_mut() {
            let reaches = add(last.end, increment).is_none_or(|e| e >= current.start);
            if reaches {
                last.end = py_max(last.end, current.end);
                last.most_recent = match (last.most_recent, current.most_recent) {
                    (Some(last), Some(current)) => Some(py_max(current, last)),
                    (a, b) => b.or(a),
                };
                continue;
            }
        }
        merged.push(current);
    }
    merged
}

/// How windows are cut (the parts of `ConcurrentCursor` that `_split_per_slice_range` reads).
#[derive(Debug, Clone)]
pub struct Slicer {
    /// The configured start (`self._start`).
    pub start: Dt,
    /// `step`; `None` is the CDK's `timedelta.max` (one window up to the end).
    pub step: Option<PyDuration>,
    /// `cursor_granularity`.
    pub granularity: Option<PyDuration>,
    /// `lookback_window`.
    pub lookback: Option<PyDuration>,
    /// `clamping`.
    pub clamping: Clamping,
    /// `is_compare_strictly`.
    pub compare_strictly: bool,
}

impl Slicer {
    fn clamp(&self, value: Dt) -> Dt {
        self.clamping.clamp(value, true)
    }

    fn minus_granularity(&self, value: Dt) -> Dt {
        match &self.granularity {
            Some(g) => sub(value, g).unwrap_or(value),
            None => value,
        }
    }

    /// `_split_per_slice_range(lower, upper, upper_is_end)`: the windows between two instants.
    pub fn split(
        &self,
        lower: Dt,
        upper: Dt,
        upper_is_end: bool,
        end: Dt,
        out: &mut Vec<(Dt, Dt)>,
    ) {
        let has_granularity = self.granularity.is_some();
        if lower > upper || (lower == upper && !has_granularity) {
            return;
        }
        if upper < self.start {
            return;
        }
        let lower = self.clamp(py_max(lower, self.start));
        // With a granularity the last window includes upper, so lower == upper is one unit to
        // read, unless the API rejects start == end; in a gap the next window reads upper.
        if lower > upper || (lower == upper && (self.compare_strictly || !upper_is_end)) {
            return;
        }
        // `lower + step` overflowing (the default step) gives the end provider's value.
        let upper_of = |from: Dt| -> Dt {
            match &self.step {
                Some(step) => add(from, step).unwrap_or(end),
                None => end,
            }
        };
        if upper_of(lower) >= upper {
            let clamped_upper = if upper_is_end && has_granularity {
                upper
            } else {
                self.clamp(upper)
            };
            let end_value = if has_granularity && !upper_is_end {
                self.minus_granularity(clamped_upper)
            } else {
                clamped_upper
            };
            out.push((lower, end_value));
            return;
        }
        let mut current_lower = lower;
        loop {
            let current_upper = py_min(upper_of(current_lower), upper);
            let clamped_upper = if current_upper != upper {
                self.clamp(current_upper)
            } else {
                current_upper
            };
            let reached = current_upper >= upper || clamped_upper == upper;
            let clamped_lower = self.clamp(current_lower);
            if clamped_lower >= clamped_upper {
                break;
            }
            let end_value = if has_granularity && (!upper_is_end || !reached) {
                self.minus_granularity(clamped_upper)
            } else {
                clamped_upper
            };
            out.push((clamped_lower, end_value));
            current_lower = clamped_upper;
            if reached {
                break;
            }
        }
    }

    /// `stream_slices`: the windows that fill the gaps of `intervals` (merged) and run from
    /// the last one (less the lookback window) to `end`.
    pub fn windows(&self, intervals: &[Interval], end: Dt) -> Result<Vec<(Dt, Dt)>> {
        let (Some(first), Some(last)) = (intervals.first(), intervals.last()) else {
            return Err(EngineError::Input("Expected at least one slice".into()));
        };
        let mut out = Vec::new();
        if self.start < first.start {
            self.split(self.start, first.start, false, end, &mut out);
        }
        for pair in intervals.windows(2) {
            let lower = match &self.granularity {
                Some(g) => add(pair[0].end, g).unwrap_or(pair[0].end),
                None => pair[0].end,
            };
            self.split(lower, pair[1].start, false, end, &mut out);
        }
        let lower = match &self.lookback {
            Some(l) => sub(last.end, l).unwrap_or(last.end),
            None => last.end,
        };
        self.split(lower, end, true, end, &mut out);
        Ok(out)
    }
}

/// A `DatetimeBasedCursor`, its templates evaluated with the config.
#[derive(Debug)]
pub struct DatetimeBasedCursor {
    settings: Arc<Settings>,
}

#[derive(Debug)]
struct Settings {
    cursor_field: String,
    datetime_format: String,
    /// `cursor_datetime_formats` then `datetime_format`: how records' and states' values are read.
    input_formats: Vec<String>,
    slicer: Slicer,
    end_datetime: Option<MinMaxDatetime>,
    /// `ClampingEndProvider`: the end floored by the clamping, less this granularity.
    end_clamping: Option<PyDuration>,
    start_field: String,
    end_field: String,
    start_option: Option<RequestOption>,
    end_option: Option<RequestOption>,
    /// `is_data_feed` or `is_client_side_incremental`: records outside the sync bounds are dropped.
    filters_records: bool,
    /// `is_data_feed`: pagination also stops at a page ending with a record not to sync.
    data_feed: bool,
    /// `global_substream_cursor`: with a partition router, one global cursor.
    global_substream_cursor: bool,
    config: Value,
    path: ManifestPath,
}

/// An ISO-8601 duration of the manifest; `None` for a zero one, which Python's truth tests
/// (`if self._cursor_granularity`, `if self._lookback_window`, `not self._slice_range`) treat
/// as absent (`PT0S` granularities exist in the wild).
fn duration_of(node: &Node<'_>, key: &str, text: &str) -> Result<Option<PyDuration>> {
    let duration = parse_duration(text.trim()).ok_or_else(|| {
        node.error(
            key,
            format!("Unable to parse duration string {text:?} (ISO-8601, e.g. P1D)"),
        )
    })?;
    Ok((duration.months != 0 || !duration.delta.is_zero()).then_some(duration))
}

fn eval_config(node: &Node<'_>, key: &str, template: &InterpolatedString) -> Result<String> {
    template
        .eval_to_string(&Context::new(node.config()))
        .map_err(|e| EngineError::interpolation(&node.child_path(key), e))
}

/// Builds a `DatetimeBasedCursor` from its node.
pub fn from_node(node: Node<'_>) -> Result<Box<dyn IncrementalCursor>> {
    Ok(Box::new(DatetimeBasedCursor::from_node(node)?))
}

impl DatetimeBasedCursor {
    /// Builds it from its node (the CDK's `create_concurrent_cursor_from_datetime_based_cursor`).
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        if node.type_name() != "DatetimeBasedCursor" {
            return Err(node.unsupported());
        }
        let cursor_field = eval_config(&node, "cursor_field", &node.interpolated("cursor_field")?)?;
        let datetime_format = node.str("datetime_format")?;
        let mut input_formats = node
            .opt_str_list("cursor_datetime_formats")?
            .unwrap_or_default();
        input_formats.push(datetime_format.clone());

        let field = |key: &str, default: &str| -> Result<String> {
            let template = node
                .opt_interpolated(key)?
                .unwrap_or_else(|| InterpolatedString::new(default, node.parameters()));
            eval_config(&node, key, &template)
        };
        let start_field = field("partition_field_start", "start_time")?;
        let end_field = field("partition_field_end", "end_time")?;

        let granularity = match node.opt_str("cursor_granularity")? {
            Some(g) if !g.is_empty() => duration_of(&node, "cursor_granularity", &g)?,
            _ => None,
        };
        let lookback = match node.opt_interpolated("lookback_window")? {
            Some(t) if !t.as_str().is_empty() => {
                let text = eval_config(&node, "lookback_window", &t)?;
                if text.is_empty() {
                    None
                } else {
                    duration_of(&node, "lookback_window", &text)?
                }
            }
            _ => None,
        };
        let step_text = node.opt_str("step")?.filter(|s| !s.is_empty());
        let granularity_text = node
            .opt_str("cursor_granularity")?
            .filter(|s| !s.is_empty());
        if step_text.is_some() != granularity_text.is_some() {
            return Err(EngineError::manifest(
                node.path,
                format!(
                    "If step is defined, cursor_granularity should be as well and vice-versa. Right now, step is `{}` and cursor_granularity is `{}`",
                    step_text.as_deref().unwrap_or("None"),
                    node.opt_str("cursor_granularity")?
                        .as_deref()
                        .unwrap_or("None"),
                ),
            ));
        }
        let step = match step_text {
            Some(s) => {
                let text = eval_config(
                    &node,
                    "step",
                    &InterpolatedString::new(s, node.parameters()),
                )?;
                if text.is_empty() {
                    None
                } else {
                    duration_of(&node, "step", &text)?
                }
            }
            None => None,
        };

        let mut start_datetime =
            MinMaxDatetime::from_member(node, "start_datetime")?.ok_or_else(|| {
                node.error(
                    "start_datetime",
                    "DatetimeBasedCursor requires start_datetime",
                )
            })?;
        start_datetime.inherit_format(&datetime_format);
        let start = start_datetime.get_datetime(node.config())?;
        let mut end_datetime = MinMaxDatetime::from_member(node, "end_datetime")?;
        if let Some(end) = &mut end_datetime {
            end.inherit_format(&datetime_format);
        }

        let (clamping, end_clamping) = clamping_of(&node, granularity)?;

        let option = |key: &str| -> Result<Option<RequestOption>> {
            let path = node.child_path(key);
            match node.child(key, &path)? {
                Some(n) => RequestOption::from_node(n).map(Some),
                None => Ok(None),
            }
        };
        let data_feed = node.opt_bool("is_data_feed")?.unwrap_or(false);
        let filters_records = data_feed
            || node
                .opt_bool("is_client_side_incremental")?
                .unwrap_or(false);
        Ok(Self {
            settings: Arc::new(Settings {
                cursor_field,
                datetime_format,
                input_formats,
                slicer: Slicer {
                    start,
                    step,
                    granularity,
                    lookback,
                    clamping,
                    compare_strictly: node.opt_bool("is_compare_strictly")?.unwrap_or(false),
                },
                end_datetime,
                end_clamping,
                start_field,
                end_field,
                start_option: option("start_time_option")?,
                end_option: option("end_time_option")?,
                filters_records,
                data_feed,
                global_substream_cursor: node.opt_bool("global_substream_cursor")?.unwrap_or(false),
                config: node.config().clone(),
                path: node.path.clone(),
            }),
        })
    }
}

/// The clamping strategy and, when there is one, the granularity its end provider subtracts.
fn clamping_of(
    node: &Node<'_>,
    granularity: Option<PyDuration>,
) -> Result<(Clamping, Option<PyDuration>)> {
    let path = node.child_path("clamping");
    let Some(clamping) = node.child("clamping", &path)? else {
        return Ok((Clamping::None, None));
    };
    let target = clamping.interpolated("target")?;
    let target = target
        .eval_to_string(&Context::new(node.config()))
        .map_err(|e| EngineError::interpolation(&path.key("target"), e))?;
    let one_day = PyDuration::exact(TimeDelta::days(1));
    Ok(match target.as_str() {
        "DAY" => (
            Clamping::Day,
            Some(granularity.unwrap_or(PyDuration::exact(TimeDelta::seconds(1)))),
        ),
        "WEEK" => {
            let weekday = clamping
                .opt_object("target_details")?
                .and_then(|d| d.get("weekday"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    clamping.error(
                        "target_details",
                        "Given WEEK clamping, weekday needs to be provided as target_details",
                    )
                })?;
            let index = [
                "MONDAY",
                "TUESDAY",
                "WEDNESDAY",
                "THURSDAY",
                "FRIDAY",
                "SATURDAY",
                "SUNDAY",
            ]
            .iter()
            .position(|d| *d == weekday)
            .ok_or_else(|| {
                clamping.error("target_details", format!("Unknown weekday {weekday}"))
            })?;
            (
                Clamping::Week(index as u32),
                Some(granularity.unwrap_or(one_day)),
            )
        }
        "MONTH" => (Clamping::Month, Some(granularity.unwrap_or(one_day))),
        other => {
            return Err(clamping.error(
                "target",
                format!("Invalid clamping target {other}, expected DAY, WEEK, MONTH"),
            ));
        }
    })
}

impl Settings {
    fn parse(&self, value: &Value) -> Option<Dt> {
        datetime_parser::parse_any(value, &self.input_formats)
    }

    /// `parse_timestamp` of a state's or a window's value, an error when no format reads it.
    fn parse_required(&self, value: &Value, what: &str) -> Result<Dt> {
        self.parse(value).ok_or_else(|| {
            EngineError::Input(format!(
                "{}: {what}: No format in {:?} matching {value}",
                self.path, self.input_formats
            ))
        })
    }

    fn output(&self, dt: &Dt) -> String {
        datetime_parser::format(dt, &self.datetime_format)
    }

    fn increment(&self) -> PyDuration {
        self.slicer
            .granularity
            .unwrap_or(PyDuration::exact(TimeDelta::milliseconds(1)))
    }

    /// The end provider: `end_datetime`, or now; floored by the clamping less its granularity.
    fn end(&self) -> Result<Dt> {
        let end = match &self.end_datetime {
            Some(end) => end.get_datetime(&self.config)?,
            None => PyDateTime::now_utc().0,
        };
        Ok(match &self.end_clamping {
            Some(g) => {
                let floor = self.slicer.clamping.clamp(end, false);
                sub(floor, g).unwrap_or(floor)
            }
            None => end,
        })
    }
}

impl IncrementalCursor for DatetimeBasedCursor {
    fn cursor_field(&self) -> &str {
        &self.settings.cursor_field
    }

    fn start(&self, state: Option<&Value>) -> Result<Box<dyn CursorRun>> {
        Ok(Box::new(DatetimeRun::new(self.settings.clone(), state)?))
    }

    /// The state's cursor value moved back by `lookback_seconds`, written back in the cursor's
    /// format, then [`IncrementalCursor::start`].
    fn start_with_runtime_lookback(
        &self,
        state: Option<&Value>,
        lookback_seconds: u64,
    ) -> Result<Box<dyn CursorRun>> {
        let field = &self.settings.cursor_field;
        let moved = match state.and_then(Value::as_object) {
            Some(map) if lookback_seconds > 0 && map.contains_key(field) => {
                let value = &map[field];
                let dt = self.settings.parse_required(value, field)?;
                let back = dt - TimeDelta::seconds(lookback_seconds as i64);
                let mut map = map.clone();
                map.insert(field.clone(), Value::String(self.settings.output(&back)));
                Some(Value::Object(map))
            }
            _ => None,
        };
        self.start(moved.as_ref().or(state))
    }

    fn global_substream_cursor(&self) -> bool {
        self.settings.global_substream_cursor
    }
}

/// One read of a [`DatetimeBasedCursor`] (a `ConcurrentCursor`).
#[derive(Debug)]
pub struct DatetimeRun {
    settings: Arc<Settings>,
    /// `self.start`: where the sync starts (the state's value, or the configured start).
    sync_start: Dt,
    intervals: Vec<Interval>,
    /// The incoming sequential state, whose keys the emitted state keeps.
    legacy: Map<String, Value>,
    /// The end provider's value for this read (evaluated once, with the windows).
    end: Option<Dt>,
    /// The greatest cursor value seen per window (keyed by the window's JSON).
    most_recent: HashMap<String, Dt>,
}

impl DatetimeRun {
    fn new(settings: Arc<Settings>, state: Option<&Value>) -> Result<Self> {
        let empty = Map::new();
        let state = state.and_then(Value::as_object).unwrap_or(&empty);
        let start = settings.slicer.start;
        let compatible = !state.is_empty()
            && matches!(
                state.get(STATE_TYPE_KEY).and_then(Value::as_str),
                Some("date-range" | "integer")
            );
        if compatible {
            // A concurrent state: its intervals as they are (assumed merged), no legacy keys.
            let mut intervals = Vec::new();
            for slice in state
                .get("slices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let get = |key: &str| slice.get(key).unwrap_or(&Value::Null);
                let most_recent = match slice.get(MOST_RECENT_KEY) {
                    Some(v) => Some(settings.parse_required(v, MOST_RECENT_KEY)?),
                    None => None,
                };
                intervals.push(Interval {
                    start: settings.parse_required(get(START_KEY), START_KEY)?,
                    end: settings.parse_required(get(END_KEY), END_KEY)?,
                    most_recent,
                });
            }
            let sync_start = intervals
                .first()
                .map(|i| i.most_recent.unwrap_or(i.end))
                .unwrap_or(start);
            let legacy = state
                .get("legacy")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            return Ok(Self {
                settings,
                sync_start,
                intervals,
                legacy,
                end: None,
                most_recent: HashMap::new(),
            });
        }
        // A sequential state (`{cursor_field: value}`): one interval from the configured start
        // to the later of the start and the state's value.
        let mut sync_start = start;
        if let Some(value) = state.get(&settings.cursor_field) {
            let previous = settings.parse_required(value, &settings.cursor_field)?;
            if previous >= start {
                sync_start = previous;
            }
        }
        Ok(Self {
            intervals: vec![Interval {
                start,
                end: sync_start,
                most_recent: Some(sync_start),
            }],
            settings,
            sync_start,
            legacy: state.clone(),
            end: None,
            most_recent: HashMap::new(),
        })
    }

    fn end(&mut self) -> Result<Dt> {
        match self.end {
            Some(end) => Ok(end),
            None => {
                let end = self.settings.end()?;
                self.end = Some(end);
                Ok(end)
            }
        }
    }

    /// `_lowest_cursor_value_to_sync`: the sync start less the lookback window, never below
    /// the configured start unless the state already was.
    fn lowest_to_sync(&self) -> Dt {
        let slicer = &self.settings.slicer;
        match &slicer.lookback {
            None => self.sync_start,
            Some(lookback) => match sub(self.sync_start, lookback) {
                None => self.sync_start,
                Some(lower) => py_max(lower, py_min(self.sync_start, slicer.start)),
            },
        }
    }

    /// `should_be_synced` of a record's parsed cursor value.
    fn in_sync_bounds(&self, value: Dt, end: Dt) -> bool {
        self.lowest_to_sync() <= value && value <= end
    }

    fn window_key(window: &Map<String, Value>) -> String {
        serde_json::to_string(window).unwrap_or_default()
    }
}

impl CursorRun for DatetimeRun {
    fn windows(&mut self) -> Result<Vec<Map<String, Value>>> {
        self.intervals = merge_intervals(&self.intervals, &self.settings.increment());
        let end = self.end()?;
        let settings = &self.settings;
        Ok(settings
            .slicer
            .windows(&self.intervals, end)?
            .into_iter()
            .map(|(start, end)| {
                let mut window = Map::new();
                window.insert(
                    settings.start_field.clone(),
                    Value::String(settings.output(&start)),
                );
                window.insert(
                    settings.end_field.clone(),
                    Value::String(settings.output(&end)),
                );
                window
            })
            .collect())
    }

    fn request_options(&self, window: &Map<String, Value>) -> Result<RequestOptions> {
        let settings = &self.settings;
        let mut options = RequestOptions::default();
        let pairs = [
            (&settings.start_option, &settings.start_field),
            (&settings.end_option, &settings.end_field),
        ];
        for (option, field) in pairs {
            if let (Some(option), Some(value)) = (option, window.get(field)) {
                option.inject(
                    options.target(option.inject_into),
                    value.clone(),
                    &settings.config,
                )?;
            }
        }
        Ok(options)
    }

    fn observe(&mut self, window: &Map<String, Value>, record: &Value) -> Result<bool> {
        let value = record
            .get(&self.settings.cursor_field)
            .filter(|v| !v.is_null());
        // A record without a (readable) cursor value is kept and not counted (`ValueError`).
        let Some(parsed) = value.and_then(|v| self.settings.parse(v)) else {
            return Ok(true);
        };
        if self.settings.filters_records {
            let end = self.end()?;
            if !self.in_sync_bounds(parsed, end) {
                return Ok(false);
            }
        }
        let entry = self
            .most_recent
            .entry(Self::window_key(window))
            .or_insert(parsed);
        if *entry < parsed {
            *entry = parsed;
        }
        Ok(true)
    }

    fn close_window(&mut self, window: &Map<String, Value>) -> Result<()> {
        let settings = self.settings.clone();
        let boundary = |field: &str| -> Result<Dt> {
            let value = window.get(field).ok_or_else(|| {
                EngineError::Input(format!(
                    "Partition is expected to have key `{field}` but could not be found"
                ))
            })?;
            settings.parse_required(value, field)
        };
        let interval = Interval {
            start: boundary(&settings.start_field)?,
            end: boundary(&settings.end_field)?,
            most_recent: self.most_recent.get(&Self::window_key(window)).copied(),
        };
        self.intervals.push(interval);
        self.intervals = merge_intervals(&self.intervals, &settings.increment());
        Ok(())
    }

    fn stops_pagination(&self, last_record: &Value) -> bool {
        if !self.settings.data_feed {
            return false;
        }
        let parsed = last_record
            .get(&self.settings.cursor_field)
            .filter(|v| !v.is_null())
            .and_then(|v| self.settings.parse(v));
        let end = match self.end {
            Some(end) => Ok(end),
            None => self.settings.end(),
        };
        match (parsed, end) {
            (Some(value), Ok(end)) => !self.in_sync_bounds(value, end),
            // A record without a readable cursor value is synced: no reason to stop.
            _ => false,
        }
    }

    fn state(&self) -> Value {
        let mut state = self.legacy.clone();
        let merged = merge_intervals(&self.intervals, &self.settings.increment());
        if let Some(first) = merged.first() {
            let latest = first.most_recent.unwrap_or(first.start);
            state.insert(
                self.settings.cursor_field.clone(),
                Value::String(self.settings.output(&latest)),
            );
        }
        Value::Object(state)
    }
}

#[cfg(test)]
#[path = "datetime_based_cursor_tests.rs"]
mod tests;
