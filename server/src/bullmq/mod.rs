//! The contract over a BullMQ queue on Redis (feature `bullmq`, on by
//! default).
//!
//! [`RedisStore`] is the contract's operations on one queue, each one Lua
//! script so that every read is one snapshot and every action is applied
//! whole or not at all:
//!
//! - **GET** reads the job's hash, its state and the queue's counters
//!   without ever scanning the `wait` list (its time does not grow with the
//!   queue); [`mapping`] says how BullMQ's fields become the contract's.
//! - **pause** parks a waiting, prioritized or delayed job in `delayed` at
//!   a score no worker reaches (BullMQ has no per-job pause); **resume**
//!   puts it back where it was, with its priority or due time.
//! - **cancel** and **DELETE** remove the job as BullMQ's own
//!   `Queue.remove` does (its own Lua functions, vendored).
//! - A job a worker holds is never reported paused or cancelled: the action
//!   is refused with the contract's 400 and a `details` saying why.
//! - Every action, applied or refused, is one record in the capped stream
//!   `<prefix>:<queue>:jobs-api:audit`, written by the same script.

pub mod keys;
pub mod mapping;
mod scripts;
mod store;

pub use keys::{KeysError, QueueKeys};

/// The Lua source of the GET script, exactly as [`RedisStore`] loads it
/// (`scripts/bench.sh` runs it with `redis-benchmark`: the Redis work of a
/// GET alone). Its keys and arguments are documented at its top.
pub fn get_job_script() -> String {
    scripts::get_job_source()
}
pub use store::{ConnectError, RedisStore, StoreConfig};
