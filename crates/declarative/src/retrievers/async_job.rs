//! Async jobs, as the CDK's `async_job` package and `AsyncHttpJobRepository` run them: a job is
//! created for a slice (`creation_requester`), polled until the API says it is done
//! (`polling_requester`, `status_extractor`, `status_mapping`), and its results downloaded
//! (`download_target_extractor` / `download_target_requester`, `download_requester`), then
//! deleted (`delete_requester`); a job that fails or times out is aborted (`abort_requester`)
//! and retried, up to 3 attempts in all.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::engine_error::{EngineError, Result};
use crate::extractors::DpathExtractor;
use crate::factory::Node;
use crate::http::{HttpClient, HttpRequest, HttpResponse, RequestBody};
use crate::interpolation::python_repr::json_python_str;
use crate::requesters::{HttpRequester, RequestOptions};
use crate::slice::{Slice, request_context};

/// Attempts of one slice's job before the slice is given up (`_DEFAULT_MAX_JOB_RETRY`).
pub const MAX_JOB_ATTEMPTS: u32 = 3;

/// The CDK's wait between two rounds of polling (`_WAIT_TIME_BETWEEN_STATUS_UPDATE_IN_SECONDS`).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// A job's status as the CDK sees it (`AsyncJobStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsyncJobStatus {
    /// Still running on the API's side.
    Running,
    /// Done: its results can be downloaded.
    Completed,
    /// Failed on the API's side (or could not be created).
    Failed,
    /// Ran longer than `polling_job_timeout`.
    TimedOut,
    /// The API says there is nothing to download (`skipped`).
    Skipped,
}

/// `AsyncJobStatusMap`: the API's status values for each CDK status.
#[derive(Debug, Clone, Default)]
pub struct AsyncJobStatusMap {
    by_api_status: Vec<(String, AsyncJobStatus)>,
}

impl AsyncJobStatusMap {
    /// Builds it from its node: `running`, `completed`, `failed`, `timeout` (lists, required,
    /// possibly empty) and `skipped` (optional); an API status may be listed once only.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        let mut by_api_status: Vec<(String, AsyncJobStatus)> = Vec::new();
        for (field, status) in [
            ("running", AsyncJobStatus::Running),
            ("completed", AsyncJobStatus::Completed),
            ("failed", AsyncJobStatus::Failed),
            ("timeout", AsyncJobStatus::TimedOut),
            ("skipped", AsyncJobStatus::Skipped),
        ] {
            let Some(values) = node.opt_str_list(field)? else {
                if field == "skipped" {
                    continue;
                }
                return Err(node.error(
                    field,
                    format!("AsyncJobStatusMap requires `{field}`: the API's statuses for it (an empty list when it has none)"),
                ));
            };
            for value in values {
                if by_api_status.iter().any(|(v, _)| *v == value) {
                    return Err(node.error(
                        field,
                        format!("API status {value} is already set for another CDK status; list each API status once"),
                    ));
                }
                by_api_status.push((value, status));
            }
        }
        Ok(Self { by_api_status })
    }

    /// The CDK status of an API status value (compared as Python's `str()` of it).
    pub fn status_of(&self, api_status: &Value) -> Option<AsyncJobStatus> {
        let text = match api_status {
            Value::Null => "None".to_string(),
            other => json_python_str(other),
        };
        self.by_api_status
            .iter()
            .find(|(v, _)| *v == text)
            .map(|(_, s)| *s)
    }
}

