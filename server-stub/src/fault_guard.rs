//! Fault injection on the public API: a `route_layer` inside the shared
//! layer's guards (so a refused token is never turned into a fault), in
//! front of the handlers.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jobs_server::api_error::{ApiError, Operation};
use jobs_server::http::dropped_connection;

use crate::faults::{Fault, Faults};

/// The injected latency, then the fault's own answer (or the handler's).
pub(crate) async fn fault_guard(
    State(faults): State<Faults>,
    request: Request,
    next: Next,
) -> Response {
    let decision = faults.decide();
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
