//! The middleware in front of the public API (`from_fn_with_state`, as each
//! route's layer), in this order: bearer authentication and the rate limit
//! ([`crate::access::ApiAccess`]), fault injection.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_error::{ApiError, Operation};
use crate::faults::Fault;
use crate::state::AppState;

/// Who sent an authenticated request, for the audit log: the scheme and the
/// client's socket address (never the token).
#[derive(Debug, Clone)]
pub(crate) struct ClientIdentity(pub(crate) String);

/// 401 (or 400 for two `Authorization` fields) without the bearer token,
/// 429 beyond the rate of the bucket the request draws from (with the
/// token, the request carries its [`ClientIdentity`] for the audit log),
/// then the injected faults (latency, then the fault's own answer).
pub(crate) async fn guard(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Err(refusal) = check(&state, &mut request) {
        return refusal.into_response();
    }
    let decision = state.faults.decide();
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let operation = Operation::of(request.method()).unwrap_or(Operation::Get);
    match decision.answer {
        // The request takes effect; the client hears otherwise.
        Some(Fault::AppliedThenDropConnection) => {
            drop(next.run(request).await);
            dropped_connection()
        }
        Some(Fault::AppliedThenUnavailable) => {
            drop(next.run(request).await);
            ApiError::unavailable(operation).into_response()
        }
        answer => match fault_answer(answer, operation) {
            Some(answer) => answer,
            None => next.run(request).await,
        },
    }
}

/// The bearer token and the rate limit; with the token, the request gets
/// its [`ClientIdentity`].
fn check(state: &AppState, request: &mut Request) -> Result<(), ApiError> {
    let access = &state.settings.api_access;
    access.admit(request.headers())?;
    if access.requires_token() {
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

/// The answer an injected fault gives instead of the route's, without the
/// route running (see [`crate::faults`]), if any.
fn fault_answer(fault: Option<Fault>, operation: Operation) -> Option<Response> {
    match fault {
        None
        | Some(Fault::Latency { .. })
        | Some(Fault::AppliedThenDropConnection)
        | Some(Fault::AppliedThenUnavailable) => None,
        Some(Fault::Unavailable) => Some(ApiError::unavailable(operation).into_response()),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            Some(ApiError::too_many_requests(retry_after_secs).into_response())
        }
        Some(Fault::DropConnection) => Some(dropped_connection()),
    }
}

/// A response whose connection the server drops instead of answering.
fn dropped_connection() -> Response {
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
