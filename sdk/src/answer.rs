//! Reading one HTTP answer: the head's headers, the size cap and the body's
//! meaning. Pure functions of status, headers and bytes, so they are driven
//! by a property test over arbitrary inputs (this crate's fuzzing: see
//! `answer/tests.rs`).

use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;

use crate::error::{Failure, JobsError, snippet};
use crate::retry::parse_retry_after;

/// Default [`max_response_bytes`](crate::JobsClientBuilder::max_response_bytes):
/// 1 MiB, a thousand times the seed's largest answer.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// What the SDK keeps of an answer's head.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) etag: Option<HeaderValue>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) content_type: Option<HeaderValue>,
    pub(crate) content_length: Option<u64>,
}

impl Head {
    /// Reads the headers that matter; unreadable values count as absent.
    pub(crate) fn new(status: u16, headers: &HeaderMap, now: SystemTime) -> Self {
        let retry_after = headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        let content_length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        Self {
            status,
            etag: headers.get(header::ETAG).cloned(),
            retry_after,
            content_type: headers.get(header::CONTENT_TYPE).cloned(),
            content_length,
        }
    }

    /// Refuses an answer whose declared length is over the cap before a
    /// byte of its body is read.
    pub(crate) fn check_length(&self, limit: usize) -> Result<(), JobsError> {
        match self.content_length {
            Some(length) if length > limit as u64 => Err(self.too_large(limit)),
            _ => Ok(()),
        }
    }

    pub(crate) fn too_large(&self, limit: usize) -> JobsError {
        JobsError::ResponseTooLarge {
            status: self.status,
            limit,
        }
    }
}

/// A body being read under a cap: each chunk is added only if the total
/// stays within it. An answer in one chunk (the usual case for the API's
/// small bodies) is kept as that chunk, never copied; a second chunk starts
/// one buffer, pre-sized from `Content-Length`.
#[derive(Debug)]
pub(crate) struct CappedBody {
    read: Read,
    len: usize,
    limit: usize,
    hint: usize,
}

#[derive(Debug)]
enum Read {
    Nothing,
    One(Bytes),
    Many(BytesMut),
}

impl CappedBody {
    pub(crate) fn new(head: &Head, limit: usize) -> Self {
        // Trust the declared length only up to the cap (and a modest start).
        let hint = head
            .content_length
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX))
            .min(limit)
            .min(64 * 1024);
        Self {
            read: Read::Nothing,
            len: 0,
            limit,
            hint,
        }
    }

    /// Adds a chunk; `Err(())` when the body would exceed the cap (the
    /// caller abandons the answer).
    pub(crate) fn push(&mut self, chunk: impl Into<Bytes> + AsRef<[u8]>) -> Result<(), ()> {
        let size = chunk.as_ref().len();
        if size > self.limit.saturating_sub(self.len) {
            return Err(());
        }
        self.len += size;
        self.read = match std::mem::replace(&mut self.read, Read::Nothing) {
            Read::Nothing => Read::One(chunk.into()),
            Read::One(first) => {
                let mut buffer = BytesMut::with_capacity(self.hint.max(self.len));
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(chunk.as_ref());
                Read::Many(buffer)
            }
            Read::Many(mut buffer) => {
                buffer.extend_from_slice(chunk.as_ref());
                Read::Many(buffer)
            }
        };
        Ok(())
    }

    pub(crate) fn finish(self) -> Bytes {
        match self.read {
            Read::Nothing => Bytes::new(),
            Read::One(chunk) => chunk,
            Read::Many(buffer) => buffer.freeze(),
        }
    }
}

/// An answer with a success status, a redirect or 304, body read.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) etag: Option<HeaderValue>,
    pub(crate) content_type: Option<HeaderValue>,
    pub(crate) body: Bytes,
}

/// Sorts a fully read answer: below 400 it is handed on (to [`decode`] or
/// the watch's 304 handling), from 400 on it is the typed error, with the
/// server's `Retry-After` for 429 and 5xx.
pub(crate) fn interpret(head: Head, body: Bytes) -> Result<RawResponse, Failure> {
    if head.status < 400 {
        return Ok(RawResponse {
            status: head.status,
            etag: head.etag,
            content_type: head.content_type,
            body,
        });
    }
    let retry_after = matches!(head.status, 429 | 500..=599)
        .then_some(head.retry_after)
        .flatten();
    Err(Failure {
        error: JobsError::from_status(head.status, &body, retry_after),
        retry_after,
    })
}

/// Reads a success body as `T`. An answer outside 2xx (a redirect, an
/// unrequested 304, a 1xx) is [`JobsError::UnexpectedStatus`]; a 2xx that
/// says it is not JSON, or whose body is not the contract's (empty,
/// truncated, an error body), is [`JobsError::Decode`].
pub(crate) fn decode<T: DeserializeOwned>(raw: RawResponse) -> Result<T, JobsError> {
    if !(200..300).contains(&raw.status) {
        return Err(JobsError::from_status(raw.status, &raw.body, None));
    }
    if let Some(content_type) = &raw.content_type
        && !is_json(content_type)
    {
        return Err(JobsError::Decode {
            status: raw.status,
            message: format!(
                "expected Content-Type application/json, got {:?}",
                String::from_utf8_lossy(content_type.as_bytes())
            ),
            snippet: snippet(&raw.body),
        });
    }
    serde_json::from_slice(&raw.body).map_err(|e| JobsError::Decode {
        status: raw.status,
        message: e.to_string(),
        snippet: snippet(&raw.body),
    })
}

/// `application/json`, or any `…/…+json`, with any parameters.
fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(text) = content_type.to_str() else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or_default().trim();
    // Compared without lowering a copy: this runs on every answer.
    let plus_json = essence.len() > 5
        && essence
            .get(essence.len() - 5..)
            .is_some_and(|end| end.eq_ignore_ascii_case("+json"));
    essence.eq_ignore_ascii_case("application/json") || (essence.contains('/') && plus_json)
}

#[cfg(test)]
mod tests;
