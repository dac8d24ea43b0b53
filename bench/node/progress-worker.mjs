// A BullMQ worker whose jobs report progress on a schedule, for the push
// benchmark (bench/src/bin/push-bench.rs):
//
//   node bench/node/progress-worker.mjs <redis-url> <queue> <jobs> <steps> <interval-ms>
//
// Adds <jobs> jobs (ids `<queue>-1` …) and prints `added <ids JSON>`; then
// waits for a line on stdin (the watchers are open) before starting a
// Worker (concurrency <jobs>) whose processor calls `job.updateProgress`
// every <interval-ms>, <steps> times, then completes. Each progress value
// is `{t, n}`: `t` the wall-clock time of the call in milliseconds (with
// its fraction), so a watcher on the same machine measures how long the
// change took to reach it. Prints `done` when every job completed.
import readline from 'node:readline';
import { Queue, Worker } from 'bullmq';

const [url, queueName, jobsArg, stepsArg, intervalArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
const steps = Number(stepsArg);
const interval = Number(intervalArg);
const { hostname, port } = new URL(url);
const connection = { host: hostname, port: Number(port), maxRetriesPerRequest: null };

const queue = new Queue(queueName, { connection });
await queue.obliterate({ force: true });
const ids = [];
for (let n = 1; n <= jobs; n += 1) {
  const id = `${queueName}-${n}`;
  await queue.add('single-page', { url: `https://example.com/${n}` }, { jobId: id });
  ids.push(id);
}
console.log(`added ${JSON.stringify(ids)}`);

const lines = readline.createInterface({ input: process.stdin });
await new Promise((resolve) => lines.once('line', resolve));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const wallMs = () => performance.timeOrigin + performance.now();
let finished = 0;
const worker = new Worker(
  queueName,
  async (job) => {
    for (let n = 1; n <= steps; n += 1) {
      await sleep(interval);
      await job.updateProgress({ t: wallMs(), n });
    }
    return { steps };
  },
  { connection, concurrency: jobs },
);
await new Promise((resolve) => {
  worker.on('completed', () => {
    finished += 1;
    if (finished === jobs) resolve();
  });
});
console.log('done');
await worker.close();
await queue.close();
process.exit(0);
