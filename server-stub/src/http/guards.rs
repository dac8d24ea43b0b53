//! The middleware in front of the public API, one hand-written layer, in
//! this order: rate limit, bearer authentication, fault injection.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, ready};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tokio::time::Instant;
use tower::{Layer, Service};

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

/// The public API's guards in one hand-written layer, outermost first: 429
/// beyond the configured rate, 401 without the bearer token (with it, the
/// request carries its [`ClientIdentity`] for the audit log), then the
/// injected faults. It wraps each API route, so it also tags the answer
/// with the route template for the access log.
///
/// Not `from_fn`: that costs a boxed service clone, a `Next` and a boxed
/// future per request (visible in the GET profile, `docs/benchmarks.md`).
/// Here a request without injected latency goes straight to the route's
/// own future; only an injected latency needs a boxed one.
#[derive(Clone)]
pub(crate) struct Guards<S> {
    inner: S,
    state: AppState,
}

impl Guards<()> {
    /// The layer that puts the guards in front of each route.
    pub(crate) fn layer(state: AppState) -> GuardsLayer {
        GuardsLayer(state)
    }
}

/// See [`Guards`].
#[derive(Clone)]
pub(crate) struct GuardsLayer(AppState);

impl<S> Layer<S> for GuardsLayer {
    type Service = Guards<S>;

    fn layer(&self, inner: S) -> Guards<S> {
        Guards {
            inner,
            state: self.0.clone(),
        }
    }
}

impl<S> Service<Request> for Guards<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + Unpin + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GuardsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let answer = match check(&self.state, &mut request) {
            Err(refusal) => Answer::Now(std::future::ready(refusal.into_response())),
            Ok(()) => {
                let decision = self.state.faults.decide();
                if decision.latency.is_zero() {
                    match fault_answer(decision.answer, &request) {
                        Some(answer) => Answer::Now(std::future::ready(answer)),
                        None => Answer::Route(self.inner.call(request)),
                    }
                } else {
                    // The service made ready by `poll_ready` goes into the
                    // future; a clone stays for the next request.
                    let ready = self.inner.clone();
                    let mut inner = std::mem::replace(&mut self.inner, ready);
                    Answer::Delayed(Box::pin(async move {
                        tokio::time::sleep(decision.latency).await;
                        match fault_answer(decision.answer, &request) {
                            Some(answer) => answer,
                            None => {
                                let Ok(response) = inner.call(request).await;
                                response
                            }
                        }
                    }))
                }
            }
        };
        GuardsFuture { route, answer }
    }
}

/// The answer of [`Guards`], tagged with the route when it is ready.
pub(crate) struct GuardsFuture<F> {
    route: Option<MatchedPath>,
    answer: Answer<F>,
}

enum Answer<F> {
    /// Refused, or a fault's answer.
    Now(std::future::Ready<Response>),
    /// The route's own answer.
    Route(F),
    /// After an injected latency.
    Delayed(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl<F> Future for GuardsFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let response = match &mut this.answer {
            Answer::Now(ready) => ready!(Pin::new(ready).poll(cx)),
            Answer::Route(future) => {
                let Ok(response) = ready!(Pin::new(future).poll(cx));
                response
            }
            Answer::Delayed(future) => ready!(future.as_mut().poll(cx)),
        };
        Poll::Ready(Ok(super::access_log::tagged(this.route.take(), response)))
    }
}

/// The rate limit, then the bearer token; with it, the request gets its
/// [`ClientIdentity`].
fn check(state: &AppState, request: &mut Request) -> Result<(), ApiError> {
    if let Some(limiter) = &state.settings.rate_limiter
        && let Err(seconds) = limiter.acquire()
    {
        return Err(ApiError::too_many_requests(seconds));
    }
    if let Some(token) = &state.settings.auth_token {
        if !token.accepts(request.headers()) {
            return Err(ApiError::unauthorized());
        }
        let identity = match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => format!("bearer@{peer}"),
            None => "bearer".to_owned(),
        };
        request.extensions_mut().insert(ClientIdentity(identity));
    }
    Ok(())
}

/// Marks a response whose connection must be dropped instead of answered;
/// the server's connection loop closes it. Its body also fails, so even a
/// server that ignores the marker cannot deliver a complete answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// The answer an injected fault gives instead of the route's (see
/// [`crate::faults`]), if any.
fn fault_answer(fault: Option<Fault>, request: &Request) -> Option<Response> {
    let operation = Operation::of(request.method()).unwrap_or(Operation::Get);
    match fault {
        None | Some(Fault::Latency { .. }) => None,
        Some(Fault::Unavailable) => Some(ApiError::unavailable(operation).into_response()),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            Some(ApiError::too_many_requests(retry_after_secs).into_response())
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
            Some(response)
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
