// The original API's React hook (useJobStatus), written against the types
// openapi-typescript generates from openapi.yaml. `tsc --noEmit` (strict) must
// accept it: if the spec drifts from what TypeScript users rely on (a renamed
// field, a response code, the status values, the error body), this stops
// compiling. Run by scripts/lint-spec.sh.
import { useEffect, useState } from 'react';

import type { components, operations } from './api';
import { watchJobEvents, type JobStreamEnd } from './jobStream';

type Schemas = components['schemas'];
export type Job = Schemas['Job'];
export type JobState = Schemas['JobState'];
export type JobAction = Schemas['JobAction'];
export type ErrorBody = Schemas['ErrorBody'];

type Json<R> = R extends { content: { 'application/json': infer B } } ? B : never;
type GetJob = operations['getJob'];
type UpdateJob = operations['updateJob'];
type DeleteJob = operations['deleteJob'];

// Bodies per response code, taken from the operations so that a code the
// spec stops documenting breaks this file.
export type JobStatusBody = Json<GetJob['responses'][200]>;
export type UpdateBody = Json<UpdateJob['responses'][200]>;
export type DeleteBody = Json<DeleteJob['responses'][200]>;
/** 202 of PUT and DELETE: a running job's worker has not confirmed yet. */
export type PendingBody = Json<UpdateJob['responses'][202]>;
type DeletePendingBody = Json<DeleteJob['responses'][202]>;
export type UpdateRequest = NonNullable<UpdateJob['requestBody']>['content']['application/json'];
type ErrorCodes<R> = { [C in keyof R]: C extends 200 | 202 | 304 ? never : Json<R[C]> }[keyof R];
// Every documented error of every operation carries the same ErrorBody.
const getErrors: ErrorBody[] = [] as ErrorCodes<GetJob['responses']>[];
const updateErrors: ErrorBody[] = [] as ErrorCodes<UpdateJob['responses']>[];
const deleteErrors: ErrorBody[] = [] as ErrorCodes<DeleteJob['responses']>[];
export const documentedErrors = [getErrors, updateErrors, deleteErrors];

/** Every job state, exhaustively: adding or removing one fails to compile. */
export const STATE_LABELS: Record<JobState, string> = {
  waiting: 'Queued',
  active: 'Running',
  completed: 'Done',
  failed: 'Failed',
  paused: 'Paused',
  stuck: 'Stuck',
};

/** `cancelled` exists only in the answer to an update, never as a job state. */
export function isCancelled(body: UpdateBody): boolean {
  return body.job.status === 'cancelled';
}

/** Both operations answer 202 with the same body. */
const samePending: PendingBody[] = [] as DeletePendingBody[];
export const pendingBodies = [samePending];

/** Whether the answer is a 202: the request stays in force. */
export function isPending(body: UpdateBody | DeleteBody | PendingBody): body is PendingBody {
  return 'pendingAction' in body;
}

/** A non-2xx answer, with the spec's error body. */
export class JobApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.details ? `${body.error}: ${body.details}` : body.error);
  }
}

async function errorFrom(response: Response): Promise<JobApiError> {
  const body = (await response.json()) as ErrorBody;
  return new JobApiError(response.status, body);
}

function jobUrl(jobId: string): string {
  return `/api/jobs/${encodeURIComponent(jobId)}`;
}

type IfNoneMatch = NonNullable<GetJob['parameters']['header']>['If-None-Match'];

/** GET with `If-None-Match`: `null` when the job is unchanged (304). */
export async function fetchJobStatus(
  jobId: string,
  etag?: IfNoneMatch,
): Promise<{ body: JobStatusBody; etag: string | null } | null> {
  const headers: Record<string, string> = {};
  if (etag !== undefined) headers['If-None-Match'] = etag;
  const response = await fetch(jobUrl(jobId), { headers });
  if (response.status === 304) return null;
  if (!response.ok) throw await errorFrom(response);
  const body = (await response.json()) as JobStatusBody;
  return { body, etag: response.headers.get('ETag') };
}

/**
 * PUT `{"action": …}`: the job after the action, or (202) the request a
 * running job's worker has not confirmed yet, which stays in force.
 */
