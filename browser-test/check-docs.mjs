// Opens the stub's two documentation pages in Debian's headless Chromium and
// checks that a person would see the API there:
//   /docs            Swagger UI (utoipa-swagger-ui, vendored)
//   /docs/reference  the Redocly page built from openapi.yaml
// For each of the three operations: its summary, method and path; for each
// documented error status: every named example's `error` and `details`, as
// rendered (the expectations are read from the stub's /openapi.json, which
// is openapi.yaml verbatim). Screenshots go to artifacts/.
//
// No network beyond loopback: every request to another host is aborted and
// fails the run (the only exception is Redoc's "API docs by Redocly" logo,
// an <img> it hides itself when it cannot load).
//
//   node browser-test/check-docs.mjs http://127.0.0.1:3000
//
// Chromium comes from Debian (`apt-get install chromium`); playwright-core is
// pinned in package.json and downloads no browser.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const base = (process.argv[2] || '').replace(/\/+$/, '');
if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(base)) {
  console.error('usage: node browser-test/check-docs.mjs http://127.0.0.1:<port>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = path.resolve(process.env.ARTIFACTS_DIR || 'artifacts');
fs.mkdirSync(artifacts, { recursive: true });

// The attribution logo Redoc's bundle loads from its CDN; Redoc hides the
// <img> on error, so the page is complete without it.
const TOLERATED_REMOTE = new Set([
  'https://cdn.redoc.ly/redoc/logo-mini-full.svg',
  'https://cdn.redoc.ly/redoc/logo-mini.svg',
]);

let checks = 0;
const failures = [];
function check(name, ok, why = '') {
  checks += 1;
  if (ok) {
    console.log(`  ok   ${name}`);
  } else {
    console.log(`  FAIL ${name}${why ? `: ${why}` : ''}`);
    failures.push(`${name}${why ? `: ${why}` : ''}`);
  }
}

/** What the spec says each page must show, per operation. */
async function expectations() {
  const response = await fetch(`${base}/openapi.json`);
  if (!response.ok) throw new Error(`GET /openapi.json answered ${response.status}`);
  const spec = await response.json();
  const resolve = (value) => {
    while (value && value.$ref) {
      value = value.$ref
        .replace(/^#\//, '')
        .split('/')
        .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce((node, key) => node[key], spec);
    }
    return value;
  };
  const operations = [];
  for (const [route, item] of Object.entries(spec.paths)) {
    for (const method of ['get', 'put', 'delete', 'post', 'patch']) {
      const op = item[method];
      if (!op) continue;
      const errors = [];
      for (const [code, raw] of Object.entries(op.responses)) {
        if (Number(code) < 400) continue;
        const answer = resolve(raw);
        const examples = answer.content?.['application/json']?.examples ?? {};
        errors.push({
          code,
          examples: Object.entries(examples).map(([name, ex]) => {
            const example = resolve(ex);
            return { name, summary: example.summary ?? name, value: example.value };
          }),
        });
      }
      operations.push({ id: op.operationId, summary: op.summary, method, route, errors });
    }
  }
  return operations;
}

/** `"error": "…"` and `"details": "…"` as a JSON viewer prints them. */
function jsonLines(value) {
  const lines = [`"error": ${JSON.stringify(value.error)}`];
  if (value.details != null) lines.push(`"details": ${JSON.stringify(value.details)}`);
  return lines;
}

function missingLines(text, value) {
  const flat = text.replace(/\s+/g, ' ');
  return jsonLines(value).filter((line) => !flat.includes(line));
}

async function checkSwagger(page, operations) {
  console.log(`Swagger UI: ${base}/docs`);
  await page.goto(`${base}/docs`, { waitUntil: 'load' });
  await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(artifacts, 'docs-swagger.png'), fullPage: true });
  for (const op of operations) {
    // The route exactly: `/api/jobs/{jobId}` is also the start of
    // `/api/jobs/{jobId}/events` (Swagger UI breaks paths with U+200B).
    const blocks = page.locator(`.opblock-${op.method}`);
    let block = null;
    let matches = 0;
    for (let i = 0; i < (await blocks.count()); i += 1) {
      const candidate = blocks.nth(i);
      const route = (await candidate.locator('.opblock-summary-path').first().innerText())
        .replace(/\u200b/g, '')
        .trim();
      if (route === op.route) {
        block = candidate;
        matches += 1;
      }
    }
    const found = matches === 1;
    check(`swagger ${op.id}: ${op.method.toUpperCase()} ${op.route} is listed`, found);
    if (!found) continue;
    const summary = await block.locator('.opblock-summary-description').innerText();
    check(`swagger ${op.id}: summary "${op.summary}"`, summary.trim() === op.summary, `shows "${summary}"`);
    await block.locator('.opblock-summary').first().click();
    await block.locator('.responses-table').first().waitFor();
    for (const error of op.errors) {
      const row = block.locator(`tr.response[data-code="${error.code}"]`);
      const shown = (await row.count()) === 1;
      check(`swagger ${op.id}: response ${error.code} is listed`, shown);
      if (!shown) continue;
      const select = row.locator('.examples-select select');
      for (const [index, example] of error.examples.entries()) {
        if ((await select.count()) > 0) {
          await select.first().selectOption({ value: example.name });
        } else if (index > 0) {
          check(`swagger ${op.id} ${error.code} ${example.name}`, false, 'no example selector');
          continue;
        }
        const text = await row.locator('.example, .highlight-code, .microlight').first().innerText();
        const missing = missingLines(text, example.value);
        check(`swagger ${op.id} ${error.code} example ${example.name}`, missing.length === 0,
          `missing ${missing.join(', ')}`);
      }
    }
    await block.screenshot({ path: path.join(artifacts, `docs-swagger-${op.id}.png`) });
  }
}

async function checkRedoc(page, operations) {
  console.log(`Redoc: ${base}/docs/reference`);
  await page.goto(`${base}/docs/reference`, { waitUntil: 'load' });
  await page.locator('[data-section-id]').first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(artifacts, 'docs-reference.png'), fullPage: true });
  for (const op of operations) {
    // Redoc renders operations lazily, by scroll position.
    await page.goto(`${base}/docs/reference#/jobs/${op.id.toLowerCase()}`, { waitUntil: 'load' });
    const section = page.locator(`[data-section-id$="/${op.id.toLowerCase()}"]`);
    const found = (await section.count()) === 1;
    check(`redoc ${op.id}: has a section`, found);
    if (!found) continue;
    await section.scrollIntoViewIfNeeded();
    await section.getByText(op.summary, { exact: true }).first().waitFor({ timeout: 15_000 }).catch(() => {});
    const text = await section.innerText();
    check(`redoc ${op.id}: summary "${op.summary}"`, text.includes(op.summary));
    check(`redoc ${op.id}: ${op.method.toUpperCase()} ${op.route}`,
      text.replace(/\s+/g, ' ').includes(`${op.method.toUpperCase()} ${op.route}`));
    const panel = section.locator('[data-testid=right-panel]').filter({
      has: page.locator('[data-component-name="Panel/PanelHeaderTitle"]', { hasText: /^Response$/ }),
    });
    if ((await panel.count()) !== 1) {
      check(`redoc ${op.id}: response samples panel`, false, `${await panel.count()} found`);
      continue;
    }
    for (const error of op.errors) {
      const tab = panel.getByRole('button', { name: error.code, exact: true });
      const shown = (await tab.count()) === 1;
      check(`redoc ${op.id}: response ${error.code} has a sample tab`, shown);
      if (!shown) continue;
      await tab.click();
      for (const example of error.examples) {
        const picker = panel.locator('[data-testid=dropdown] button[aria-label=Example]');
        if ((await picker.count()) > 0) {
          await picker.click();
          await page.getByRole('menuitem', { name: example.summary, exact: true }).first().click();
        }
        const viewer = await panel.locator('[data-testid=json-viewer]').innerText();
        const missing = missingLines(viewer, example.value);
        check(`redoc ${op.id} ${error.code} example ${example.name}`, missing.length === 0,
          `missing ${missing.join(', ')}`);
      }
    }
    await section.screenshot({ path: path.join(artifacts, `docs-reference-${op.id}.png`) });
  }
}

const operations = await expectations();
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jobs-docs-chromium-'));
// Playwright adds --headless and --user-data-dir (the fresh profile above).
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  viewport: { width: 1400, height: 1000 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // Belt and braces: no name but loopback resolves.
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
  ],
});

const blocked = [];
const pageErrors = [];
await context.route('**/*', (route) => {
  const url = new URL(route.request().url());
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (loopback || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
  if (!TOLERATED_REMOTE.has(url.href)) blocked.push(`${route.request().resourceType()} ${url.href}`);
  return route.abort('blockedbyclient');
});

try {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await checkSwagger(page, operations);
  await checkRedoc(page, operations);
} catch (error) {
  check("the checks ran to the end", false, String(error.stack || error));
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}

check('no request left loopback', blocked.length === 0, blocked.join('; '));
check('no uncaught script error', pageErrors.length === 0, pageErrors.join('; '));
console.log(`browser-test: ${checks - failures.length} passed, ${failures.length} failed`);
console.log(`screenshots in ${artifacts}`);
if (failures.length > 0) {
  for (const failure of failures) console.error(`FAIL ${failure}`);
  process.exit(1);
}
