// Protection: rate limits per endpoint as Stream has them, through the SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rejectsWith, assertErrorEnvelope } from '../harness.mjs';

let srv, client;
before(async () => {
  srv = await startServer({ flags: ['-rateLimits=GetCampaign=30,QueryCampaigns=0'] });
  client = srv.client();
  await client.upsertUsers([{ id: 'sender', name: 'Sam' }, { id: 'rcv', name: 'Rae' }]);
});
after(async () => {
  await srv?.stop();
});

test('every response of a limited endpoint carries X-RateLimit-Limit, -Remaining and -Reset (Unix seconds)', async () => {
  const r = await srv.raw('GET', '/users', { query: { payload: { filter_conditions: { id: 'rcv' } } }, token: srv.serverToken() });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-ratelimit-limit'), '1000'); // Stream's QueryUsers default
  const remaining = Number(r.headers.get('x-ratelimit-remaining'));
  assert.ok(remaining >= 0 && remaining < 1000, `remaining ${remaining}`);
  const reset = Number(r.headers.get('x-ratelimit-reset'));
  const now = Date.now() / 1000;
  assert.ok(reset > now && reset <= now + 61, `reset ${reset} is not within the next minute (now ${now})`);

  // Errors carry them too; an endpoint set to 0 is unlimited and has none.
  const missing = await srv.raw('GET', '/segments/nope', { token: srv.serverToken() });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('x-ratelimit-limit'), '10000');
  const unlimited = await srv.raw('POST', '/campaigns/query', { body: {}, token: srv.serverToken() });
  assert.equal(unlimited.status, 201);
  assert.equal(unlimited.headers.get('x-ratelimit-limit'), null);
});

test('getRateLimits({serverSide, endpoints}) answers Stream\'s shape', async () => {
  const res = await client.getRateLimits({ serverSide: true, endpoints: ['QueryChannels', 'SendMessage', 'GetCampaign'] });
  assert.deepEqual(Object.keys(res.server_side).sort(), ['GetCampaign', 'QueryChannels', 'SendMessage']);
  assert.equal(res.server_side.QueryChannels.limit, 10000);
  assert.equal(res.server_side.SendMessage.limit, 1000);
  assert.equal(res.server_side.GetCampaign.limit, 30);
  for (const q of Object.values(res.server_side)) {
    assert.ok(q.remaining <= q.limit && q.reset > Date.now() / 1000, JSON.stringify(q));
  }
  const all = await client.getRateLimits();
  assert.ok(Object.keys(all.server_side).length > 20, JSON.stringify(all));
  assert.ok(!('QueryCampaigns' in all.server_side), 'an unlimited endpoint is listed');
});

test('the 31st GetCampaign in a minute of a -rateLimits=GetCampaign=30 server is 429 code 9 naming the endpoint and the reset', async () => {
  const campaign = client.campaign({ sender_id: 'sender', user_ids: ['rcv'], message_template: { text: 'hi' } });
  await campaign.create();
  let remaining = 30;
  for (let i = 0; i < 30; i++) {
    const r = await srv.raw('GET', `/campaigns/${campaign.id}`, { token: srv.serverToken() });
    assert.equal(r.status, 200, `get ${i + 1}: ${r.text}`);
    const left = Number(r.headers.get('x-ratelimit-remaining'));
    assert.ok(left < remaining, `remaining did not go down: ${left} after ${remaining}`);
    remaining = left;
  }
  const err = await rejectsWith(campaign.get(), 429, 9, /GetCampaign.*30 requests per minute.*resets at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
  assert.equal(err.response.headers['x-ratelimit-remaining'], '0');
  assert.ok(Number(err.response.headers['retry-after']) >= 1);

  // Refused again while the window lasts; the other endpoints have their own counters.
  const r = await srv.raw('GET', `/campaigns/${campaign.id}`, { token: srv.serverToken() });
  assertErrorEnvelope(r.json, 429, 9);
  const listed = await client.queryCampaigns({ id: campaign.id });
  assert.equal(listed.campaigns[0].status, 'draft');
});
