//! What a verification found: one [`Check`] per contract rule, the
//! [`Report`] that holds them, exit codes, and the redaction of job ids and
//! tokens.

use serde::Serialize;

/// Exit codes of `jobs-verify` (see [`Report::exit_code`]).
pub mod exit {
    /// Every check that ran passed (skipped checks are not failures).
    pub const PASSED: u8 = 0;
    /// At least one check failed: the deployment breaks the contract.
    pub const CHECKS_FAILED: u8 = 1;
    /// The command line is wrong (clap's own code for usage errors).
    pub const USAGE: u8 = 2;
    /// Nothing could be verified: the server is unreachable, did not answer
    /// in time, or refused the credentials before any check ran.
    pub const CANNOT_VERIFY: u8 = 3;
    /// The checks ran but a report (`--junit FILE`) could not be written.
    pub const OUTPUT_ERROR: u8 = 4;
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The deployment did what the contract says.
    Pass,
    /// The deployment broke the contract.
    Fail,
    /// Not run: not applicable (no `--disposable`, the job's state) or an
    /// optional feature the deployment does not offer.
    #[serde(rename = "skipped")]
    Skip,
}

impl Outcome {
    /// `pass`, `fail` or `skipped`, as the table prints it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skip => "skipped",
        }
    }
}

/// Whether a deployment must pass a check or may lack the feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    /// The seed or `openapi.yaml` requires it.
    Required,
    /// An optional feature (ETag, bearer auth, rate limiting): absent is
    /// reported as skipped; present but broken fails.
    Optional,
}

/// One verified rule of the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable dotted name, e.g. `get.missing_id` or `lifecycle.pause_again`.
    pub name: String,
    /// Whether the deployment may lack the feature.
    pub requirement: Requirement,
    /// What the contract asks for.
    pub expected: String,
    /// What the deployment answered (or why the check was skipped).
    pub got: String,
    /// Pass, fail or skipped.
    pub outcome: Outcome,
}

impl Check {
    /// A required check.
    pub(crate) fn required(name: &str, expected: impl Into<String>) -> Pending {
        Pending {
            name: name.to_owned(),
            requirement: Requirement::Required,
            expected: expected.into(),
        }
    }

    /// A check of an optional feature.
    pub(crate) fn optional(name: &str, expected: impl Into<String>) -> Pending {
        Pending {
            name: name.to_owned(),
            requirement: Requirement::Optional,
            expected: expected.into(),
        }
    }
}

/// A check whose expectation is known, waiting for its result.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    name: String,
    requirement: Requirement,
    expected: String,
}

impl Pending {
    pub(crate) fn pass(self, got: impl Into<String>) -> Check {
        self.finish(Outcome::Pass, got.into())
    }

    pub(crate) fn fail(self, got: impl Into<String>) -> Check {
        self.finish(Outcome::Fail, got.into())
    }

    pub(crate) fn skip(self, why: impl Into<String>) -> Check {
        self.finish(Outcome::Skip, why.into())
    }

    /// Pass with `got` when `result` is `Ok`, fail with the error otherwise.
    pub(crate) fn result(self, result: Result<String, String>) -> Check {
        match result {
            Ok(got) => self.pass(got),
            Err(got) => self.fail(got),
        }
    }

    fn finish(self, outcome: Outcome, got: String) -> Check {
        Check {
            name: self.name,
            requirement: self.requirement,
            expected: self.expected,
            got,
            outcome,
        }
    }
}

/// Why nothing (or not everything) could be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FatalKind {
    /// The options cannot address a deployment (e.g. an invalid URL).
    Usage,
    /// No answer from the server (refused, reset, DNS, TLS, timeout).
    Unreachable,
    /// The server asks for credentials the verifier does not have or that
    /// it refuses.
    Unauthorized,
}

/// A condition that stopped the verification before the checks ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fatal {
    /// What kind of condition.
    pub kind: FatalKind,
    /// What happened and what to do.
    pub message: String,
}

/// The result of verifying one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The deployment's base URL.
    pub url: String,
    /// The read-only job (`<job>` unless ids are shown).
    pub job: String,
    /// The lifecycle's job, if one was given (`<disposable>` unless ids
    /// are shown).
    pub disposable: Option<String>,
    /// Whether the lifecycle ran (`--disposable` was given).
    pub lifecycle_ran: bool,
    /// Every check, in the order they ran.
    pub checks: Vec<Check>,
    /// Set when the verification could not run.
    pub fatal: Option<Fatal>,
    /// Whether job ids and the token were left in (`--show-ids`).
    pub ids_shown: bool,
}

/// Counts of a report's outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Checks that passed.
    pub passed: usize,
    /// Checks that failed.
    pub failed: usize,
    /// Checks that were skipped.
    pub skipped: usize,
}

