'use strict';
// ControlledWorker against a real redis-server, with this file playing
// jobs-server's side of the control protocol (docs/control-protocol.md):
// it records a request on the job's hash and notifies the worker, as the
// server's action script does.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const net = require('node:net');
const { setTimeout: sleep } = require('node:timers/promises');

const { Queue } = require('bullmq');
const { default: Redis } = require('ioredis');
const { ControlledWorker, ControlRequest, DEFAULT_GRACE_MS } = require('..');

const PARKED_SCORE = '4611686018427387904';
let redisServer;
let port;
let redis;
let queueCount = 0;
/** Every queue and worker made, closed before redis-server stops. */
const opened = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port: free } = server.address();
      server.close(() => resolve(free));
    });
    server.on('error', reject);
  });
}

before(async () => {
  port = await freePort();
  redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null, lazyConnect: true });
  for (let i = 0; ; i++) {
    try {
      await redis.connect();
      break;
    } catch (error) {
      if (i > 100) throw new Error(`redis-server did not start (install it: apt-get install redis-server): ${error.message}`);
      await sleep(50);
    }
  }
});

after(async () => {
  await Promise.all(opened.map((closable) => closable.close()));
  redis.disconnect();
  redisServer.kill('SIGKILL');
});

/** A fresh queue with a ControlledWorker running `processor`. */
async function setup(processor, options = {}) {
  const name = `q${++queueCount}`;
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const queue = new Queue(name, { connection });
  const events = [];
  const worker = new ControlledWorker(name, processor, { connection, drainDelay: 1, ...options });
  opened.push(queue, worker);
  worker.on('control', (event) => events.push(event));
  worker.on('error', () => {});
  await worker.waitUntilReady();
  const base = `bull:${name}:`;
  await until(async () => (await redis.zscore(`${base}jobs-api:workers`, worker.id)) !== null);
  return { name, queue, worker, events, base };
}

async function until(check, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(10);
  }
  throw new Error('timed out');
}

/** jobs-server's side: records `action` on the running job and notifies its worker. */
async function request(base, jobId, action, { notify = true } = {}) {
  const token = await redis.get(`${base}${jobId}:lock`);
  assert.ok(token, 'the job is held');
  const worker = token.slice(0, token.lastIndexOf(':'));
  const id = `req-${Math.random().toString(16).slice(2)}`;
  const record = { id, action, worker, at: Date.now(), operation: 'updateJob', auditJob: jobId, auditMax: 1000 };
  await redis.hset(`${base}${jobId}`, 'jobs-api:control', JSON.stringify(record));
  await redis.zadd(`${base}jobs-api:control-pending`, Date.now(), jobId);
  if (notify) {
    await redis.xadd(`${base}jobs-api:control:${worker}`, '*', 'job', jobId, 'request', id, 'action', action);
  }
  return id;
}

async function outcome(base, requestId) {
  let stored = null;
  await until(async () => {
    stored = await redis.get(`${base}jobs-api:outcome:${requestId}`);
    return stored !== null;
  });
  return JSON.parse(stored);
}

/** A processor that runs until its signal aborts, then throws its reason. */
function untilAborted(seen) {
  return (job, token, signal) =>
    new Promise((resolve, reject) => {
      seen.started.push(job.id);
      signal.addEventListener('abort', () => {
        seen.reasons.push(signal.reason);
        reject(signal.reason);
      });
    });
}

test('it promises to accept control while it runs, and withdraws the promise on close', async () => {
  const { worker, base } = await setup(async () => 'done');
  const score = Number(await redis.zscore(`${base}jobs-api:workers`, worker.id));
  assert.ok(score > Date.now(), 'the promise lies in the future');
  await worker.close();
  assert.equal(await redis.zscore(`${base}jobs-api:workers`, worker.id), null);
});

test('cancel: the signal aborts with the request, the job is removed as BullMQ removes it, the worker goes on', async () => {
  const seen = { started: [], reasons: [] };
  const processor = untilAborted(seen);
  const { queue, worker, events, base } = await setup((job, token, signal) =>
    job.name === 'quick' ? Promise.resolve('quick done') : processor(job, token, signal),
  );
  const completed = [];
  worker.on('completed', (job) => completed.push(job.id));
  const failed = [];
  worker.on('failed', (job) => failed.push(job.id));
  await queue.add('long', {}, { jobId: 'a' });
  await until(async () => seen.started.includes('a'));

  const requestId = await request(base, 'a', 'cancel');
  const stored = await outcome(base, requestId);
  assert.equal(stored.result, 'applied');
  assert.equal(stored.to, 'cancelled');
  assert.equal(stored.worker, worker.id);
  assert.ok(seen.reasons[0] instanceof ControlRequest);
  assert.equal(seen.reasons[0].action, 'cancel');
  assert.equal(seen.reasons[0].requestId, requestId);
  assert.equal(await redis.exists(`${base}a`, `${base}a:lock`), 0);
  assert.equal(await queue.getJob('a'), undefined);
  assert.equal(await redis.zscore(`${base}jobs-api:control-pending`, 'a'), null);
  assert.deepEqual(events.map((e) => e.outcome), ['requested', 'applied']);

  await queue.add('quick', {}, { jobId: 'b' });
  await until(async () => completed.includes('b'));
  assert.deepEqual(failed, [], 'the cancelled job neither failed nor completed');
  assert.ok(!completed.includes('a'));
  const audit = await redis.xrange(`${base}jobs-api:audit`, '-', '+');
  assert.equal(audit.length, 1);
  const fields = audit[0][1];
  assert.equal(fields[fields.indexOf('result') + 1], 'applied');
  assert.equal(fields[fields.indexOf('worker') + 1], worker.id);
});

