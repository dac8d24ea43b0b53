//! What can go wrong between the server and Redis.

use crate::mapping::MappingError;

/// A store operation that did not complete. Every variant is answered with
/// the contract's 500 body; none of them means a management action was
/// applied in part (each action is one script, applied whole or not at all),
/// but [`StoreError::Timeout`] and [`StoreError::Unavailable`] after a
/// script was sent cannot tell whether it ran.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Redis did not answer within the store's timeout.
    #[error("Redis did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// Redis could not be reached, or the connection failed.
    #[error("Redis is unavailable")]
    Unavailable(#[source] redis::RedisError),
    /// Redis answered with an error or an answer the store cannot read.
    #[error("Redis answered unexpectedly")]
    Unexpected(#[source] redis::RedisError),
    /// The job's hash is not a BullMQ job.
    #[error("the job's hash is not a BullMQ job")]
    Corrupt(#[from] MappingError),
}

impl From<redis::RedisError> for StoreError {
    fn from(error: redis::RedisError) -> Self {
        if error.is_io_error()
            || error.is_connection_refusal()
            || error.is_connection_dropped()
            || error.is_timeout()
        {
            Self::Unavailable(error)
        } else {
            Self::Unexpected(error)
        }
    }
}
