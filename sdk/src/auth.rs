//! Credentials that rotate: an [`AccessToken`] from a [`TokenProvider`],
//! fetched when first needed, cached, shared by every clone and watch of a
//! client, and fetched again shortly before it expires or after the server
//! answers 401.
//!
//! ```no_run
//! # async fn run() -> Result<(), jobs_sdk::JobsError> {
//! use std::time::{Duration, SystemTime};
//! use jobs_sdk::{JobsClient, auth::AccessToken};
//!
//! # async fn fetch_from_vault() -> Result<(String, u64), std::io::Error> { Ok((String::new(), 0)) }
//! let client = JobsClient::builder("https://jobs.internal")
//!     .token_provider(|| async {
//!         let (value, ttl_secs) = fetch_from_vault().await?;
//!         Ok::<_, std::io::Error>(
//!             AccessToken::new(value)
//!                 .expires_at(SystemTime::now() + Duration::from_secs(ttl_secs)),
//!         )
//!     })
//!     .build()?;
//! client.get_job("job_abc123").await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;

use crate::error::{BoxError, JobsError};

/// A token is fetched again this long before its expiry, so a request never
/// leaves with a token that expires on the way.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(60);

/// A bearer token and, when known, when it stops being valid.
///
/// Its `Debug` never shows the value.
#[derive(Clone)]
pub struct AccessToken {
    value: String,
    expires_at: Option<SystemTime>,
}

impl AccessToken {
    /// A token without a known expiry: it is used until the server answers
    /// 401.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            expires_at: None,
        }
    }

    /// When the token expires: it is fetched again
    /// [`REFRESH_BEFORE_EXPIRY`] before then.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// The expiry given to [`expires_at`](Self::expires_at), if any.
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The token itself.
    pub fn secret(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The future a [`TokenProvider`] returns.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<AccessToken, BoxError>> + Send + 'a>>;

/// Where a client gets its bearer token: a secret store, an OAuth client
/// credentials flow, a file a sidecar rotates.
///
/// Implemented for closures returning a future of
/// `Result<AccessToken, E>` with `E: std::error::Error + Send + Sync`; the
/// client calls it when it has no token, when the token is about to expire,
/// and after a 401, never twice at once.
pub trait TokenProvider: Send + Sync + 'static {
    /// Fetches a fresh token.
    fn fetch_token(&self) -> TokenFuture<'_>;
}

impl<F, Fut, E> TokenProvider for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AccessToken, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    fn fetch_token(&self) -> TokenFuture<'_> {
        let fetch = self();
        Box::pin(async move { fetch.await.map_err(|e| Box::new(e) as BoxError) })
    }
}

/// The token one attempt used, to send it and to invalidate exactly it.
#[derive(Clone)]
pub(crate) struct UsedToken {
    pub(crate) header: HeaderValue,
    pub(crate) secret: Arc<str>,
    generation: u64,
}

struct Cached {
    used: UsedToken,
    expires_at: Option<SystemTime>,
}

/// The client's token: cached, shared by clones, one fetch at a time.
pub(crate) struct TokenCache {
    provider: Arc<dyn TokenProvider>,
    cached: Mutex<Option<Cached>>,
    /// Held while fetching, so concurrent callers wait for one fetch.
    fetching: tokio::sync::Mutex<u64>,
}

impl TokenCache {
    pub(crate) fn new(provider: Arc<dyn TokenProvider>) -> Self {
        Self {
            provider,
            cached: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(0),
        }
    }

    fn fresh(&self) -> Option<UsedToken> {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        let cached = cached.as_ref()?;
        let fresh = cached.expires_at.is_none_or(|at| {
            SystemTime::now()
                .checked_add(REFRESH_BEFORE_EXPIRY)
                .is_some_and(|soon| soon < at)
        });
        fresh.then(|| cached.used.clone())
    }