/// The requesters and extractors of an `AsyncRetriever` (the CDK's `AsyncHttpJobRepository`).
#[derive(Debug)]
pub struct JobRepository {
    /// Creates a job.
    pub creation: HttpRequester,
    /// Asks for a job's status.
    pub polling: HttpRequester,
    /// Downloads a job's results (its records are read with the download retriever).
    pub download: crate::retrievers::SimpleRetriever,
    /// Asks for the download targets of a completed job.
    pub download_target_requester: Option<HttpRequester>,
    /// Aborts a failed or timed-out job.
    pub abort: Option<HttpRequester>,
    /// Deletes a downloaded job.
    pub delete: Option<HttpRequester>,
    /// The status in a polling response.
    pub status_extractor: DpathExtractor,
    /// The download targets (URLs) in the polling (or download target) response.
    pub download_target_extractor: Option<DpathExtractor>,
    /// API statuses to CDK statuses.
    pub status_mapping: AsyncJobStatusMap,
    /// How long a job may run (`polling_job_timeout`, 60 minutes by default).
    pub job_timeout: Duration,
    /// The wait before a failed job is created again (`failed_retry_wait_time_in_seconds`).
    pub failed_retry_wait: Option<Duration>,
    /// The wait between two polls.
    pub poll_interval: Duration,
    /// The stream's name, for messages.
    pub stream: String,
    /// The connector's config.
    pub config: Value,
}

/// A created job: the slice it is for and the creation response (what the other requests'
/// templates see as `creation_response`).
#[derive(Debug)]
struct Job {
    slice: Slice,
    creation_response: Value,
    started: Instant,
}

/// The outcome of one attempt.
enum Attempt {
    /// Completed: the job and its polling response, for the download targets.
    Completed(Box<(Job, Value, HttpResponse)>),
    /// Skipped: nothing to download.
    Skipped,
    /// Failed or timed out (`true` when the API said the job failed): worth another attempt.
    Failed(String, bool),
}

impl JobRepository {
    /// Runs the job of `slice` to the end, handing each downloaded record (before the
    /// retriever's selector) to `on_record` (which returns `false` to stop). A job that fails
    /// is created again up to [`MAX_JOB_ATTEMPTS`] times in all; then the slice's error is
    /// returned. A creation the error handler blames on the config fails at once (the CDK's
    /// breaking exceptions).
    pub fn run(
        &self,
        client: &HttpClient,
        slice: &Slice,
        on_record: &mut dyn FnMut(Value) -> Result<bool>,
    ) -> Result<()> {
        let mut failures: Vec<String> = Vec::new();
        let mut failed_on_the_api = false;
        for attempt in 1..=MAX_JOB_ATTEMPTS {
            if attempt > 1 {
                // The CDK looks at failed jobs again after a round of polling, and a job the API
                // failed not before `failed_retry_wait_time_in_seconds`.
                let wait = match self.failed_retry_wait {
                    Some(wait) if failed_on_the_api => wait.max(self.poll_interval),
                    _ => self.poll_interval,
                };
                std::thread::sleep(wait);
            }
            match self.attempt(client, slice)? {
                Attempt::Skipped => return Ok(()),
                Attempt::Completed(done) => {
                    let (job, polled_json, polled) = *done;
                    return self.download_records(client, &job, &polled_json, &polled, on_record);
                }
                Attempt::Failed(why, api_side) => {
                    tracing::warn!(stream = %self.stream, attempt, "async job failed: {why}");
                    failures.push(why);
                    failed_on_the_api = api_side;
                }
            }
        }
        Err(EngineError::Input(format!(
            "stream {}: the async job of slice {} could not be completed after {MAX_JOB_ATTEMPTS} attempts: {}",
            self.stream,
            Value::Object(slice.merged()),
            failures.join("; ")
        )))
    }

