//! Who may use the public API: the bearer token it requires and the rate
//! limit it applies. Shared by the server's settings and the API's guards.

use std::fmt;
use std::sync::Mutex;

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

/// The bearer token the public API requires. `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct AuthToken(String);

impl AuthToken {
    pub(crate) fn new(token: String) -> Self {
        Self(token)
    }

    /// Whether `Authorization: Bearer <token>` carries this token. The
    /// comparison takes the same time wherever the first difference is.
    pub(crate) fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer")
            && bool::from(token.trim().as_bytes().ct_eq(self.0.as_bytes()))
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// A token bucket shared by all clients: `per_second` requests per second,
/// bursts up to `per_second`.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: u32,
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    pub(crate) fn new(per_second: u32) -> Self {
        let per_second = per_second.max(1);
        Self {
            per_second,
            bucket: Mutex::new((f64::from(per_second), Instant::now())),
        }
    }

    /// Takes a token, or says how many whole seconds until one is free.
    pub(crate) fn acquire(&self) -> Result<(), u64> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = &mut *bucket;
        let now = Instant::now();
        let rate = f64::from(self.per_second);
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        // At least 1: `Retry-After: 0` would invite an immediate retry.
        Err((((1.0 - *tokens) / rate).ceil() as u64).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn bearer_token_is_checked_exactly_and_never_shown() {
        let token = AuthToken::new("s3cret".into());
        assert!(token.accepts(&auth("Bearer s3cret")));
        assert!(token.accepts(&auth("bearer s3cret")));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "s3cret",
            "Bearer ",
            "Bearer S3CRET",
        ] {
            assert!(!token.accepts(&auth(wrong)), "{wrong}");
        }
        assert!(!token.accepts(&HeaderMap::new()));
        assert!(!format!("{token:?}").contains("s3cret"));
    }

    #[tokio::test(start_paused = true)]
    async fn token_bucket_allows_bursts_then_says_when_to_retry() {
        let limiter = RateLimiter::new(2);
        assert_eq!((limiter.acquire(), limiter.acquire()), (Ok(()), Ok(())));
        assert_eq!(limiter.acquire(), Err(1));
        tokio::time::advance(std::time::Duration::from_millis(500)).await;
        assert_eq!(limiter.acquire(), Ok(()));
        assert_eq!(limiter.acquire(), Err(1));
    }
}