    /// The token to send: the cached one while fresh, else one fetch shared
    /// by every caller waiting, bounded by `limit`.
    pub(crate) async fn token(&self, limit: Duration) -> Result<UsedToken, JobsError> {
        if let Some(used) = self.fresh() {
            return Ok(used);
        }
        let mut generation = self.fetching.lock().await;
        // Another caller may have fetched while this one waited.
        if let Some(used) = self.fresh() {
            return Ok(used);
        }
        let token = match tokio::time::timeout(limit, self.provider.fetch_token()).await {
            Ok(Ok(token)) => token,
            Ok(Err(source)) => return Err(JobsError::Credentials { source }),
            Err(_) => {
                return Err(JobsError::Credentials {
                    source: format!("the token provider did not answer within {limit:?}").into(),
                });
            }
        };
        let mut header =
            HeaderValue::from_str(&format!("Bearer {}", token.value)).map_err(|_| {
                JobsError::Credentials {
                    source: "the token contains characters not allowed in a header".into(),
                }
            })?;
        header.set_sensitive(true);
        *generation += 1;
        let used = UsedToken {
            header,
            secret: token.value.into(),
            generation: *generation,
        };
        // A token that is already stale is still used once: the provider
        // gave nothing better, and fetching again at once would spin.
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(Cached {
            used: used.clone(),
            expires_at: token.expires_at,
        });
        Ok(used)
    }

    /// Forgets `used` after a 401, unless a newer token replaced it already.
    pub(crate) fn invalidate(&self, used: &UsedToken) {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached
            .as_ref()
            .is_some_and(|c| c.used.generation == used.generation)
        {
            *cached = None;
        }
    }

    /// The current token, to scrub it from server text.
    pub(crate) fn current_secret(&self) -> Option<Arc<str>> {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached.as_ref().map(|c| c.used.secret.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn counting(expires_in: Option<Duration>) -> (Arc<AtomicU32>, Arc<dyn TokenProvider>) {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let provider = move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                let token = AccessToken::new(format!("token-{n}"));
                Ok::<_, std::io::Error>(match expires_in {
                    Some(ttl) => token.expires_at(SystemTime::now() + ttl),
                    None => token,
                })
            }
        };
        (calls, Arc::new(provider))
    }

    #[tokio::test]
    async fn a_fresh_token_is_fetched_once_and_shared() {
        let (calls, provider) = counting(Some(Duration::from_secs(3600)));
        let cache = Arc::new(TokenCache::new(provider));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.token(Duration::from_secs(5)).await })
            })
            .collect();
        for task in tasks {
            let used = task.await.unwrap().unwrap();
            assert_eq!(&*used.secret, "token-1");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_about_to_expire_is_fetched_again() {
        let (calls, provider) = counting(Some(REFRESH_BEFORE_EXPIRY / 2));
        let cache = TokenCache::new(provider);
        let first = cache.token(Duration::from_secs(5)).await.unwrap();
        let second = cache.token(Duration::from_secs(5)).await.unwrap();
        assert_eq!((&*first.secret, &*second.secret), ("token-1", "token-2"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn invalidating_an_old_token_keeps_the_new_one() {
        let (calls, provider) = counting(None);
        let cache = TokenCache::new(provider);
        let first = cache.token(Duration::from_secs(5)).await.unwrap();
        cache.invalidate(&first);
        let second = cache.token(Duration::from_secs(5)).await.unwrap();
        // A late 401 for the first token must not throw away the second.
        cache.invalidate(&first);
        let third = cache.token(Duration::from_secs(5)).await.unwrap();
        assert_eq!(&*second.secret, "token-2");
        assert_eq!(&*third.secret, "token-2");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_provider_that_hangs_is_a_credentials_error_at_the_limit() {
        let cache = TokenCache::new(Arc::new(|| async {
            std::future::pending::<Result<AccessToken, std::io::Error>>().await
        }));
        let err = cache.token(Duration::from_secs(2)).await.err().unwrap();
        assert!(matches!(err, JobsError::Credentials { .. }), "{err:?}");
        assert!(
            err.to_string().contains("did not answer within 2s"),
            "{err}"
        );
    }

    #[test]
    fn debug_never_shows_the_value() {
        let token = AccessToken::new("s3cr3t");
        assert!(!format!("{token:?}").contains("s3cr3t"));
    }
}
