// Foundation (issue #2 items 8, 9, 12): channels and messages through the SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rejectsWith, assertDuration, ts, sleep, rnd } from '../harness.mjs';

let srv, client;
before(async () => {
  srv = await startServer();
  client = srv.client();
  await client.upsertUsers([
    { id: 'admin', name: 'Admin', role: 'admin' },
    { id: 'u1', name: 'User One' },
    { id: 'u2', name: 'User Two' },
    { id: 'u3', name: 'User Three' },
    { id: 'u4', name: 'User Four' },
  ]);
});
after(async () => {
  await srv?.stop();
});

function assertChannelState(res, type, id) {
  assert.equal(typeof res.channel, 'object');
  assert.equal(res.channel.type, type);
  if (id !== undefined) assert.equal(res.channel.id, id);
  assert.equal(res.channel.cid, `${res.channel.type}:${res.channel.id}`);
  assert.ok(Array.isArray(res.messages), 'messages must be an array');
  assert.ok(Array.isArray(res.members), 'members must be an array');
  assert.equal(typeof res.channel.config, 'object', 'channel.config must be an object');
  ts(res.channel.created_at, 'channel.created_at');
  ts(res.channel.updated_at, 'channel.updated_at');
  assert.equal(typeof res.channel.frozen, 'boolean');
  assert.equal(typeof res.channel.disabled, 'boolean');
}

const memberIds = (res) => res.members.map((m) => m.user?.id ?? m.user_id).sort();

test('channel.create with id: members, creator, custom fields top-level', async () => {
  const ch = client.channel('messaging', 'general', {
    created_by_id: 'admin',
    members: ['u1', 'u2'],
    color: 'red',
    topic: { lang: 'en' },
  });
  const res = await ch.create();
  assertDuration(res);
  assertChannelState(res, 'messaging', 'general');
  assert.equal(res.channel.cid, 'messaging:general');
  assert.equal(res.channel.color, 'red');
  assert.deepEqual(res.channel.topic, { lang: 'en' });
  assert.equal(res.channel.custom, undefined, 'custom fields must not be nested');
  assert.equal(res.channel.created_by?.id, 'admin');
  assert.equal(res.channel.member_count, 2);
  assert.deepEqual(memberIds(res), ['u1', 'u2']);
  for (const m of res.members) {
    assert.equal(m.user_id, m.user.id);
    assert.equal(typeof m.channel_role, 'string');
    ts(m.created_at, 'member.created_at');
  }
  assert.deepEqual(res.messages, []);
  // SDK state was filled from the reply.
  assert.equal(ch.cid, 'messaging:general');
  assert.equal(Object.keys(ch.state.members).length, 2);
});

test('get-or-create: asking again returns the same channel, unchanged', async () => {
  const first = await client.channel('messaging', 'goc', { created_by_id: 'admin', members: ['u1'], n: 1 }).create();
  const other = srv.client();
  const again = await other.channel('messaging', 'goc', { created_by_id: 'u2', members: ['u3'], n: 2 }).query();
  assertChannelState(again, 'messaging', 'goc');
  assert.equal(again.channel.created_at, first.channel.created_at);
  assert.equal(again.channel.created_by.id, 'admin');
  assert.equal(again.channel.n, 1);
});

test('creator at top level (create({created_by_id})) and as created_by object', async () => {
  const a = await client.channel('messaging', `top-${rnd(3)}`).create({ created_by_id: 'u1' });
  assert.equal(a.channel.created_by.id, 'u1');
  const b = await client.channel('messaging', `obj-${rnd(3)}`, { created_by: { id: 'u2' } }).create();
  assert.equal(b.channel.created_by.id, 'u2');
});

test('members as objects keep channel_role', async () => {
  const res = await client
    .channel('messaging', `roles-${rnd(3)}`, {
      created_by_id: 'admin',
      members: [{ user_id: 'u1', channel_role: 'channel_moderator' }, { user_id: 'u2' }],
    })
    .create();
  const byId = Object.fromEntries(res.members.map((m) => [m.user.id, m]));
  assert.equal(byId.u1.channel_role, 'channel_moderator');
  assert.equal(byId.u2.channel_role, 'channel_member');
});

test('a new channel without a creator is 400 code 4', async () => {
  const err = await rejectsWith(client.channel('messaging', `nocreator-${rnd(3)}`, { members: ['u1'] }).create(), 400, 4);
  assert.match(err.message, /created_by/);
});

