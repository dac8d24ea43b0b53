//! Fault injection on the public API: the shared layer's
//! [`ApiMiddleware`], run after its guards (so a refused token is never
//! turned into a fault), in front of the handlers.

use std::future::Future;
use std::pin::Pin;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jobs_http::error::{ApiError, Operation};
use jobs_http::{ApiMiddleware, dropped_connection};

use crate::faults::{Fault, Faults};

/// The fault rules as the API's middleware.
#[derive(Debug, Clone)]
pub(crate) struct FaultInjection(pub(crate) Faults);

impl ApiMiddleware for FaultInjection {
    fn call(
        &self,
        request: Request,
        next: Next,
    ) -> Pin<Box<dyn Future<Output = Response> + Send + '_>> {
        Box::pin(fault_guard(&self.0, request, next))
    }
}

/// The injected latency, then the fault's own answer (or the handler's).
async fn fault_guard(faults: &Faults, request: Request, next: Next) -> Response {
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
