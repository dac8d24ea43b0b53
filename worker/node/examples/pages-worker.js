'use strict';
// A worker whose running jobs the Job Status API can cancel and pause.
//
//   node worker/node/examples/pages-worker.js redis://127.0.0.1:6379 pages
//       runs a ControlledWorker on queue `pages` until Ctrl-C
//   node worker/node/examples/pages-worker.js redis://127.0.0.1:6379 pages --add 20
//       adds a job of 20 pages (a second each) and prints its id
//
// Each job crawls `data.pages` pages, reporting progress after each. Its
// processor stops between pages when its signal aborts; after a pause and
// a resume it starts again from the page its progress says.

const { Queue } = require('bullmq');
const { ControlledWorker } = require('..');

const [url, queueName, flag, count] = process.argv.slice(2);
if (!url || !queueName) {
  console.error('usage: pages-worker.js <redis-url> <queue> [--add <pages>]');
  process.exit(2);
}
const connection = { url, maxRetriesPerRequest: null };

/** Waits `ms`, or throws the signal's reason as soon as it aborts. */
function crawl(ms, signal) {
  return new Promise((resolve, reject) => {
    const aborted = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', aborted);
      resolve();
    }, ms);
    signal.addEventListener('abort', aborted, { once: true });
  });
}

async function main() {
  if (flag === '--add') {
    const queue = new Queue(queueName, { connection });
    const pages = Number(count || 10);
    const job = await queue.add('multi-page', { url: 'https://example.com', totalPages: pages });
    console.log(job.id);
    await queue.close();
    return;
  }
  const worker = new ControlledWorker(
    queueName,
    async (job, token, signal) => {
      const total = job.data.totalPages || 10;
      const done = typeof job.progress === 'number' ? Math.round((job.progress / 100) * total) : 0;
      for (let page = done + 1; page <= total; page++) {
        signal.throwIfAborted();
        await crawl(1000, signal);
        await job.log(`page ${page} of ${total}`);
        await job.updateProgress(Math.round((page / total) * 100));
      }
      return { pages: total };
    },
    { connection, name: 'pages-worker', concurrency: 4 },
  );
  worker.on('control', (e) => console.log(`job ${e.jobId}: ${e.action} ${e.outcome}${e.to ? ` (${e.to})` : ''}`));
  worker.on('completed', (job) => console.log(`job ${job.id}: completed`));
  worker.on('failed', (job, err) => console.log(`job ${job && job.id}: failed: ${err.message}`));
  worker.on('error', (err) => console.error(`worker: ${err.message}`));
  console.log(`worker on ${queueName}: Ctrl-C to stop`);
  process.on('SIGINT', () => worker.close().then(() => process.exit(0)));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
