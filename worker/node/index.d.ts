import { Job, Worker, WorkerOptions } from 'bullmq';

/** What the Job Status API asked of a running job. */
export type ControlAction = 'cancel' | 'pause';

/**
 * The reason of a processor's aborted signal when the Job Status API asked
 * to cancel or pause its job.
 */
export declare class ControlRequest extends Error {
  constructor(action: ControlAction, requestId: string);
  readonly name: 'ControlRequest';
  /** Which action was asked. */
  readonly action: ControlAction;
  /** The request's id, as the audit stream names it. */
  readonly requestId: string;
}

/** `ControlledWorker`'s options beside BullMQ's own. */
export interface ControlledWorkerOptions extends WorkerOptions {
  /**
   * How long a processor may run on after its signal aborted before the
   * request is refused and the job left to finish as it will, in ms
   * (default 3000).
   */
  controlGraceMs?: number;
  /**
   * How often the worker renews its promise to accept control and reads
   * the requests recorded on its jobs, in ms (default 1000). A worker
   * silent for three beats is no longer sent requests.
   */
  controlHeartbeatMs?: number;
}

/** One step of a control request on this worker (the `control` event). */
export interface ControlEvent {
  jobId: string;
  action: ControlAction;
  requestId: string;
  /**
   * `requested`: the processor's signal aborted; `applied`: the job was
   * removed (cancel) or parked (pause); `refused`: the processor did not
   * stop within the grace period, and the job runs on.
   */
  outcome: 'requested' | 'applied' | 'refused';
  /** For `applied`: `cancelled` or `paused`. */
  to?: 'cancelled' | 'paused';
}

/**
 * BullMQ's Worker, with the same constructor, whose running jobs the Job
 * Status API can cancel and pause. The processor gets BullMQ's AbortSignal
 * as its third argument; it aborts with a {@link ControlRequest} as its
 * reason, and whatever the processor then returns or throws, the job ends
 * as the API asked.
 */
export declare class ControlledWorker<
  DataType = any,
  ResultType = any,
  NameType extends string = string,
> extends Worker<DataType, ResultType, NameType> {
  constructor(
    name: string,
    processor: (job: Job<DataType, ResultType, NameType>, token: string | undefined, signal: AbortSignal) => Promise<ResultType>,
    opts?: ControlledWorkerOptions,
  );
  on(event: 'control', listener: (event: ControlEvent) => void): this;
  on(event: string, listener: (...args: any[]) => void): this;
}

/** The default grace period, in ms. */
export declare const DEFAULT_GRACE_MS: number;
/** The default heartbeat, in ms. */
export declare const DEFAULT_HEARTBEAT_MS: number;