test('unknown members and unknown creator are 400 code 4 and create nothing', async () => {
  const id = `unknown-${rnd(3)}`;
  await rejectsWith(client.channel('messaging', id, { created_by_id: 'admin', members: ['u1', 'ghost'] }).create(), 400, 4);
  const id2 = `unknown2-${rnd(3)}`;
  await rejectsWith(client.channel('messaging', id2, { created_by_id: 'ghost-creator' }).create(), 400, 4);
  const found = await client.queryChannelsRequest({ id: { $in: [id, id2] } });
  assert.deepEqual(found, []);
});

test('distinct channel (no id): !members- id, same channel whatever the member order', async () => {
  const res = await client.channel('messaging', { members: ['u3', 'u1'], created_by_id: 'u1' }).create();
  assertChannelState(res, 'messaging');
  assert.ok(res.channel.id.startsWith('!members-'), `distinct id: ${res.channel.id}`);
  assert.deepEqual(memberIds(res), ['u1', 'u3']);
  const other = srv.client();
  const again = await other.channel('messaging', { members: ['u1', 'u3'], created_by_id: 'u3' }).create();
  assert.equal(again.channel.id, res.channel.id);
  assert.equal(again.channel.created_at, res.channel.created_at);
  const different = await other.channel('messaging', { members: ['u1', 'u2'], created_by_id: 'u1' }).create();
  assert.notEqual(different.channel.id, res.channel.id);
});

test('sendMessage: reply shape, custom fields top-level, client-supplied id', async () => {
  const ch = client.channel('messaging', 'general');
  const res = await ch.sendMessage({ text: 'hello', user_id: 'u1', custom_field: 1, extra: { deep: true } }, { skip_push: true });
  assertDuration(res);
  const m = res.message;
  assert.equal(typeof m.id, 'string');
  assert.ok(m.id.length > 0);
  assert.equal(m.text, 'hello');
  assert.equal(m.type, 'regular');
  assert.equal(m.user?.id, 'u1');
  assert.equal(m.user?.name, 'User One');
  assert.equal(m.cid, 'messaging:general');
  assert.equal(m.custom_field, 1);
  assert.deepEqual(m.extra, { deep: true });
  assert.equal(m.custom, undefined);
  assert.ok(Array.isArray(m.attachments));
  assert.ok(Array.isArray(m.mentioned_users));
  assert.ok(Array.isArray(m.latest_reactions));
  ts(m.created_at, 'message.created_at');
  ts(m.updated_at, 'message.updated_at');

  const withId = await ch.sendMessage({ id: 'my-msg-1', text: 'mine', user: { id: 'u2' } });
  assert.equal(withId.message.id, 'my-msg-1');
  assert.equal(withId.message.user.id, 'u2');

  const state = await srv.client().channel('messaging', 'general').query({ messages: { limit: 10 } });
  const got = state.messages.find((x) => x.id === m.id);
  assert.ok(got, 'sent message is in the channel state');
  assert.equal(got.custom_field, 1);
  assert.equal(got.text, 'hello');
});

test('sendMessage without an author is 400 code 4; to an unknown channel is 404 code 16', async () => {
  await rejectsWith(client.channel('messaging', 'general').sendMessage({ text: 'anon' }), 400, 4);
  await rejectsWith(client.channel('messaging', `missing-${rnd(3)}`).sendMessage({ text: 'x', user_id: 'u1' }), 404, 16);
});

test('channel.query pages messages: newest page oldest-first, then id_lt', async () => {
  const id = `paging-${rnd(3)}`;
  const ch = client.channel('messaging', id, { created_by_id: 'admin', members: ['u1'] });
  await ch.create();
  for (let i = 1; i <= 7; i++) {
    await ch.sendMessage({ id: `${id}-m${i}`, text: `msg ${i}`, user_id: 'u1' });
  }
  const fresh = () => srv.client().channel('messaging', id);
  let res = await fresh().query({ messages: { limit: 3 } });
  assert.deepEqual(res.messages.map((m) => m.text), ['msg 5', 'msg 6', 'msg 7']);
  res = await fresh().query({ messages: { limit: 3, id_lt: `${id}-m5` } });
  assert.deepEqual(res.messages.map((m) => m.text), ['msg 2', 'msg 3', 'msg 4']);
  res = await fresh().query({ messages: { limit: 3, id_lt: `${id}-m2` } });
  assert.deepEqual(res.messages.map((m) => m.text), ['msg 1']);
  // state:false still returns the arrays (SDK calls .filter on messages)
  res = await fresh().create();
  assert.ok(Array.isArray(res.messages));
  assert.ok(Array.isArray(res.members));
});

