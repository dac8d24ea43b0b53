//! The middleware in front of the public API (`from_fn_with_state`, as the
//! routes' layer): bearer authentication, the rate limit
//! ([`crate::access::ApiAccess`]) and the operation's scope.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use crate::access::{Caller, required_scope};
use crate::error::ApiError;

/// Who sent an authenticated request, for the audit record: a JWT's `sub`,
/// or for the static token the scheme and the client's socket address
/// (never the token).
#[derive(Debug, Clone)]
pub struct ClientIdentity(pub String);

/// A middleware a server adds to its public API, run after authentication
/// and the rate limit (the stub injects its faults here). It runs in the
/// guards' own layer: a layer of its own would cost every request a clone
/// of the boxed service below it.
pub trait ApiMiddleware: Send + Sync + 'static {
    /// Answers `request`, usually through `next.run(request)`.
    fn call(
        &self,
        request: Request,
        next: Next,
    ) -> Pin<Box<dyn Future<Output = Response> + Send + '_>>;
}

/// 401 (or 400 for two `Authorization` fields) without valid credentials,
/// 429 beyond the rate of the bucket the request draws from, 403 for a
/// token without the operation's scope; an authenticated request carries
/// its [`ClientIdentity`] for the audit record. Then the server's
/// [`ApiMiddleware`], if any.
pub(crate) async fn guard(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Err(refusal) = check(&state, &mut request).await {
        return refusal.into_response();
    }
    match &state.0.middleware {
        Some(middleware) => middleware.call(request, next).await,
        None => next.run(request).await,
    }
}

/// The credentials, the rate limit and the scope; an authenticated request
/// gets its [`ClientIdentity`].
async fn check(state: &ApiState, request: &mut Request) -> Result<(), ApiError> {
    let caller = state.0.access.admit(request.headers()).await?;
    let scope = required_scope(request.method());
    if !caller.may(scope) {
        return Err(ApiError::forbidden(scope));
    }
    let identity = match &caller {
        Caller::Anonymous => return Ok(()),
        Caller::Subject(claims) => claims.subject.clone(),
        Caller::StaticToken => match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => format!("bearer@{peer}"),
            None => "bearer".to_owned(),
        },
    };
    request.extensions_mut().insert(ClientIdentity(identity));
    request.extensions_mut().insert(caller);
    Ok(())
}

/// Marks a response whose connection must be dropped instead of answered;
/// the server's connection loop closes it.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// A response whose connection the server drops instead of answering (the
/// stub's fault injection). Its body also fails, so even a server that
/// ignores the marker cannot deliver a complete answer.
pub fn dropped_connection() -> Response {
    tracing::debug!("dropping the connection instead of answering");
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped on purpose"))
    });
    let mut response = Body::from_stream(failing).into_response();
    response.extensions_mut().insert(DropConnection);
    response
}
