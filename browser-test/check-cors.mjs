// The original React hook's fetches from a page on another origin, in
// Debian's headless Chromium: the stub (started here) allows one origin
// (--cors-allow-origin) and requires a bearer token.
//   - from the allowed origin: GET the job (the hook's poll), PUT pause,
//     PUT resume, DELETE (the hook's three actions), each with the token;
//     the ETag is readable (exposed), a wrong token's 401 and its
//     WWW-Authenticate are readable too;
//   - from another origin: every fetch fails in the browser (no CORS
//     header: the page never sees the answer), and the job is untouched.
//
//   node browser-test/check-cors.mjs target/debug/jobs-server-stub
//
// No network beyond loopback: any other request fails the run.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const stubBinary = process.argv[2];
if (!stubBinary) {
  console.error('usage: node browser-test/check-cors.mjs <path to jobs-server-stub>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = 'cors-t0ken';

let checks = 0;
const failures = [];
function check(name, ok, why = '') {
  checks += 1;
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${name}${ok || !why ? '' : `: ${why}`}`);
  if (!ok) failures.push(`${name}${why ? `: ${why}` : ''}`);
}

// Two pages' origins: one allowed, one not. Each serves an empty page.
function pageServer() {
  return new Promise((resolve) => {
    const server = http.createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>dashboard</title>');
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
const allowedPage = await pageServer();
const otherPage = await pageServer();
const allowedOrigin = `http://127.0.0.1:${allowedPage.address().port}`;
const otherOrigin = `http://127.0.0.1:${otherPage.address().port}`;

// The stub's access log (INFO: every action and every refusal).
const stubLog = [];
const stub = spawn(
  stubBinary,
  ['--port', '0', '--workers', '0', '--auth-token', TOKEN, '--cors-allow-origin', allowedOrigin],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: 'info' } },
);
const api = await new Promise((resolve, reject) => {
  let out = '';
  stub.stdout.on('data', (chunk) => {
    out += chunk;
    const found = out.match(/listening on (http:\/\/[0-9.:]+)/);
    if (found) resolve(found[1]);
    stubLog.push(...String(chunk).split('\n'));
    if (process.env.STUB_LOG) process.stderr.write(chunk);
  });
  stub.on('exit', (code) => reject(new Error(`the stub exited (${code})`)));
  setTimeout(() => reject(new Error('the stub printed no URL')), 10000);
});
console.log(`stub at ${api}, allowed origin ${allowedOrigin}, other origin ${otherOrigin}`);
// A waiting job (no simulated worker takes it: the stub runs none).
const JOB = 'job_dashboard_1';
const made = await fetch(`${api}/__stub/jobs`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
  body: JSON.stringify({ id: JOB, status: 'waiting' }),
});
if (!made.ok) throw new Error(`cannot make the job: ${made.status}`);

// The hook's fetches, run in the page, against the API's origin.
const hook = ({ api, jobId, token }) => {
  const url = `${api}/api/jobs/${jobId}`;
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  const outcome = async (request) => {
    try {
      const response = await request();
      const body = await response.json().catch(() => null);
      return {
        status: response.status,
        etag: response.headers.get('etag'),
        challenge: response.headers.get('www-authenticate'),
        body,
      };
    } catch (error) {
      return { blocked: String(error) };
    }
  };
  return (async () => ({
    get: await outcome(() => fetch(url, { headers: auth })),
    pause: await outcome(() =>
      fetch(url, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', ...auth },
        body: JSON.stringify({ action: 'pause' }),
      }),
    ),
    resume: await outcome(() =>
      fetch(url, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', ...auth },
        body: JSON.stringify({ action: 'resume' }),
      }),
    ),
    cancel: await outcome(() => fetch(url, { method: 'DELETE', headers: auth })),
  }))();
};

const browser = await chromium.launch({ executablePath, headless: true });
try {
  const context = await browser.newContext();
  // Watched, not intercepted: with interception on, Chromium sends
  // cross-origin requests without their preflight, which is what this
  // test is about.
  context.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith('http://127.0.0.1:')) failures.push(`request beyond loopback: ${url}`);
  });

  const other = await context.newPage();
  await other.goto(otherOrigin);
  const refused = await other.evaluate(hook, { api, jobId: JOB, token: TOKEN });
  for (const [name, result] of Object.entries(refused)) {
    check(`another origin: ${name} is blocked by the browser`, 'blocked' in result, JSON.stringify(result));
  }

  const page = await context.newPage();
  await page.goto(allowedOrigin);
  const wrong = await page.evaluate(hook, { api, jobId: JOB, token: 'wrong' });
  check('allowed origin, wrong token: 401 readable', wrong.get.status === 401, JSON.stringify(wrong.get));
  check(
    'allowed origin, wrong token: WWW-Authenticate readable',
    wrong.get.challenge === 'Bearer error="invalid_token"',
    JSON.stringify(wrong.get),
  );
  check('allowed origin, wrong token: nothing cancelled', wrong.cancel.status === 401, JSON.stringify(wrong.cancel));
  check(
    'another origin: the actions never reached the server (preflight refused)',
    !stubLog.some((line) => / method=(PUT|DELETE) /.test(line) && / status=200 /.test(line)),
  );
  // The other origin's attempt and the wrong token left the job as it was.
  const seen = await page.evaluate(hook, { api, jobId: JOB, token: TOKEN });
  check('allowed origin: GET answers the job', seen.get.status === 200 && seen.get.body?.job?.id === JOB, JSON.stringify(seen.get));
  check('allowed origin: the job was untouched before', seen.get.body?.job?.status === 'waiting', JSON.stringify(seen.get));
  check('allowed origin: the ETag is exposed', /^W\/"/.test(seen.get.etag || ''), JSON.stringify(seen.get));
  check('allowed origin: pause', seen.pause.status === 200 && seen.pause.body?.job?.status === 'paused', JSON.stringify(seen.pause));
  check('allowed origin: resume', seen.resume.status === 200 && seen.resume.body?.job?.status === 'waiting', JSON.stringify(seen.resume));
  check('allowed origin: cancel', seen.cancel.status === 200 && seen.cancel.body?.success === true, JSON.stringify(seen.cancel));
} finally {
  await browser.close();
  stub.kill();
  allowedPage.close();
  otherPage.close();
}

if (failures.length > 0) {
  console.error(`browser-test: ${failures.length} of ${checks} checks failed`);
  for (const failure of failures) console.error(`  - ${failure}`);
  process.exit(1);
}
console.log(`browser-test: ${checks} passed`);
