// Campaigns (issue #4): the seed's campaign examples end to end through the SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, rejectsWith, assertDuration, ts, eventually, sleep, rnd } from '../harness.mjs';

let srv, client;
const RECEIVERS = [
  { id: 'r-ann', name: 'Ann', country: 'USA', tier: 'gold' },
  { id: 'r-bob', name: 'Bob', country: 'USA', tier: 'silver' },
  { id: 'r-cy', name: 'Cy', country: 'USA' },
];
before(async () => {
  srv = await startServer();
  client = srv.client();
  await client.upsertUsers([
    { id: 'sender', name: 'Sam' },
    { id: 'sender2', name: 'Sue' },
    { id: 'sender3', name: 'Sid' },
    { id: 'user-id-1', name: 'Mod One' },
    { id: 'user-id-2', name: 'Mod Two' },
    { id: 'nl-1', name: 'Nils', country: 'NL' },
    ...RECEIVERS,
  ]);
});
after(async () => {
  await srv?.stop();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATUSES = ['draft', 'scheduled', 'in_progress', 'completed', 'stopped'];

function assertCampaign(c, want = {}) {
  assert.equal(typeof c.id, 'string');
  assert.equal(typeof c.name, 'string');
  assert.equal(typeof c.description, 'string');
  assert.ok(STATUSES.includes(c.status), `status ${c.status}`);
  assert.equal(typeof c.sender_id, 'string');
  assert.ok(Array.isArray(c.segment_ids), 'segment_ids array');
  assert.ok(Array.isArray(c.segments), 'segments array');
  assert.ok(Array.isArray(c.user_ids), 'user_ids array');
  assert.ok(Array.isArray(c.users), 'users array');
  assert.equal(typeof c.message_template, 'object');
  assert.equal(typeof c.create_channels, 'boolean');
  assert.equal(typeof c.show_channels, 'boolean');
  assert.equal(typeof c.skip_push, 'boolean');
  assert.equal(typeof c.skip_webhook, 'boolean');
  ts(c.created_at, 'campaign.created_at');
  ts(c.updated_at, 'campaign.updated_at');
  assert.equal(typeof c.stats, 'object');
  for (const k of ['progress', 'stats_channels_created', 'stats_messages_sent', 'stats_users_sent', 'stats_users_read']) {
    assert.equal(typeof c.stats[k], 'number', `stats.${k}`);
  }
  for (const [k, v] of Object.entries(want)) assert.deepEqual(c[k], v, `campaign.${k}`);
}

async function waitStatus(campaign, status, ms = 20000) {
  let last;
  const ok = await eventually(async () => {
    last = (await campaign.get()).campaign;
    return last.status === status;
  }, ms, 100);
  assert.ok(ok, `campaign ${campaign.id} should reach ${status}, is ${last?.status} stats=${JSON.stringify(last?.stats)}`);
  return last;
}

async function messagesIn(type, id, limit = 50) {
  const res = await srv.client().channel(type, id).query({ messages: { limit } });
  return res;
}

async function usaSegment() {
  const segment = client.segment('user', { name: 'People in the USA', filter: { country: 'USA' } });
  const res = await segment.create();
  const id = res.segment.id;
  const sized = await eventually(async () => (await client.getSegment(id)).segment.size === RECEIVERS.length, 10000);
  assert.ok(sized, 'USA segment must be sized before use');
  return id;
}

test('seed: full example — USA segment → campaign → start → completed → rendered message in each 1-1 channel', async () => {
  // The seed's minimal campaign has no create_channels: it reaches receivers through their existing
  // distinct 1-1 channels with the sender.
  const distinct = {};
  for (const r of RECEIVERS) {
    const res = await client.channel('messaging', { members: ['sender', r.id], created_by_id: 'sender' }).create();
    distinct[r.id] = res.channel.id;
  }
  const segmentId = await usaSegment();

  const campaign = client.campaign({
    segment_ids: [segmentId],
    sender_id: 'sender',
    name: 'Campaign name (optional)',
    description: 'Optional description',
    message_template: { text: "Hi {{ receiver.name }} I'm {{ sender.name }}!" },
  });
  const created = await campaign.create();
  assertDuration(created);
  assert.equal(typeof created.users, 'object', 'top-level users pager object');
  assertCampaign(created.campaign, {
    status: 'draft',
    name: 'Campaign name (optional)',
    description: 'Optional description',
    sender_id: 'sender',
    segment_ids: [segmentId],
  });
  assert.match(campaign.id, UUID, 'SDK took campaign.id from the reply');
  assert.equal(created.campaign.message_template.text, "Hi {{ receiver.name }} I'm {{ sender.name }}!");
  assert.equal(created.campaign.segments[0]?.id, segmentId);
  assert.equal(created.campaign.sender?.id, 'sender');

  const t0 = Date.now();
  const started = await campaign.start();
  assert.ok(Date.now() - t0 < 3000);
  assertDuration(started);
  assert.ok(['in_progress', 'completed'].includes(started.campaign.status), `after start: ${started.campaign.status}`);

  const done = await waitStatus(campaign, 'completed');
  assertCampaign(done);
  assert.equal(done.stats.stats_messages_sent, RECEIVERS.length);
  assert.equal(done.stats.stats_users_sent, RECEIVERS.length);
  assert.equal(done.stats.stats_channels_created, 0);
  assert.equal(done.stats.progress, 1);
  const startedAt = ts(done.stats.stats_started_at, 'stats_started_at');
  assert.ok(ts(done.stats.stats_completed_at, 'stats_completed_at') >= startedAt);

  for (const r of RECEIVERS) {
    const state = await messagesIn('messaging', distinct[r.id]);
    const msgs = state.messages.filter((m) => m.campaign_id === campaign.id);
    assert.equal(msgs.length, 1, `${r.id} must get exactly one campaign message`);
    const m = msgs[0];
    assert.equal(m.text, `Hi ${r.name} I'm Sam!`);
    assert.equal(m.type, 'regular');
    assert.equal(m.user.id, 'sender');
    assert.equal(m.campaign_id, campaign.id);
  }
  // nobody outside the segment got anything
  const nl = await client.queryChannelsRequest({ members: { $in: ['nl-1'] } });
  assert.deepEqual(nl, []);
});

test('seed: first example — create_channels with channel_template (id, custom, team, members), sender_mode exclude, message custom', async () => {
  const segmentId = `seg-first-${rnd(3)}`;
  const segment = client.segment('user', segmentId, {
    name: 'New App Users Segment (optional)',
    filter: { created_at: { $gte: '2020-01-01T00:00:00Z' }, country: 'USA' },
  });
  await segment.create();
  await eventually(async () => (await segment.get()).segment.size === RECEIVERS.length, 10000);

  const campaign_id = `camp-first-${rnd(3)}`;
  const campaign = client.campaign(campaign_id, {
    segment_ids: [segmentId],
    sender_id: 'sender2',
    sender_mode: 'exclude',
    name: 'Campaign name',
    description: 'Campaign Description',
    message_template: {
      text: 'Hello {{receiver.name}}!',
      attachments: [{ type: 'image', image_url: 'https://example.com/image.jpg' }],
      custom: { promotional: true, campaign_data: { tier: 'x' } },
    },
    create_channels: true,
    channel_template: {
      type: 'messaging',
      id: '{{receiver.id}}-{{sender.id}}',
      custom: { promotional: true },
      team: 'kansas-city-chiefs',
      members: ['user-id-1', 'user-id-2'],
    },
  });
  const created = await campaign.create();
  assert.equal(created.campaign.id, campaign_id);
  assertCampaign(created.campaign, { status: 'draft', sender_mode: 'exclude', create_channels: true });
  assert.equal(created.campaign.channel_template.id, '{{receiver.id}}-{{sender.id}}');
  assert.deepEqual(created.campaign.message_template.custom, { promotional: true, campaign_data: { tier: 'x' } });

  await campaign.start();
  const done = await waitStatus(campaign, 'completed');
  assert.equal(done.stats.stats_messages_sent, RECEIVERS.length);
  assert.equal(done.stats.stats_channels_created, RECEIVERS.length);
  // the campaign's users page holds the (frozen) segment audience
  const withUsers = await campaign.get({ users: { limit: 10 } });
  assert.deepEqual(withUsers.campaign.users.map((u) => u.id).sort(), RECEIVERS.map((r) => r.id).sort());

  for (const r of RECEIVERS) {
    const state = await messagesIn('messaging', `${r.id}-sender2`);
    assert.equal(state.channel.promotional, true, 'channel_template.custom is top-level on the channel');
    assert.equal(state.channel.team, 'kansas-city-chiefs');
    const members = state.members.map((m) => m.user.id).sort();
    assert.deepEqual(members, [r.id, 'user-id-1', 'user-id-2'].sort(), 'sender_mode exclude: sender not a member');
    assert.equal(state.messages.length, 1);
    const m = state.messages[0];
    assert.equal(m.text, `Hello ${r.name}!`);
    assert.equal(m.user.id, 'sender2');
    assert.equal(m.promotional, true, 'message_template.custom is top-level on the message');
    assert.deepEqual(m.campaign_data, { tier: 'x' });
    assert.equal(m.campaign_id, campaign_id);
    assert.equal(m.custom, undefined);
    assert.equal(m.attachments.length, 1);
    assert.equal(m.attachments[0].image_url, 'https://example.com/image.jpg');
  }
  // through the SDK's own state (queryChannels hydration)
  const channels = await srv.client().queryChannels({ cid: `messaging:r-ann-sender2` }, {}, { message_limit: 5 });
  assert.equal(channels.length, 1);
  const last = channels[0].state.latestMessages.at(-1);
  assert.equal(last.text, 'Hello Ann!');
  assert.equal(last.campaign_id, campaign_id);
  assert.equal(last.promotional, true);
});

test('user_ids campaign, default sender_mode: new distinct channels get sender + receiver', async () => {
  const campaign = client.campaign({
    user_ids: ['r-ann', 'r-bob'],
    sender_id: 'sender3',
    message_template: { text: '{{ sender.name }} says hello to {{receiver.name}} ({{ receiver.tier }})' },
    create_channels: true,
    channel_template: { type: 'messaging' },
  });
  await campaign.create();
  assert.deepEqual((await campaign.get()).campaign.user_ids, ['r-ann', 'r-bob']);
  await campaign.start();
  const done = await waitStatus(campaign, 'completed');
  assert.equal(done.stats.stats_messages_sent, 2);
  assert.equal(done.stats.stats_channels_created, 2);

  const chans = await client.queryChannelsRequest({ type: 'messaging', members: { $in: ['sender3'] } }, {}, { message_limit: 20 });
  assert.equal(chans.length, 2, 'one new channel per receiver');
  for (const [rid, text] of [
    ['r-ann', 'Sid says hello to Ann (gold)'],
    ['r-bob', 'Sid says hello to Bob (silver)'],
  ]) {
    const ch = chans.find((c) => c.members.some((m) => m.user.id === rid));
    assert.ok(ch, `channel sender3+${rid}`);
    assert.ok(ch.channel.id.startsWith('!members-'), `distinct 1-1 channel id: ${ch.channel.id}`);
    assert.deepEqual(ch.members.map((m) => m.user.id).sort(), ['sender3', rid].sort(), 'sender added to new channel by default');
    const msgs = ch.messages.filter((m) => m.campaign_id === campaign.id);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0].text, text);
    // the same distinct channel the SDK gets for these two members
    const viaSdk = await srv.client().channel('messaging', { members: [rid, 'sender3'], created_by_id: rid }).create();
    assert.equal(viaSdk.channel.id, ch.channel.id);
  }
});

