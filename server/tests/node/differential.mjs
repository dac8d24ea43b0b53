// The differential test's BullMQ side: random operations through BullMQ's
// own API (and jobs-server's actions), then every job's GET compared with
// what BullMQ stores, through the mapping documented in server/README.md.
//
//   node differential.mjs run <redis-url> <api-url> <prefix> <queue> <seed> <ops>
//       runs <ops> random operations from <seed> (a 32-bit integer: the same
//       seed, the same operations), checking as it goes and at the end;
//       prints one JSON line per difference, then a summary line
//       {"summary": {...}}; exits 1 when it found a difference
//   node differential.mjs worker <redis-url> <prefix> <queue> <concurrency>
//       a Worker (used by `run`, in a process of its own so it can be
//       killed): a job's name says what it does, "<kind>-<ms>"
//       (ok, fail, progress, object-progress, log, hang)
//
// Reads are retried: a difference counts only when BullMQ's view is the
// same before and after the GET and the GET still disagrees with it.
// DIFFERENTIAL_INVARIANTS=1 also prints, after every operation, the ids in
// a list or set of the queue without a job hash (where BullMQ itself
// leaves one, as `Queue.drain` does).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FlowProducer, Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const [command, ...args] = process.argv.slice(2);

// --- the worker process -----------------------------------------------------

async function workerMain([url, prefix, queueName, concurrency]) {
  const connection = { url, maxRetriesPerRequest: null };
  const worker = new Worker(
    queueName,
    async (job) => {
      const [kind, msText] = String(job.name).split('-');
      const ms = Number(msText) || 0;
      if (kind === 'hang') {
        await sleep(60_000);
      }
      const steps = 3;
      for (let step = 1; step <= steps; step++) {
        await sleep(ms / steps);
        if (kind === 'progress') await job.updateProgress(Math.round((step / steps) * 100));
        if (kind === 'object-progress') await job.updateProgress({ step, of: steps, note: 'é\ud83d' });
        if (kind === 'log' || kind === 'progress') await job.log(`step ${step} of ${steps}`);
      }
      if (kind === 'fail') throw new Error(`failed on purpose after ${ms} ms`);
      if (kind === 'object-progress') return [1, { nested: { value: 'x\udc00' } }];
      return { kind, steps, at: job.attemptsMade };
    },
    {
      connection,
      prefix,
      concurrency: Number(concurrency),
      name: `differential-${process.pid}`,
      // A killed worker's jobs come back soon: BullMQ's stalled checker.
      lockDuration: 1500,
      stalledInterval: 750,
      maxStalledCount: 1,
      drainDelay: 1,
    },
  );
  worker.on('error', () => {});
  await worker.waitUntilReady();
  console.log('ready');
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('end', resolve));
  await worker.close();
}

// --- the run ------------------------------------------------------------------

// mulberry32: a small seeded PRNG, so a seed replays the same operations.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Deep equality of JSON values at any depth, key order aside (util's
// isDeepStrictEqual recurses, and overflows the stack on data a thousand
// levels deep, which JSON.stringify writes): an explicit stack instead.
function same(a, b) {
  const pending = [[a, b]];
  while (pending.length) {
    const [x, y] = pending.pop();
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (Array.isArray(x) !== Array.isArray(y)) return false;
    const keys = Object.keys(x);
    if (keys.length !== Object.keys(y).length) return false;
    for (const key of keys) {
      if (!Object.hasOwn(y, key)) return false;
      pending.push([x[key], y[key]]);
    }
  }
  return true;
}

// The fields two jobs differ in, each value shortened for the report.
function fieldDifferences(expected, got) {
  const short = (value) => {
    const text = JSON.stringify(value);
    return text === undefined || text.length <= 300 ? value : `${text.slice(0, 300)}… (${text.length} chars)`;
  };
  const fields = {};
  for (const name of new Set([...Object.keys(expected), ...Object.keys(got)])) {
    if (!same(expected[name], got[name])) fields[name] = { expected: short(expected[name]), got: short(got[name]) };
  }
  return fields;
}

// The score jobs-server parks a paused job at (server/lua/state.lua).
const PARKED_SCORE = '4611686018427387904';
const PARKED_FROM = 'jobs-api:parked-from';

// The documented mapping (server/README.md), from what BullMQ stores.
function parseJson(text) {
  try {
    return { ok: JSON.parse(text) };
  } catch {
    return { bad: text };
  }
}

function mappedData(text) {
  if (text === undefined) return {};
  const parsed = parseJson(text);
  if ('bad' in parsed) return { invalidJson: text };
  const data = parsed.ok;
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) return data;
  return { value: data };
}

