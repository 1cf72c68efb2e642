// Foundation (issue #2 items 2–4): healthz, authentication, error/success envelopes, graceful stop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, signJWT, rejectsWith, assertErrorEnvelope, assertDuration, rawRequest, StreamChat } from '../harness.mjs';

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

const QUERY = { payload: { filter_conditions: {}, sort: [], presence: false } };
const now = () => Math.floor(Date.now() / 1000);

test('GET /healthz answers 200 without credentials', async () => {
  const r = await fetch(srv.baseURL + '/healthz');
  assert.equal(r.status, 200);
});

test('the server token the SDK builds is accepted and success bodies carry duration', async () => {
  const res = await srv.client().queryUsers({});
  assert.ok(Array.isArray(res.users));
  assertDuration(res);
});

test('a client with a wrong secret gets 401 code 43', async () => {
  const bad = new StreamChat(srv.key, 'not-the-secret', { baseURL: srv.baseURL });
  const err = await rejectsWith(bad.queryUsers({}), 401, 43);
  assert.match(err.message, /^StreamChat error code 43: /);
});

test('a client with an unknown api key gets 401 code 2', async () => {
  const bad = new StreamChat('unknown-key', srv.secret, { baseURL: srv.baseURL });
  await rejectsWith(bad.queryUsers({}), 401, 2);
});

test('missing api_key gets 401 code 2', async () => {
  const r = await srv.raw('GET', '/users', { query: QUERY, apiKey: null });
  assert.equal(r.status, 401, r.text);
  assertErrorEnvelope(r.json, 401, 2);
});

test('missing Authorization header gets 401 code 5', async () => {
  const r = await srv.raw('GET', '/users', { query: QUERY, token: null });
  assert.equal(r.status, 401, r.text);
  assertErrorEnvelope(r.json, 401, 5);
});

test('a token that is not a JWT gets 401 code 5', async () => {
  const r = await srv.raw('GET', '/users', { query: QUERY, token: 'not-a-jwt' });
  assert.equal(r.status, 401, r.text);
  assertErrorEnvelope(r.json, 401, 5);
});

test('alg none is rejected with 401', async () => {
  const token = signJWT({ server: true }, srv.secret, { alg: 'none', typ: 'JWT' });
  const r = await srv.raw('GET', '/users', { query: QUERY, token });
  assert.equal(r.status, 401, r.text);
  // The spec lists no dedicated code for a forbidden algorithm: 5 (authentication) or 43 (signature).
  assert.ok([5, 43].includes(r.json?.code), r.text);
  assertErrorEnvelope(r.json, 401, r.json.code);
});

test('HS512 (a different algorithm with the right secret) is rejected with 401', async () => {
  const { createHmac } = await import('node:crypto');
  const header = Buffer.from(JSON.stringify({ alg: 'HS512', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify({ server: true })).toString('base64url');
  const sig = createHmac('sha512', srv.secret).update(`${header}.${payload}`).digest('base64url');
  const r = await srv.raw('GET', '/users', { query: QUERY, token: `${header}.${payload}.${sig}` });
  assert.equal(r.status, 401, r.text);
});

test('a "Bearer " prefix is not needed (raw JWT like the SDK sends)', async () => {
  const r = await srv.raw('GET', '/users', { query: QUERY });
  assert.equal(r.status, 200, r.text);
  assertDuration(r.json);
});

test('token time claims: exp past → 40, nbf future → 41, iat future → 42', async () => {
  const cases = [
    [{ server: true, exp: now() - 3600 }, 40],
    [{ server: true, nbf: now() + 3600 }, 41],
    [{ server: true, iat: now() + 3600 }, 42],
  ];
  for (const [claims, code] of cases) {
    const r = await srv.raw('GET', '/users', { query: QUERY, token: signJWT(claims, srv.secret) });
    assert.equal(r.status, 401, `${JSON.stringify(claims)}: ${r.text}`);
    assertErrorEnvelope(r.json, 401, code);
  }
});

test('server tokens with valid time claims or server:"true" pass', async () => {
  for (const claims of [{ server: true, exp: now() + 3600, iat: now() - 10 }, { server: 'true' }, { exp: now() + 600 }]) {
    const r = await srv.raw('GET', '/users', { query: QUERY, token: signJWT(claims, srv.secret) });
    assert.equal(r.status, 200, `${JSON.stringify(claims)}: ${r.text}`);
  }
});

test('a user token (client.createToken) on server-only segment/campaign endpoints gets 403 code 17', async () => {
  const token = srv.client().createToken('u1');
  assert.equal(JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).user_id, 'u1');
  const calls = [
    ['POST', '/segments', { type: 'user', id: null, name: 'x' }],
    ['GET', '/segments/anything'],
    ['POST', '/segments/query', { filter: {} }],
    ['POST', '/campaigns/query', { filter: {} }],
    ['GET', '/campaigns/anything'],
  ];
  for (const [method, p, body] of calls) {
    const r = await srv.raw(method, p, { token, body });
    assert.equal(r.status, 403, `${method} ${p}: ${r.text}`);
    assertErrorEnvelope(r.json, 403, 17);
  }
});

test('a user token signed with another secret is rejected with 401 code 43', async () => {
  const token = signJWT({ user_id: 'u1' }, 'other-secret');
  const r = await srv.raw('GET', '/users', { query: QUERY, token });
  assert.equal(r.status, 401, r.text);
  assertErrorEnvelope(r.json, 401, 43);
});

test('SIGTERM stops campaignd with exit 0 and data survives a restart on the same directory', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'campaignd-sdk-restart-'));
  let a, b;
  try {
    a = await startServer({ dataDir: dir });
    const ca = a.client();
    await ca.upsertUsers([{ id: 'persist-1', name: 'Persisted', color: 'teal' }]);
    const created = (await ca.queryUsers({ id: 'persist-1' })).users[0];
    const ex = await a.stop();
    assert.deepEqual(ex, { code: 0, signal: null }, `exit after SIGTERM: ${JSON.stringify(ex)}\n${a.logs()}`);

    b = await startServer({ dataDir: dir, key: a.key, secret: a.secret });
    const { users } = await b.client().queryUsers({ id: 'persist-1' });
    assert.equal(users.length, 1);
    assert.equal(users[0].name, 'Persisted');
    assert.equal(users[0].color, 'teal');
    assert.equal(users[0].created_at, created.created_at);
    const ex2 = await b.stop();
    assert.deepEqual(ex2, { code: 0, signal: null }, `second exit: ${JSON.stringify(ex2)}`);
  } finally {
    await a?.stop();
    await b?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('an error body is never JSON null and always has a numeric code (unknown route)', async () => {
  const r = await rawRequest(srv.baseURL, 'GET', '/no/such/route', { apiKey: srv.key, token: srv.serverToken() });
  assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
  assert.equal(typeof r.json?.code, 'number', r.text);
});