test('a missing template value renders empty', async () => {
  const campaign = client.campaign({
    user_ids: ['r-cy'],
    sender_id: 'sender',
    message_template: { text: 'Tier:{{receiver.tier}}.{{ receiver.nothing.deeper }}.' },
    create_channels: true,
    channel_template: { type: 'messaging', id: 'tmpl-{{ receiver.id }}' },
  });
  await campaign.create();
  await campaign.start();
  await waitStatus(campaign, 'completed');
  const state = await messagesIn('messaging', 'tmpl-r-cy');
  assert.equal(state.messages.at(-1).text, 'Tier:..');
});

test('members_template: role and custom of template members; dotted template paths into custom fields', async () => {
  await client.upsertUser({ id: 'r-dot', name: 'Dot', address: { city: 'Oslo', zip: '0150' } });
  const campaign = client.campaign({
    user_ids: ['r-dot'],
    sender_id: 'sender',
    message_template: { text: 'Hello {{ receiver.name }} from {{receiver.address.city}}, {{ channel.id }}' },
    create_channels: true,
    channel_template: {
      type: 'messaging',
      id: 'mt-{{ receiver.id }}',
      members_template: [{ user_id: 'user-id-1', channel_role: 'channel_moderator', custom: { vip: true } }],
    },
  });
  await campaign.create();
  await campaign.start();
  await waitStatus(campaign, 'completed');
  const state = await messagesIn('messaging', 'mt-r-dot');
  assert.equal(state.messages.at(-1).text, 'Hello Dot from Oslo, mt-r-dot');
  const byId = Object.fromEntries(state.members.map((m) => [m.user.id, m]));
  assert.deepEqual(Object.keys(byId).sort(), ['r-dot', 'sender', 'user-id-1']);
  assert.equal(byId['user-id-1'].channel_role, 'channel_moderator');
  assert.equal(byId['user-id-1'].vip, true, 'members_template custom is top-level on the member');
});

