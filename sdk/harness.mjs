// Harness for the SDK suite: runs a real campaignd binary as a child process and hands out
// official `stream-chat` clients pointed at it (only baseURL changed), plus helpers for raw HTTP,
// hand-made JWTs, error assertions and a webhook receiver.
//
// Contract:
//   - startServer(opts) starts `$CAMPAIGND_BIN` (default ../bin/campaignd) with
//     -httpListenAddr=127.0.0.1:<free port> -storageDataPath=<fresh temp dir> -apiKey -apiSecret
//     (+ -webhook.url when opts.webhook), waits until GET /healthz answers 200, and returns a handle.
//   - handle.stop() sends SIGTERM, waits for exit (SIGKILL after 15 s), closes the webhook receiver
//     and removes the temp dir (unless opts.dataDir was given by the caller).
//   - Server output is kept (last 400 lines) and printed to stderr when startup fails or when
//     CAMPAIGND_SDK_LOGS=1.

import { spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

// The SDK lets these override the constructor's baseURL; they must never leak into the suite.
delete process.env.STREAM_LOCAL_TEST_RUN;
delete process.env.STREAM_LOCAL_TEST_HOST;

const { StreamChat } = await import('stream-chat');

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = path.resolve(here, process.env.CAMPAIGND_BIN || '../bin/campaignd');

/** Returns a short random suffix for ids that must not collide within one server. */
export function rnd(n = 6) {
  return randomBytes(n).toString('hex');
}

/** Returns a TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

/** Signs an HS256 JWT (or any header given) over payload with secret, without a library. */
export function signJWT(payload, secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const unsigned = b64url(JSON.stringify(header)) + '.' + b64url(JSON.stringify(payload));
  if (header.alg === 'none') return unsigned + '.';
  const sig = createHmac('sha256', secret).update(unsigned).digest('base64url');
  return unsigned + '.' + sig;
}

/** Starts a webhook receiver on 127.0.0.1; every POST body is recorded raw with its headers. */
export async function startWebhookReceiver() {
  const events = [];
  const all = [];
  const waiters = [];
  let status = 200;
  let failures = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let json;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        json = undefined;
      }
      let answer = status;
      if (failures > 0) {
        failures--;
        answer = 500;
      }
      const rec = { method: req.method, url: req.url, headers: req.headers, raw, json, status: answer, at: Date.now() };
      all.push(rec);
      res.writeHead(answer, { 'content-type': 'application/json' });
      res.end('{}');
      if (answer >= 200 && answer < 300) {
        events.push(rec);
        for (const w of [...waiters]) {
          if (w.pred(rec)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(rec);
          }
        }
      }
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  return {
    url,
    /** Deliveries answered 2xx, in arrival order. */
    events,
    /** Every request received, whatever it was answered with. */
    all,
    /** Sets the HTTP status the receiver answers with (non-2xx deliveries are not in events). */
    setStatus(s) {
      status = s;
    },
    /** Answers the next n requests with 500. */
    failNext(n) {
      failures = n;
    },
    /** Resolves with the first recorded delivery matching pred (past or future); rejects after ms. */
    waitFor(pred, ms = 15000, what = 'webhook') {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            const seen = events.map((e) => e.json?.type).join(', ');
            reject(new Error(`timed out after ${ms}ms waiting for ${what}; received: [${seen}]`));
          }
        }, ms).unref();
      });
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/**
 * Starts campaignd. Options:
 *   webhook: true            also start a receiver and pass -webhook.url
 *   dataDir: string          reuse this storage dir (caller owns it; not removed on stop)
 *   key, secret: string      credentials (random by default)
 *   flags: string[]          extra flags
 */