test('pause: the job is parked as jobs-server parks it, its attempts unchanged', async () => {
  const seen = { started: [], reasons: [] };
  const { queue, worker, base } = await setup(async (job, token, signal) => {
    await job.updateProgress(40);
    await job.log('half way');
    return untilAborted(seen)(job, token, signal);
  });
  await queue.add('long', { url: 'https://example.com' }, { jobId: 'p' });
  await until(async () => seen.started.includes('p'));

  const stored = await outcome(base, await request(base, 'p', 'pause'));
  assert.equal(stored.to, 'paused');
  assert.equal(BigInt(Number(await redis.zscore(`${base}delayed`, 'p'))), BigInt(PARKED_SCORE));
  assert.equal(await redis.hget(`${base}p`, 'jobs-api:parked-from'), 'wait');
  assert.equal(await redis.lpos(`${base}active`, 'p'), null);
  const job = await queue.getJob('p');
  assert.equal(await job.getState(), 'delayed');
  assert.equal(job.attemptsMade, 0);
  assert.equal(job.progress, 40);
  assert.deepEqual((await queue.getJobLogs('p')).logs, ['half way']);
  await sleep(300);
  assert.deepEqual(seen.started, ['p'], 'no worker takes a parked job');
});

test('whatever the processor returns or throws after the signal, the job ends as asked', async () => {
  const started = [];
  const { queue, worker, base } = await setup(async (job, token, signal) => {
    started.push(job.id);
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    if (job.name === 'throws') throw new Error('something else');
    return 'returned anyway';
  });
  const completed = [];
  worker.on('completed', (job) => completed.push(job.id));
  await queue.add('returns', {}, { jobId: 'r' });
  await until(async () => started.includes('r'));
  assert.equal((await outcome(base, await request(base, 'r', 'cancel'))).result, 'applied');
  await queue.add('throws', {}, { jobId: 't' });
  await until(async () => started.includes('t'));
  assert.equal((await outcome(base, await request(base, 't', 'pause'))).to, 'paused');
  assert.deepEqual(completed, []);
  assert.equal(await redis.exists(`${base}r`), 0);
  assert.equal((await (await queue.getJob('t')).getState()), 'delayed');
});

test('a processor that ignores its signal is refused after the grace period and runs on', async () => {
  let release;
  const { queue, worker, events, base } = await setup(
    async () => {
      await new Promise((resolve) => {
        release = resolve;
      });
      return 'finished';
    },
    { controlGraceMs: 200 },
  );
  const completed = [];
  worker.on('completed', (job) => completed.push(job.id));
  await queue.add('stubborn', {}, { jobId: 's' });
  await until(async () => release !== undefined);

  const stored = await outcome(base, await request(base, 's', 'cancel'));
  assert.equal(stored.result, 'refused');
  assert.match(stored.details, /grace period \(200 ms\)/);
  assert.equal(await redis.hget(`${base}s`, 'jobs-api:control'), null, 'the request is cleared');
  release();
  await until(async () => completed.includes('s'));
  assert.deepEqual(events.map((e) => e.outcome), ['requested', 'refused']);
});

test('a request whose notification was missed is found on the next heartbeat', async () => {
  const seen = { started: [], reasons: [] };
  const { queue, worker, base } = await setup(untilAborted(seen), { controlHeartbeatMs: 100 });
  await queue.add('long', {}, { jobId: 'm' });
  await until(async () => seen.started.includes('m'));
  const stored = await outcome(base, await request(base, 'm', 'cancel', { notify: false }));
  assert.equal(stored.result, 'applied');
});

test('a request already on a job it takes is honoured before the processor runs', async () => {
  const started = [];
  const { queue, worker, base } = await setup(async (job) => {
    started.push(job.id);
    return 'ran';
  });
  await worker.pause();
  await queue.add('returned', {}, { jobId: 'x' });
  // As a request left by a worker that died: recorded while the job ran
  // there, before BullMQ's stalled checker brought it back to `wait`.
  const record = { id: 'req-old', action: 'cancel', worker: 'dead-worker', at: Date.now() };
  await redis.hset(`${base}x`, 'jobs-api:control', JSON.stringify(record));
  worker.resume();
  const stored = await outcome(base, 'req-old');
  assert.equal(stored.result, 'applied');
  assert.equal(stored.worker, worker.id);
  assert.deepEqual(started, [], 'the processor never ran');
});

test('a request for a job this worker does not hold is left alone', async () => {
  const { queue, worker, events, base } = await setup(async () => 'done');
  await redis.xadd(`${base}jobs-api:control:${worker.id}`, '*', 'job', 'elsewhere', 'request', 'r1', 'action', 'cancel');
  await sleep(200);
  assert.deepEqual(events, []);
});

test('the constructor refuses what it cannot control, with the reason', () => {
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  assert.throws(() => new ControlledWorker('q', `${__dirname}/processor.js`, { connection, autorun: false }), TypeError);
  assert.throws(() => new ControlledWorker('q', undefined, { connection, autorun: false }), /processor function/);
  assert.throws(
    () => new ControlledWorker('q', async () => {}, { connection, autorun: false, controlGraceMs: -1 }),
    /controlGraceMs/,
  );
  assert.equal(DEFAULT_GRACE_MS, 3000);
});