test('sender_mode include adds the sender to existing channels; without create_channels missing channels are skipped', async () => {
  await client.channel('messaging', 'pre-r-ann', { created_by_id: 'r-ann', members: ['r-ann'] }).create();
  const campaign = client.campaign({
    user_ids: ['r-ann', 'r-bob'],
    sender_id: 'sender',
    sender_mode: 'include',
    message_template: { text: 'include mode' },
    channel_template: { type: 'messaging', id: 'pre-{{receiver.id}}' },
  });
  await campaign.create();
  await campaign.start();
  const done = await waitStatus(campaign, 'completed');
  assert.equal(done.stats.stats_messages_sent, 1, 'only the existing channel receives');
  assert.equal(done.stats.stats_channels_created, 0);
  const state = await messagesIn('messaging', 'pre-r-ann');
  assert.deepEqual(state.members.map((m) => m.user.id).sort(), ['r-ann', 'sender']);
  assert.equal(state.messages.at(-1).text, 'include mode');
  const none = await client.queryChannelsRequest({ cid: 'messaging:pre-r-bob' });
  assert.deepEqual(none, []);
});

test('channel segment campaign: one message per channel; receiver in the template is rejected', async () => {
  for (const id of ['chseg-1', 'chseg-2']) {
    await client.channel('messaging', id, { created_by_id: 'sender', members: ['r-ann', 'r-bob'] }).create();
  }
  const seg = client.segment('channel', `chan-seg-${rnd(3)}`, { name: 'channels' });
  await seg.create();
  await seg.addTargets(['messaging:chseg-1', 'messaging:chseg-2']);

  await rejectsWith(
    client.campaign({ segment_ids: [seg.id], sender_id: 'sender', message_template: { text: 'Hi {{ receiver.name }}' } }).create(),
    400,
    4,
  );
  const campaign = client.campaign({
    segment_ids: [seg.id],
    sender_id: 'sender',
    message_template: { text: 'News for {{ channel.id }} from {{ sender.name }}' },
  });
  await campaign.create();
  await campaign.start();
  const done = await waitStatus(campaign, 'completed');
  assert.equal(done.stats.stats_messages_sent, 2);
  for (const id of ['chseg-1', 'chseg-2']) {
    const state = await messagesIn('messaging', id);
    const msgs = state.messages.filter((m) => m.campaign_id === campaign.id);
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0].text, `News for ${id} from Sam`);
  }
});

