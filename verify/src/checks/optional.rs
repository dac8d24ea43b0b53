//! Optional features: `ETag`/304, bearer auth, `Retry-After` on 429. A
//! deployment without one is reported as such (skipped); one that offers a
//! feature and breaks it fails.

use reqwest::header::{self, HeaderValue};

use super::Verifier;
use super::expect::{self, describe_error};
use crate::report::Check;
use crate::wire::{self, Answer, Auth, NoAnswer, Request};

/// Conditional GETs tried before giving up on a job that changes between
/// requests (a running job's progress moves its ETag).
const ETAG_ATTEMPTS: usize = 3;

/// `etag.not_modified`: sending back the `ETag` of a GET answers 304 with
/// no body while the job is unchanged.
pub(crate) async fn etag(v: &mut Verifier<'_>) {
    let check = Check::optional(
        "etag.not_modified",
        "If-None-Match: its ETag → 304, no body",
    );
    let label = "GET <job> (for its ETag)";
    for _ in 0..ETAG_ATTEMPTS {
        let first = match v.wire.send(&Request::get(label, &v.config.job)).await {
            Ok(answer) if answer.status == 200 => answer,
            Ok(answer) => return v.push(check.fail(format!("GET: {}", describe_error(&answer)))),
            Err(e) => return v.push(check.fail(format!("no answer: {e}"))),
        };
        let Some(etag) = first.headers.get(header::ETAG).cloned() else {
            return v.push(check.skip("not offered: GET has no ETag header"));
        };
        let request =
            Request::get("GET <job> If-None-Match", &v.config.job).if_none_match(etag.clone());
        let answer = match v.wire.send(&request).await {
            Ok(answer) => answer,
            Err(e) => return v.push(check.fail(format!("no answer: {e}"))),
        };
        match answer.status {
            304 if answer.body.is_empty() => return v.push(check.pass("304, no body")),
            304 => {
                return v.push(check.fail(format!("304 with a body: {}", answer.snippet())));
            }
            200 if answer.headers.get(header::ETAG) == Some(&etag) => {
                return v.push(check.fail("200 with the same ETag: If-None-Match is ignored"));
            }
            // The job changed in between: try again with the new ETag.
            200 => {}
            _ => return v.push(check.fail(describe_error(&answer))),
        }
    }
    v.push(check.skip(format!(
        "the job changed on each of {ETAG_ATTEMPTS} tries; 304 not confirmed"
    )));
}

/// `auth.missing_token` and `auth.wrong_token`: with `--token`, requests
/// without it or with another token answer 401 with a JSON `ErrorBody`
/// and `WWW-Authenticate`.
pub(crate) async fn auth(v: &mut Verifier<'_>) {
    let missing = Check::optional(
        "auth.missing_token",
        "no token: 401 ErrorBody + WWW-Authenticate",
    );
    let wrong = Check::optional(
        "auth.wrong_token",
        "wrong token: 401 ErrorBody + WWW-Authenticate",
    );
    if v.config.token.is_none() {
        let why = "no --token: the server answered without one";
        v.push(missing.skip(why));
        return v.push(wrong.skip(why));
    }
    let job = v.config.job.clone();
    let anonymous = v
        .wire
        .send(&Request::get("GET <job> without a token", &job).auth(Auth::Anonymous))
        .await;
    if matches!(&anonymous, Ok(a) if a.status == 200) {
        let why = "not enforced: a GET without a token answered 200";
        v.push(missing.skip(why));
        // A deployment that ignores tokens ignores wrong ones too; only one
        // that requires them can be judged on a wrong one.
        return v.push(wrong.skip(why));
    }
    v.push(missing.result(unauthorized(&anonymous, v)));
    let answer = v
        .wire
        .send(&Request::get("GET <job> with a wrong token", &job).auth(Auth::Wrong))
        .await;
    v.push(wrong.result(unauthorized(&answer, v)));
}

fn unauthorized(answer: &Result<Answer, NoAnswer>, v: &Verifier<'_>) -> Result<String, String> {
    let got = expect::error_body(answer, 401, &v.schemas)?;
    let answer = answer.as_ref().map_err(ToString::to_string)?;
    if !answer.is_json() {
        return Err(format!("{got}, but Content-Type {}", answer.content_type()));
    }
    match answer.header(header::WWW_AUTHENTICATE) {
        Some(scheme) => Ok(format!("{got}, WWW-Authenticate: {scheme}")),
        None => Err(format!("{got}, but no WWW-Authenticate header")),
    }
}

/// `rate_limit.retry_after`: a 429 carries `Retry-After` (seconds) and a
/// JSON `ErrorBody`. Judges the 429s met during the run; if there were
/// none, sends up to `--burst` GETs to provoke one.
pub(crate) async fn rate_limit(v: &mut Verifier<'_>) {
    let check = Check::optional(
        "rate_limit.retry_after",
        "429: Retry-After seconds + ErrorBody",
    );
    let mut limited: Vec<Answer> = v
        .wire
        .answers()
        .into_iter()
        .filter(|a| a.status == 429)
        .collect();
    if limited.is_empty() {
        for _ in 0..v.config.burst {
            match v
                .wire
                .send_once(&Request::get("GET <job> (burst)", &v.config.job))
                .await
            {
                Ok(answer) if answer.status == 429 => {
                    limited.push(answer);
                    break;
                }
                Ok(_) => {}
                Err(e) => return v.push(check.fail(format!("no answer during the burst: {e}"))),
            }
        }
    }
    let Some(first) = limited.first() else {
        let why = if v.config.burst == 0 {
            "no 429 seen; the burst probe is off (--burst 0)".to_owned()
        } else {
            format!("not offered: no 429 within {} rapid GETs", v.config.burst)
        };
        return v.push(check.skip(why));
    };
    let bad: Vec<String> = limited
        .iter()
        .filter_map(|answer| {
            let problem = if wire::retry_after(answer).is_none() {
                format!(
                    "Retry-After {:?}",
                    answer
                        .header(header::RETRY_AFTER)
                        .unwrap_or_else(|| "missing".into())
                )
            } else if !answer.is_json() {
                format!("Content-Type {}", answer.content_type())
            } else if let Err(e) = expect::error_body(&Ok(answer.clone()), 429, &v.schemas) {
                e
            } else {
                return None;
            };
            Some(format!("{}: {problem}", answer.label))
        })
        .collect();
    if bad.is_empty() {
        let seconds = first
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|h: &HeaderValue| h.to_str().ok())
            .unwrap_or_default();
        v.push(check.pass(format!(
            "{} answer(s) 429, Retry-After: {seconds}",
            limited.len()
        )));
    } else {
        v.push(check.fail(bad.join("; ")));
    }
}
