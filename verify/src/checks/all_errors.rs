//! `errors.*`: every error answer of the run (status 400 and above, from
//! any check) is `application/json` and an `ErrorBody`.

use super::Verifier;
use super::expect::schema_valid;
use crate::report::Check;

/// Judges every error answer recorded so far.
pub(crate) fn run(v: &mut Verifier<'_>) {
    let errors: Vec<_> = v
        .wire
        .answers()
        .into_iter()
        .filter(|a| a.status >= 400)
        .collect();
    let media = Check::required("errors.content_type", "every error is application/json");
    let body = Check::required("errors.body", "every error is an ErrorBody");
    if errors.is_empty() {
        v.push(media.fail("no error answer was received"));
        return v.push(body.fail("no error answer was received"));
    }
    let wrong_media: Vec<String> = errors
        .iter()
        .filter(|a| !a.is_json())
        .map(|a| format!("{}: {}", a.label, a.head()))
        .collect();
    let wrong_body: Vec<String> = errors
        .iter()
        .filter_map(|a| {
            let problem = match a.json() {
                Ok(json) => schema_valid(&v.schemas.error_body, &json, "ErrorBody").err()?,
                Err(e) => e,
            };
            Some(format!("{}: {} {problem}", a.label, a.status))
        })
        .collect();
    let total = errors.len();
    v.push(verdict(media, total, &wrong_media, "application/json"));
    v.push(verdict(body, total, &wrong_body, "ErrorBody"));
}

fn verdict(check: crate::report::Pending, total: usize, wrong: &[String], what: &str) -> Check {
    if wrong.is_empty() {
        check.pass(format!("{total} error answers, all {what}"))
    } else {
        check.fail(format!("{} of {total}: {}", wrong.len(), wrong.join("; ")))
    }
}