test('seed: scheduled start a few seconds ahead → scheduled, then completed', async () => {
  const campaign = client.campaign({
    user_ids: ['r-ann'],
    sender_id: 'sender',
    message_template: { text: 'scheduled hello' },
    create_channels: true,
    channel_template: { type: 'messaging', id: 'sched-{{receiver.id}}' },
  });
  await campaign.create();
  const scheduledFor = new Date(Date.now() + 3000).toISOString();
  const res = await campaign.start({ scheduledFor });
  assert.equal(res.campaign.status, 'scheduled');
  assert.equal(Date.parse(res.campaign.scheduled_for), Date.parse(scheduledFor));
  assert.equal((await campaign.get()).campaign.status, 'scheduled');
  const inScheduled = await client.queryCampaigns({ status: { $in: ['scheduled', 'in_progress'] }, id: campaign.id });
  assert.deepEqual(inScheduled.campaigns.map((c) => c.id), [campaign.id]);
  await sleep(1000);
  assert.equal((await campaign.get()).campaign.status, 'scheduled', 'must not start early');
  const done = await waitStatus(campaign, 'completed', 15000);
  assert.ok(ts(done.stats.stats_started_at) >= Date.parse(scheduledFor) - 50, 'started at or after scheduled_for');
  const state = await messagesIn('messaging', 'sched-r-ann');
  assert.equal(state.messages.at(-1).text, 'scheduled hello');
});

