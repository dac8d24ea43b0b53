// BullMQ's own side of jobs-server's tests: real producers, workers and
// readers from the npm package pinned in the repository's package-lock.json.
//
//   node bullmq.mjs <redis-url> <prefix> <queue> add '<jobs JSON>'
//       adds [{name, data, opts}] with Queue.add; prints the ids (JSON)
//   node bullmq.mjs <redis-url> <prefix> <queue> inspect '<ids JSON>'
//       prints, per id, what BullMQ's Job API sees (JSON; null: no job)
//   node bullmq.mjs <redis-url> <prefix> <queue> fill <count> <name>
//       adds <count> jobs named <name> with Queue.addBulk (1 000 a call);
//       prints the first one's id
//   node bullmq.mjs <redis-url> <prefix> <queue> counts
//       prints Queue.getJobCounts() (JSON)
//   node bullmq.mjs <redis-url> <prefix> <queue> pause-queue
//       Queue.pause(); prints whether the queue is paused (JSON)
//   node bullmq.mjs <redis-url> <prefix> <queue> is-paused
//       prints Queue.isPaused() (JSON)
//   node bullmq.mjs <redis-url> <prefix> <queue> scheduler <id> <every-ms>
//       Queue.upsertJobScheduler(id, {every}); prints its next job's id
//   node bullmq.mjs <redis-url> <prefix> <queue> flow '<tree JSON>'
//       FlowProducer.add({name, data, children: [{name, data}]}) on this
//       queue; prints [parent id, child ids…]
//   node bullmq.mjs <redis-url> <prefix> <queue> tool <tool> [id]
//       runs one of BullMQ's routine tools: promote-jobs (Queue.promoteJobs),
//       promote (Job.promote), change-delay (Job.changeDelay(0)),
//       drain-delayed (Queue.drain(true)), clean-delayed (Queue.clean(0,
//       1000, 'delayed')), obliterate (Queue.obliterate({force: true}));
//       prints {ok} or {error}
//   node bullmq.mjs <redis-url> <prefix> <queue> worker <name> [concurrency]
//       runs a Worker until stdin closes; prints "ready", then one JSON
//       line per finished job. A job's data.work says what to do:
//       { steps, stepMs, fail, holdMs } (progress after each step, a log
//       line each step, then fail with `fail` or return {steps}).
//   node bullmq.mjs <redis-url> <prefix> <queue> controlled-worker <name> ['<options JSON>']
//       the same with jobs-api-worker's ControlledWorker (worker/node/) and
//       these Worker options ({concurrency, controlGraceMs, lockDuration,
//       stalledInterval, …}): prints "ready" once it accepts control, then
//       one JSON line per step: {id, event: started, progress},
//       {id, event: aborted, action, name} (the signal's reason),
//       {id, event: control, action, outcome, to?} and the finished jobs.
//       The processor honours its signal (its waits end when it aborts,
//       data.work.stopMs later) unless data.work.ignoreSignal; with
//       data.work.checkpoint it resumes from the job's saved progress.
//
// <redis-url> "cluster:redis://host:port,redis://host:port" names nodes of a
// Redis Cluster (ioredis' Cluster; the prefix then needs a hash tag).
import { createRequire } from 'node:module';
import { FlowProducer, Queue, Worker } from 'bullmq';
import { Cluster } from 'ioredis';

const [url, prefix, queueName, command, ...rest] = process.argv.slice(2);
const connection = url.startsWith('cluster:')
  ? new Cluster(
      url
        .slice('cluster:'.length)
        .split(',')
        .map((node) => {
          const { hostname, port } = new URL(node);
          return { host: hostname, port: Number(port) };
        }),
      { redisOptions: { maxRetriesPerRequest: null } },
    )
  : { url, maxRetriesPerRequest: null };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const { ControlledWorker } = createRequire(import.meta.url)('../../../worker/node');

// Waits `ms`, or until `signal` aborts (then, `stopMs` later, throws its
// reason).
function wait(ms, signal, stopMs = 0) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const aborted = () => {
      clearTimeout(timer);
      setTimeout(() => reject(signal.reason), stopMs);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', aborted);
      resolve();
    }, ms);
    signal.addEventListener('abort', aborted, { once: true });
  });
}

async function controlledWorker(name, options) {
  const print = (line) => console.log(JSON.stringify(line));
  const worker = new ControlledWorker(
    queueName,
    async (job, token, signal) => {
      print({ id: job.id, event: 'started', progress: job.progress });
      signal.addEventListener('abort', () =>
        print({ id: job.id, event: 'aborted', action: signal.reason.action, name: signal.reason.name }));
      const work = (job.data && job.data.work) || {};
      const honour = work.ignoreSignal ? new AbortController().signal : signal;
      if (work.holdMs) await wait(work.holdMs, honour, work.stopMs);
      const steps = work.steps || 0;
      const from = work.checkpoint && typeof job.progress === 'number' ? Math.round((job.progress / 100) * steps) : 0;
      for (let step = from + 1; step <= steps; step++) {
        await wait(work.stepMs || 10, honour, work.stopMs);
        await job.log(`step ${step} of ${steps}`);
        await job.updateProgress(Math.round((step / steps) * 100));
      }
      if (work.fail) throw new Error(work.fail);
      return { steps, from };
    },
    { connection, prefix, name, concurrency: 1, drainDelay: 1, ...options },
  );
  worker.on('control', (event) => print({ id: event.jobId, event: 'control', action: event.action, outcome: event.outcome, to: event.to }));
  worker.on('completed', (job, value) => print({ id: job.id, event: 'completed', value }));
  worker.on('failed', (job, err) => print({ id: job && job.id, event: 'failed', reason: err.message }));
  worker.on('error', (err) => console.error(`worker error: ${err.message}`));
  await worker.waitUntilReady();
  // Ready once the worker promises to accept control.
  const client = await worker.getBackend().client;
  for (let i = 0; i < 500; i++) {
    if (await client.zscore(`${prefix}:${queueName}:jobs-api:workers`, worker.id)) break;
    await sleep(10);
  }
  console.log('ready');
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('end', resolve));
  await worker.close();
}

