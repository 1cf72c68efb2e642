// Read state through the SDK: channel.markRead, client.markChannelsRead (markAllRead),
// client.getUnreadCount, the channel's read list, message.read on the webhook, and a campaign's
// stats_users_read rising as receivers read; campaign.* events reach the webhook even with
// skip_webhook.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rejectsWith, assertDuration, ts, eventually, rnd } from '../harness.mjs';

let srv, client, hook;
before(async () => {
  srv = await startServer({ webhook: true });
  client = srv.client();
  hook = srv.webhook;
  await client.upsertUsers([
    { id: 'rd-sender', name: 'Sender' },
    { id: 'rd-a', name: 'A' },
    { id: 'rd-b', name: 'B' },
    { id: 'rd-out', name: 'Outsider' },
    ...Array.from({ length: 10 }, (_, i) => ({ id: `rd-r${i}`, name: `R${i}` })),
  ]);
});
after(async () => {
  await srv?.stop();
});

const readOf = (state, user) => state.read.find((r) => r.user?.id === user);

test('markRead: the read list, unread_messages, last_read_message_id and message.read', async () => {
  const id = `rd-${rnd(3)}`;
  const ch = client.channel('messaging', id, { created_by_id: 'rd-a', members: ['rd-a', 'rd-b'] });
  await ch.create();
  const m1 = await ch.sendMessage({ text: 'one', user_id: 'rd-a' });
  await ch.sendMessage({ text: 'two', user_id: 'rd-a' });
  let state = await ch.query({ messages: { limit: 10 } });
  assert.equal(state.read.length, 2, 'one read state per member');
  const b0 = readOf(state, 'rd-b');
  assert.equal(b0.unread_messages, 2);
  ts(b0.last_read, 'read.last_read');
  assert.equal(readOf(state, 'rd-a').unread_messages, 0, 'own messages are not unread');

  const res = await ch.markRead({ user_id: 'rd-b', message_id: m1.message.id });
  assertDuration(res);
  assert.equal(res.event.type, 'message.read');
  assert.equal(res.event.cid, `messaging:${id}`);
  assert.equal(res.event.user.id, 'rd-b');
  assert.equal(res.event.last_read_message_id, m1.message.id);
  ts(res.event.created_at, 'event.created_at');
  state = await ch.query({ messages: { limit: 10 } });
  assert.equal(readOf(state, 'rd-b').unread_messages, 1);
  assert.equal(readOf(state, 'rd-b').last_read_message_id, m1.message.id);

  await ch.markRead({ user_id: 'rd-b' });
  state = await ch.query({ messages: { limit: 10 } });
  assert.equal(readOf(state, 'rd-b').unread_messages, 0);

  const ev = await hook.waitFor((d) => d.json?.type === 'message.read' && d.json.cid === `messaging:${id}`, 15000, 'message.read');
  assert.equal(ev.json.user.id, 'rd-b');
  assert.equal(client.verifyWebhook(ev.raw, ev.headers['x-signature']), true);

  await rejectsWith(ch.markRead({ user_id: 'rd-out' }), 400, 4, /not a member/);
  await rejectsWith(ch.markRead({}), 400, 4, /user_id/);
  await rejectsWith(client.channel('messaging', `none-${rnd(3)}`).markRead({ user_id: 'rd-a' }), 404, 16);
});

test('getUnreadCount and markChannelsRead (markAllRead)', async () => {
  const ids = [`ru-${rnd(3)}`, `ru-${rnd(3)}`];
  for (const id of ids) {
    const ch = client.channel('messaging', id, { created_by_id: 'rd-sender', members: ['rd-sender', 'rd-a'] });
    await ch.create();
    await ch.sendMessage({ text: 'x', user_id: 'rd-sender' });
    await ch.sendMessage({ text: 'y', user_id: 'rd-sender' });
  }
  let u = await client.getUnreadCount('rd-a');
  assertDuration(u);
  const mine = (u) => u.channels.filter((c) => ids.some((id) => c.channel_id === `messaging:${id}`));
  assert.deepEqual(mine(u).map((c) => c.unread_count), [2, 2]);
  assert.ok(u.total_unread_count >= 4);
  assert.ok(Array.isArray(u.channel_type) && u.channel_type.some((t) => t.channel_type === 'messaging' && t.unread_count >= 4));
  assert.deepEqual(u.threads, []);
  assert.equal(u.total_unread_threads_count, 0);
  ts(mine(u)[0].last_read, 'channels[].last_read');

  await client.markChannelsRead({ user_id: 'rd-a', read_by_channel: { [`messaging:${ids[0]}`]: '' } });
  u = await client.getUnreadCount('rd-a');
  assert.deepEqual(mine(u).map((c) => c.channel_id), [`messaging:${ids[1]}`]);
  await client.markAllRead({ user_id: 'rd-a' });
  u = await client.getUnreadCount('rd-a');
  assert.equal(u.total_unread_count, 0);
  assert.deepEqual(u.channels, []);
  await rejectsWith(client.getUnreadCount(), 400, 4, /user_id/);
});

test("stats_users_read counts the receivers who read their campaign message; campaign events reach the webhook with skip_webhook", async () => {
  const receivers = Array.from({ length: 10 }, (_, i) => `rd-r${i}`);
  const campaign = client.campaign(`rdc-${rnd(3)}`, {
    user_ids: receivers,
    sender_id: 'rd-sender',
    skip_webhook: true,
    message_template: { text: 'Hi {{ receiver.name }}' },
    create_channels: true,
    channel_template: { type: 'messaging' },
  });
  await campaign.create();
  await campaign.start();
  const done = await eventually(async () => {
    const c = (await campaign.get()).campaign;
    return c.status === 'completed' && c;
  });
  assert.ok(done, 'campaign completes');
  assert.equal(done.stats.stats_users_read, 0);
  for (const r of receivers.slice(0, 4)) {
    const ch = client.channel('messaging', { members: ['rd-sender', r] });
    await ch.query();
    await ch.markRead({ user_id: r });
    await ch.markRead({ user_id: r }); // a second read counts once
  }
  // The sender reading its side is no receiver's read.
  const sside = client.channel('messaging', { members: ['rd-sender', receivers[5]] });
  await sside.query();
  await sside.markRead({ user_id: 'rd-sender' });
  const c = (await campaign.get()).campaign;
  assert.equal(c.stats.stats_users_read, 4);

  for (const type of ['campaign.started', 'campaign.completed']) {
    const d = await hook.waitFor((d) => d.json?.type === type && d.json.campaign?.id === campaign.id, 15000, type);
    assert.equal(d.json.campaign.skip_webhook, true);
  }
  assert.equal(hook.events.some((d) => d.json?.type === 'message.new' && d.json.message?.campaign_id === campaign.id), false,
    'skip_webhook still keeps the campaign messages off the webhook');
});

test('members with members_template is refused with code 4', async () => {
  const campaign = client.campaign({
    user_ids: ['rd-a'],
    sender_id: 'rd-sender',
    message_template: { text: 'x' },
    create_channels: true,
    channel_template: { type: 'messaging', members: ['rd-b'], members_template: [{ user_id: 'rd-b', channel_role: 'channel_moderator' }] },
  });
  await rejectsWith(campaign.create(), 400, 4, /members_template/);
});
