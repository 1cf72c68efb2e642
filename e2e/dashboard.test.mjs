// The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
// no browser is downloaded): log in with the key and secret, watch a campaign run (progress bar,
// sends/s chart, stats matching the API), stop it with its button, start another, replay dead
// letters. A screenshot of the running campaign is saved in E2E_OUTPUT_DIR (default e2e/output/).
//
// Needs CAMPAIGND_BIN (default ../bin/campaignd) and CHROMIUM (default /usr/bin/chromium).

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(here, process.env.CAMPAIGND_BIN || '../bin/campaignd');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = path.resolve(here, process.env.E2E_OUTPUT_DIR || 'output');
const KEY = 'e2e-key';
const SECRET = 'e2e-secret-' + Math.random().toString(36).slice(2);
const USERS = 60000;
const RATE = 3000; // max_messages_per_second of the watched campaign: it runs about 20 s

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function serverToken() {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ server: true });
  return unsigned + '.' + createHmac('sha256', SECRET).update(unsigned).digest('base64url');
}

let proc, base, dataDir, hook, browserCtx, page;
let rejectStarted = true; // the webhook receiver refuses campaign.started events (dead letters)
const logs = [];

async function api(method, p, body, contentType = 'application/json') {
  const sep = p.includes('?') ? '&' : '?';
  const res = await fetch(`${base}${p}${sep}api_key=${KEY}`, {
    method,
    headers: { Authorization: serverToken(), ...(body !== undefined ? { 'Content-Type': contentType } : {}) },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const json = await res.json().catch(() => ({}));
  return { status: res.status, json };
}

async function waitFor(what, fn, timeoutMs = 30000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
    await sleep(everyMs);
  }
}

before(async () => {
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const type = (() => { try { return JSON.parse(body).type; } catch { return ''; } })();
      res.statusCode = rejectStarted && type === 'campaign.started' ? 422 : 200;
      res.end();
    });
  });
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));

  dataDir = await mkdtemp(path.join(os.tmpdir(), 'campaignd-e2e-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  proc = spawn(BIN, [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dataDir}/data`, `-apiKey=${KEY}`, `-apiSecret=${SECRET}`,
    `-webhook.url=http://127.0.0.1:${hook.address().port}/hook`, '-rateLimits=off'], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr.on('data', (d) => { logs.push(String(d)); if (logs.length > 400) logs.shift(); });
  await waitFor('campaignd /healthz', async () => (await fetch(`${base}/healthz`)).status === 200, 20000, 50);

  // Users, a segment and two campaigns through the API.
  const lines = [];
  lines.push(JSON.stringify({ id: 'sender', name: 'The Shop' }));
  for (let i = 0; i < USERS; i++) lines.push(JSON.stringify({ id: `u${String(i).padStart(6, '0')}`, name: `User ${i}` }));
  const imp = await api('POST', '/users/import', lines.join('\n') + '\n', 'application/x-ndjson');
  assert.equal(imp.status, 201, JSON.stringify(imp.json));
  assert.equal(imp.json.imported, USERS + 1);
  const seg = await api('POST', '/segments', { id: 'everyone', type: 'user', name: 'Everyone', all_users: true });
  assert.equal(seg.status, 201, JSON.stringify(seg.json));
  const vip = await api('POST', '/segments', { id: 'vip', type: 'user', name: 'VIP customers' });
  assert.equal(vip.status, 201, JSON.stringify(vip.json));
  assert.equal((await api('POST', '/segments/vip/addtargets', { target_ids: ['u000001', 'u000002', 'u000003'] })).status, 201);
  await waitFor('the segment size', async () => (await api('GET', '/segments/everyone')).json.segment?.size === USERS + 1);

  const mk = async (id, name, extra) => {
    const r = await api('POST', '/campaigns', {
      id, name, sender_id: 'sender', message_template: { text: 'Hello {{ receiver.name }}, our summer sale starts today!' },
      create_channels: true, channel_template: { type: 'messaging' }, ...extra,
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
  };
  await mk('vip-preview', 'VIP preview', { segment_ids: ['vip'] });
  await mk('summer-sale', 'Summer sale', { segment_ids: ['everyone'], max_messages_per_second: RATE });
  await mk('autumn-teaser', 'Autumn teaser', { user_ids: ['u000010', 'u000011'] });
  // The first one runs to completion before the page opens.
  assert.equal((await api('POST', '/campaigns/vip-preview/start', {})).status, 201);
  await waitFor('vip-preview completed', async () => (await api('GET', '/campaigns/vip-preview')).json.campaign?.status === 'completed');

  await mkdir(OUT, { recursive: true });
  const profile = await mkdtemp(path.join(os.tmpdir(), 'campaignd-e2e-chromium-'));
  browserCtx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  page = browserCtx.pages()[0] || await browserCtx.newPage();
});

after(async () => {
  await browserCtx?.close().catch(() => {});
  if (proc && proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((r) => { const t = setTimeout(() => { proc.kill('SIGKILL'); r(); }, 15000); proc.on('exit', () => { clearTimeout(t); r(); }); });
  }
  hook?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  if (process.env.CAMPAIGND_E2E_LOGS) process.stderr.write(logs.join(''));
});

test('the dashboard needs a login and keeps no secret', async () => {
  const res = await fetch(`${base}/dashboard/api/state`);
  assert.equal(res.status, 401);
  await page.goto(`${base}/`);
  await page.click('a[href="/dashboard"]');
  await page.waitForSelector('#login');
  await page.fill('#api_key', KEY);
  await page.fill('#api_secret', 'wrong');
  await page.click('#login_button');
  await page.waitForFunction(() => document.getElementById('login_error').textContent !== '');
  assert.match(await page.textContent('#login_error'), /wrong API key or secret/);

  await page.fill('#api_secret', SECRET);
  await page.click('#login_button');
  await page.waitForSelector('body[data-ready="true"]');
  const cookies = await browserCtx.cookies(`${base}/dashboard`);
  const session = cookies.find((c) => c.name === 'campaignd_dashboard');
  assert.ok(session, 'no session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.ok(!session.value.includes(SECRET));
  assert.ok(session.expires * 1000 - Date.now() <= 3600 * 1000 + 5000, 'the session lasts more than an hour');
  const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
  assert.ok(!stored.includes(SECRET), `the page stored the secret: ${stored}`);
  assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is readable by the page');
});

test('a campaign started from the dashboard runs live on the page, then stops from it', async () => {
  // Segments with their sizes and the completed campaign.
  await page.waitForSelector('#segments tbody tr >> text=Everyone');
  const segText = await page.textContent('#segments tbody');
  assert.match(segText, /Everyone.*60,001/s);
  assert.match(segText, /VIP customers.*3/s);
  const vipRow = page.locator('#campaigns tr[data-id="vip-preview"]');
  await vipRow.waitFor();
  assert.equal(await vipRow.getAttribute('data-status'), 'completed');
  assert.match(await vipRow.textContent(), /100%/);

  // Start the big one with its button.
  await page.click('#campaigns tr[data-id="summer-sale"] button[data-action="start"]');
  const row = page.locator('#campaigns tr[data-id="summer-sale"]');
  await page.waitForSelector('#campaigns tr[data-id="summer-sale"][data-status="in_progress"]', { timeout: 15000 });

  // The progress bar and the sent count move while the page is open, the chart shows the rate.
  const sentOnPage = async () => Number((await row.locator('td.sent').textContent()).replace(/,/g, ''));
  const first = await waitFor('sends on the page', async () => { const n = await sentOnPage(); return n > 0 ? n : 0; }, 30000);
  const second = await waitFor('more sends on the page', async () => { const n = await sentOnPage(); return n > first ? n : 0; }, 30000);
  assert.ok(second > first);
  await waitFor('a send rate on the chart', async () => Number((await page.textContent('#rate_now')).replace(/,/g, '')) > 0, 15000);
  await waitFor('the progress bar at 15%', async () => {
    const w = await row.locator('.fill').evaluate((e) => parseFloat(e.style.width));
    return w >= 15;
  }, 60000, 200);
  const shot = path.join(OUT, 'dashboard-running.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot of the running campaign: ${shot}`);

  // The page's numbers are the API's (within one poll).
  const apiCamp = (await api('GET', '/campaigns/summer-sale')).json.campaign;
  assert.equal(apiCamp.status, 'in_progress');
  const onPage = await sentOnPage();
  assert.ok(Math.abs(apiCamp.stats.stats_messages_sent - onPage) <= RATE * 3,
    `page shows ${onPage} sent, the API ${apiCamp.stats.stats_messages_sent}`);
  assert.match(await row.textContent(), / \/ 60,00[01]/); // done / the frozen audience

  // Stop it from the page.
  await row.locator('button[data-action="stop"]').click();
  await page.waitForSelector('#campaigns tr[data-id="summer-sale"][data-status="stopped"]', { timeout: 15000 });
  const stopped = (await api('GET', '/campaigns/summer-sale')).json.campaign;
  assert.equal(stopped.status, 'stopped');
  assert.ok(stopped.stats.stats_messages_sent < USERS, 'the campaign completed before it was stopped');

  // A small one starts and completes from the page.
  await page.click('#campaigns tr[data-id="autumn-teaser"] button[data-action="start"]');
  await page.waitForSelector('#campaigns tr[data-id="autumn-teaser"][data-status="completed"]', { timeout: 30000 });
  assert.match(await page.textContent('#campaigns tr[data-id="autumn-teaser"]'), /100%/);
});

test('outbox lag per sink and dead letters with replay', async () => {
  const sinkRow = page.locator('#sinks tr[data-sink="webhook"]');
  await sinkRow.waitFor();
  // Every campaign.started event was refused (422): dead letters, then replayed once accepted.
  const dlRow = page.locator('#deadletters tr[data-sink="webhook"]');
  await waitFor('3 webhook dead letters on the page', async () => (await dlRow.locator('td.count').textContent()) === '3', 60000, 200);
  assert.match(await dlRow.textContent(), /campaign\.started: HTTP 422/);
  await waitFor('webhook lag back to 0', async () => (await sinkRow.locator('td.lag').textContent()) === '0', 120000, 250);
  rejectStarted = false;
  await dlRow.locator('button[data-replay="webhook"]').click();
  await waitFor('the replay', async () => /replayed 3: 3 delivered, 0 failed/.test(await page.textContent('#action_error')), 30000);
  await waitFor('no dead letters on the page', async () => (await dlRow.locator('td.count').textContent()) === '0', 15000);
  const left = await api('GET', '/campaignd/deadletters?sink=webhook');
  assert.equal(left.json.dead_letters.length, 0);

  // Logout ends the session.
  await page.click('#logout');
  await page.waitForSelector('#login');
  assert.equal((await page.evaluate(async () => (await fetch('/dashboard/api/state')).status)), 401);
});