function isoOrNull(ms) {
  if (ms === undefined || ms === '') return null;
  const n = Number(ms);
  return Number.isFinite(n) ? new Date(Math.trunc(n)).toISOString() : null;
}

// A string holding a lone UTF-16 surrogate: what a Rust `String` cannot
// hold (the documented gap for `url`).
function hasLoneSurrogate(text) {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

// `value` with every lone surrogate replaced by U+FFFD, as the server
// serves `returnvalue` and an object progress (small values: recursion).
function replaceLone(value) {
  if (typeof value === 'string') {
    return value.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  }
  if (Array.isArray(value)) return value.map(replaceLone);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [replaceLone(key), replaceLone(item)]));
  }
  return value;
}

function expectedJob(id, raw, state, parked, locked, logs) {
  let status;
  if (state === 'completed' || state === 'failed') status = state;
  else if (state === 'active') status = locked ? 'active' : 'stuck';
  else if (state === 'delayed' && parked) status = 'paused';
  else status = 'waiting';
  const data = mappedData(raw.data);
  const url = typeof data.url === 'string' && !hasLoneSurrogate(data.url) ? data.url : null;
  const job = {
    id,
    type: raw.name ?? '',
    url,
    status,
    progress: null,
    data,
    createdAt: isoOrNull(raw.timestamp),
    startedAt: isoOrNull(raw.processedOn),
    finishedAt: isoOrNull(raw.finishedOn),
    processedOn: raw.pb ? raw.pb : null,
    attemptsMade: Number(raw.atm ?? raw.attemptsMade ?? 0),
    failedReason: raw.failedReason ? raw.failedReason : null,
  };
  if (raw.returnvalue !== undefined) {
    const value = parseJson(raw.returnvalue);
    if ('ok' in value && value.ok !== null) job.returnvalue = replaceLone(value.ok);
  }
  if (logs.length > 0) job.logs = logs;
  if (raw.progress !== undefined) {
    const progress = parseJson(raw.progress);
    if ('ok' in progress && progress.ok !== null) {
      if (typeof progress.ok === 'number' && progress.ok >= 0 && progress.ok <= 100) {
        job.progress = progress.ok;
      } else {
        job.metrics = { progress: replaceLone(progress.ok) };
      }
    }
  }
  return job;
}

// Ids that name the queue's own keys, and the kinds of key BullMQ makes
// around a job: each must be 404, and left untouched by PUT and DELETE.
const QUEUE_KEYS = [
  'active', 'wait', 'waiting-children', 'paused', 'id', 'delayed', 'prioritized',
  'stalled-check', 'completed', 'failed', 'stalled', 'repeat', 'limiter', 'meta',
  'events', 'pc', 'marker', 'de', 'jobs-api:audit',
];
const JOB_SUFFIXES = [':lock', ':logs', ':dependencies', ':processed', ':failed', ':unsuccessful'];

