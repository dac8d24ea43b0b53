//! The six states a stored job can be in (the wire's `JobState` also knows
//! `cancelled`, which is never stored, and unknown values).

use jobs_sdk::JobState;

/// A state a job can be stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Status {
    Waiting,
    Active,
    Completed,
    Failed,
    Paused,
    Stuck,
}

impl Status {
    pub(crate) const ALL: [Status; 6] = [
        Status::Waiting,
        Status::Active,
        Status::Completed,
        Status::Failed,
        Status::Paused,
        Status::Stuck,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The storable state for a wire state; `None` for `cancelled` and
    /// unknown values.
    pub(crate) fn from_wire(state: &JobState) -> Option<Self> {
        Some(match state {
            JobState::Waiting => Self::Waiting,
            JobState::Active => Self::Active,
            JobState::Completed => Self::Completed,
            JobState::Failed => Self::Failed,
            JobState::Paused => Self::Paused,
            JobState::Stuck => Self::Stuck,
            _ => return None,
        })
    }

    pub(crate) fn to_wire(self) -> JobState {
        match self {
            Self::Waiting => JobState::Waiting,
            Self::Active => JobState::Active,
            Self::Completed => JobState::Completed,
            Self::Failed => JobState::Failed,
            Self::Paused => JobState::Paused,
            Self::Stuck => JobState::Stuck,
        }
    }

    /// `completed` and `failed`: the job will not run again.
    pub(crate) fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_and_indices_are_distinct() {
        for (i, status) in Status::ALL.into_iter().enumerate() {
            assert_eq!(status.index(), i);
            assert_eq!(Status::from_wire(&status.to_wire()), Some(status));
        }
        assert_eq!(Status::from_wire(&JobState::Cancelled), None);
        assert_eq!(Status::from_wire(&JobState::from("delayed")), None);
    }
}