async function main() {
  if (command === 'controlled-worker') {
    const [name, options] = rest;
    await controlledWorker(name, JSON.parse(options || '{}'));
    return;
  }
  if (command === 'worker') {
    const [name, concurrency] = rest;
    const worker = new Worker(
      queueName,
      async (job) => {
        const work = (job.data && job.data.work) || {};
        if (work.holdMs) await sleep(work.holdMs);
        const steps = work.steps || 0;
        for (let step = 1; step <= steps; step++) {
          await sleep(work.stepMs || 10);
          await job.log(`step ${step} of ${steps}`);
          await job.updateProgress(Math.round((step / steps) * 100));
        }
        if (work.fail) throw new Error(work.fail);
        return { steps };
      },
      { connection, prefix, name, concurrency: Number(concurrency || 1), drainDelay: 1 },
    );
    worker.on('completed', (job) => console.log(JSON.stringify({ id: job.id, event: 'completed' })));
    worker.on('failed', (job, err) => console.log(JSON.stringify({ id: job && job.id, event: 'failed', reason: err.message })));
    worker.on('error', (err) => console.error(`worker error: ${err.message}`));
    await worker.waitUntilReady();
    console.log('ready');
    // Runs until the test closes stdin (or is killed).
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.on('end', resolve));
    await worker.close();
    return;
  }
  const queue = new Queue(queueName, { connection, prefix });
  try {
    if (command === 'add') {
      const jobs = JSON.parse(rest[0]);
      const added = [];
      for (const job of jobs) {
        // `data: null` is stored as null; no `data` at all as {}.
        const data = 'data' in job ? job.data : {};
        added.push((await queue.add(job.name, data, job.opts ?? {})).id);
      }
      console.log(JSON.stringify(added));
    } else if (command === 'inspect') {
      const seen = {};
      for (const id of JSON.parse(rest[0])) {
        const job = await queue.getJob(id);
        seen[id] = job
          ? {
              name: job.name,
              data: job.data,
              state: await job.getState(),
              priority: job.priority,
              progress: job.progress,
              attemptsMade: job.attemptsMade,
              processedBy: job.processedBy ?? null,
              returnvalue: job.returnvalue ?? null,
              failedReason: job.failedReason ?? null,
            }
          : null;
      }
      console.log(JSON.stringify(seen));
    } else if (command === 'fill') {
      const [count, name] = [Number(rest[0]), rest[1]];
      let first = null;
      for (let done = 0; done < count; done += 1000) {
        const batch = Array.from({ length: Math.min(1000, count - done) }, (_, i) => ({
          name,
          data: { url: `https://example.com/${done + i}` },
        }));
        const jobs = await queue.addBulk(batch);
        first ??= jobs[0].id;
      }
      console.log(JSON.stringify(first));
    } else if (command === 'counts') {
      console.log(JSON.stringify(await queue.getJobCounts()));
    } else if (command === 'pause-queue') {
      await queue.pause();
      console.log(JSON.stringify(await queue.isPaused()));
    } else if (command === 'is-paused') {
      console.log(JSON.stringify(await queue.isPaused()));
    } else if (command === 'scheduler') {
      const job = await queue.upsertJobScheduler(rest[0], { every: Number(rest[1]) }, { name: 'scheduled', data: {} });
      console.log(JSON.stringify(job.id));
    } else if (command === 'flow') {
      const { name, data, children } = JSON.parse(rest[0]);
      const flows = new FlowProducer({ connection, prefix });
      try {
        const tree = await flows.add({
          name, data, queueName,
          children: children.map((child) => ({ ...child, queueName })),
        });
        console.log(JSON.stringify([tree.job.id, ...tree.children.map((child) => child.job.id)]));
      } finally {
        await flows.close();
      }
    } else if (command === 'tool') {
      // BullMQ's routine tools, as an operator (or bull-board) uses them;
      // prints what the tool returned, or its error.
      const [tool, id] = rest;
      const job = id ? await queue.getJob(id) : undefined;
      const run = {
        'promote-jobs': () => queue.promoteJobs(),
        promote: () => job.promote(),
        'change-delay': () => job.changeDelay(0),
        'drain-delayed': () => queue.drain(true),
        'clean-delayed': () => queue.clean(0, 1000, 'delayed'),
        obliterate: () => queue.obliterate({ force: true }),
      }[tool];
      if (!run) throw new Error(`unknown tool ${tool}`);
      try {
        console.log(JSON.stringify({ ok: (await run()) ?? null }));
      } catch (error) {
        console.log(JSON.stringify({ error: error.message }));
      }
    } else {
      throw new Error(`unknown command ${command}`);
    }
  } finally {
    await queue.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(1);
  },
);
