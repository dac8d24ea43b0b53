//! Pause and cancel of a running job, as its worker acknowledges them.
//!
//! By default the simulated workers acknowledge at once: the action is
//! applied as the request arrives. With [`Acknowledgement::Delayed`] or
//! [`Acknowledgement::Never`], a pause or cancel of an `active` job is a
//! request in force instead, as over a real queue: the job shows it as its
//! `pendingAction`, a second action is refused, and it is settled when the
//! worker acknowledges (applied), when the job finishes first (refused) or
//! when it goes back to `waiting` (applied there). The server waits a
//! bounded time for the outcome ([`ControlRequest::outcome`]); past it the
//! answer is the contract's 202.

use chrono::{DateTime, Utc};
use jobs_sdk::{JobAction, PendingAction, UpdatedJob};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::Engine;
use super::actions::{ActionError, audit_outcome, wrong_state_details};
use super::audit::{AuditOperation, AuditOutcome};
use super::status::Status;

/// How the simulated workers answer a pause or cancel of a job they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Acknowledgement {
    /// At once: the action is applied as the request arrives (the default).
    #[default]
    Immediate,
    /// After `delayMs` milliseconds; meanwhile the request is in force.
    Delayed {
        /// How long the worker takes to stop the job.
        #[serde(rename = "delayMs")]
        delay_ms: u64,
    },
    /// Never: the request stays in force until the job ends or goes back
    /// to `waiting`.
    Never,
}

/// Where a request's outcome goes: the server waiting on it.
pub(super) type OutcomeSender = oneshot::Sender<Result<UpdatedJob, ActionError>>;

/// A pause or cancel asked of a running job's worker.
#[derive(Debug)]
#[non_exhaustive]
pub struct ControlRequest {
    /// The request, as the job shows it.
    pub pending: PendingAction,
    /// How the worker will answer (at the time of the request).
    pub acknowledgement: Acknowledgement,
    /// The outcome once the request is settled: the action applied, or
    /// refused (the job finished first), or `NotFound`.
    pub outcome: oneshot::Receiver<Result<UpdatedJob, ActionError>>,
}

impl Engine {
    /// How the simulated workers answer a pause or cancel of a running job.
    pub fn acknowledgement(&self) -> Acknowledgement {
        self.acknowledgement
    }

    /// Sets how the simulated workers answer a pause or cancel of a running
    /// job from now on (requests in force keep the answer they had).
    pub fn set_acknowledgement(&mut self, acknowledgement: Acknowledgement) {
        self.acknowledgement = acknowledgement;
    }

    /// A pause or cancel (`operation` for the audit) of job `id`, asked of
    /// its worker: `None` when it is not (the workers acknowledge at once,
    /// or the job is not `active`: apply it as any action), else the
    /// request recorded, or why it was refused (a request is in force
    /// already).
    pub fn request_control(
        &mut self,
        id: &str,
        action: JobAction,
        operation: AuditOperation,
        client: Option<&str>,
    ) -> Option<Result<ControlRequest, ActionError>> {
        if action == JobAction::Resume
            || self.acknowledgement == Acknowledgement::Immediate
            || self.jobs.get(id).map(|entry| entry.status()) != Some(Status::Active)
        {
            return None;
        }
        let now = self.now();
        let in_force = self
            .jobs
            .get(id)
            .and_then(|entry| entry.job.pending_action.clone());
        if let Some(existing) = in_force {
            let details = format!(
                "Job already has a {} request in force with its worker",
                existing.action
            );
            self.audit.record(
                now,
                id,
                operation,
                AuditOutcome::Rejected {
                    reason: details.clone(),
                },
                client,
            );
            return Some(Err(ActionError::NotAllowed {
                action,
                status: jobs_sdk::JobState::Active,
                details,
            }));
        }
        let pending = PendingAction::new(action, now);
        self.modify(id, |entry, ctx| {
            entry.job.pending_action = Some(pending.clone());
            entry.log(ctx, format!("{action} requested of the worker"));
        });
        self.audit
            .record(now, id, operation, AuditOutcome::Requested, client);
        let (sender, outcome) = oneshot::channel();
        self.control_waiters.insert(id.to_owned(), sender);
        Some(Ok(ControlRequest {
            pending,
            acknowledgement: self.acknowledgement,
            outcome,
        }))
    }

    /// The worker of job `id` acknowledges the request made at
    /// `requested_at`: the action is applied, if that request is still in
    /// force.
    pub fn acknowledge(&mut self, id: &str, requested_at: DateTime<Utc>) {
        let Some(pending) = self.request_in_force(id, requested_at) else {
            return;
        };
        let waiter = self.control_waiters.remove(id);
        self.modify(id, |entry, _| entry.job.pending_action = None);
        let now = self.now();
        let result = self
            .apply_unaudited(id, pending.action, now)
            .map(|(_, updated)| updated);
        self.audit_settled(id, &pending, &result);
        send(waiter, result);
    }

    /// The server stopped waiting for the request on job `id` made at
    /// `requested_at`: audited, and the job's status returned while the
    /// request is still in force (`None`: it was settled meanwhile).
    pub fn request_timed_out(
        &mut self,
        id: &str,
        requested_at: DateTime<Utc>,
    ) -> Option<jobs_sdk::JobState> {
        let pending = self.request_in_force(id, requested_at)?;
        let now = self.now();
        self.audit.record(
            now,
            id,
            super::actions::operation(pending.action),
            AuditOutcome::TimedOut,
            None,
        );
        self.jobs.get(id).map(|entry| entry.status().to_wire())
    }

    fn request_in_force(&self, id: &str, requested_at: DateTime<Utc>) -> Option<PendingAction> {
        self.jobs
            .get(id)
            .and_then(|entry| entry.job.pending_action.clone())
            .filter(|pending| pending.requested_at == requested_at)
    }

    /// Job `id` left its worker (now `to`) with `pending` in force: refused
    /// when it finished, applied when it waits again.
    pub(super) fn settle_left_worker(&mut self, id: &str, pending: &PendingAction, to: Status) {
        let waiter = self.control_waiters.remove(id);
        let now = self.now();
        let result = if to == Status::Waiting {
            self.apply_unaudited(id, pending.action, now)
                .map(|(_, updated)| updated)
        } else {
            Err(ActionError::NotAllowed {
                action: pending.action,
                status: to.to_wire(),
                details: wrong_state_details(pending.action, to),
            })
        };
        self.audit_settled(id, pending, &result);
        send(waiter, result);
    }

    fn audit_settled(
        &mut self,
        id: &str,
        pending: &PendingAction,
        result: &Result<UpdatedJob, ActionError>,
    ) {
        let outcome = audit_outcome(jobs_sdk::JobState::Active, result.as_ref());
        let now = self.now();
        self.audit.record(
            now,
            id,
            super::actions::operation(pending.action),
            outcome,
            None,
        );
    }

    /// Job `id` is removed (not by its request): whoever waits on its
    /// request learns it is gone.
    pub(super) fn job_removed(&mut self, id: &str) {
        send(self.control_waiters.remove(id), Err(ActionError::NotFound));
    }
}

fn send(waiter: Option<OutcomeSender>, result: Result<UpdatedJob, ActionError>) {
    if let Some(waiter) = waiter {
        // No one waits any more (the server answered 202): nothing to do.
        let _ = waiter.send(result);
    }
}
