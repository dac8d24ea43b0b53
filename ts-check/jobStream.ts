// A job's event stream (GET /api/jobs/{jobId}/events) in a browser, typed
// against the types openapi-typescript generates from openapi.yaml. No
// framework: `useJobStream` (useJobStatus.ts) wraps it for React, and the
// browser test (browser-test/check-stream.mjs) runs it, compiled by tsc, in
// Chromium against the stub.
import type { components, operations } from './api';

type Schemas = components['schemas'];
type Json<R> = R extends { content: { 'application/json': infer B } } ? B : never;

/** A `job` event's data: exactly `GET`'s 200 body. */
export type JobEventData = Json<operations['getJob']['responses'][200]>;
/** The `end` event's data. */
export type JobStreamEnd = Schemas['JobStreamEnd'];
/** Why a stream ended, exhaustively. */
export const END_REASONS: Record<Schemas['StreamEndReason'], string> = {
  completed: 'Done',
  failed: 'Failed',
  removed: 'Removed',
};

/** One event of the stream, as the contract documents it (watchJob's 200). */
export type StreamEvent = operations['watchJob']['responses'][200]['content']['text/event-stream'];
/** The data each kind of event carries: every documented event name, exhaustively. */
type EventData = { job: JobEventData; end: JobStreamEnd };
const EVENT_NAMES: Record<StreamEvent['event'], keyof EventData> = { job: 'job', end: 'end' };
export const eventNames = Object.values(EVENT_NAMES);

export interface JobStreamHandlers {
  /** The job now: first its current state, then after each change. */
  onJob(data: JobEventData): void;
  /** The job will not change any more; the stream is closed. */
  onEnd(end: JobStreamEnd): void;
  /**
   * No stream here (an older server answers 404 for the route) or it failed
   * before its first event: poll `GET` instead.
   */
  onUnavailable(): void;
}

export function eventsUrl(jobId: string): string {
  return `/api/jobs/${encodeURIComponent(jobId)}/events`;
}

/**
 * Follows job `jobId`'s changes. `EventSource` reconnects by itself after a
 * dropped connection or the server's stream lifetime, sending
 * `Last-Event-ID`; the stream then starts with the current state. Returns a
 * function that stops watching.
 */
export function watchJobEvents(jobId: string, handlers: JobStreamHandlers, base = ''): () => void {
  const source = new EventSource(base + eventsUrl(jobId));
  let gotEvent = false;
  const data = <K extends keyof EventData>(_kind: K, event: Event): EventData[K] =>
    JSON.parse((event as MessageEvent<StreamEvent['data']>).data) as EventData[K];
  source.addEventListener(EVENT_NAMES.job, (event) => {
    gotEvent = true;
    handlers.onJob(data('job', event));
  });
  source.addEventListener(EVENT_NAMES.end, (event) => {
    source.close();
    handlers.onEnd(data('end', event));
  });
  source.onerror = () => {
    // An error answer (404: no stream) closes an EventSource for good; one
    // that never delivered an event is no stream either. Otherwise it
    // reconnects by itself.
    if (!gotEvent || source.readyState === EventSource.CLOSED) {
      source.close();
      handlers.onUnavailable();
    }
  };
  return () => source.close();
}
