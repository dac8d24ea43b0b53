//! [`CallOptions`]: settings for some calls only, through
//! [`JobsClient::with_options`](crate::JobsClient::with_options).

use std::fmt;
use std::time::Duration;

/// Overrides of the client's settings for the calls made through one
/// [`JobsClient::with_options`](crate::JobsClient::with_options) handle.
/// Unset options keep the client's value.
///
/// ```no_run
/// # async fn run(client: jobs_sdk::JobsClient) -> Result<(), jobs_sdk::JobsError> {
/// use std::time::Duration;
/// use jobs_sdk::CallOptions;
///
/// // A health check: one attempt, two seconds, tagged.
/// let probe = client.with_options(
///     CallOptions::new()
///         .timeout(Duration::from_secs(2))
///         .max_retries(0)
///         .header("x-request-id", "health-7"),
/// );
/// probe.get_job("job_abc123").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) max_retries: Option<u32>,
    pub(crate) headers: Vec<(String, String)>,
}

impl CallOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Limit on each attempt, as
    /// [`JobsClientBuilder::timeout`](crate::JobsClientBuilder::timeout).
    /// A call that runs out of it returns the typed
    /// [`Timeout`](crate::JobsError::Timeout), which says the request may
    /// have been applied, unlike a `tokio::time::timeout` around the call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Budget of one call, every attempt and wait included, as
    /// [`RetryPolicy::max_elapsed`](crate::RetryPolicy::max_elapsed).
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.max_elapsed = Some(max_elapsed);
        self
    }

    /// Retries after the first attempt, as
    /// [`RetryPolicy::max_retries`](crate::RetryPolicy::max_retries); 0
    /// sends each request once (a 401 with a
    /// [`token_provider`](crate::JobsClientBuilder::token_provider) is still
    /// answered with a fresh token once).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// A header on these calls' requests, replacing the client's
    /// [`header`](crate::JobsClientBuilder::header) of the same name. The
    /// rules are the builder's: the SDK's own headers are refused, and an
    /// unusable name or value makes every call through the handle return
    /// [`InvalidConfig`](crate::JobsError::InvalidConfig) (nothing is
    /// sent). Values are never shown in `Debug`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

impl fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallOptions")
            .field("timeout", &self.timeout)
            .field("max_elapsed", &self.max_elapsed)
            .field("max_retries", &self.max_retries)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}