async function runMain([redisUrl, apiUrl, prefix, queueName, seedText, opsText]) {
  const seed = Number(seedText);
  const ops = Number(opsText);
  const random = prng(seed);
  const pick = (items) => items[Math.floor(random() * items.length)];
  const chance = (p) => random() < p;
  const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));

  const connection = { url: redisUrl, maxRetriesPerRequest: null };
  const redis = new IORedis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(queueName, { connection, prefix });
  const flows = new FlowProducer({ connection, prefix });
  const base = `${prefix}:${queueName}:`;
  const ids = new Set();
  const schedulers = new Set();
  const differences = [];
  const summary = { seed, operations: {}, compared: 0, keysChecked: 0, unsettled: 0 };
  const count = (name) => {
    summary.operations[name] = (summary.operations[name] ?? 0) + 1;
  };
  const workers = [];
  const helper = fileURLToPath(import.meta.url);

  function startWorker(concurrency) {
    const child = spawn(process.execPath, [helper, 'worker', redisUrl, prefix, queueName, String(concurrency)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const ready = new Promise((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', () => reject(new Error('a worker exited before it was ready')));
    });
    workers.push(child);
    return ready;
  }
  async function stopWorker(child, kill) {
    workers.splice(workers.indexOf(child), 1);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (kill) child.kill('SIGKILL');
    else child.stdin.end();
    await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
    await exited;
  }

  // Data of every shape BullMQ stores and a worker reads.
  function data() {
    switch (int(0, 11)) {
      case 0: return {};
      case 1: return { url: `https://example.com/${int(0, 999)}`, customerId: `c-${int(0, 9)}`,
        metadata: { source: pick(['api', 'cron']), priority: pick(['high', 'low']) } };
      case 2: return { url: int(0, 9), customerId: null, totalPages: 'many', processedPages: -1 };
      case 3: {
        let deep = int(0, 9);
        for (let i = 0, n = int(120, 1500); i < n; i++) deep = chance(0.5) ? [deep] : { d: deep };
        return { url: 'https://example.com/deep', deep, after: 1 };
      }
      case 4: return { emoji: '\ud83d', pair: '\ud83d\ude00', low: 'x\udc00y', customerId: 'c\ud800' };
      case 5: return null;
      case 6: return [1, 'two', { three: 3 }];
      case 7: return pick(['text', 42, 4.2e-7, true, false, '']);
      case 8: return { n: random() * 1e6, big: 2 ** 60, neg: -int(0, 1e9), tiny: 5e-324, exp: 1.5e300 };
      case 9: return { unicode: 'héllo wörld ✓ 日本語', ctrl: '\u0000\u001f\t\n"\\', '': 'empty key', 2: 'number-like key' };
      case 10: return { url: 'https://example.com/\ud83d', note: 'a url no Rust string can hold' };
      default: return { totalPages: int(1, 50), processedPages: int(0, 50), metadata: { tags: ['a', 'b'] } };
    }
  }
  function jobName() {
    return `${pick(['ok', 'ok', 'fail', 'progress', 'object-progress', 'log', 'hang'])}-${int(0, 400)}`;
  }
  function customId() {
    return pick([`c-${int(0, 999)}`, `custom:${int(0, 99)}:x`, `id with spaces ${int(0, 9)}`,
      `ünïcode-${int(0, 9)}`, `x${int(0, 9)}y`]);
  }
  function opts() {
    const o = {};
    if (chance(0.3)) o.jobId = customId();
    if (chance(0.25)) o.delay = pick([int(50, 2000), 2 ** 50 + int(0, 1000), 3600_000]);
    if (chance(0.25)) o.priority = int(1, 100);
    if (chance(0.1)) o.lifo = true;
    if (chance(0.3)) {
      o.attempts = int(2, 3);
      o.backoff = { type: pick(['fixed', 'exponential']), delay: int(50, 300) };
    }
    if (chance(0.1)) o.deduplication = { id: `dedup-${int(0, 3)}`, ttl: int(100, 3000) };
    if (chance(0.05)) o.removeOnComplete = true;
    return o;
  }
  async function someJob() {
    const known = [...ids];
    if (known.length === 0) return null;
    return queue.getJob(pick(known));
  }
  async function api(method, id, body) {
    const response = await fetch(`${apiUrl}/api/jobs/${encodeURIComponent(id)}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: text };
  }

  // BullMQ's view of one id: what it stores, where, and the lock.
  async function view(id) {
    const key = base + id;
    const type = await redis.type(key);
    const raw = type === 'hash' ? await redis.hgetall(key) : null;
    const state = await queue.getJobState(id);
    // No job: a key of another kind, a hash in none of the queue's lists
    // (BullMQ: unknown), or a hash without the timestamp BullMQ stores
    // every job with (the debris a worker leaves when it takes an id whose
    // hash was deleted).
    if (!raw || state === 'unknown' || !Number.isFinite(Number(raw.timestamp ?? NaN))) {
      return { job: null, state, type };
    }
    const score = await redis.zscore(`${base}delayed`, id);
    const parked = score !== null && Number(score) === Number(PARKED_SCORE)
      && raw[PARKED_FROM] !== undefined;
    const locked = (await redis.exists(`${key}:lock`)) === 1;
    const { logs } = await queue.getJobLogs(id, -1000, -1, true);
    return { job: expectedJob(id, raw, state, parked, locked, logs), state };
  }
  async function expectedStats() {
    const c = await queue.getJobCounts('wait', 'paused', 'prioritized', 'delayed', 'waiting-children',
      'active', 'completed', 'failed');
    const atParkedScore = await redis.zrangebyscore(`${base}delayed`, PARKED_SCORE, PARKED_SCORE);
    let parked = 0;
    for (const id of atParkedScore) {
      if ((await redis.hexists(base + id, PARKED_FROM)) === 1) parked += 1;
    }
    return {
      waiting: c.wait + c.paused + c.prioritized + c.delayed + c['waiting-children'] - parked,
      active: c.active, completed: c.completed, failed: c.failed,
    };
  }

  // Compares GET of `id` with BullMQ's view; `withStats` also the
  // counters (only while nothing moves them).
  async function compare(id, where, withStats = false) {
    for (let attempt = 0; attempt < 8; attempt++) {
      const before = await view(id);
      const statsBefore = withStats ? await expectedStats() : null;
      const got = await api('GET', id);
      const after = await view(id);
      const statsAfter = withStats ? await expectedStats() : null;
      if (!same(before, after) || !same(statsBefore, statsAfter)) {
        await sleep(20);
        continue;
      }
      summary.compared += 1;
      const expected = before.job;
      let problem = null;
      if (expected === null) {
        if (got.status !== 404) problem = { expected: 404, got };
      } else if (got.status !== 200) {
        problem = { expected: expected, got };
      } else {
        const body = JSON.parse(got.body);
        if (!same(body.job, expected)) problem = { fields: fieldDifferences(expected, body.job) };
        else if (withStats && !same(body.queueStats, statsBefore)) {
          problem = { expected: { queueStats: statsBefore }, got: { queueStats: body.queueStats } };
        }
      }
      if (problem) {
        const difference = { difference: where, id, state: before.state, ...problem };
        differences.push(difference);
        console.log(JSON.stringify(difference));
      }
      return;
    }
    summary.unsettled += 1;
  }

  // Every key of the queue, read as an id: jobs compared, the rest 404 and
  // untouched by PUT and DELETE.
  async function checkKeySpace(where) {
    const keys = await redis.keys(`${base}*`);
    const candidates = new Set(keys.map((key) => key.slice(base.length)));
    for (const name of QUEUE_KEYS) candidates.add(name);
    for (const id of [...ids].slice(0, 5)) for (const suffix of JOB_SUFFIXES) candidates.add(id + suffix);
    for (const id of candidates) {
      summary.keysChecked += 1;
      const seen = await view(id);
      if (seen.job !== null) {
        ids.add(id);
        await compare(id, `${where}: key space`, true);
        continue;
      }
      const key = base + id;
      const before = await redis.dumpBuffer(key);
      for (const [method, body] of [['GET'], ['PUT', { action: 'pause' }], ['PUT', { action: 'cancel' }],
        ['PUT', { action: 'resume' }], ['DELETE']]) {
        const got = await api(method, id, body);
        if (got.status !== 404) {
          const difference = { difference: `${where}: ${method} of a key that is no job`, id,
            type: seen.type, action: body?.action, expected: 404, got };
          differences.push(difference);
          console.log(JSON.stringify(difference));
        }
      }
      const after = await redis.dumpBuffer(key);
      // (At rest nothing else writes: only this server's audit of the
      // refusals changes.)
      if (!(before === null ? after === null : after !== null && before.equals(after))
        && id !== 'jobs-api:audit') {
        const difference = { difference: `${where}: a key that is no job was changed`, id, type: seen.type };
        differences.push(difference);
        console.log(JSON.stringify(difference));
      }
    }
  }

  // Debugging aid: ids in a list or set of the queue without a job hash,
  // and job hashes in none.
  async function invariants() {
    const broken = [];
    const members = new Map();
    for (const list of ['wait', 'paused', 'active']) {
      for (const id of await redis.lrange(base + list, 0, -1)) members.set(id, list);
    }
    for (const set of ['delayed', 'prioritized', 'waiting-children', 'completed', 'failed']) {
      for (const id of await redis.zrange(base + set, 0, -1)) members.set(id, set);
    }
    for (const [id, where] of members) {
      const ts = await redis.hget(base + id, 'timestamp');
      if (ts === null) broken.push({ id, where, hash: await redis.hgetall(base + id) });
    }
    return broken;
  }

  const operations = [
    [12, 'add', async () => {
      const job = await queue.add(jobName(), data(), opts());
      if (job && job.id) ids.add(job.id);
    }],
    [3, 'addBulk', async () => {
      const jobs = await queue.addBulk(Array.from({ length: int(2, 6) }, () => ({ name: jobName(), data: data(), opts: opts() })));
      for (const job of jobs) if (job && job.id) ids.add(job.id);
    }],
    [2, 'flow', async () => {
      const tree = await flows.add({
        name: jobName(), queueName, data: data(),
        children: Array.from({ length: int(1, 3) }, () => ({ name: jobName(), queueName, data: data(),
          opts: chance(0.3) ? { failParentOnFailure: true } : {} })),
      });
      ids.add(tree.job.id);
      for (const child of tree.children ?? []) ids.add(child.job.id);
    }],
    [2, 'scheduler', async () => {
      const id = `sched-${int(0, 2)}`;
      schedulers.add(id);
      const job = await queue.upsertJobScheduler(id, { every: int(300, 2000) }, { name: `ok-${int(0, 50)}`, data: data() });
      if (job && job.id) ids.add(job.id);
    }],
    [1, 'removeScheduler', async () => {
      if (schedulers.size) await queue.removeJobScheduler(pick([...schedulers]));
    }],
    [1, 'pauseQueue', async () => queue.pause()],
    [2, 'resumeQueue', async () => queue.resume()],
    [2, 'promote', async () => { const job = await someJob(); if (job) await job.promote(); }],
    [2, 'retry', async () => { const job = await someJob(); if (job) await job.retry(pick(['failed', 'completed'])); }],
    [1, 'clean', async () => queue.clean(0, int(1, 10), pick(['completed', 'failed', 'delayed', 'wait', 'prioritized']))],
    [1, 'drain', async () => { if (chance(0.3)) await queue.drain(chance(0.5)); }],
    [3, 'progress', async () => { const job = await someJob(); if (job) await job.updateProgress(pick([int(0, 100), 62.5, 150, -1, { step: 'upload', percentage: int(0, 100) }, 'half'])); }],
    [2, 'log', async () => { const job = await someJob(); if (job) await job.log(`outside line ${int(0, 99)}`); }],
    [1, 'changePriority', async () => { const job = await someJob(); if (job) await job.changePriority({ priority: int(0, 50) }); }],
    [1, 'changeDelay', async () => { const job = await someJob(); if (job) await job.changeDelay(int(0, 1000)); }],
    [1, 'updateData', async () => { const job = await someJob(); if (job) await job.updateData(data()); }],
    [1, 'remove', async () => { const job = await someJob(); if (job) await job.remove(); }],
    [2, 'startWorker', async () => { if (workers.length < 3) await startWorker(int(1, 3)); }],
    [1, 'stopWorker', async () => { if (workers.length) await stopWorker(pick(workers), false); }],
    [1, 'killWorker', async () => { if (workers.length) await stopWorker(pick(workers), true); }],
    [4, 'apiAction', async () => {
      const known = [...ids];
      if (known.length) await api('PUT', pick(known), { action: pick(['pause', 'resume', 'cancel']) });
    }],
    [1, 'apiDelete', async () => { const known = [...ids]; if (known.length) await api('DELETE', pick(known)); }],
    [4, 'wait', async () => sleep(int(20, 300))],
  ];
  const totalWeight = operations.reduce((sum, [weight]) => sum + weight, 0);
  function nextOperation() {
    let roll = random() * totalWeight;
    for (const operation of operations) {
      roll -= operation[0];
      if (roll < 0) return operation;
    }
    return operations[0];
  }

  try {
    await queue.obliterate({ force: true });
    for (let step = 1; step <= ops; step++) {
      const [, name, run] = nextOperation();
      count(name);
      try {
        await run();
      } catch (error) {
        // BullMQ refusing an operation on a job in another state (promote
        // of a job that is not delayed, say) is an answer, not a finding.
        count(`${name} refused`);
      }
      if (process.env.DIFFERENTIAL_INVARIANTS) {
        const broken = await invariants();
        if (broken.length) console.log(JSON.stringify({ step, name, broken }));
      }
      if (step % 10 === 0 && ids.size) {
        for (const id of [...ids].slice(-8)) await compare(id, `after operation ${step} (${name})`);
        await compare(pick([...ids]), `after operation ${step} (${name})`);
      }
    }
    // Quiet: every worker killed, so nothing moves; then
    // every job and every key of the queue, counters included.
    while (workers.length) await stopWorker(workers[0], true);
    // A killed worker's locks expire (lockDuration): its jobs are `stuck`.
    await sleep(2000);
    for (const id of schedulers) await queue.removeJobScheduler(id).catch(() => {});
    for (const id of ids) await compare(id, 'at rest', true);
    await checkKeySpace('at rest');
  } finally {
    for (const child of workers) child.kill('SIGKILL');
    await queue.close();
    await flows.close();
    redis.disconnect();
  }
  summary.differences = differences.length;
  console.log(JSON.stringify({ summary }));
  return differences.length === 0;
}

const main = command === 'worker' ? workerMain(args).then(() => true) : runMain(args);
main.then(
  (ok) => process.exit(ok ? 0 : 1),
  (error) => {
    console.error(error && error.stack ? error.stack : String(error));
    process.exit(2);
  },
);
