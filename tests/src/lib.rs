//! Cross-crate contract tests for the Job Status API; the tests live in `tests/tests/`.
