//! Who may use a server: the bearer tokens of the public API (a static
//! token, JWTs with scopes, or both) and of the control surface, and the
//! public API's rate limits.
//!
//! The rate limit is charged after authentication: requests with the right
//! token share one bucket, and requests refused for their credentials (no
//! token, a wrong one, two `Authorization` fields) draw from a second
//! bucket of the same size. A stranger's flood then earns the stranger 429s
//! and never spends the token holder's budget.

#[cfg(feature = "clap")]
mod args;
mod jwks;
mod jwt;

use std::fmt;
use std::sync::Mutex;

use axum::http::{HeaderMap, Method, header};
use jobs_sdk::contract::{SCOPE_MANAGE, SCOPE_READ};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::error::ApiError;

#[cfg(feature = "clap")]
pub use args::JwtArgs;
pub use jwks::{JwksError, JwksSource};
pub use jwt::{JwtConfig, JwtVerifier, TokenClaims, TokenError};

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
        match bearer(headers) {
            Err(Ambiguous) => Credentials::Ambiguous,
            Ok(Some(token)) if self.matches(token) => Credentials::Valid,
            Ok(_) => Credentials::Invalid,
        }
    }

    /// Whether `token` is this one, in time that does not depend on where
    /// they differ.
    fn matches(&self, token: &str) -> bool {
        bool::from(token.as_bytes().ct_eq(self.0.as_bytes()))
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

/// More than one `Authorization` field.
#[derive(Debug)]
struct Ambiguous;

/// The token of the request's one `Authorization: Bearer <token>` field, if
/// it has one.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Ambiguous> {
    let mut fields = headers.get_all(header::AUTHORIZATION).iter();
    let field = match (fields.next(), fields.next()) {
        (None, _) => return Ok(None),
        (Some(_), Some(_)) => return Err(Ambiguous),
        (Some(field), None) => field,
    };
    Ok(field
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty()))
}

/// Who a request comes from, once its credentials are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The server requires no credentials.
    Anonymous,
    /// The static token's holder: every operation.
    StaticToken,
    /// A JWT's bearer: what its scopes allow.
    Subject(TokenClaims),
}

impl Caller {
    /// Whether the caller may use an operation that needs `scope`.
    pub fn may(&self, scope: &str) -> bool {
        match self {
            Self::Anonymous | Self::StaticToken => true,
            Self::Subject(claims) => claims.scopes.iter().any(|s| s == scope),
        }
    }
}

/// The scope a request needs: [`SCOPE_READ`] to read (`GET`, `HEAD`, the
/// event stream), [`SCOPE_MANAGE`] for anything else.
pub fn required_scope(method: &Method) -> &'static str {
    if method == Method::GET || method == Method::HEAD {
        SCOPE_READ
    } else {
        SCOPE_MANAGE
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// The public API's access policy: its credentials and rate limits.
#[derive(Debug, Default)]
pub struct ApiAccess {
    token: Option<AuthToken>,
    jwt: Option<JwtVerifier>,
    rate_limit: Option<u32>,
    /// Requests that passed authentication (every request without
    /// credentials required).
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
            jwt: None,
            rate_limit,
        }
    }

    /// Accepts JWTs that `verifier` verifies too (beside the static token,
    /// if any), each allowed what its scopes say.
    #[must_use]
    pub fn with_jwt(mut self, verifier: JwtVerifier) -> Self {
        self.jwt = Some(verifier);
        self.refused = self.rate_limit.map(RateLimiter::new);
        self
    }

    /// Whether credentials are required.
    pub fn requires_token(&self) -> bool {
        self.token.is_some() || self.jwt.is_some()
    }

    /// Authenticates, then charges the request's bucket: the caller to go
    /// on, else the answer (401 or 400 for the credentials, 429 when the
    /// bucket the request draws from is empty). Scopes are the caller's to
    /// check ([`Caller::may`]).
    pub async fn admit(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let caller = self.authenticate(headers).await;
        let bucket = if caller.is_ok() {
            &self.admitted
        } else {
            &self.refused
        };
        if let Some(limiter) = bucket
            && let Err(seconds) = limiter.acquire()
        {
            return Err(ApiError::too_many_requests(seconds));
        }
        caller
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if !self.requires_token() {
            return Ok(Caller::Anonymous);
        }
        let token = match bearer(headers) {
            Err(Ambiguous) => return Err(ApiError::ambiguous_authorization()),
            Ok(None) => return Err(ApiError::unauthorized()),
            Ok(Some(token)) => token,
        };
        if self.token.as_ref().is_some_and(|t| t.matches(token)) {
            return Ok(Caller::StaticToken);
        }
        let Some(jwt) = &self.jwt else {
            return Err(ApiError::invalid_token());
        };
        match jwt.verify(token).await {
            Ok(claims) => Ok(Caller::Subject(claims)),
            Err(err) => {
                tracing::debug!(%err, "bearer token refused");
                Err(ApiError::invalid_token())
            }
        }
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
        let statuses = async |headers: &HeaderMap, n| {
            let mut statuses = Vec::new();
            for _ in 0..n {
                statuses.push(access.admit(headers).await.err().map(|e| e.status.as_u16()));
            }
            statuses
        };
        assert_eq!(
            statuses(&wrong, 5).await,
            [Some(401), Some(401), Some(401), Some(429), Some(429)]
        );
        assert_eq!(statuses(&right, 4).await, [None, None, None, Some(429)]);
        let open = ApiAccess::new(None, Some(1));
        assert!(
            open.admit(&wrong).await.is_ok(),
            "no token: the header is not read"
        );
        assert_eq!(open.admit(&wrong).await.unwrap_err().status.as_u16(), 429);
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
