//! [`StoredJob::write_json`]: the job's JSON written by hand (see
//! `crate::json_out`), the same bytes as its `Serialize` impl and as the
//! SDK's `Job` (property tests in `tests.rs` compare all three).

use jobs_sdk::JobMetrics;
use serde_json::value::RawValue;

use crate::json_out::{
    Members, optional_string, optional_timestamp, raw, string, timestamp, unsigned,
};

use super::StoredJob;

impl StoredJob {
    /// Appends the job's JSON to `out`: exactly what `serde_json` writes for
    /// this job (and for [`StoredJob::to_job`]'s `Job`), faster.
    ///
    /// # Errors
    ///
    /// Only what `serde_json` itself could report for the job's free-form
    /// members (the extra members of `data` and `metrics`); writing into a
    /// `Vec` does not fail otherwise.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        self.load_heap_parts();
        raw(out, r#"{"id":"#);
        string(out, &self.id)?;
        raw(out, r#","type":"#);
        string(out, self.job_type.as_str())?;
        raw(out, r#","url":"#);
        optional_string(out, self.url.as_deref())?;
        raw(out, r#","status":"#);
        string(out, self.status.as_str())?;
        raw(out, r#","progress":"#);
        match self.progress {
            // As `Progress` (and the SDK) writes it: whole values as integers.
            Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => {
                // Whole values in range are exact as i64: the cast loses nothing.
                out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
            }
            Some(v) => serde_json::to_writer(&mut *out, &v)?,
            None => raw(out, "null"),
        }
        raw(out, r#","data":"#);
        self.write_data(out)?;
        raw(out, r#","createdAt":"#);
        timestamp(out, &self.created_at)?;
        raw(out, r#","startedAt":"#);
        optional_timestamp(out, self.started_at.as_ref())?;
        raw(out, r#","finishedAt":"#);
        optional_timestamp(out, self.finished_at.as_ref())?;
        raw(out, r#","processedOn":"#);
        optional_string(out, self.processed_on.as_deref())?;
        raw(out, r#","attemptsMade":"#);
        unsigned(out, u64::from(self.attempts_made));
        raw(out, r#","failedReason":"#);
        optional_string(out, self.failed_reason.as_deref())?;
        if let Some(value) = &self.returnvalue {
            // Compact JSON text already, written verbatim as serde_json
            // writes a `RawValue`.
            raw(out, r#","returnvalue":"#);
            raw(out, value.get());
        }
        if let Some(logs) = &self.logs {
            raw(out, r#","logs":["#);
            for (i, line) in logs.iter().enumerate() {
                if i > 0 {
                    raw(out, ",");
                }
                string(out, line)?;
            }
            raw(out, "]");
        }
        if let Some(metrics) = &self.metrics {
            raw(out, r#","metrics":"#);
            write_metrics(out, metrics)?;
        }
        raw(out, "}");
        Ok(())
    }

    /// Reads the first byte of each heap chunk the job points to, one load
    /// right after another, before any is needed.
    ///
    /// Among a million jobs, each chunk is a cache miss (and often a TLB
    /// miss) of its own. Met one by one as the JSON is written, the misses
    /// stall the writer in turn; issued back to back, they are in flight
    /// together, and the writer finds the lines loaded or arriving. Measured
    /// on GETs of random jobs, 1M vs 1k (`docs/benchmarks.md`).
    fn load_heap_parts(&self) {
        let first = |text: Option<&str>| text.and_then(|text| text.as_bytes().first().copied());
        let data = &self.data;
        std::hint::black_box((
            [
                first(self.url.as_deref()),
                first(data.own_url.as_deref()),
                first(data.customer_id.as_deref()),
                first(data.metadata.as_deref().map(RawValue::get)),
                first(self.processed_on.as_deref()),
                first(self.failed_reason.as_deref()),
                first(self.returnvalue.as_deref().map(RawValue::get)),
            ],
            self.logs.as_ref().map(|logs| logs.len()),
            self.metrics.as_ref().map(|metrics| metrics.processing_time),
        ));
    }

    /// `data`, as `JobData` writes it: set members only, then `extra`'s.
    fn write_data(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let data = &self.data;
        let mut members = Members::open(out);
        if let Some(url) = self.data_url() {
            string(members.key(r#""url":"#), url)?;
        }
        if let Some(customer) = &data.customer_id {
            string(members.key(r#""customerId":"#), customer)?;
        }
        if let Some(metadata) = &data.metadata {
            raw(members.key(r#""metadata":"#), metadata.get());
        }
        if let Some(total) = data.total_pages {
            unsigned(members.key(r#""totalPages":"#), total);
        }
        if let Some(processed) = data.processed_pages {
            unsigned(members.key(r#""processedPages":"#), processed);
        }
        for (name, value) in data.extra.iter().flat_map(|extra| extra.iter()) {
            members.entry(name, value)?;
        }
        members.close();
        Ok(())
    }
}

/// `metrics`, as `JobMetrics` writes it: set members only, then `extra`'s.
/// A test builds metrics with every member `openapi.yaml` lists, so a
/// member added there and to the SDK but not here fails it.
fn write_metrics(out: &mut Vec<u8>, metrics: &JobMetrics) -> serde_json::Result<()> {
    let mut members = Members::open(out);
    if let Some(time) = metrics.processing_time {
        unsigned(members.key(r#""processingTime":"#), time);
    }
    if let Some(memory) = &metrics.memory_usage {
        string(members.key(r#""memoryUsage":"#), memory)?;
    }
    if let Some(pages) = metrics.pages_processed {
        unsigned(members.key(r#""pagesProcessed":"#), pages);
    }
    if let Some(errors) = metrics.errors_encountered {
        unsigned(members.key(r#""errorsEncountered":"#), errors);
    }
    for (name, value) in &metrics.extra {
        members.entry(name, value)?;
    }
    members.close();
    Ok(())
}
