// Watches jobs live in Debian's headless Chromium through their event
// streams, with the browser's own EventSource and ts-check/jobStream.ts
// (the streaming React hook's core, compiled here by TypeScript):
//   - a running job whose worker (the stub's control surface, driven from
//     here) reports progress every 300 ms, then completes: each value
//     arrives as it moves, across the stream's reconnections (the
//     conformance stub closes every stream after a second; EventSource comes
//     back with Last-Event-ID), then `end`;
//   - job_done_001 (completed): its state, then `end` (completed);
//   - a stub with push turned off (PUT /__stub/push): the watcher is told
//     to poll, and GET still answers.
//
//   node browser-test/check-stream.mjs http://127.0.0.1:3000
//
// No network beyond loopback: any other request fails the run.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { chromium } from 'playwright-core';

const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(base)) {
  console.error('usage: node browser-test/check-stream.mjs http://127.0.0.1:<port>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

let checks = 0;
const failures = [];
function check(name, ok, why = '') {
  checks += 1;
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${name}${ok || !why ? '' : `: ${why}`}`);
  if (!ok) failures.push(`${name}${why ? `: ${why}` : ''}`);
}

// The module the hook uses, as the browser runs it.
const source = fs.readFileSync(path.join(root, 'ts-check/jobStream.ts'), 'utf8');
const { outputText } = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
});

const browser = await chromium.launch({ executablePath, headless: true });
try {
  const page = await browser.newPage();
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base) || url.startsWith('data:')) return route.continue();
    failures.push(`request beyond loopback: ${url}`);
    return route.abort();
  });
  // Any page of the stub's origin: the streams are same-origin requests.
  await page.goto(`${base}/healthz`);

  // Runs watchJobEvents in the page for `jobId` until `end`, unavailability
  // or `ms`; returns what the handlers saw.
  const watch = (jobId, ms) =>
    page.evaluate(
      async ({ code, jobId, ms }) => {
        const module = await import(`data:text/javascript,${encodeURIComponent(code)}`);
        return await new Promise((resolve) => {
          const seen = { jobs: [], end: null, unavailable: false };
          let stop = () => {};
          const finish = () => {
            stop();
            resolve(seen);
          };
          stop = module.watchJobEvents(jobId, {
            onJob: (data) => seen.jobs.push({ status: data.job.status, progress: data.job.progress }),
            onEnd: (end) => {
              seen.end = end;
              finish();
            },
            onUnavailable: () => {
              seen.unavailable = true;
              finish();
            },
          });
          setTimeout(finish, ms);
        });
      },
      { code: outputText, jobId, ms },
    );

  const control = (route, body) =>
    fetch(`${base}/__stub/${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const created = await control('jobs', { id: 'browser_live', status: 'active' });
  check('a running job created', created.ok, String(created.status));
  const watching = watch('browser_live', 15000);
  const steps = [10, 20, 30, 40, 50, 60, 70, 80, 90];
  for (const progress of steps) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    await control('jobs/browser_live/progress', { progress });
  }
  await control('jobs/browser_live/complete', {});
  const live = await watching;
  const progress = live.jobs.filter((j) => j.status === 'active').map((j) => j.progress);
  check('the running job\'s first event is its state', live.jobs[0]?.status === 'active', JSON.stringify(live.jobs[0]));
  const rising = progress.every((p, i) => i === 0 || p >= progress[i - 1]);
  const seenSteps = steps.filter((step) => progress.includes(step)).length;
  check('its progress arrives as it moves, across reconnections', rising && seenSteps >= 6, JSON.stringify(progress));
  check('then its completion and end', live.jobs.at(-1)?.status === 'completed' && live.end?.reason === 'completed', JSON.stringify(live.end));

  const done = await watch('job_done_001', 4000);
  check('a completed job: its state, then end', done.jobs.at(-1)?.status === 'completed' && done.end?.reason === 'completed', JSON.stringify(done));

  const push = await fetch(`${base}/__stub/push`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: '{"enabled":false}',
  });
  check('push turned off', push.ok);
  const fallback = await watch('job_abc123', 4000);
  check('without a stream the watcher is told to poll', fallback.unavailable && fallback.jobs.length === 0, JSON.stringify(fallback));
  const polled = await page.evaluate(async () => (await fetch('/api/jobs/job_abc123')).status);
  check('GET still answers', polled === 200, String(polled));
} finally {
  await browser.close();
}

if (failures.length > 0) {
  console.error(`browser-test: ${failures.length} of ${checks} failed:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`browser-test: ${checks} passed`);
