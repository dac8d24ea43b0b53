// Pause and cancel of a running job through jobs-server, request to answer,
// against BullMQ's own in-process cancel (the floor: no HTTP, no second
// process, no Redis round trip for the request).
//
//   node bench/node/control-bench.mjs <redis-url> <jobs-server-url> <queue> [count]
//
// One ControlledWorker (worker/node) runs the queue's jobs; each job's
// processor waits until its signal aborts. Per iteration, in turn:
//   cancel    PUT {"action":"cancel"} of a running job: from sending the
//             request to the 200 (the job removed by its worker);
//   pause     PUT {"action":"pause"}: to the 200 (the job parked);
//   baseline  a plain BullMQ Worker in this process on a queue of its own,
//             Worker.cancelJob(id): from the call to BullMQ's `failed`
//             event (the processor threw its signal's reason and BullMQ
//             moved the job to failed).
// Prints one line per measurement kind:
//   control op=<op> n=<count> p50_ms=… p99_ms=… max_ms=… errors=…
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';

const { ControlledWorker } = createRequire(import.meta.url)('../../worker/node');
const [redisUrl, serverUrl, queueName, countArg] = process.argv.slice(2);
const count = Number(countArg || 200);
const connection = { url: redisUrl, maxRetriesPerRequest: null };

/** A processor that runs until its signal aborts. */
function untilAborted(started) {
  return (job, token, signal) =>
    new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      started.get(job.id)?.();
    });
}

/** Resolves when job `id` has started, after `add` adds it (10 s at most). */
function startedAfter(started, id, add) {
  const promise = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`job ${id} did not start within 10 s`)), 10000);
    started.set(id, () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return add().then(() => promise);
}

const startedControlled = new Map();
const controlled = new ControlledWorker(queueName, untilAborted(startedControlled), {
  connection, concurrency: 8, drainDelay: 1,
});
const baselineQueueName = `${queueName}-baseline`;
const startedPlain = new Map();
const failed = new Map();
const plain = new Worker(baselineQueueName, untilAborted(startedPlain), {
  connection, concurrency: 8, drainDelay: 1,
});
plain.on('failed', (job) => failed.get(job.id)?.());
for (const worker of [controlled, plain]) worker.on('error', () => {});
const queue = new Queue(queueName, { connection });
const baselineQueue = new Queue(baselineQueueName, { connection });
await Promise.all([controlled.waitUntilReady(), plain.waitUntilReady()]);
// The controlled worker accepts control once its first heartbeat is in.
const client = await controlled.getBackend().client;
while (!(await client.zscore(`bull:${queueName}:jobs-api:workers`, controlled.id))) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}

async function put(id, action) {
  const response = await fetch(`${serverUrl}/api/jobs/${encodeURIComponent(id)}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ action }),
  });
  const body = await response.json();
  return response.status === 200 && body.job && body.job.status;
}

// Ids unique to this run: a rerun on the same Redis must not meet its own
// earlier jobs (BullMQ ignores an add whose id exists).
const run = Date.now().toString(36);
const samples = { cancel: [], pause: [], baseline: [] };
const errors = { cancel: 0, pause: 0, baseline: 0 };
for (let i = 0; i < count; i++) {
  for (const op of ['cancel', 'pause', 'baseline']) {
    const id = `${run}-${op}-${i}`;
    if (op === 'baseline') {
      await startedAfter(startedPlain, id, () => baselineQueue.add('bench', {}, { jobId: id }));
      const done = new Promise((resolve) => failed.set(id, resolve));
      const t0 = performance.now();
      if (!plain.cancelJob(id)) errors[op]++;
      await done;
      samples[op].push(performance.now() - t0);
      continue;
    }
    await startedAfter(startedControlled, id, () => queue.add('bench', {}, { jobId: id }));
    const t0 = performance.now();
    const status = await put(id, op);
    samples[op].push(performance.now() - t0);
    if (status !== (op === 'cancel' ? 'cancelled' : 'paused')) {
      errors[op]++;
      // Frees the worker's slot, so a failed request cannot stall the run.
      controlled.cancelJob(id);
    }
    // Untimed: the paused job goes.
    if (op === 'pause') await fetch(`${serverUrl}/api/jobs/${id}`, { method: 'DELETE' });
  }
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
for (const [op, values] of Object.entries(samples)) {
  const sorted = [...values].sort((a, b) => a - b);
  console.log(
    `control op=${op} n=${sorted.length} p50_ms=${percentile(sorted, 50).toFixed(2)} ` +
      `p99_ms=${percentile(sorted, 99).toFixed(2)} max_ms=${sorted[sorted.length - 1].toFixed(2)} errors=${errors[op]}`,
  );
}
await Promise.all([controlled.close(), plain.close(), queue.close(), baselineQueue.close()]);
process.exit(0);
