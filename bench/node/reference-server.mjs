// The Node reference for jobs-server's GET, written the usual way: Node's
// `http` and BullMQ's own `Queue.getJob`, `job.getState()` and
// `queue.getJobCounts()`, answering the contract's body. scripts/bench.sh
// measures jobs-server against it on the same Redis and the same job.
//
//   node reference-server.mjs <redis-url> <prefix> <queue>
//
// Prints "reference listening on http://127.0.0.1:<port>" (a free port).
import http from 'node:http';
import { Queue } from 'bullmq';

const [url, prefix, queueName] = process.argv.slice(2);
const queue = new Queue(queueName, { connection: { url, maxRetriesPerRequest: null }, prefix });

const STATUS = {
  waiting: 'waiting', prioritized: 'waiting', delayed: 'waiting', 'waiting-children': 'waiting',
  active: 'active', completed: 'completed', failed: 'failed',
};
const iso = (ms) => (ms ? new Date(Number(ms)).toISOString() : null);
const send = (res, status, body) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

const server = http.createServer(async (req, res) => {
  const match = /^\/api\/jobs\/([^/?]+)$/.exec(req.url);
  if (req.method !== 'GET' || !match) return send(res, 404, { error: 'Not found' });
  try {
    const job = await queue.getJob(decodeURIComponent(match[1]));
    if (!job) return send(res, 404, { error: 'Job not found' });
    const [state, counts] = await Promise.all([
      job.getState(),
      queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'),
    ]);
    send(res, 200, {
      job: {
        id: job.id,
        type: job.name,
        url: job.data?.url ?? null,
        status: STATUS[state] ?? 'waiting',
        progress: typeof job.progress === 'number' ? job.progress : null,
        data: job.data,
        createdAt: iso(job.timestamp),
        startedAt: iso(job.processedOn),
        finishedAt: iso(job.finishedOn),
        processedOn: job.processedBy ?? null,
        attemptsMade: job.attemptsMade,
        failedReason: job.failedReason ?? null,
      },
      queueStats: {
        waiting: counts.waiting + counts.prioritized + counts.delayed,
        active: counts.active,
        completed: counts.completed,
        failed: counts.failed,
      },
      timestamp: new Date().toISOString(),
    });
  } catch (err) {
    send(res, 500, { error: 'Failed to fetch job status', details: 'Queue system temporarily unavailable' });
  }
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
  console.log(`reference listening on http://127.0.0.1:${server.address().port}`);
});
