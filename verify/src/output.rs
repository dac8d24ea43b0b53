//! Renders a [`Report`]: a table for people, JSON and JUnit XML for CI.
//! Every renderer reads the report as [`verify`](super::verify) returned
//! it, whose texts are already redacted.

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde_json::json;

use super::report::{Outcome, Report};

/// The table's widest EXPECTED and GOT cells; the full texts of failures
/// are listed below the table.
const EXPECTED_WIDTH: usize = 46;
const GOT_WIDTH: usize = 48;

/// `text` cut to `width` characters (`…` marks the cut), padded.
fn cell(text: &str, width: usize) -> String {
    let one_line = text.replace(['\n', '\r'], " ");
    let count = one_line.chars().count();
    if count > width {
        let cut: String = one_line.chars().take(width - 1).collect();
        format!("{cut}…")
    } else {
        format!("{one_line}{}", " ".repeat(width - count))
    }
}

/// A readable report: one row per check (check, expected, got, result),
/// then the failures in full and a summary line.
pub fn table(report: &Report) -> String {
    let mut out = format!(
        "jobs-verify {} against {}\njob {}, disposable {}\n",
        env!("CARGO_PKG_VERSION"),
        report.url,
        report.job,
        report.disposable.as_deref().unwrap_or("(none)")
    );
    if let Some(fatal) = &report.fatal {
        out.push_str(&format!("cannot verify: {}\n", fatal.message));
        return out;
    }
    let name_width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .chain(["CHECK".len()])
        .max()
        .unwrap_or_default();
    out.push('\n');
    out.push_str(&format!(
        "{}  {}  {}  RESULT\n",
        cell("CHECK", name_width),
        cell("EXPECTED", EXPECTED_WIDTH),
        cell("GOT", GOT_WIDTH)
    ));
    for check in &report.checks {
        let optional = if check.requirement == super::Requirement::Optional {
            " (optional)"
        } else {
            ""
        };
        out.push_str(&format!(
            "{}  {}  {}  {}{optional}\n",
            cell(&check.name, name_width),
            cell(&check.expected, EXPECTED_WIDTH),
            cell(&check.got, GOT_WIDTH),
            check.outcome.label()
        ));
    }
    let failures: Vec<_> = report.failures().collect();
    if !failures.is_empty() {
        out.push_str("\nFailures:\n");
        for check in failures {
            out.push_str(&format!(
                "  {}\n    expected: {}\n    got:      {}\n",
                check.name, check.expected, check.got
            ));
        }
    }
    out.push('\n');
    if !report.lifecycle_ran {
        out.push_str("Lifecycle skipped: no --disposable given, nothing was written.\n");
    }
    let summary = report.summary();
    out.push_str(&format!(
        "{} passed, {} failed, {} skipped: {}\n",
        summary.passed,
        summary.failed,
        summary.skipped,
        if report.passed() {
            "the deployment honours the contract"
        } else {
            "the deployment BREAKS the contract"
        }
    ));
    if !report.ids_shown {
        out.push_str("(job ids and the token are redacted; --show-ids shows them)\n");
    }
    out
}

/// The report as one JSON document: `passed`, `exitCode`, `summary`,
/// `lifecycleRan`, `fatal` and `checks` (`name`, `requirement`, `expected`,
/// `got`, `outcome`: `pass`, `fail` or `skipped`).
pub fn json(report: &Report) -> String {
    let value = json!({
        "tool": "jobs-verify",
        "version": env!("CARGO_PKG_VERSION"),
        "url": report.url,
        "job": report.job,
        "disposable": report.disposable,
        "passed": report.passed(),
        "exitCode": report.exit_code(),
        "summary": report.summary(),
        "lifecycleRan": report.lifecycle_ran,
        "idsShown": report.ids_shown,
        "fatal": report.fatal,
        "checks": report.checks,
    });
    // Serialising a `Value` of strings, numbers and booleans cannot fail.
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// The report as JUnit XML: one `<testcase>` per check (classname: the
/// check's group, `get`, `lifecycle`…), failures with expected and got,
/// skips with why. A fatal condition is one failing `preflight` case.
///
/// # Errors
/// When the XML cannot be written (not expected for valid UTF-8 text).
pub fn junit(report: &Report) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new("jobs-verify");
    if let Some(fatal) = &report.fatal {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(fatal.message.clone());
        let mut case = TestCase::new("preflight", status);
        case.set_classname("jobs-verify");
        suite.add_test_case(case);
    }
    for check in &report.checks {
        let status = match check.outcome {
            Outcome::Pass => TestCaseStatus::success(),
            Outcome::Fail => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(format!("expected {}; got {}", check.expected, check.got));
                status
            }
            Outcome::Skip => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(check.got.clone());
                status
            }
        };
        let mut case = TestCase::new(check.name.clone(), status);
        let group = check.name.split('.').next().unwrap_or("jobs-verify");
        case.set_classname(format!("jobs-verify.{group}"));
        if check.outcome == Outcome::Pass {
            case.set_system_out(format!("expected {}; got {}", check.expected, check.got));
        }
        suite.add_test_case(case);
    }
    let mut junit = quick_junit::Report::new("jobs-verify");
    junit.add_test_suite(suite);
    junit.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Fatal, FatalKind};

    fn sample() -> Report {
        Report {
            url: "http://127.0.0.1:3000".into(),
            job: "<job>".into(),
            disposable: None,
            lifecycle_ran: false,
            checks: vec![
                Check::required("get.ok", "200 application/json").pass("200 application/json"),
                Check::required("get.missing_id", "404 Job not found")
                    .fail("404 {\"error\":\"Not Found\"} <&>"),
                Check::optional("etag.not_modified", "304").skip("not offered"),
            ],
            fatal: None,
            ids_shown: false,
        }
    }

    #[test]
    fn table_has_a_row_per_check_failures_in_full_and_the_lifecycle_note() {
        let text = table(&sample());
        assert!(text.contains("get.missing_id"), "{text}");
        assert!(text.contains("  fail\n"), "{text}");
        assert!(text.contains("skipped (optional)"), "{text}");
        assert!(text.contains("Failures:\n  get.missing_id\n"), "{text}");
        assert!(text.contains("Lifecycle skipped"), "{text}");
        assert!(text.contains("1 passed, 1 failed, 1 skipped"), "{text}");
    }

    #[test]
    fn json_and_junit_carry_every_check_and_the_verdict() {
        let report = sample();
        let value: serde_json::Value = serde_json::from_str(&json(&report)).unwrap();
        assert_eq!(value["passed"], false);
        assert_eq!(value["exitCode"], 1);
        assert_eq!(value["checks"][1]["outcome"], "fail");
        assert_eq!(value["checks"][2]["requirement"], "optional");
        assert_eq!(value["checks"][2]["outcome"], "skipped");

        let xml = junit(&report).unwrap();
        let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        let suite = &parsed.test_suites[0];
        assert_eq!((suite.tests, suite.failures, suite.skipped), (3, 1, 1));
        assert!(xml.contains("&lt;&amp;&gt;"), "escaped: {xml}");
    }

    #[test]
    fn a_fatal_report_is_one_failing_preflight_case() {
        let mut report = sample();
        report.checks.clear();
        report.fatal = Some(Fatal {
            kind: FatalKind::Unreachable,
            message: "no answer".into(),
        });
        assert!(table(&report).contains("cannot verify: no answer"));
        let parsed = quick_junit::Report::deserialize_from_str(&junit(&report).unwrap()).unwrap();
        assert_eq!(parsed.test_suites[0].errors, 1);
    }
}