export async function startServer(opts = {}) {
  try {
    await access(BIN, fsConstants.X_OK);
  } catch {
    throw new Error(`campaignd binary not found or not executable at ${BIN} (set CAMPAIGND_BIN or run make build)`);
  }
  const key = opts.key || `key${rnd(4)}`;
  const secret = opts.secret || `secret${rnd(12)}`;
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir || (await mkdtemp(path.join(os.tmpdir(), 'campaignd-sdk-')));
  const webhook = opts.webhook ? await startWebhookReceiver() : null;

  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const flags = [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${dataDir}`,
      `-apiKey=${key}`,
      `-apiSecret=${secret}`,
      ...(webhook ? [`-webhook.url=${webhook.url}`] : []),
      ...(opts.flags || []),
    ];
    const env = { ...process.env };
    delete env.CAMPAIGND_API_KEY;
    delete env.CAMPAIGND_API_SECRET;
    const child = spawn(BIN, flags, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const lines = [];
    const keep = (chunk) => {
      for (const l of chunk.toString('utf8').split('\n')) {
        if (!l) continue;
        lines.push(l);
        if (lines.length > 400) lines.shift();
        if (process.env.CAMPAIGND_SDK_LOGS) process.stderr.write(`[campaignd:${port}] ${l}\n`);
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    // A server a test forgot to stop must not keep the test process alive; the exit hook below
    // kills it when the process ends.
    child.unref();
    child.stdout.unref?.();
    child.stderr.unref?.();
    let exited = null;
    const exitP = new Promise((r) => {
      child.on('exit', (code, signal) => {
        exited = { code, signal };
        r(exited);
      });
      // spawn failures (ENOENT, EACCES) emit 'error' and never 'exit'
      child.on('error', (e) => {
        if (child.pid === undefined) {
          exited = exited || { code: null, signal: null, error: e.message };
          r(exited);
        }
      });
    });
    const killOnExit = () => child.kill('SIGKILL');
    process.on('exit', killOnExit);

    const baseURL = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20000;
    let healthy = false;
    while (Date.now() < deadline && !exited) {
      try {
        const r = await fetch(baseURL + '/healthz', { signal: AbortSignal.timeout(1000) });
        await r.arrayBuffer();
        if (r.status === 200) {
          healthy = true;
          break;
        }
      } catch {
        /* not listening yet */
      }
      await sleep(50);
    }
    if (!healthy) {
      child.kill('SIGKILL');
      await exitP;
      process.off('exit', killOnExit);
      lastErr = new Error(
        `campaignd (${BIN}) did not become healthy on port ${port}` +
          (exited ? ` (exited: ${JSON.stringify(exited)})` : '') +
          `\n--- campaignd output ---\n${lines.join('\n')}`,
      );
      // A port race shows up as an early exit; retry on another port.
      if (exited && /address already in use/i.test(lines.join('\n'))) continue;
      break;
    }

    let stopped = false;
    const handle = {
      key,
      secret,
      port,
      baseURL,
      dataDir,
      webhook,
      child,
      logs: () => lines.join('\n'),
      exitInfo: () => exited,
      /** A new server-side SDK client (key + secret), only baseURL changed. */
      client(extra = {}) {
        return new StreamChat(key, secret, { baseURL, ...extra });
      },
      /** A server token exactly like the SDK's: {"server":true}, HS256. */
      serverToken() {
        return signJWT({ server: true }, secret);
      },
      /** Raw HTTP with the SDK's conventions (api_key in the query, raw JWT in Authorization). */
      raw(method, p, { query = {}, headers = {}, body, apiKey = key, token } = {}) {
        return rawRequest(baseURL, method, p, {
          query,
          headers,
          body,
          apiKey,
          token: token === undefined ? signJWT({ server: true }, secret) : token,
        });
      },
      /** SIGTERM, wait (SIGKILL after 15 s), then clean up. Resolves with {code, signal}. */
      async stop({ keepData = false } = {}) {
        if (stopped) return exited;
        stopped = true;
        if (!exited) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 15000);
          await exitP;
          clearTimeout(t);
        }
        process.off('exit', killOnExit);
        if (webhook && !opts.keepWebhook) await webhook.close();
        if (ownDir && !keepData) await rm(dataDir, { recursive: true, force: true });
        return exited;
      },
    };
    return handle;
  }
  if (webhook) await webhook.close();
  if (ownDir) await rm(dataDir, { recursive: true, force: true });
  throw lastErr;
}

/**
 * Sends one HTTP request the way the SDK would, but lets the caller break any part of it.
 * apiKey/token null → omitted. Resolves with {status, json, text, headers}.
 */
export async function rawRequest(baseURL, method, p, { query = {}, headers = {}, body, apiKey, token } = {}) {
  const qs = new URLSearchParams();
  if (apiKey != null) qs.set('api_key', apiKey);
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    qs.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  const h = { 'stream-auth-type': 'jwt', ...headers };
  if (token != null) h.authorization = token;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
  }
  const r = await fetch(`${baseURL}${p}?${qs}`, { method, headers: h, body: payload });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text, headers: r.headers };
}

/** Asserts the Stream error envelope of spec §3.1 on a raw error body. */
export function assertErrorEnvelope(json, status, code) {
  assert.ok(json && typeof json === 'object', `error body must be a JSON object, got ${JSON.stringify(json)}`);
  assert.equal(json.code, code, `code: ${JSON.stringify(json)}`);
  assert.equal(typeof json.message, 'string');
  assert.ok(json.message.length > 0, 'message must not be empty');
  assert.equal(json.StatusCode, status, `StatusCode: ${JSON.stringify(json)}`);
  assert.match(String(json.duration), /^\d+(\.\d+)?ms$/, `duration: ${JSON.stringify(json)}`);
  assert.equal(typeof json.more_info, 'string', `more_info: ${JSON.stringify(json)}`);
}

/**
 * Awaits p and asserts it rejects with the SDK's ErrorFromResponse carrying HTTP status and Stream
 * code. Returns the error for further checks.
 */
export async function rejectsWith(p, status, code, msgRe) {
  let err;
  try {
    const res = await p;
    assert.fail(`expected HTTP ${status} code ${code}, got success: ${JSON.stringify(res).slice(0, 500)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  const body = err.response?.data;
  assert.equal(err.name, 'ErrorFromResponse', `not an ErrorFromResponse: ${err.stack}`);
  assert.equal(err.status, status, `status: ${err.message} ${JSON.stringify(body)}`);
  assert.equal(err.code, code, `code: ${err.message} ${JSON.stringify(body)}`);
  assertErrorEnvelope(body, status, code);
  if (msgRe) assert.match(err.message, msgRe);
  return err;
}

/** Asserts a Stream success envelope's duration field. */
export function assertDuration(res) {
  assert.match(String(res?.duration), /^\d+(\.\d+)?ms$/, `duration missing/bad in ${JSON.stringify(res).slice(0, 300)}`);
}

/** Asserts s is an RFC 3339 timestamp string and returns its epoch ms. */
export function ts(s, what = 'timestamp') {
  assert.equal(typeof s, 'string', `${what} must be a string, got ${JSON.stringify(s)}`);
  assert.match(s, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/, `${what}: ${s}`);
  const t = Date.parse(s);
  assert.ok(!Number.isNaN(t), `${what} unparsable: ${s}`);
  return t;
}

/** Polls fn until it returns a truthy value or ms pass; returns the last value. */
export async function eventually(fn, ms = 20000, every = 100) {
  const deadline = Date.now() + ms;
  let v;
  for (;;) {
    v = await fn();
    if (v || Date.now() > deadline) return v;
    await sleep(every);
  }
}

export { StreamChat };
