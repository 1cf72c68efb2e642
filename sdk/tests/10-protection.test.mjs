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

test('monthly capacity: a campaign of 8 with -campaign.monthlyCapacity=5 stops at exactly 5 with stop_reason monthly_capacity and campaign.stopped; the next start is 400 code 4', async () => {
  const capped = await startServer({ webhook: true, flags: ['-campaign.monthlyCapacity=5'] });
  try {
    const c = capped.client();
    const ids = Array.from({ length: 8 }, (_, i) => `u${i}`);
    await c.upsertUsers([{ id: 'sender' }, ...ids.map((id) => ({ id }))]);
    const campaign = c.campaign({
      sender_id: 'sender', user_ids: ids, message_template: { text: 'hi {{ receiver.id }}' },
      create_channels: true, channel_template: { type: 'messaging' },
    });
    await campaign.create(); // the SDK's create() sends only Stream's fields; update() passes the extension
    const updated = await campaign.update({ max_messages_per_second: 1000 });
    assert.equal(updated.campaign.max_messages_per_second, 1000);
    await campaign.start();
    const ev = await capped.webhook.waitFor((e) => e.json?.type === 'campaign.stopped', 20000, 'campaign.stopped');
    assert.equal(ev.json.campaign.stop_reason, 'monthly_capacity');
    const { campaign: got } = await campaign.get();
    assert.equal(got.status, 'stopped');
    assert.equal(got.stop_reason, 'monthly_capacity');
    assert.equal(got.stats.stats_messages_sent, 5);

    const usage = await capped.raw('GET', '/campaignd/usage', { token: capped.serverToken() });
    assert.equal(usage.status, 200);
    assert.equal(usage.json.sent, 5);
    assert.equal(usage.json.capacity, 5);
    assert.equal(usage.json.remaining, 0);
    assert.match(usage.json.month, /^\d{4}-\d\d$/);

    const next = c.campaign({ sender_id: 'sender', user_ids: ['u0'], message_template: { text: 'again' } });
    await next.create();
    await rejectsWith(next.start(), 400, 4, /monthly campaign capacity of 5 messages is used up.*0 left.*resets at/);

    // A manual stop says so too.
    const manual = c.campaign({ sender_id: 'sender', user_ids: ['u0'], message_template: { text: 'later' } });
    await manual.create();
    await manual.start({ scheduledFor: new Date(Date.now() + 3600_000).toISOString() });
    const stopped = await manual.stop();
    assert.equal(stopped.campaign.stop_reason, 'manual');
  } finally {
    await capped.stop();
  }
});
