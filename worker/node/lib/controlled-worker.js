'use strict';
// ControlledWorker: BullMQ's Worker, plus the worker's side of the Job
// Status API's control protocol (docs/control-protocol.md in the
// repository): pause and cancel of a job this process is running.

const { DelayedError, Worker } = require('bullmq');
const { scripts } = require('./scripts');

/** How long a processor may run on after its signal aborted (ms). */
const DEFAULT_GRACE_MS = 3000;
/** How often the worker renews its promise to accept control (ms). */
const DEFAULT_HEARTBEAT_MS = 1000;
/** A promise holds for this many heartbeats: one missed beat is no gap. */
const HEARTBEATS_PER_PROMISE = 3;
/** Wait after a failed Redis call in a background loop (ms). */
const RETRY_DELAY_MS = 1000;

const CONTROL_FIELD = 'jobs-api:control';

/**
 * The reason of a processor's aborted signal when the Job Status API asked
 * to cancel or pause the job: `signal.reason.action` says which.
 */
class ControlRequest extends Error {
  constructor(action, requestId) {
    super(`${action} requested through the Job Status API`);
    this.name = 'ControlRequest';
    /** `"cancel"` or `"pause"`. */
    this.action = action;
    /** The request's id, as the audit stream names it. */
    this.requestId = requestId;
  }
}

/** Reads a request recorded on a job's hash; null when none or unreadable. */
function parseRequest(raw) {
  if (typeof raw !== 'string') return null;
  try {
    const request = JSON.parse(raw);
    if (
      request &&
      typeof request.id === 'string' &&
      (request.action === 'cancel' || request.action === 'pause')
    ) {
      return request;
    }
  } catch {
    // Not ours to read: treated as no request.
  }
  return null;
}

function positiveInteger(value, fallback, name) {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new TypeError(`ControlledWorker: ${name} must be a positive integer of milliseconds`);
  }
  return value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The control side of one worker: what it holds and the loops that listen. */
class Control {
  constructor(opts) {
    this.graceMs = positiveInteger(opts.controlGraceMs, DEFAULT_GRACE_MS, 'controlGraceMs');
    this.heartbeatMs = positiveInteger(
      opts.controlHeartbeatMs,
      DEFAULT_HEARTBEAT_MS,
      'controlHeartbeatMs',
    );
    /** jobId → { token, request, refused, graceTimer } for each running job. */
    this.held = new Map();
    this.stopped = false;
    this.worker = null;
    this.client = null;
    this.listener = null;
    let resolveReady;
    this.ready = new Promise((resolve) => {
      resolveReady = resolve;
    });
    this.resolveReady = resolveReady;
  }

  /** The processor BullMQ calls: the user's, then the request's outcome. */
  wrap(processor) {
    const control = this;
    // Three parameters: BullMQ passes its AbortSignal only to a processor
    // declared with at least three.
    return async function controlledProcessor(job, token, signal) {
      const entry = { token, request: null, refused: false, graceTimer: null };
      control.held.set(job.id, entry);
      try {
        const enabled = await control.ready;
        if (enabled) {
          // A request that outlived the worker that ran the job before (BullMQ's
          // stalled checker brought it back): honoured before it runs again.
          const earlier = parseRequest(await control.client.hget(control.jobKey(job.id), CONTROL_FIELD));
          if (earlier && !entry.request) {
            entry.request = earlier;
            if (await control.apply(job, entry)) throw new DelayedError();
            entry.request = null;
          }
        }
        let value;
        let error;
        let threw = false;
        try {
          value = await processor(job, token, signal);
        } catch (caught) {
          error = caught;
          threw = true;
        }
        clearTimeout(entry.graceTimer);
        if (entry.request && !entry.refused && (await control.apply(job, entry))) {
          // The job has left `active` (removed or parked): BullMQ leaves a job
          // alone after a DelayedError.
          throw new DelayedError();
        }
        if (threw) throw error;
        return value;
      } finally {
        clearTimeout(entry.graceTimer);
        control.held.delete(job.id);
      }
    };
  }

  /** Starts listening once the worker's connection is ready. */
  async attach(worker) {
    this.worker = worker;
    try {
      await worker.waitUntilReady();
      const client = await worker.getBackend().client;
      if (!client || client.__bullmq_iredis !== true || typeof client.defineCommand !== 'function') {
        throw new Error(
          'ControlledWorker accepts control over an ioredis connection only; this worker runs uncontrolled',
        );
      }
      for (const [name, definition] of Object.entries(scripts())) {
        if (typeof client[name] !== 'function') client.defineCommand(name, definition);
      }
      this.client = client;
      this.prefix = worker.toKey('');
      if (this.stopped) return this.resolveReady(false);
      await this.heartbeat();
      this.resolveReady(true);
      this.heartbeatLoop();
      this.listen();
    } catch (error) {
      this.resolveReady(false);
      if (!this.stopped) worker.emit('error', error);
    }
  }

  jobKey(jobId) {
    return `${this.prefix}${jobId}`;
  }

  emit(event) {
    this.worker.emit('control', event);
  }

  /** Renews (or, with 0, withdraws) the promise to accept control. */
  heartbeat(ttlMs = this.heartbeatMs * HEARTBEATS_PER_PROMISE) {
    return this.client.jobsApiHeartbeat(`${this.prefix}jobs-api:workers`, this.worker.id, ttlMs);
  }