test('seed: start with scheduledFor + stopAt far ahead, then stop (empty form body) → stopped; cannot start again', async () => {
  const campaign = client.campaign({
    user_ids: ['r-bob'],
    sender_id: 'sender',
    message_template: { text: 'never sent' },
    create_channels: true,
    channel_template: { type: 'messaging', id: 'stop-{{receiver.id}}' },
  });
  await campaign.create();
  const res = await campaign.start({
    scheduledFor: new Date(Date.now() + 48 * 60 * 60 * 1000).toISOString(),
    stopAt: new Date(Date.now() + 72 * 60 * 60 * 1000).toISOString(),
  });
  assert.equal(res.campaign.status, 'scheduled');
  ts(res.campaign.stop_at, 'stop_at');
  const stopped = await campaign.stop();
  assertDuration(stopped);
  assertCampaign(stopped.campaign, { status: 'stopped', id: campaign.id });
  assert.equal((await campaign.get()).campaign.status, 'stopped');
  const err = await rejectsWith(campaign.start(), 400, 4);
  assert.match(err.message, /new campaign/i);
  assert.deepEqual(await client.queryChannelsRequest({ cid: 'messaging:stop-r-bob' }), []);
});

test('seed: update a draft (segment_ids, sender_id, sender_mode, name, message_template); not after completion', async () => {
  const seg1 = (await client.segment('user', { name: 'u1' }).create()).segment.id;
  const seg2 = (await client.segment('user', { name: 'u2' }).create()).segment.id;
  await client.addSegmentTargets(seg1, ['r-ann']);
  await client.addSegmentTargets(seg2, ['r-cy']);
  const campaign = client.campaign({
    segment_ids: [seg1],
    sender_id: 'sender',
    name: 'before',
    message_template: { text: 'Hello {{receiver.name}}!' },
    create_channels: true,
    channel_template: { type: 'messaging', id: 'upd-{{receiver.id}}' },
  });
  await campaign.create();
  const before = (await campaign.get()).campaign;
  await sleep(15);
  const res = await campaign.update({
    segment_ids: [seg2],
    sender_id: 'sender2',
    sender_mode: 'include',
    name: 'Updated name (optional)',
    message_template: { text: 'Updated Hello {{receiver.name}}!' },
    create_channels: true,
    channel_template: { type: 'messaging', id: 'upd-{{receiver.id}}' },
  });
  assertDuration(res);
  assertCampaign(res.campaign, {
    id: campaign.id,
    segment_ids: [seg2],
    sender_id: 'sender2',
    sender_mode: 'include',
    name: 'Updated name (optional)',
    status: 'draft',
  });
  assert.equal(res.campaign.message_template.text, 'Updated Hello {{receiver.name}}!');
  assert.ok(ts(res.campaign.updated_at) > ts(before.updated_at));
  assert.equal(res.campaign.created_at, before.created_at);

  await campaign.start();
  await waitStatus(campaign, 'completed');
  const state = await messagesIn('messaging', 'upd-r-cy');
  assert.equal(state.messages.at(-1).text, 'Updated Hello Cy!');
  assert.equal(state.messages.at(-1).user.id, 'sender2');
  assert.deepEqual(await client.queryChannelsRequest({ cid: 'messaging:upd-r-ann' }), []);

  await rejectsWith(campaign.update({ name: 'too late', sender_id: 'sender', message_template: { text: 'x' } }), 400, 4);
  await rejectsWith(campaign.start(), 400, 4);
});

