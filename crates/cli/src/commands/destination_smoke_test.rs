//! `abrs destination-smoke-test --destination DST [--config D] [--scenarios fast|all|a,b]`:
//! PyAirbyte's smoke-test scenarios sent to a destination, with what it accepted per scenario
//! (as `pyab destination-smoke-test`; the JSON result on stdout has its fields, plus one entry
//! per scenario).

use std::path::PathBuf;

use airbyte as ab;
use anyhow::Result;
use serde_json::json;

use ab::smoke_test;

use crate::connector_args::{RunArgs, destination};

/// Arguments of `abrs destination-smoke-test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The destination: a name, a path to a local executable, or `noop`.
    #[arg(long, value_name = "DST")]
    destination: String,
    /// The destination's config: a JSON/YAML file or inline JSON/YAML (default `{}`).
    #[arg(long, short = 'c', value_name = "CONFIG")]
    config: Option<String>,
    /// `fast` (every scenario but large_batch_stream), `all`, or comma-separated names.
    #[arg(long, value_name = "fast|all|A,B", default_value = "fast")]
    scenarios: String,
    /// A JSON or YAML file of more scenarios (name, json_schema, records, primary_key).
    #[arg(long, value_name = "FILE")]
    custom_scenarios: Option<PathBuf>,
    /// Suffix of the generated namespace `zz_deleteme_yyyymmdd_hhmm_<suffix>`
    /// (default `smoke_test`).
    #[arg(long, value_name = "SUFFIX")]
    namespace_suffix: Option<String>,
    /// Use this exact namespace instead of generating one.
    #[arg(long, value_name = "NAMESPACE")]
    reuse_namespace: Option<String>,
    /// Skip the preflight write of basic_types.
    #[arg(long)]
    skip_preflight: bool,
    #[command(flatten)]
    run: RunArgs,
}

fn namespace(args: &Args) -> String {
    if let Some(ns) = &args.reuse_namespace {
        return ns.clone();
    }
    let suffix = args.namespace_suffix.as_deref().unwrap_or("smoke_test");
    format!(
        "zz_deleteme_{}_{suffix}",
        chrono::Utc::now().format("%Y%m%d_%H%M")
    )
}

/// Runs `abrs destination-smoke-test`.
pub fn run(args: Args) -> Result<()> {
    let mut scenarios = smoke_test::select_scenarios(&args.scenarios)?;
    if let Some(path) = &args.custom_scenarios {
        scenarios =
            smoke_test::merge_scenarios(scenarios, smoke_test::load_custom_scenarios(path)?)?;
    }
    if scenarios.is_empty() {
        return Err(ab::Error::input(
            "no scenario was selected",
            "use --scenarios fast, all, or scenario names (or give --custom-scenarios)",
        )
        .into());
    }
    let config = match &args.config {
        Some(text) => Some(crate::connector_args::load_config(text)?),
        None => Some(json!({})),
    };
    let dest = destination(&args.destination, config, args.run.to_destination_options())?;
    let ns = namespace(&args);
    let started = std::time::Instant::now();

    let mut preflight_passed = None;
    if !args.skip_preflight {
        eprintln!("Preflight: writing basic_types to {}...", dest.name());
        let report = dest.smoke_test(vec![smoke_test::preflight_scenario()], Some(&ns))?;
        let ok = report.passed();
        preflight_passed = Some(ok);
        if !ok {
            let error = report
                .combined_error
                .clone()
                .or_else(|| report.scenarios.iter().find_map(|s| s.error.clone()))
                .unwrap_or_else(|| "the destination did not confirm the preflight stream".into());
            print_result(&args, &dest, &ns, &report, preflight_passed, Some(&error));
            return Err(anyhow::anyhow!(
                "Smoke test of `{}` failed in the preflight write of basic_types: {error}",
                dest.name()
            ));
        }
    }
    eprintln!(
        "Writing {} scenario(s) to {} in namespace {ns}...",
        scenarios.len(),
        dest.name()
    );
    let report = dest.smoke_test(scenarios, Some(&ns))?;
    let elapsed = started.elapsed();
    for s in &report.scenarios {
        let committed = s
            .records_committed
            .map(|n| format!("{n} committed"))
            .unwrap_or_else(|| "no counts".into());
        eprintln!(
            "  {:<32} {:<8} {} sent, {committed}{}",
            s.name,
            if s.accepted() { "ok" } else { "FAILED" },
            s.records_sent,
            s.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
    let error = (!report.passed()).then(|| {
        report.combined_error.clone().unwrap_or_else(|| {
            "some scenarios were not confirmed in full by the destination".to_string()
        })
    });
    print_result(
        &args,
        &dest,
        &ns,
        &report,
        preflight_passed,
        error.as_deref(),
    );
    eprintln!("Smoke test took {:.1} s.", elapsed.as_secs_f64());
    match error {
        None => Ok(()),
        Some(e) => Err(anyhow::anyhow!(
            "Smoke test of `{}` FAILED: {e}",
            dest.name()
        )),
    }
}

fn print_result(
    args: &Args,
    dest: &ab::Destination,
    ns: &str,
    report: &ab::destination::SmokeTestReport,
    preflight_passed: Option<bool>,
    error: Option<&str>,
) {
    let scenarios: Vec<_> = report
        .scenarios
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "accepted": s.accepted(),
                "confirmed": s.confirmed,
                "records_sent": s.records_sent,
                "records_committed": s.records_committed,
                "error": s.error,
            })
        })
        .collect();
    let result = json!({
        "success": error.is_none(),
        "destination": dest.name(),
        "namespace": ns,
        "records_delivered": report.scenarios.iter().map(|s| s.records_sent).sum::<u64>(),
        "scenarios_requested": args.scenarios,
        "elapsed_seconds": report.elapsed.as_secs_f64(),
        "error": error,
        "preflight_passed": preflight_passed,
        "scenarios": scenarios,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&result).unwrap_or_default()
    );
}
