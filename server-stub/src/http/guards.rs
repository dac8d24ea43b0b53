//! The middleware in front of the public API, one layer, in this order: rate
//! limit, bearer authentication, fault injection.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::api_error::{ApiError, Operation};
use crate::faults::Fault;
use crate::state::AppState;

/// The bearer token the public API requires. `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct AuthToken(String);

impl AuthToken {
    pub(crate) fn new(token: String) -> Self {
        Self(token)
    }

    /// Whether `Authorization: Bearer <token>` carries this token. The
    /// comparison takes the same time wherever the first difference is.
    fn accepts(&self, headers: &HeaderMap) -> bool {
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
    fn acquire(&self) -> Result<(), u64> {
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

/// Who sent an authenticated request, for the audit log: the scheme and the
/// client's socket address (never the token).
#[derive(Debug, Clone)]
pub(crate) struct ClientIdentity(pub(crate) String);

/// The public API's guards in one middleware, outermost first: 429 beyond
/// the configured rate, 401 without the bearer token (with it, the request
/// carries its [`ClientIdentity`] for the audit log), then the injected
/// faults. One layer rather than three: each axum layer costs a boxed
/// service clone and a future per request, visible in the GET profile
/// (`docs/benchmarks.md`).
pub(crate) async fn public_api_guards(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // This layer wraps each API route, so it also tags the answer with the
    // route template for the access log (instead of a layer of its own).
    let route = request.extensions().get::<MatchedPath>().cloned();
    super::access_log::tagged(route, guarded(&state, request, next).await)
}

/// [`public_api_guards`] without the tagging.
async fn guarded(state: &AppState, mut request: Request, next: Next) -> Response {
    if let Some(limiter) = &state.settings.rate_limiter
        && let Err(seconds) = limiter.acquire()
    {
        return ApiError::too_many_requests(seconds).into_response();
    }
    if let Some(token) = &state.settings.auth_token {
        if !token.accepts(request.headers()) {
            return ApiError::unauthorized().into_response();
        }
        let identity = match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => format!("bearer@{peer}"),
            None => "bearer".to_owned(),
        };
        request.extensions_mut().insert(ClientIdentity(identity));
    }
    inject_faults(state, request, next).await
}

/// Marks a response whose connection must be dropped instead of answered;
/// the server's connection loop closes it. Its body also fails, so even a
/// server that ignores the marker cannot deliver a complete answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// Applies the injected faults (see [`crate::faults`]).
async fn inject_faults(state: &AppState, request: Request, next: Next) -> Response {
    let decision = state.faults.decide();
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let operation = Operation::of(request.method()).unwrap_or(Operation::Get);
    match decision.answer {
        None | Some(Fault::Latency { .. }) => next.run(request).await,
        Some(Fault::Unavailable) => ApiError::unavailable(operation).into_response(),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            ApiError::too_many_requests(retry_after_secs).into_response()
        }
        Some(Fault::DropConnection) => {
            tracing::debug!("fault injection: dropping the connection");
            let failing = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other(
                    "connection dropped by fault injection",
                ))
            });
            let mut response = Body::from_stream(failing).into_response();
            response.extensions_mut().insert(DropConnection);
            response
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