test('delete: a deleted campaign is gone (404 code 16) and leaves query results', async () => {
  const campaign = client.campaign(`del-${rnd(3)}`, { user_ids: ['r-ann'], sender_id: 'sender', message_template: { text: 'x' } });
  await campaign.create();
  const res = await campaign.delete();
  assertDuration(res);
  await rejectsWith(campaign.get(), 404, 16);
  const q = await client.queryCampaigns({ id: campaign.id });
  assert.deepEqual(q.campaigns, []);
  await rejectsWith(client.deleteCampaign(`missing-${rnd(3)}`), 404, 16);
  await rejectsWith(client.getCampaign(`missing-${rnd(3)}`), 404, 16);
  await rejectsWith(client.startCampaign(`missing-${rnd(3)}`), 404, 16);
  await rejectsWith(client.stopCampaign(`missing-${rnd(3)}`), 404, 16);
});

test('campaign.get pages its target users with limit/next', async () => {
  const campaign = client.campaign({
    user_ids: ['r-ann', 'r-bob', 'r-cy', 'nl-1', 'user-id-1'],
    sender_id: 'sender',
    message_template: { text: 'x' },
  });
  await campaign.create();
  const seen = [];
  let next;
  let pages = 0;
  do {
    const res = await campaign.get({ users: { limit: 2, ...(next ? { next } : {}) } });
    assert.ok(res.campaign.users.length <= 2);
    seen.push(...res.campaign.users.map((u) => u.id));
    next = res.users?.next;
    assert.ok(++pages <= 4);
  } while (next);
  assert.deepEqual(seen.sort(), ['nl-1', 'r-ann', 'r-bob', 'r-cy', 'user-id-1']);
  assert.equal(pages, 3);
});

test('campaign ids with "/", spaces and unicode route intact', async () => {
  const id = `camp 1/ü ${rnd(2)}`;
  const campaign = client.campaign(id, { user_ids: ['r-ann'], sender_id: 'sender', message_template: { text: 'x' } });
  await campaign.create();
  assert.equal(campaign.id, id);
  assert.equal((await campaign.get()).campaign.id, id);
  assert.equal((await campaign.update({ name: 'renamed', sender_id: 'sender', message_template: { text: 'y' } })).campaign.name, 'renamed');
  await campaign.delete();
  await rejectsWith(campaign.get(), 404, 16);
});