  /**
   * Each beat renews the promise and reads the requests recorded on the
   * jobs this worker holds: a notification missed on the stream (a
   * reconnect) is found here within one beat.
   */
  async heartbeatLoop() {
    while (!this.stopped) {
      await sleep(this.heartbeatMs);
      if (this.stopped) break;
      try {
        await this.heartbeat();
        const ids = [...this.held.keys()];
        if (ids.length > 0) {
          const pipeline = this.client.pipeline();
          for (const id of ids) pipeline.hget(this.jobKey(id), CONTROL_FIELD);
          const answers = await pipeline.exec();
          answers.forEach(([error, raw], i) => {
            const request = error ? null : parseRequest(raw);
            if (request) this.requested(ids[i], request);
          });
        }
      } catch (error) {
        if (!this.stopped) this.worker.emit('error', error);
      }
    }
  }

  /** Reads this worker's notification stream (XREAD BLOCK) until stopped. */
  async listen() {
    const stream = `${this.prefix}jobs-api:control:${this.worker.id}`;
    let lastId = '0';
    while (!this.stopped) {
      try {
        if (!this.listener) {
          this.listener = this.client.duplicate();
          this.listener.on('error', () => {});
        }
        const answer = await this.listener.xread('BLOCK', this.heartbeatMs, 'STREAMS', stream, lastId);
        for (const [, entries] of answer || []) {
          for (const [id, fields] of entries) {
            lastId = id;
            const message = {};
            for (let i = 0; i + 1 < fields.length; i += 2) message[fields[i]] = fields[i + 1];
            if (message.job && message.request && message.action) {
              this.requested(message.job, { id: message.request, action: message.action });
            }
          }
        }
      } catch (error) {
        if (this.stopped) break;
        this.worker.emit('error', error);
        await sleep(RETRY_DELAY_MS);
      }
    }
  }

  /** A request for `jobId`: aborts its processor's signal, once. */
  requested(jobId, request) {
    const entry = this.held.get(jobId);
    if (!entry || entry.request) return;
    entry.request = request;
    this.worker.cancelJob(jobId, new ControlRequest(request.action, request.id));
    this.emit({ jobId, action: request.action, requestId: request.id, outcome: 'requested' });
    entry.graceTimer = setTimeout(() => this.refuse(jobId, entry), this.graceMs);
    entry.graceTimer.unref();
  }

  /**
   * Runs the settle script for the request on `jobId` (`mode` "apply" or
   * "refuse"): `[result, to]`, result one of applied, refused, gone, lost.
   */
  settle(jobId, entry, mode, details = '') {
    return this.client.jobsApiSettle(
      this.jobKey(jobId),
      `${this.jobKey(jobId)}:lock`,
      `${this.prefix}jobs-api:audit`,
      this.prefix,
      jobId,
      entry.token,
      entry.request.id,
      mode,
      details,
      this.worker.id,
    );
  }

  /** The grace period ran out: the request is refused, the job runs on. */
  async refuse(jobId, entry) {
    const details = `The job's processor did not stop within the worker's grace period (${this.graceMs} ms)`;
    try {
      const [result] = await this.settle(jobId, entry, 'refuse', details);
      if (result === 'refused') {
        entry.refused = true;
        this.emit({ jobId, action: entry.request.action, requestId: entry.request.id, outcome: 'refused' });
      }
    } catch (error) {
      this.worker.emit('error', error);
    }
  }

  /**
   * Ends the job as its request asks, if the request is still in force and
   * the lock still this worker's. True when applied.
   */
  async apply(job, entry) {
    const [result, to] = await this.settle(job.id, entry, 'apply');
    if (result !== 'applied') return false;
    this.emit({ jobId: job.id, action: entry.request.action, requestId: entry.request.id, outcome: 'applied', to });
    return true;
  }

  /** Withdraws the promise and stops listening. */
  async stop() {
    this.stopped = true;
    this.resolveReady(false);
    if (this.client) {
      try {
        await this.heartbeat(0);
      } catch {
        // The promise lapses by itself within its time.
      }
    }
    if (this.listener) {
      this.listener.disconnect();
      this.listener = null;
    }
  }
}

/**
 * BullMQ's Worker, with the same constructor, whose running jobs the Job
 * Status API can cancel and pause. The processor gets BullMQ's AbortSignal
 * as its third argument; when the API asks, it aborts with a
 * {@link ControlRequest} as its reason, and whatever the processor then
 * returns or throws, the job ends as the API asked.
 */
class ControlledWorker extends Worker {
  constructor(name, processor, opts, backendFactory) {
    if (typeof processor !== 'function') {
      throw new TypeError(
        'ControlledWorker needs a processor function: a sandboxed processor (a file) cannot be controlled',
      );
    }
    const control = new Control(opts || {});
    super(name, control.wrap(processor), opts, backendFactory);
    this.jobsApiControl = control;
    control.attach(this);
  }

  async close(force = false) {
    await this.jobsApiControl.stop();
    return super.close(force);
  }
}

module.exports = { ControlledWorker, ControlRequest, DEFAULT_GRACE_MS, DEFAULT_HEARTBEAT_MS };