export async function updateJob(jobId: string, action: JobAction): Promise<UpdateBody | PendingBody> {
  const request: UpdateRequest = { action };
  const response = await fetch(jobUrl(jobId), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(request),
  });
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 202) return (await response.json()) as PendingBody;
  return (await response.json()) as UpdateBody;
}

/** DELETE: cancel and remove (202: as for `updateJob`). */
export async function deleteJob(jobId: string): Promise<DeleteBody | PendingBody> {
  const response = await fetch(jobUrl(jobId), { method: 'DELETE' });
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 202) return (await response.json()) as PendingBody;
  return (await response.json()) as DeleteBody;
}

/** Human-readable one-liner, using fields as the seed's dashboard would. */
export function describe(job: Job): string {
  const progress = job.progress == null ? '' : ` ${Math.round(job.progress)}%`;
  const pages =
    job.data.totalPages == null ? '' : ` (${job.data.processedPages ?? 0}/${job.data.totalPages} pages)`;
  const reason = job.status === 'failed' && job.failedReason ? `: ${job.failedReason}` : '';
  const worker = job.processedOn ? ` on ${job.processedOn}` : '';
  const pending = job.pendingAction ? ` (${job.pendingAction.action} requested)` : '';
  const memory = job.metrics?.memoryUsage ? `, ${job.metrics.memoryUsage}` : '';
  return `${job.id} [${job.type}] ${STATE_LABELS[job.status]}${progress}${pages}${worker}${memory}${pending}${reason}`;
}

/** The seed's hook, typed: polls every 5 s (conditionally, with the ETag). */
export function useJobStatus(jobId: string) {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<JobApiError | null>(null);
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    let etag: string | undefined;
    const fetchStatus = async () => {
      try {
        const answer = await fetchJobStatus(jobId, etag);
        if (answer !== null) {
          setJob(answer.body.job);
          etag = answer.etag ?? undefined;
        }
        setError(null);
      } catch (e) {
        if (e instanceof JobApiError) setError(e);
        else console.error('Error fetching job status:', e);
      } finally {
        setLoading(false);
      }
    };

    void fetchStatus();
    const interval = setInterval(() => void fetchStatus(), 5000); // Poll every 5 seconds
    return () => clearInterval(interval);
  }, [jobId]);

  const pauseJob = () => updateJob(jobId, 'pause');
  const resumeJob = () => updateJob(jobId, 'resume');
  const cancelJob = () => deleteJob(jobId);

  return { job, error, loading, pauseJob, resumeJob, cancelJob };
}

/**
 * The streaming version: the job's changes pushed as they happen (its event
 * stream), with the seed's 5 s polling as the fallback where the server
 * offers no stream. `ended` says why the job will not change any more.
 */
export function useJobStream(jobId: string) {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<JobApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [ended, setEnded] = useState<JobStreamEnd | null>(null);

  useEffect(() => {
    let interval: ReturnType<typeof setInterval> | undefined;
    let etag: string | undefined;
    const poll = async () => {
      try {
        const answer = await fetchJobStatus(jobId, etag);
        if (answer !== null) {
          setJob(answer.body.job);
          etag = answer.etag ?? undefined;
        }
        setError(null);
      } catch (e) {
        if (e instanceof JobApiError) setError(e);
        else console.error('Error fetching job status:', e);
      } finally {
        setLoading(false);
      }
    };
    const stop = watchJobEvents(jobId, {
      onJob: (data) => {
        setJob(data.job);
        setError(null);
        setLoading(false);
      },
      onEnd: (end) => setEnded(end),
      onUnavailable: () => {
        void poll();
        interval = setInterval(() => void poll(), 5000);
      },
    });
    return () => {
      stop();
      if (interval !== undefined) clearInterval(interval);
    };
  }, [jobId]);

  const pauseJob = () => updateJob(jobId, 'pause');
  const resumeJob = () => updateJob(jobId, 'resume');
  const cancelJob = () => deleteJob(jobId);

  return { job, error, loading, ended, pauseJob, resumeJob, cancelJob };
}