test('queryCampaigns: each filter of the seed, sort, limit/next, user_limit', async () => {
  const t = rnd(3);
  const segA = (await client.segment('user', `qa-${t}`, { name: 'a' }).create()).segment.id;
  const segB = (await client.segment('user', `qb-${t}`, { name: 'b' }).create()).segment.id;
  await client.addSegmentTargets(segA, ['r-ann', 'r-bob']);
  await client.addSegmentTargets(segB, ['r-cy']);
  const since = new Date(Date.now() - 1).toISOString();
  const mk = async (id, data) => {
    const c = client.campaign(id, { sender_id: 'sender', message_template: { text: 'q' }, ...data });
    await c.create();
    await sleep(10);
    return c;
  };
  const c1 = await mk(`q1-${t}`, { name: `name-1-${t}`, segment_ids: [segA] });
  const c2 = await mk(`q2-${t}`, { name: `name-2-${t}`, segment_ids: [segB], sender_id: 'sender2' });
  const c3 = await mk(`q3-${t}`, { name: `name-3-${t}`, segment_ids: [segA, segB] });
  await c2.start({ scheduledFor: new Date(Date.now() + 3600_000).toISOString() });
  const mine = { id: { $in: [c1.id, c2.id, c3.id] } };
  const ids = (r) => r.campaigns.map((c) => c.id);
  const sort = [{ field: 'created_at', direction: -1 }];

  let res = await client.queryCampaigns({ status: { $in: ['scheduled', 'in_progress'] }, ...mine }, sort, { limit: 10 });
  assertDuration(res);
  assert.deepEqual(ids(res), [c2.id]);
  res = await client.queryCampaigns({ id: { $in: [c1.id, c3.id] } }, sort);
  assert.deepEqual(ids(res), [c3.id, c1.id]);
  res = await client.queryCampaigns({ segments: { $in: [segB] } }, sort);
  assert.deepEqual(ids(res), [c3.id, c2.id]);
  res = await client.queryCampaigns({ name: { $in: [`name-1-${t}`, `name-2-${t}`] } }, sort);
  assert.deepEqual(ids(res), [c2.id, c1.id]);
  res = await client.queryCampaigns({ sender_id: { $in: ['sender2'] }, ...mine }, sort);
  assert.deepEqual(ids(res), [c2.id]);
  res = await client.queryCampaigns({ created_at: { $gte: since }, ...mine }, [{ field: 'created_at', direction: 1 }]);
  assert.deepEqual(ids(res), [c1.id, c2.id, c3.id]);
  res = await client.queryCampaigns({ created_at: { $gte: '2021-01-01T00:00:00Z' }, ...mine }, sort);
  assert.equal(res.campaigns.length, 3);
  res = await client.queryCampaigns({ updated_at: { $gte: '2021-01-01T00:00:00Z' }, ...mine }, sort);
  assert.equal(res.campaigns.length, 3);
  res = await client.queryCampaigns({ updated_at: { $gte: new Date(Date.now() + 3600_000).toISOString() }, ...mine }, sort);
  assert.deepEqual(res.campaigns, []);
  res = await client.queryCampaigns({ status: 'draft', ...mine }, sort);
  assert.deepEqual(ids(res), [c3.id, c1.id]);
  // minimal body: no sort key at all
  res = await client.queryCampaigns(mine);
  assert.equal(res.campaigns.length, 3);
  for (const c of res.campaigns) assertCampaign(c);

  // seed: first page, then next page with the same filter and sort
  const first = await client.queryCampaigns(mine, sort, { limit: 2 });
  assert.deepEqual(ids(first), [c3.id, c2.id]);
  assert.equal(typeof first.next, 'string');
  const second = await client.queryCampaigns(mine, sort, { limit: 2, next: first.next });
  assert.deepEqual(ids(second), [c1.id]);
  assert.ok(!second.next);
  assert.equal(typeof second.prev, 'string', 'the second page carries prev');
  const back = await client.queryCampaigns(mine, sort, { limit: 2, prev: second.prev });
  assert.deepEqual(ids(back), [c3.id, c2.id]);

  // user_limit caps the embedded users (a user_ids campaign: its targets are known in draft)
  const c4 = await mk(`q4-${t}`, { name: `name-4-${t}`, user_ids: ['r-ann', 'r-bob', 'r-cy'] });
  res = await client.queryCampaigns({ id: c4.id }, sort, { user_limit: 2 });
  assert.deepEqual(res.campaigns[0].users.map((u) => u.id), ['r-ann', 'r-bob']);
  assert.equal(res.campaigns[0].users[0].name, 'Ann');

  await c2.stop();
  await rejectsWith(client.queryCampaigns({ status: { $bogus: 1 } }), 400, 4);
});

