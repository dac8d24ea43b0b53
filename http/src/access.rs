//! Who may use a server: the bearer tokens of the public API and of the
//! control surface, and the public API's rate limits.
//!
//! The rate limit is charged after authentication: requests with the right
//! token share one bucket, and requests refused for their credentials (no
//! token, a wrong one, two `Authorization` fields) draw from a second
//! bucket of the same size. A stranger's flood then earns the stranger 429s
//! and never spends the token holder's budget.

use std::fmt;
use std::sync::Mutex;

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::error::ApiError;

/// A token bucket shared by the requests it limits: `per_second` requests per second,
/// bursts up to `per_second`.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: u32,
    bucket: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A bucket of `per_second` tokens (at least 1), full.
    pub fn new(per_second: u32) -> Self {
        let per_second = per_second.max(1);
        Self {
            per_second,
            bucket: Mutex::new((f64::from(per_second), Instant::now())),
        }
    }

    /// Takes a token, or says how many whole seconds until one is free.
    pub fn acquire(&self) -> Result<(), u64> {
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

/// What a request's `Authorization` fields say about a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Exactly one field, `Bearer <the token>`.
    Valid,
    /// None, or one that is not `Bearer <the token>`.
    Invalid,
    /// More than one field: which one counts would be a guess, and a front
    /// end that checked the other would have seen another credential.
    Ambiguous,
}

/// A bearer token a surface requires. `Debug` never shows it.
#[derive(Clone)]
pub struct AuthToken(String);

impl AuthToken {
    /// The token requests must present as `Authorization: Bearer <token>`.
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// What the request's `Authorization` fields carry. The comparison
    /// takes the same time wherever the first difference is.
    pub fn check(&self, headers: &HeaderMap) -> Credentials {
        let mut fields = headers.get_all(header::AUTHORIZATION).iter();
        let field = match (fields.next(), fields.next()) {
            (None, _) => return Credentials::Invalid,
            (Some(_), Some(_)) => return Credentials::Ambiguous,
            (Some(field), None) => field,
        };
        let Some((scheme, token)) = field.to_str().ok().and_then(|v| v.trim().split_once(' '))
        else {
            return Credentials::Invalid;
        };
        if scheme.eq_ignore_ascii_case("bearer")
            && bool::from(token.trim().as_bytes().ct_eq(self.0.as_bytes()))
        {
            Credentials::Valid
        } else {
            Credentials::Invalid
        }
    }

    /// The answer for a request without [`Credentials::Valid`], if it has not.
    pub fn require(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match self.check(headers) {
            Credentials::Valid => Ok(()),
            Credentials::Invalid => Err(ApiError::unauthorized()),
            Credentials::Ambiguous => Err(ApiError::ambiguous_authorization()),
        }
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// The public API's access policy: its token and rate limits.
#[derive(Debug, Default)]
pub struct ApiAccess {
    token: Option<AuthToken>,
    /// Requests that passed authentication (every request without a token).
    admitted: Option<RateLimiter>,
    /// Requests refused for their credentials.
    refused: Option<RateLimiter>,
}

impl ApiAccess {
    /// Requires `token` when there is one; with `rate_limit`, at most that
    /// many requests per second per bucket (429 beyond).
    pub fn new(token: Option<AuthToken>, rate_limit: Option<u32>) -> Self {
        Self {
            refused: rate_limit.filter(|_| token.is_some()).map(RateLimiter::new),
            admitted: rate_limit.map(RateLimiter::new),
            token,
        }
    }

    /// Whether a token is required.
    pub fn requires_token(&self) -> bool {
        self.token.is_some()
    }

    /// Authenticates, then charges the request's bucket: `Ok` to go on, else
    /// the answer (401 or 400 for the credentials, 429 when the bucket the
    /// request draws from is empty).
    pub fn admit(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let credentials = self.token.as_ref().map(|token| token.require(headers));
        let bucket = match credentials {
            Some(Err(_)) => &self.refused,
            None | Some(Ok(())) => &self.admitted,
        };
        if let Some(limiter) = bucket
            && let Err(seconds) = limiter.acquire()
        {
            return Err(ApiError::too_many_requests(seconds));
        }
        credentials.unwrap_or(Ok(()))
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
        assert_eq!(token.check(&auth("Bearer s3cret")), Credentials::Valid);
        assert_eq!(token.check(&auth("bearer s3cret")), Credentials::Valid);
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "s3cret",
            "Bearer ",
            "Bearer S3CRET",
        ] {
            assert_eq!(token.check(&auth(wrong)), Credentials::Invalid, "{wrong}");
        }
        assert_eq!(token.check(&HeaderMap::new()), Credentials::Invalid);
        let mut twice = auth("Bearer s3cret");
        twice.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer nope"),
        );
        assert_eq!(token.check(&twice), Credentials::Ambiguous);
        let mut same_twice = auth("Bearer s3cret");
        same_twice.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert_eq!(token.check(&same_twice), Credentials::Ambiguous);
        assert!(!format!("{token:?}").contains("s3cret"));
    }

    #[tokio::test(start_paused = true)]
    async fn refused_requests_never_spend_the_token_holders_budget() {
        let access = ApiAccess::new(Some(AuthToken::new("T".into())), Some(3));
        let wrong = auth("Bearer nope");
        let right = auth("Bearer T");
        let statuses = |headers: &HeaderMap, n| {
            (0..n)
                .map(|_| access.admit(headers).err().map(|e| e.status.as_u16()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            statuses(&wrong, 5),
            [Some(401), Some(401), Some(401), Some(429), Some(429)]
        );
        assert_eq!(statuses(&right, 4), [None, None, None, Some(429)]);
        let open = ApiAccess::new(None, Some(1));
        assert!(
            open.admit(&wrong).is_ok(),
            "no token: the header is not read"
        );
        assert_eq!(open.admit(&wrong).unwrap_err().status.as_u16(), 429);
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
