// Hardening (times, limits, URL payloads): what an attack on a live campaignd found, through the SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startServer, rejectsWith, ts } from '../harness.mjs';

let srv, client;
before(async () => {
  srv = await startServer();
  client = srv.client();
  await client.upsertUsers([{ id: 'sender', name: 'Sam' }, { id: 'rcv', name: 'Rae' }]);
});
after(async () => {
  await srv?.stop();
});

const RANGE = /between 1970-01-01T00:00:00Z and 2262-04-11T23:47:16Z/;

test('queryUsers with a full page of 100 ids (the payload travels in the URL) answers; far beyond is 431 code 24 naming the limit', async () => {
  const ids = Array.from({ length: 100 }, () => randomUUID());
  await client.upsertUsers(ids.map((id) => ({ id, name: `n-${id}` })));
  const { users } = await client.queryUsers({ id: { $in: ids } }, {}, { limit: 100 });
  assert.equal(users.length, 100);
  assert.deepEqual(users.map((u) => u.id).sort(), [...ids].sort());

  const many = Array.from({ length: 1000 }, () => randomUUID());
  await rejectsWith(client.queryUsers({ id: { $in: many } }), 431, 24, /-http\.maxRequestHeaderSize/);
});

test('times outside the supported range are 400 code 4 naming the field, never wrapped (3000 was stored as 1830)', async () => {
  await rejectsWith(client.upsertUser({ id: 'future', created_at: '3000-01-01T00:00:00Z' }), 400, 4, /created_at.*between/);
  await rejectsWith(client.queryUsers({ created_at: { $gt: '3000-01-01T00:00:00Z' } }), 400, 4, RANGE);
  const edge = (await client.upsertUser({ id: 'edge', created_at: '2262-04-11T23:47:16Z' })).users.edge;
  assert.equal(ts(edge.created_at), Date.parse('2262-04-11T23:47:16Z'));

  const campaign = client.campaign({ sender_id: 'sender', user_ids: ['rcv'], message_template: { text: 'hi' } });
  await campaign.create();
  await rejectsWith(campaign.start({ scheduledFor: '3000-01-01T00:00:00Z' }), 400, 4, /scheduled_for.*between/);
  await rejectsWith(campaign.start({ stopAt: '3000-01-01T00:00:00Z' }), 400, 4, /stop_at.*between/);
  await rejectsWith(campaign.start({ scheduledFor: '1600-01-01T00:00:00Z' }), 400, 4, RANGE);
  assert.equal((await campaign.get()).campaign.status, 'draft');
});

test('message text over 5,000 characters is 400 code 20; attachments over 30 and large custom campaign data are 400 code 4', async () => {
  const ch = client.channel('messaging', 'limits', { created_by_id: 'sender', members: ['sender', 'rcv'] });
  await ch.create();
  await rejectsWith(ch.sendMessage({ text: 'x'.repeat(5001), user_id: 'sender' }), 400, 20, /5001 characters long; the maximum is 5000/);
  await rejectsWith(ch.sendMessage({ text: 'x', user_id: 'sender', attachments: Array.from({ length: 31 }, () => ({ type: 'file' })) }), 400, 4, /maximum is 30/);
  const ok = await ch.sendMessage({ text: 'é'.repeat(5000), user_id: 'sender' });
  assert.equal(ok.message.text.length, 5000);

  await rejectsWith(client.upsertUser({ id: 'big', name: 'n'.repeat(100 * 1024) }), 400, 4, /name is 102400 bytes long; the maximum is 2048/);
  await rejectsWith(
    client.campaign({ sender_id: 'sender', user_ids: ['rcv'], message_template: { text: 'hi', custom: { k: 'c'.repeat(6 * 1024) } } }).create(),
    400, 4, /message_template\.custom/);
  await rejectsWith(
    client.campaign({ sender_id: 'sender', user_ids: ['rcv'], message_template: { text: 'x'.repeat(5001) + '{{ receiver.name }}' } }).create(),
    400, 4, /5001 characters outside/);
});