    /// One job: created, polled until it is done, failed or timed out (then aborted).
    fn attempt(&self, client: &HttpClient, slice: &Slice) -> Result<Attempt> {
        let job = match self.create(client, slice) {
            Ok(job) => job,
            Err(e) if e.is_config_error() => return Err(e),
            Err(EngineError::Output(e)) => return Err(EngineError::Output(e)),
            Err(e) => {
                return Ok(Attempt::Failed(
                    format!("the job could not be created: {e}"),
                    false,
                ));
            }
        };
        loop {
            if job.started.elapsed() > self.job_timeout {
                self.abort(client, &job);
                return Ok(Attempt::Failed(
                    format!(
                        "the job ran longer than its timeout ({} s)",
                        self.job_timeout.as_secs()
                    ),
                    false,
                ));
            }
            let polled = self.polling.send(
                client,
                &self.context(&job, Map::new()),
                RequestOptions::default(),
                None,
            )?;
            let status_value = self
                .status_extractor
                .extract(&polled)?
                .into_iter()
                .next()
                .unwrap_or(Value::Null);
            let status = self.status_mapping.status_of(&status_value).ok_or_else(|| {
                EngineError::Input(format!(
                    "stream {}: API status `{}` is unknown; the manifest's status_mapping must list it",
                    self.stream,
                    json_python_str(&status_value)
                ))
            })?;
            match status {
                AsyncJobStatus::Running => std::thread::sleep(self.poll_interval),
                AsyncJobStatus::Completed => {
                    let polled_json = response_context(&polled, None)?;
                    return Ok(Attempt::Completed(Box::new((job, polled_json, polled))));
                }
                AsyncJobStatus::Skipped => return Ok(Attempt::Skipped),
                AsyncJobStatus::Failed => {
                    return Ok(Attempt::Failed("the API says the job failed".into(), true));
                }
                AsyncJobStatus::TimedOut => {
                    self.abort(client, &job);
                    return Ok(Attempt::Failed(
                        "the API says the job timed out".into(),
                        false,
                    ));
                }
            }
        }
    }

    fn create(&self, client: &HttpClient, slice: &Slice) -> Result<Job> {
        let context = with_extra_fields(request_context(&self.config, Some(slice), None), slice);
        let (request, response) =
            self.creation
                .exchange(client, &context, RequestOptions::default(), None)?;
        if !response.ok() {
            return Err(EngineError::Input(format!(
                "the creation request answered HTTP {}",
                response.status
            )));
        }
        Ok(Job {
            slice: slice.clone(),
            creation_response: response_context(&response, Some(&request))?,
            started: Instant::now(),
        })
    }

    /// The context of a request about `job`: its slice with `creation_response` (and `more`)
    /// in the extra fields, which are also top-level variables, as the CDK's
    /// `get_interpolation_context` makes them.
    fn context(&self, job: &Job, more: Map<String, Value>) -> crate::interpolation::Context {
        let mut slice = job.slice.clone();
        slice
            .extra_fields
            .insert("creation_response".into(), job.creation_response.clone());
        slice.extra_fields.extend(more);
        with_extra_fields(request_context(&self.config, Some(&slice), None), &slice)
    }

    fn abort(&self, client: &HttpClient, job: &Job) {
        if let Some(abort) = &self.abort
            && let Err(e) = abort.send(
                client,
                &self.context(job, Map::new()),
                RequestOptions::default(),
                None,
            )
        {
            tracing::warn!(stream = %self.stream, "could not abort an async job: {e}");
        }
    }

    fn download_records(
        &self,
        client: &HttpClient,
        job: &Job,
        polled_json: &Value,
        polled: &HttpResponse,
        on_record: &mut dyn FnMut(Value) -> Result<bool>,
    ) -> Result<()> {
        let targets = self.download_targets(client, polled_json, polled)?;
        let mut stopped = false;
        for target in targets {
            let mut slice = job.slice.clone();
            slice.extra_fields.extend([
                ("download_target".to_string(), Value::String(target)),
                (
                    "creation_response".to_string(),
                    job.creation_response.clone(),
                ),
                ("polling_response".to_string(), polled_json.clone()),
            ]);
            let no_options = |_: &Slice| Ok(RequestOptions::default());
            self.download.read_slice(
                client,
                &slice,
                &Value::Object(Map::new()),
                &no_options,
                None,
                &mut |record| {
                    let go_on = on_record(record)?;
                    stopped = !go_on;
                    Ok(go_on)
                },
            )?;
            if stopped {
                return Ok(());
            }
        }
        if let Some(delete) = &self.delete {
            delete.send(
                client,
                &self.context(job, Map::new()),
                RequestOptions::default(),
                None,
            )?;
        }
        Ok(())
    }