test('validation: every rule is 400 code 4', async () => {
  const seg = (await client.segment('user', { name: 'v' }).create()).segment.id;
  const deletedSeg = (await client.segment('user', { name: 'gone' }).create()).segment.id;
  await client.deleteSegment(deletedSeg);
  const base = { sender_id: 'sender', message_template: { text: 'hi' }, user_ids: ['r-ann'] };
  const bad = [
    ['missing sender_id', { ...base, sender_id: undefined }],
    ['unknown sender', { ...base, sender_id: 'no-such-user' }],
    ['missing message_template', { ...base, message_template: undefined }],
    ['missing text', { ...base, message_template: { custom: { a: 1 } } }],
    ['template that does not compile', { ...base, message_template: { text: 'Hi {{ receiver.name ' } }],
    ['neither segment_ids nor user_ids', { ...base, user_ids: undefined }],
    ['both segment_ids and user_ids', { ...base, segment_ids: [seg] }],
    ['more than 25 segment_ids', { ...base, user_ids: undefined, segment_ids: Array.from({ length: 26 }, () => seg) }],
    ['unknown segment', { ...base, user_ids: undefined, segment_ids: ['no-such-segment'] }],
    ['deleted segment', { ...base, user_ids: undefined, segment_ids: [deletedSeg] }],
    ['more than 1000 user_ids', { ...base, user_ids: Array.from({ length: 1001 }, (_, i) => `x${i}`) }],
    ['create_channels without channel_template', { ...base, create_channels: true }],
    ['channel_template without type', { ...base, create_channels: true, channel_template: { id: 'x' } }],
    ['bad sender_mode', { ...base, sender_mode: 'sometimes' }],
    ['bad sender_visibility', { ...base, sender_visibility: 'invisible' }],
    ['more than 1000 members', { ...base, create_channels: true, channel_template: { type: 'messaging', members: Array.from({ length: 1001 }, (_, i) => `m${i}`) } }],
    ['more than 1000 members_template', { ...base, create_channels: true, channel_template: { type: 'messaging', members_template: Array.from({ length: 1001 }, (_, i) => ({ user_id: `m${i}` })) } }],
    ['id over 255 chars', { ...base, id: 'c'.repeat(256) }],
  ];
  for (const [why, data] of bad) {
    const err = await rejectsWith(client.createCampaign({ id: null, ...data }), 400, 4).catch((e) => {
      e.message = `${why}: ${e.message}`;
      throw e;
    });
    assert.ok(err.message.length > 'StreamChat error code 4: '.length, `${why}: message should say what to fix`);
  }
  // valid boundaries and null enums
  const ok = await client.createCampaign({ id: null, ...base, sender_mode: null, sender_visibility: 'archived', show_channels: true, skip_push: true, skip_webhook: true });
  assert.match(ok.campaign.id, UUID);
  assertCampaign(ok.campaign, { sender_visibility: 'archived', show_channels: true, skip_push: true, skip_webhook: true, create_channels: false });
  const thousand = Array.from({ length: 1000 }, (_, i) => `bulk-${i}`);
  for (let i = 0; i < thousand.length; i += 100) {
    await client.upsertUsers(thousand.slice(i, i + 100).map((id) => ({ id })));
  }
  await client.createCampaign({ id: null, ...base, user_ids: thousand });

  // start-time validation
  const c = client.campaign({ ...base });
  await c.create();
  await rejectsWith(c.start({ scheduledFor: 'tomorrow-ish' }), 400, 4);
  await rejectsWith(
    c.start({ scheduledFor: new Date(Date.now() + 7200_000).toISOString(), stopAt: new Date(Date.now() + 3600_000).toISOString() }),
    400,
    4,
  );
  assert.equal((await c.get()).campaign.status, 'draft', 'a rejected start changes nothing');
});

test('scheduler survives a restart: a start time that passed while campaignd was down starts at boot', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'campaignd-sdk-sched-'));
  let a, b;
  try {
    a = await startServer({ dataDir: dir });
    const ca = a.client();
    await ca.upsertUsers([{ id: 'boot-sender', name: 'Boots' }, { id: 'boot-r', name: 'Rae' }]);
    const campaign = ca.campaign('boot-campaign', {
      user_ids: ['boot-r'],
      sender_id: 'boot-sender',
      message_template: { text: 'after reboot, {{ receiver.name }}' },
      create_channels: true,
      channel_template: { type: 'messaging', id: 'boot-{{ receiver.id }}' },
    });
    await campaign.create();
    const scheduledFor = new Date(Date.now() + 1500).toISOString();
    assert.equal((await campaign.start({ scheduledFor })).campaign.status, 'scheduled');
    assert.deepEqual(await a.stop(), { code: 0, signal: null });
    await sleep(Math.max(0, Date.parse(scheduledFor) - Date.now()) + 500);

    b = await startServer({ dataDir: dir, key: a.key, secret: a.secret });
    const cb = b.client();
    const again = cb.campaign('boot-campaign');
    let last;
    const done = await eventually(async () => (last = (await again.get()).campaign).status === 'completed', 15000);
    assert.ok(done, `campaign should complete after the restart, is ${last?.status}`);
    assert.equal(last.stats.stats_messages_sent, 1);
    const state = await cb.channel('messaging', 'boot-boot-r').query({ messages: { limit: 5 } });
    assert.deepEqual(state.messages.map((m) => m.text), ['after reboot, Rae']);
  } finally {
    await a?.stop();
    await b?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