impl Report {
    /// The check named `name`, if it ran or was skipped.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Fail)
    }

    /// Counts of passed, failed and skipped checks.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for check in &self.checks {
            match check.outcome {
                Outcome::Pass => summary.passed += 1,
                Outcome::Fail => summary.failed += 1,
                Outcome::Skip => summary.skipped += 1,
            }
        }
        summary
    }

    /// Whether the deployment honours the contract: no fatal condition and
    /// no failed check.
    pub fn passed(&self) -> bool {
        self.fatal.is_none() && self.failures().next().is_none()
    }

    /// The process exit code for this report (see [`exit`]).
    pub fn exit_code(&self) -> u8 {
        match &self.fatal {
            Some(Fatal {
                kind: FatalKind::Usage,
                ..
            }) => exit::USAGE,
            Some(_) => exit::CANNOT_VERIFY,
            None if self.passed() => exit::PASSED,
            None => exit::CHECKS_FAILED,
        }
    }

    /// This report with every secret replaced by its placeholder, in every
    /// text that can hold one (`expected` is fixed text naming no id).
    pub(crate) fn redacted(mut self, redactor: &Redactor) -> Self {
        self.url = redactor.apply(&self.url);
        self.job = redactor.apply(&self.job);
        self.disposable = self.disposable.map(|d| redactor.apply(&d));
        for check in &mut self.checks {
            check.got = redactor.apply(&check.got);
        }
        if let Some(fatal) = &mut self.fatal {
            fatal.message = redactor.apply(&fatal.message);
        }
        self
    }
}

/// Replaces job ids and the token with placeholders (`<job>`,
/// `<disposable>`, `<token>`) wherever they appear, raw or percent-encoded:
/// the seed says job ids are sensitive, and reports end up in CI logs.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (secret, placeholder), longest secret first so a secret that contains
    /// another is replaced whole.
    secrets: Vec<(String, &'static str)>,
}

impl Redactor {
    /// A redactor that hides nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Hides `secret` (and its percent-encoded form) behind `placeholder`.
    /// Empty and all-whitespace secrets are ignored.
    pub fn hide(mut self, secret: &str, placeholder: &'static str) -> Self {
        if secret.trim().is_empty() {
            return self;
        }
        let encoded = crate::wire::encode_segment(secret);
        if encoded != secret {
            self.secrets.push((encoded, placeholder));
        }
        self.secrets.push((secret.to_owned(), placeholder));
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        self
    }

    /// `text` with every secret replaced where it stands alone: not inside
    /// a longer word, so a short id (`a`) does not mangle `application/json`
    /// while `"a"`, `/api/jobs/a` and `job a not found` are all hidden.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (secret, placeholder) in &self.secrets {
            out = replace_standalone(&out, secret, placeholder);
        }
        out
    }
}

/// Characters that continue an identifier: a match next to one is part of
/// a longer word, not the secret.
fn continues_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

fn replace_standalone(text: &str, secret: &str, placeholder: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(secret) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + secret.len()..].chars().next();
        let inside_word = before.is_some_and(continues_word) || after.is_some_and(continues_word);
        out.push_str(&rest[..at]);
        if inside_word {
            // Keep the first character and search again after it.
            let first = rest[at..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[at..at + first]);
            rest = &rest[at + first..];
        } else {
            out.push_str(placeholder);
            rest = &rest[at + secret.len()..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redactor_hides_raw_and_encoded_forms_longest_first() {
        let redactor = Redactor::none()
            .hide("job 1", "<job>")
            .hide("job 12", "<disposable>")
            .hide("s3cret", "<token>")
            .hide("  ", "<never>");
        assert_eq!(
            redactor.apply("GET /api/jobs/job%2012 and job 1, Bearer s3cret,  "),
            "GET /api/jobs/<disposable> and <job>, Bearer <token>,  "
        );
    }

    #[test]
    fn redactor_leaves_longer_words_alone_but_hides_every_standalone_use() {
        let redactor = Redactor::none()
            .hide("a", "<job>")
            .hide("job_7", "<disposable>");
        assert_eq!(
            redactor.apply(r#"200 application/json {"id":"a"} /api/jobs/a a.a job_77 job_7."#),
            r#"200 application/json {"id":"<job>"} /api/jobs/<job> <job>.<job> job_77 <disposable>."#
        );
    }

    #[test]
    fn exit_codes_follow_fatal_then_failures() {
        let mut report = Report {
            url: "http://x".into(),
            job: "<job>".into(),
            disposable: None,
            lifecycle_ran: false,
            checks: vec![Check::required("a", "x").pass("x")],
            fatal: None,
            ids_shown: false,
        };
        assert_eq!(report.exit_code(), exit::PASSED);
        report.checks.push(Check::optional("b", "y").skip("absent"));
        assert_eq!(report.exit_code(), exit::PASSED, "skips are not failures");
        report.checks.push(Check::optional("c", "z").fail("broken"));
        assert_eq!(report.exit_code(), exit::CHECKS_FAILED);
        report.fatal = Some(Fatal {
            kind: FatalKind::Unreachable,
            message: "refused".into(),
        });
        assert_eq!(report.exit_code(), exit::CANNOT_VERIFY);
    }
}