    /// The download targets: one empty target without a `download_target_extractor`; else
    /// what it extracts from the `download_target_requester`'s response, or from the polling
    /// response.
    fn download_targets(
        &self,
        client: &HttpClient,
        polled_json: &Value,
        polled: &HttpResponse,
    ) -> Result<Vec<String>> {
        let Some(extractor) = &self.download_target_extractor else {
            return Ok(vec![String::new()]);
        };
        let values = match &self.download_target_requester {
            Some(requester) => {
                let slice = Slice {
                    extra_fields: Map::from_iter([(
                        "polling_response".to_string(),
                        polled_json.clone(),
                    )]),
                    ..Slice::default()
                };
                let context =
                    with_extra_fields(request_context(&self.config, Some(&slice), None), &slice);
                let response = requester.send(client, &context, RequestOptions::default(), None)?;
                extractor.extract(&response)?
            }
            None => extractor.extract(polled)?,
        };
        Ok(values.iter().map(json_python_str).collect())
    }
}

/// `context` with the slice's extra fields also as top-level variables.
fn with_extra_fields(
    mut context: crate::interpolation::Context,
    slice: &Slice,
) -> crate::interpolation::Context {
    for (k, v) in &slice.extra_fields {
        if !context.contains(k) {
            context.set(k, v);
        }
    }
    context
}

/// What templates see of a job's response (`creation_response`, `polling_response`): its JSON
/// mapping, with `headers` and `request` (the request's `url`, `method`, `headers`, `body`)
/// added unless the body has them, as the CDK's `_get_*_interpolation_context` do.
fn response_context(response: &HttpResponse, request: Option<&HttpRequest>) -> Result<Value> {
    let mut map = match response.json() {
        Some(Value::Object(m)) => m.clone(),
        _ => {
            return Err(EngineError::Decode {
                url: response.url.clone(),
                message: "an async job's response must be a JSON mapping".into(),
            });
        }
    };
    if !map.contains_key("headers") {
        let headers: Map<String, Value> = response
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        map.insert("headers".into(), Value::Object(headers));
    }
    if let Some(request) = request
        && !map.contains_key("request")
    {
        let headers: Map<String, Value> = request
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let body = match &request.body {
            None => Value::Null,
            Some(RequestBody::Json(v)) => Value::String(v.to_string()),
            Some(RequestBody::Raw(t)) => Value::String(t.clone()),
            Some(RequestBody::Form(pairs)) => Value::String(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs.iter())
                    .finish(),
            ),
        };
        map.insert(
            "request".into(),
            serde_json::json!({"url": request.url, "method": request.method, "headers": headers, "body": body}),
        );
    }
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ManifestPath;
    use crate::factory::BuildEnv;
    use serde_json::json;

    fn map(node: Value) -> Result<AsyncJobStatusMap> {
        let env = BuildEnv::default();
        let path = ManifestPath::root();
        AsyncJobStatusMap::from_node(Node::new(&node, &path, &env)?)
    }

    #[test]
    fn status_map_as_the_cdk() {
        let m = map(json!({"running": ["pending", 1], "completed": ["ready"], "failed": [], "timeout": ["timeout"]})).unwrap();
        assert_eq!(
            m.status_of(&json!("pending")),
            Some(AsyncJobStatus::Running)
        );
        assert_eq!(m.status_of(&json!(1)), Some(AsyncJobStatus::Running));
        assert_eq!(
            m.status_of(&json!("ready")),
            Some(AsyncJobStatus::Completed)
        );
        assert_eq!(
            m.status_of(&json!("timeout")),
            Some(AsyncJobStatus::TimedOut)
        );
        assert_eq!(m.status_of(&json!("other")), None);
        let e = map(json!({"running": ["a"], "completed": ["a"], "failed": [], "timeout": []}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("already set"), "{e}");
        let e = map(json!({"running": ["a"], "completed": ["b"], "timeout": []}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("requires `failed`"), "{e}");
    }
}