test('queryChannels: filters on cid, id, type, members, created_by_id, team, custom; message_limit', async () => {
  const t = rnd(3);
  const a = `qa-${t}`;
  const b = `qb-${t}`;
  const c = `qc-${t}`;
  await client.channel('messaging', a, { created_by_id: 'admin', members: ['u1', 'u2'], grp: t, color: 'red' }).create();
  await client.channel('messaging', b, { created_by_id: 'u1', members: ['u2', 'u4'], grp: t, color: 'blue', team: 'blue-team' }).create();
  await client.channel('team', c, { created_by_id: 'admin', members: ['u4'], grp: t, color: 'red' }).create();
  for (let i = 1; i <= 4; i++) {
    await client.channel('messaging', a).sendMessage({ text: `a${i}`, user_id: 'u1', seq: i });
  }

  const cids = (list) => list.map((x) => x.channel.cid).sort();
  let res = await client.queryChannelsRequest({ cid: `messaging:${a}` });
  assert.deepEqual(cids(res), [`messaging:${a}`]);
  res = await client.queryChannelsRequest({ id: { $in: [a, c] } });
  assert.deepEqual(cids(res), [`messaging:${a}`, `team:${c}`]);
  res = await client.queryChannelsRequest({ grp: t, type: 'team' });
  assert.deepEqual(cids(res), [`team:${c}`]);
  res = await client.queryChannelsRequest({ grp: t, members: { $in: ['u4'] } });
  assert.deepEqual(cids(res), [`messaging:${b}`, `team:${c}`]);
  res = await client.queryChannelsRequest({ grp: t, members: { $eq: ['u1', 'u2'] } });
  assert.deepEqual(cids(res), [`messaging:${a}`]);
  res = await client.queryChannelsRequest({ grp: t, created_by_id: 'u1' });
  assert.deepEqual(cids(res), [`messaging:${b}`]);
  res = await client.queryChannelsRequest({ grp: t, team: 'blue-team' });
  assert.deepEqual(cids(res), [`messaging:${b}`]);
  res = await client.queryChannelsRequest({ grp: t, color: 'red' });
  assert.deepEqual(cids(res), [`messaging:${a}`, `team:${c}`]);

  for (const entry of res) {
    assert.ok(Array.isArray(entry.messages));
    assert.ok(Array.isArray(entry.members));
    assert.equal(typeof entry.channel.id, 'string');
    assert.equal(typeof entry.channel.type, 'string');
  }

  res = await client.queryChannelsRequest({ cid: `messaging:${a}` }, {}, { message_limit: 2 });
  assert.deepEqual(res[0].messages.map((m) => m.text), ['a3', 'a4']);
  assert.equal(res[0].messages[1].seq, 4);
});

test('queryChannels: sort and limit/offset; SDK hydration works server-side', async () => {
  const t = rnd(3);
  const made = [];
  for (let i = 0; i < 4; i++) {
    const id = `sorted-${t}-${i}`;
    await client.channel('messaging', id, { created_by_id: 'admin', grp: t, rank: i }).create();
    made.push(`messaging:${id}`);
    await sleep(10);
  }
  let res = await client.queryChannelsRequest({ grp: t }, { created_at: -1 });
  assert.deepEqual(res.map((x) => x.channel.cid), [...made].reverse());
  res = await client.queryChannelsRequest({ grp: t }, { created_at: 1 }, { limit: 2, offset: 1 });
  assert.deepEqual(res.map((x) => x.channel.cid), made.slice(1, 3));

  const channels = await srv.client().queryChannels({ grp: t }, [{ created_at: 1 }]);
  assert.deepEqual(channels.map((c) => c.cid), made);
  assert.equal(channels[0].data.rank, 0);
});

test('queryChannels: a bad filter is 400 code 4', async () => {
  await rejectsWith(client.queryChannelsRequest({ cid: { $bogus: 1 } }), 400, 4);
});

test('channel id over the limit and type/id mismatch are rejected with code 4', async () => {
  const r = await srv.raw('POST', `/channels/messaging/${'x'.repeat(256)}/query`, {
    body: { data: { created_by_id: 'admin' }, state: true },
  });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.code, 4, r.text);
});
