// Delivery (issue #5 item 8): signed webhooks verified with the SDK's own client.verifyWebhook.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, ts, eventually, sleep, rnd } from '../harness.mjs';

let srv, client, hook;
before(async () => {
  srv = await startServer({ webhook: true });
  client = srv.client();
  hook = srv.webhook;
  await client.upsertUsers([
    { id: 'wh-sender', name: 'Whit' },
    { id: 'wh-1', name: 'One' },
    { id: 'wh-2', name: 'Two' },
  ]);
});
after(async () => {
  await srv?.stop();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks headers and the signature of one delivery with the SDK's own verifier. */
function assertSigned(d) {
  const sig = d.headers['x-signature'];
  assert.match(sig ?? '', /^[0-9a-f]{64}$/, `X-Signature must be 64 lowercase hex chars, got ${sig}`);
  assert.equal(client.verifyWebhook(d.raw, sig), true, 'client.verifyWebhook(rawBody, X-Signature) must be true');
  assert.equal(client.verifyWebhook(d.raw.toString('utf8'), sig), true, 'string body verifies too');
  const tampered = Buffer.concat([d.raw, Buffer.from(' ')]);
  assert.equal(client.verifyWebhook(tampered, sig), false, 'a tampered body must not verify');
  const other = srv.client();
  other.secret = 'another-secret';
  assert.equal(other.verifyWebhook(d.raw, sig), false, 'another secret must not verify');
  assert.equal(d.headers['x-api-key'], srv.key);
  assert.match(d.headers['x-webhook-id'] ?? '', UUID, 'X-Webhook-Id is a UUID');
  assert.match(d.headers['x-webhook-attempt'] ?? '', /^[1-9]\d*$/);
  assert.match(d.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(d.method, 'POST');
  assert.ok(d.json && typeof d.json.type === 'string', 'body is one event object');
  ts(d.json.created_at, `${d.json.type}.created_at`);
}

test('channel.created and message.new for the plain endpoints arrive signed, with the spec shape', async () => {
  const id = `wh-${rnd(3)}`;
  await client.channel('messaging', id, { created_by_id: 'wh-sender', members: ['wh-1', 'wh-2'], color: 'red' }).create();
  const sent = await client.channel('messaging', id).sendMessage({ text: 'hook me', user_id: 'wh-1', extra: 5 });

  const created = await hook.waitFor((d) => d.json?.type === 'channel.created' && d.json.cid === `messaging:${id}`, 15000, 'channel.created');
  assertSigned(created);
  const c = created.json;
  assert.equal(c.channel_id, id);
  assert.equal(c.channel_type, 'messaging');
  assert.equal(c.channel?.cid, `messaging:${id}`);
  assert.equal(c.channel?.color, 'red');
  assert.equal(c.user?.id, 'wh-sender');
  assert.ok(Array.isArray(c.members));
  assert.deepEqual(c.members.map((m) => m.user?.id ?? m.user_id).sort(), ['wh-1', 'wh-2']);

  const msg = await hook.waitFor((d) => d.json?.type === 'message.new' && d.json.message?.id === sent.message.id, 15000, 'message.new');
  assertSigned(msg);
  const m = msg.json;
  assert.equal(m.cid, `messaging:${id}`);
  assert.equal(m.channel_id, id);
  assert.equal(m.channel_type, 'messaging');
  assert.equal(m.message_id, sent.message.id);
  assert.equal(m.message.text, 'hook me');
  assert.equal(m.message.extra, 5);
  assert.equal(m.message.user?.id, 'wh-1');
  assert.equal(m.user?.id, 'wh-1');
  assert.equal(m.watcher_count, 0);
  assert.ok(Array.isArray(m.members));

  // the SDK's parse helper agrees
  const parsed = client.verifyAndParseWebhook(msg.raw, msg.headers['x-signature']);
  assert.equal(parsed.type, 'message.new');
  assert.equal(parsed.message.id, sent.message.id);
});

test('each delivery has its own X-Webhook-Id', async () => {
  const ids = hook.events.map((d) => d.headers['x-webhook-id']);
  assert.ok(ids.length >= 2);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique per event');
});

test('campaign.started, channel.created, message.new and campaign.completed for a campaign', async () => {
  const campaign = client.campaign(`whc-${rnd(3)}`, {
    user_ids: ['wh-1', 'wh-2'],
    sender_id: 'wh-sender',
    message_template: { text: 'Hi {{ receiver.name }}', custom: { promo: true } },
    create_channels: true,
    channel_template: { type: 'messaging', id: 'whc-{{ receiver.id }}' },
  });
  await campaign.create();
  await campaign.start();

  const started = await hook.waitFor((d) => d.json?.type === 'campaign.started' && d.json.campaign?.id === campaign.id, 20000, 'campaign.started');
  assertSigned(started);
  assert.equal(typeof started.json.campaign.stats, 'object');

  const completed = await hook.waitFor((d) => d.json?.type === 'campaign.completed' && d.json.campaign?.id === campaign.id, 20000, 'campaign.completed');
  assertSigned(completed);
  assert.equal(completed.json.campaign.status, 'completed');
  assert.equal(completed.json.campaign.stats.stats_messages_sent, 2);

  for (const r of ['wh-1', 'wh-2']) {
    const ch = await hook.waitFor((d) => d.json?.type === 'channel.created' && d.json.cid === `messaging:whc-${r}`, 15000, `channel.created ${r}`);
    assertSigned(ch);
    const mn = await hook.waitFor(
      (d) => d.json?.type === 'message.new' && d.json.cid === `messaging:whc-${r}` && d.json.message?.campaign_id === campaign.id,
      15000,
      `message.new ${r}`,
    );
    assertSigned(mn);
    assert.equal(mn.json.message.text, `Hi ${r === 'wh-1' ? 'One' : 'Two'}`);
    assert.equal(mn.json.message.promo, true);
    assert.equal(mn.json.message.user.id, 'wh-sender');
  }
  const startedIdx = hook.events.indexOf(started);
  const completedIdx = hook.events.indexOf(completed);
  assert.ok(startedIdx < completedIdx, 'campaign.started arrives before campaign.completed');
});

test('campaign.stopped arrives when a scheduled campaign is stopped', async () => {
  const campaign = client.campaign(`whs-${rnd(3)}`, { user_ids: ['wh-1'], sender_id: 'wh-sender', message_template: { text: 'x' } });
  await campaign.create();
  await campaign.start({ scheduledFor: new Date(Date.now() + 3600_000).toISOString() });
  await campaign.stop();
  const d = await hook.waitFor((e) => e.json?.type === 'campaign.stopped' && e.json.campaign?.id === campaign.id, 15000, 'campaign.stopped');
  assertSigned(d);
  assert.equal(d.json.campaign.status, 'stopped');
});

test('skip_webhook keeps the campaign’s channel and message events off the webhook', async () => {
  const campaign = client.campaign(`whskip-${rnd(3)}`, {
    user_ids: ['wh-1', 'wh-2'],
    sender_id: 'wh-sender',
    skip_webhook: true,
    message_template: { text: 'quiet' },
    create_channels: true,
    channel_template: { type: 'messaging', id: 'whskip-{{ receiver.id }}' },
  });
  await campaign.create();
  await campaign.start();
  const done = await eventually(async () => (await campaign.get()).campaign.status === 'completed', 20000);
  assert.ok(done, 'campaign completes');
  // Barrier: events are relayed in order, so once a later event arrives every earlier one has.
  const id = `barrier-${rnd(3)}`;
  await client.channel('messaging', id, { created_by_id: 'wh-sender' }).create();
  const b = await client.channel('messaging', id).sendMessage({ text: 'barrier', user_id: 'wh-sender' });
  await hook.waitFor((d) => d.json?.type === 'message.new' && d.json.message?.id === b.message.id, 15000, 'barrier message.new');
  await sleep(300); // deliveries run concurrently (-webhook.concurrency): let any earlier in-flight POST land
  const leaked = hook.events.filter(
    (d) => (d.json?.type === 'message.new' && d.json.message?.campaign_id === campaign.id) || (d.json?.type === 'channel.created' && d.json.cid?.startsWith('messaging:whskip-')),
  );
  assert.deepEqual(leaked.map((d) => `${d.json.type} ${d.json.cid}`), []);
});

test('a 500 from the receiver is retried with the same X-Webhook-Id and a higher attempt', async () => {
  const id = `retry-${rnd(3)}`;
  await client.channel('messaging', id, { created_by_id: 'wh-sender' }).create();
  await hook.waitFor((d) => d.json?.type === 'channel.created' && d.json.cid === `messaging:${id}`, 15000, 'channel.created before retry test');
  const before = hook.all.length;
  hook.failNext(1);
  const sent = await client.channel('messaging', id).sendMessage({ text: 'retry me', user_id: 'wh-sender' });
  const ok = await hook.waitFor((d) => d.json?.type === 'message.new' && d.json.message?.id === sent.message.id, 20000, 'retried message.new');
  assertSigned(ok);
  const failed = hook.all.slice(before).find((d) => d.status === 500);
  assert.ok(failed, 'the first attempt was answered 500');
  assert.equal(failed.json?.message?.id, sent.message.id);
  assert.equal(failed.headers['x-webhook-attempt'], '1');
  assert.equal(ok.headers['x-webhook-id'], failed.headers['x-webhook-id'], 'same X-Webhook-Id across retries');
  assert.equal(Number(ok.headers['x-webhook-attempt']), 2);
  assert.equal(ok.raw.equals(failed.raw), true, 'the same bytes are re-sent');
});
