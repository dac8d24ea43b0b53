//! Management actions, as the public API exposes them: pause, resume and
//! cancel (`PUT`) and delete (`DELETE`). Every attempt is audited.

use chrono::{DateTime, Utc};
use jobs_sdk::{JobAction, JobState, UpdatedJob};

use super::Engine;
use super::audit::{AuditOperation, AuditOutcome};
use super::status::Status;

/// Why a `PUT` action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// No job has this id (404 `Job not found`).
    #[error("Job not found")]
    NotFound,
    /// The action is not allowed in the job's state (400
    /// `Failed to <action> job` with `details`).
    #[error("Failed to {action} job: {details}")]
    NotAllowed {
        /// The refused action.
        action: JobAction,
        /// The job's state.
        status: JobState,
        /// The `details` of the error body, e.g. `Job is already completed`.
        details: String,
    },
}

/// Why a `DELETE` was refused (both answer 404
/// `Failed to cancel job or job not found`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeleteError {
    /// No job has this id.
    #[error("Job not found")]
    NotFound,
    /// The job is `completed`, `failed` or `stuck`.
    #[error("{details}")]
    NotCancellable {
        /// The job's state.
        status: JobState,
        /// Why, worded like the `PUT` refusal (`Job is already completed`).
        details: String,
    },
}

/// The `details` of a refused action (contract decisions): "already" when
/// the job is terminal or already where the action would take it.
pub(crate) fn wrong_state_details(action: JobAction, status: Status) -> String {
    let target = match action {
        JobAction::Pause => Some(Status::Paused),
        JobAction::Resume => Some(Status::Waiting),
        JobAction::Cancel => None,
    };
    let state = status.to_wire();
    if status.is_terminal() || target == Some(status) {
        format!("Job is already {state}")
    } else {
        format!("Cannot {action} a job that is {state}")
    }
}

/// The audit record of an action's result; `from` is the job's state
/// before an applied one.
pub(super) fn audit_outcome(
    from: JobState,
    result: Result<&UpdatedJob, &ActionError>,
) -> AuditOutcome {
    match result {
        Ok(updated) => AuditOutcome::Applied {
            from,
            to: updated.status.clone(),
        },
        Err(ActionError::NotFound) => AuditOutcome::Rejected {
            reason: "Job not found".to_owned(),
        },
        Err(ActionError::NotAllowed { details, .. }) => AuditOutcome::Rejected {
            reason: details.clone(),
        },
    }
}

pub(super) fn operation(action: JobAction) -> AuditOperation {
    AuditOperation::from(action)
}

impl Engine {
    /// Applies a management action: `pause` (`waiting`/`active` →
    /// `paused`), `resume` (`paused` → `waiting`, at the back of the queue)
    /// or `cancel` (`waiting`/`active`/`paused` → removed; the answer says
    /// `cancelled`).
    ///
    /// # Errors
    ///
    /// [`ActionError::NotFound`] for an unknown id, and
    /// [`ActionError::NotAllowed`] when the state does not allow the action.
    pub fn apply(&mut self, id: &str, action: JobAction) -> Result<UpdatedJob, ActionError> {
        self.apply_as(id, action, None)
    }

    /// [`Engine::apply`] on behalf of an authenticated `client`, which the
    /// audit record names.
    ///
    /// # Errors
    ///
    /// As [`Engine::apply`].
    pub fn apply_as(
        &mut self,
        id: &str,
        action: JobAction,
        client: Option<&str>,
    ) -> Result<UpdatedJob, ActionError> {
        let now = self.now();
        let result = self.apply_unaudited(id, action, now);
        let outcome = match &result {
            Ok((from, updated)) => audit_outcome(from.to_wire(), Ok(updated)),
            Err(error) => audit_outcome(JobState::Active, Err(error)),
        };
        self.audit
            .record(now, id, operation(action), outcome, client);
        result.map(|(_, updated)| updated)
    }

    pub(super) fn apply_unaudited(
        &mut self,
        id: &str,
        action: JobAction,
        now: DateTime<Utc>,
    ) -> Result<(Status, UpdatedJob), ActionError> {
        let status = self
            .jobs
            .get(id)
            .map(|e| e.status())
            .ok_or(ActionError::NotFound)?;
        let to = match (action, status) {
            (JobAction::Pause, Status::Waiting | Status::Active) => {
                self.modify(id, |entry, ctx| {
                    entry.set_status(Status::Paused);
                    entry.log(ctx, "Job paused");
                });
                JobState::Paused
            }
            (JobAction::Resume, Status::Paused) => {
                self.modify(id, |entry, ctx| {
                    entry.set_status(Status::Waiting);
                    entry.log(ctx, "Job resumed");
                });
                JobState::Waiting
            }
            (JobAction::Cancel, Status::Waiting | Status::Active | Status::Paused) => {
                self.remove(id);
                JobState::Cancelled
            }
            _ => {
                return Err(ActionError::NotAllowed {
                    action,
                    status: status.to_wire(),
                    details: wrong_state_details(action, status),
                });
            }
        };
        let updated = UpdatedJob::new(id, to, now);
        Ok((status, updated))
    }

    /// Cancels and removes a `waiting`, `active` or `paused` job, as
    /// `DELETE` does. Returns when it happened.
    ///
    /// # Errors
    ///
    /// [`DeleteError::NotFound`] for an unknown id and
    /// [`DeleteError::NotCancellable`] for a `completed`, `failed` or
    /// `stuck` job.
    pub fn delete(&mut self, id: &str) -> Result<DateTime<Utc>, DeleteError> {
        self.delete_as(id, None)
    }

    /// [`Engine::delete`] on behalf of an authenticated `client`, which the
    /// audit record names.
    ///
    /// # Errors
    ///
    /// As [`Engine::delete`].
    pub fn delete_as(
        &mut self,
        id: &str,
        client: Option<&str>,
    ) -> Result<DateTime<Utc>, DeleteError> {
        let now = self.now();
        let result = match self.jobs.get(id).map(|e| e.status()) {
            None => Err(DeleteError::NotFound),
            Some(status @ (Status::Waiting | Status::Active | Status::Paused)) => {
                self.remove(id);
                Ok(status)
            }
            Some(status) => Err(DeleteError::NotCancellable {
                status: status.to_wire(),
                details: wrong_state_details(JobAction::Cancel, status),
            }),
        };
        let outcome = match &result {
            Ok(from) => AuditOutcome::Applied {
                from: from.to_wire(),
                to: JobState::Cancelled,
            },
            Err(DeleteError::NotFound) => AuditOutcome::Rejected {
                reason: "Job not found".to_owned(),
            },
            Err(DeleteError::NotCancellable { details, .. }) => AuditOutcome::Rejected {
                reason: details.clone(),
            },
        };
        self.audit
            .record(now, id, AuditOperation::Delete, outcome, client);
        result.map(|_| now)
    }
}
