// Wire details of stream-wire.md that the SDK hides: status codes (§4.1), the stop request's empty
// form body (§1.4), "id": null on create (§1.4), JSON-in-query payload (§1.2), headers (§2.2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, assertDuration } from '../harness.mjs';

let srv;
before(async () => {
  srv = await startServer();
  await srv.client().upsertUsers([{ id: 'w-admin', name: 'A' }, { id: 'w-u1', name: 'U' }]);
});
after(async () => {
  await srv?.stop();
});

test('status codes: 201 for POST/PUT create-or-mutate, 200 for GET, DELETE and PATCH /users', async () => {
  const q = { payload: { filter_conditions: {}, sort: [], presence: false } };
  const calls = [
    ['POST', '/users', { body: { users: { 'w-x': { id: 'w-x' } } } }, 201],
    ['PATCH', '/users', { body: { users: [{ id: 'w-x', set: { a: 1 } }] } }, 200],
    ['GET', '/users', { query: q }, 200],
    ['POST', '/channels/messaging/w-ch/query', { body: { data: { created_by_id: 'w-admin' }, state: true } }, 201],
    ['POST', '/channels/messaging/w-ch/message', { body: { message: { text: 'x', user_id: 'w-u1' } } }, 201],
    ['POST', '/channels', { body: { filter_conditions: {}, sort: [], state: true } }, 201],
    ['POST', '/segments', { body: { id: 'w-seg', type: 'user', name: 's' } }, 201],
    ['GET', '/segments/w-seg', {}, 200],
    ['PUT', '/segments/w-seg', { body: { name: 's2' } }, 201],
    ['POST', '/segments/w-seg/addtargets', { body: { target_ids: ['w-u1'] } }, 201],
    ['POST', '/segments/w-seg/targets/query', { body: { filter: {}, sort: [] } }, 201],
    ['POST', '/segments/query', { body: { filter: {} } }, 201],
    ['POST', '/segments/w-seg/deletetargets', { body: { target_ids: ['w-u1'] } }, 201],
    ['POST', '/campaigns', { body: { id: 'w-c', user_ids: ['w-u1'], sender_id: 'w-admin', message_template: { text: 'x' } } }, 201],
    ['GET', '/campaigns/w-c', {}, 200],
    ['PUT', '/campaigns/w-c', { body: { name: 'n', sender_id: 'w-admin', message_template: { text: 'y' } } }, 201],
    ['POST', '/campaigns/query', { body: { filter: {} } }, 201],
    ['DELETE', '/campaigns/w-c', {}, 200],
    ['DELETE', '/segments/w-seg', {}, 200],
    ['DELETE', '/users/w-x', { query: { hard_delete: true } }, 200],
  ];
  for (const [method, p, opts, want] of calls) {
    const r = await srv.raw(method, p, opts);
    assert.equal(r.status, want, `${method} ${p}: ${r.status} ${r.text.slice(0, 200)}`);
    assertDuration(r.json);
  }
});

test('POST /campaigns/{id}/stop with no body and a form content type (as axios sends it) works', async () => {
  let r = await srv.raw('POST', '/campaigns', {
    body: { id: null, user_ids: ['w-u1'], sender_id: 'w-admin', message_template: { text: 'x' } },
  });
  assert.equal(r.status, 201, r.text);
  const id = r.json.campaign.id;
  r = await srv.raw('POST', `/campaigns/${encodeURIComponent(id)}/start`, {
    body: { scheduled_for: new Date(Date.now() + 3600_000).toISOString() },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.campaign.status, 'scheduled');
  assert.equal(typeof r.json.users, 'object');
  r = await srv.raw('POST', `/campaigns/${encodeURIComponent(id)}/stop`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.campaign.status, 'stopped');
});

test('start with {} (no options) starts now', async () => {
  let r = await srv.raw('POST', '/campaigns', { body: { id: 'w-now', user_ids: ['w-u1'], sender_id: 'w-admin', message_template: { text: 'x' } } });
  assert.equal(r.status, 201, r.text);
  r = await srv.raw('POST', '/campaigns/w-now/start', { body: {} });
  assert.equal(r.status, 201, r.text);
  assert.ok(['in_progress', 'completed'].includes(r.json.campaign.status), r.json.campaign.status);
});

test('a missing stream-auth-type header is treated as jwt', async () => {
  const res = await fetch(`${srv.baseURL}/segments/query?api_key=${srv.key}`, {
    method: 'POST',
    headers: { authorization: srv.serverToken(), 'content-type': 'application/json' },
    body: JSON.stringify({ filter: {} }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  assertDuration(await res.json());
});

test('a response body is JSON for every error status (never the literal null)', async () => {
  for (const [method, p, body] of [
    ['POST', '/users', '{'],
    ['GET', '/segments/nope'],
    ['POST', '/campaigns', { id: null }],
  ]) {
    const r = await srv.raw(method, p, { body });
    assert.ok(r.status >= 400, `${method} ${p}`);
    assert.notEqual(r.text.trim(), 'null');
    assert.equal(typeof r.json?.code, 'number', r.text);
  }
});
