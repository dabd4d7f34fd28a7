//! `Destination::smoke_test`: PyAirbyte's destination smoke test, scenario by scenario.

use std::time::Duration;

use super::{CacheChoice, Destination, WriteOptions, WriteResult};
use crate::error::Result;
use crate::smoke_test::{Scenario, scenario_source_in_namespace};

/// What the destination did with one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioOutcome {
    /// The scenario (and stream) name.
    pub name: String,
    /// Records sent.
    pub records_sent: u64,
    /// Records the destination said it committed (`None`: it reports no counts).
    pub records_committed: Option<u64>,
    /// Whether the destination confirmed the scenario's state (it committed the stream).
    pub confirmed: bool,
    /// Why the scenario failed, when it did.
    pub error: Option<String>,
}

impl ScenarioOutcome {
    /// Accepted: confirmed, with no error, and every record committed when counts are known.
    pub fn accepted(&self) -> bool {
        self.confirmed
            && self.error.is_none()
            && self
                .records_committed
                .is_none_or(|n| n == self.records_sent)
    }
}

/// The smoke test's result.
#[derive(Debug, Clone)]
pub struct SmokeTestReport {
    /// The destination's name.
    pub destination: String,
    /// One outcome per scenario, in order.
    pub scenarios: Vec<ScenarioOutcome>,
    /// The error of the write of all scenarios together, when it failed (each scenario was
    /// then written on its own to tell which fail).
    pub combined_error: Option<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl SmokeTestReport {
    /// Whether every scenario was accepted.
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(ScenarioOutcome::accepted)
    }
}

fn outcomes(scenarios: &[Scenario], result: &WriteResult) -> Vec<ScenarioOutcome> {
    scenarios
        .iter()
        .map(|s| {
            let summary = result.streams().get(&s.name).cloned().unwrap_or_default();
            ScenarioOutcome {
                name: s.name.clone(),
                records_sent: summary.records_sent,
                records_committed: summary.records_committed,
                confirmed: summary.states_confirmed > 0,
                error: None,
            }
        })
        .collect()
}

impl Destination {
    /// Writes the smoke-test `scenarios` (see [`crate::smoke_test`]) to this destination
    /// straight from the scenario source (no cache, no state: every run sends everything) and
    /// reports per scenario what the destination accepted: whether it confirmed the stream's
    /// state and how many records it says it committed. When the write of all scenarios fails,
    /// each scenario is written on its own, so that the report names the ones the destination
    /// rejects and the error it gave for each. Streams go to `namespace` when given (PyAirbyte
    /// uses a fresh `zz_deleteme_…` one per run).
    pub fn smoke_test(
        &self,
        scenarios: Vec<Scenario>,
        namespace: Option<&str>,
    ) -> Result<SmokeTestReport> {
        let started = std::time::Instant::now();
        let options = || WriteOptions {
            cache: CacheChoice::None,
            state_cache: CacheChoice::None,
            force_full_refresh: true,
            ..Default::default()
        };
        let run = |set: &[Scenario]| -> Result<WriteResult> {
            let mut source = scenario_source_in_namespace(set.to_vec(), namespace);
            source.select_all_streams()?;
            self.write(&source, options())
        };
        match run(&scenarios) {
            Ok(result) => Ok(SmokeTestReport {
                destination: self.name().to_string(),
                scenarios: outcomes(&scenarios, &result),
                combined_error: None,
                elapsed: started.elapsed(),
            }),
            Err(combined) => {
                let mut out = Vec::with_capacity(scenarios.len());
                for scenario in &scenarios {
                    let one = std::slice::from_ref(scenario);
                    match run(one) {
                        Ok(result) => out.extend(outcomes(one, &result)),
                        Err(e) => out.push(ScenarioOutcome {
                            name: scenario.name.clone(),
                            records_sent: scenario.records.len() as u64,
                            records_committed: None,
                            confirmed: false,
                            error: Some(e.to_string()),
                        }),
                    }
                }
                Ok(SmokeTestReport {
                    destination: self.name().to_string(),
                    scenarios: out,
                    combined_error: Some(combined.to_string()),
                    elapsed: started.elapsed(),
                })
            }
        }
    }
}
