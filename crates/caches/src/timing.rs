//! Where a load's time goes, measured cheaply enough to stay on in every load: per-thread CPU
//! clocks read at the start and end, and wall clocks around the (few) batch operations.

use std::time::Duration;

/// CPU time the calling thread has used so far (`None` where the OS does not tell).
pub(crate) fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_THREAD_CPUTIME_ID needs no other state.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (r == 0).then(|| {
        Duration::new(
            ts.tv_sec.max(0) as u64,
            ts.tv_nsec.clamp(0, 999_999_999) as u32,
        )
    })
}

/// Time measurements of one load, reported in [`crate::loader::LoadSummary::timings`].
///
/// The loader parses records on the caller's thread while a database thread inserts the
/// previous batches, so the phases overlap: their sum exceeds the wall time when both threads
/// are busy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadTimings {
    /// CPU time of the caller's thread from `begin_load` to `finish`: decoding lines, parsing
    /// records into columns, building Arrow batches (and whatever else the caller did, such
    /// as progress reporting).
    pub parse_cpu: Option<Duration>,
    /// Wall time the caller's thread waited for the database thread (the queue of batches
    /// was full): time in which DuckDB, not parsing, was the bottleneck.
    pub waited_for_database: Duration,
    /// Wall time the database thread spent inserting and merging batches (DuckDB's
    /// compression of full row groups happens here).
    pub insert: Duration,
    /// Wall time the database thread spent in commits (states, merges at commit, replace
    /// swaps, the final checkpoint of each transaction).
    pub commit: Duration,
    /// CPU time of the database thread.
    pub database_cpu: Option<Duration>,
}
