// Foundation (issue #2 items 5, 7, 12): users through the SDK — upsert, partial update, query, delete.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rejectsWith, assertDuration, ts, sleep, rnd } from '../harness.mjs';

let srv, client;
before(async () => {
  srv = await startServer();
  client = srv.client();
});
after(async () => {
  await srv?.stop();
});

const ids = (users) => users.map((u) => u.id);

test('upsertUsers: map reply keyed by id, role defaults to user, custom fields top-level', async () => {
  const res = await client.upsertUsers([
    { id: 'alice', name: 'Alice', color: 'red', age: 30, nested: { a: [1, 2] } },
    { id: 'bob', name: 'Bob', role: 'admin' },
  ]);
  assertDuration(res);
  assert.equal(typeof res.users, 'object');
  assert.ok(!Array.isArray(res.users), 'upsert reply users must be a map');
  assert.deepEqual(Object.keys(res.users).sort(), ['alice', 'bob']);
  const a = res.users.alice;
  assert.equal(a.id, 'alice');
  assert.equal(a.name, 'Alice');
  assert.equal(a.role, 'user');
  assert.equal(a.color, 'red');
  assert.equal(a.age, 30);
  assert.deepEqual(a.nested, { a: [1, 2] });
  assert.equal(a.custom, undefined, 'custom fields must not be nested under "custom"');
  ts(a.created_at, 'created_at');
  ts(a.updated_at, 'updated_at');
  assert.equal(res.users.bob.role, 'admin');
});

test('upsert replaces the stored user (fields not sent are dropped) and keeps created_at', async () => {
  const first = (await client.upsertUser({ id: 'carol', name: 'Carol', color: 'green', team_size: 4 })).users.carol;
  await sleep(20);
  const res = await client.upsertUser({ id: 'carol', name: 'Carol B', mood: 'happy' });
  assertDuration(res);
  const second = res.users.carol;
  assert.equal(second.name, 'Carol B');
  assert.equal(second.mood, 'happy');
  assert.equal(second.color, undefined, 'replaced user must not keep color');
  assert.equal(second.team_size, undefined, 'replaced user must not keep team_size');
  assert.equal(second.created_at, first.created_at, 'created_at must be kept');
  assert.ok(ts(second.updated_at) >= ts(first.updated_at), 'updated_at must not go back');

  const { users } = await client.queryUsers({ id: 'carol' });
  assert.equal(users.length, 1);
  assert.equal(users[0].name, 'Carol B');
  assert.equal(users[0].color, undefined);
  assert.equal(users[0].mood, 'happy');
  assert.equal(users[0].created_at, first.created_at);
});

test('partialUpdateUser set/unset: only the named fields change', async () => {
  await client.upsertUser({ id: 'dave', name: 'Dave', color: 'red', city: 'Oslo' });
  const res = await client.partialUpdateUser({ id: 'dave', set: { color: 'blue', score: 7 }, unset: ['name'] });
  assertDuration(res);
  const d = res.users.dave;
  assert.equal(d.color, 'blue');
  assert.equal(d.score, 7);
  assert.equal(d.city, 'Oslo');
  assert.ok(d.name === undefined || d.name === '', `name should be unset, got ${JSON.stringify(d.name)}`);
  const q = (await client.queryUsers({ id: 'dave' })).users[0];
  assert.equal(q.color, 'blue');
  assert.equal(q.score, 7);
  assert.equal(q.city, 'Oslo');
  assert.ok(q.name === undefined || q.name === '');
});

test('partialUpdateUsers updates several users in one call', async () => {
  await client.upsertUsers([{ id: 'pu1', tag: 'x' }, { id: 'pu2', tag: 'x' }]);
  const res = await client.partialUpdateUsers([
    { id: 'pu1', set: { tag: 'y' } },
    { id: 'pu2', set: { tag: 'z' } },
  ]);
  assert.equal(res.users.pu1.tag, 'y');
  assert.equal(res.users.pu2.tag, 'z');
});

test('queryUsers returns an array; $eq, $in, implicit $eq on custom fields', async () => {
  const t = `q${rnd(3)}`;
  await client.upsertUsers([
    { id: `${t}-1`, name: 'Anna', country: 'USA', grp: t },
    { id: `${t}-2`, name: 'Ben', country: 'NL', grp: t },
    { id: `${t}-3`, name: 'Cleo', country: 'USA', grp: t },
  ]);
  let res = await client.queryUsers({ id: { $eq: `${t}-2` } });
  assertDuration(res);
  assert.ok(Array.isArray(res.users));
  assert.deepEqual(ids(res.users), [`${t}-2`]);

  res = await client.queryUsers({ id: { $in: [`${t}-1`, `${t}-3`, 'nobody'] } }, { id: 1 });
  assert.deepEqual(ids(res.users), [`${t}-1`, `${t}-3`]);

  res = await client.queryUsers({ grp: t, country: 'USA' }, { id: 1 });
  assert.deepEqual(ids(res.users), [`${t}-1`, `${t}-3`]);
  assert.equal(res.users[0].country, 'USA');

  res = await client.queryUsers({ grp: t, country: { $ne: 'USA' } });
  assert.deepEqual(ids(res.users), [`${t}-2`]);

  res = await client.queryUsers({ grp: t, country: { $nin: ['USA'] } });
  assert.deepEqual(ids(res.users), [`${t}-2`]);

  res = await client.queryUsers({ grp: t, $or: [{ name: 'Anna' }, { name: 'Ben' }] }, { id: 1 });
  assert.deepEqual(ids(res.users), [`${t}-1`, `${t}-2`]);

  res = await client.queryUsers({ id: 'nobody-at-all' });
  assert.deepEqual(res.users, []);
});

test('queryUsers: $gte on created_at compares as time', async () => {
  const t = `c${rnd(3)}`;
  await client.upsertUsers([{ id: `${t}-old`, grp: t }]);
  await sleep(50);
  const mid = new Date().toISOString();
  await sleep(50);
  await client.upsertUsers([{ id: `${t}-new`, grp: t }]);
  let res = await client.queryUsers({ grp: t, created_at: { $gte: mid } });
  assert.deepEqual(ids(res.users), [`${t}-new`]);
  res = await client.queryUsers({ grp: t, created_at: { $lt: mid } });
  assert.deepEqual(ids(res.users), [`${t}-old`]);
  // The seed's example date: everyone was created after 2020-01-01.
  res = await client.queryUsers({ grp: t, created_at: { $gte: '2020-01-01T00:00:00Z' } }, { id: 1 });
  assert.deepEqual(ids(res.users), [`${t}-new`, `${t}-old`]);
});

test('queryUsers: numeric comparisons, $exists, role, team / teams', async () => {
  const t = `n${rnd(3)}`;
  await client.upsertUsers([
    { id: `${t}-a`, grp: t, age: 20, teams: ['red'] },
    { id: `${t}-b`, grp: t, age: 35, teams: ['red', 'blue'], role: 'admin' },
    { id: `${t}-c`, grp: t, teams: ['blue'] },
  ]);
  let res = await client.queryUsers({ grp: t, age: { $gt: 25 } });
  assert.deepEqual(ids(res.users), [`${t}-b`]);
  res = await client.queryUsers({ grp: t, age: { $lte: 35 } }, { id: 1 });
  assert.deepEqual(ids(res.users), [`${t}-a`, `${t}-b`]);
  res = await client.queryUsers({ grp: t, age: { $exists: false } });
  assert.deepEqual(ids(res.users), [`${t}-c`]);
  res = await client.queryUsers({ grp: t, role: 'admin' });
  assert.deepEqual(ids(res.users), [`${t}-b`]);
  res = await client.queryUsers({ grp: t, team: 'red' }, { id: 1 });
  assert.deepEqual(ids(res.users), [`${t}-a`, `${t}-b`]);
  res = await client.queryUsers({ grp: t, teams: { $contains: 'blue' } }, { id: 1 });
  assert.deepEqual(ids(res.users), [`${t}-b`, `${t}-c`]);
  assert.deepEqual(res.users[0].teams, ['red', 'blue']);
});

test('queryUsers: $autocomplete on name', async () => {
  const t = `ac${rnd(3)}`;
  await client.upsertUsers([
    { id: `${t}-1`, grp: t, name: 'Alexander' },
    { id: `${t}-2`, grp: t, name: 'Alexis' },
    { id: `${t}-3`, grp: t, name: 'Bert' },
  ]);
  let res = await client.queryUsers({ grp: t, name: { $autocomplete: 'Alex' } }, { id: 1 });
  assert.deepEqual(ids(res.users), [`${t}-1`, `${t}-2`]);
  res = await client.queryUsers({ grp: t, name: { $autocomplete: 'Alexa' } });
  assert.deepEqual(ids(res.users), [`${t}-1`]);
  res = await client.queryUsers({ grp: t, name: { $autocomplete: 'zzz' } });
  assert.deepEqual(res.users, []);
});

test('queryUsers: sort (custom field, id, created_at) and limit/offset paging', async () => {
  const t = `s${rnd(3)}`;
  const batch = [];
  for (let i = 0; i < 7; i++) batch.push({ id: `${t}-${i}`, grp: t, rank: (i * 3) % 7 });
  await client.upsertUsers(batch);
  let res = await client.queryUsers({ grp: t }, { rank: -1 });
  assert.deepEqual(res.users.map((u) => u.rank), [6, 5, 4, 3, 2, 1, 0]);
  res = await client.queryUsers({ grp: t }, [{ id: -1 }]);
  assert.deepEqual(ids(res.users), batch.map((u) => u.id).reverse());

  const page1 = await client.queryUsers({ grp: t }, { id: 1 }, { limit: 3 });
  const page2 = await client.queryUsers({ grp: t }, { id: 1 }, { limit: 3, offset: 3 });
  const page3 = await client.queryUsers({ grp: t }, { id: 1 }, { limit: 3, offset: 6 });
  assert.deepEqual(ids(page1.users), [`${t}-0`, `${t}-1`, `${t}-2`]);
  assert.deepEqual(ids(page2.users), [`${t}-3`, `${t}-4`, `${t}-5`]);
  assert.deepEqual(ids(page3.users), [`${t}-6`]);
});

test('queryUsers: sort by created_at', async () => {
  const t = `ca${rnd(3)}`;
  for (const n of ['x', 'y', 'z']) {
    await client.upsertUser({ id: `${t}-${n}`, grp: t });
    await sleep(15);
  }
  let res = await client.queryUsers({ grp: t }, { created_at: -1 });
  assert.deepEqual(ids(res.users), [`${t}-z`, `${t}-y`, `${t}-x`]);
  res = await client.queryUsers({ grp: t }, { created_at: 1 });
  assert.deepEqual(ids(res.users), [`${t}-x`, `${t}-y`, `${t}-z`]);
});

test('queryUsers: a bad filter is 400 code 4', async () => {
  await rejectsWith(client.queryUsers({ id: { $frobnicate: 'x' } }), 400, 4);
  await rejectsWith(client.queryUsers({ created_at: { $gte: 'not-a-date' } }), 400, 4);
});

test('deleteUser removes the user', async () => {
  await client.upsertUser({ id: 'doomed', name: 'D' });
  const res = await client.deleteUser('doomed', { hard_delete: true });
  assertDuration(res);
  assert.equal(res.user?.id, 'doomed');
  const { users } = await client.queryUsers({ id: 'doomed' });
  assert.deepEqual(users, []);
});

test('ids with "/", spaces and unicode survive path escaping', async () => {
  const weird = ['a b/c', 'über/ü 🎉', 'x%2Fy', 'colon:id'];
  const res = await client.upsertUsers(weird.map((id) => ({ id, name: `n-${id}` })));
  assert.deepEqual(Object.keys(res.users).sort(), [...weird].sort());
  for (const id of weird) {
    const q = await client.queryUsers({ id });
    assert.deepEqual(ids(q.users), [id], `query ${id}`);
    assert.equal(q.users[0].name, `n-${id}`);
  }
  for (const id of weird) {
    const d = await client.deleteUser(id, { hard_delete: true });
    assert.equal(d.user?.id, id, `DELETE /users/${encodeURIComponent(id)} must reach user ${JSON.stringify(id)}`);
    assert.deepEqual((await client.queryUsers({ id })).users, []);
  }
});

test('bad input: user id over 255 chars, more than 100 users, nothing partly written', async () => {
  const long = 'x'.repeat(256);
  await rejectsWith(client.upsertUsers([{ id: 'ok-before-long' }, { id: long }]), 400, 4);
  assert.deepEqual((await client.queryUsers({ id: 'ok-before-long' })).users, [], 'a rejected batch must not be partly written');

  const many = [];
  for (let i = 0; i < 101; i++) many.push({ id: `many-${i}` });
  await rejectsWith(client.upsertUsers(many), 400, 4);
  assert.deepEqual((await client.queryUsers({ id: 'many-0' })).users, []);

  const hundred = many.slice(0, 100);
  const ok = await client.upsertUsers(hundred);
  assert.equal(Object.keys(ok.users).length, 100);
});

test('bad input: malformed JSON and wrong types get 400 code 4', async () => {
  let r = await srv.raw('POST', '/users', { body: '{"users": {"a": ' });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.code, 4, r.text);
  r = await srv.raw('POST', '/users', { body: { users: [{ id: 'a' }] } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.code, 4, r.text);
  r = await srv.raw('POST', '/users', { body: { users: { a: { id: 5 } } } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json?.code, 4, r.text);
});

test('a body over -http.maxBodySize is 413 code 22 and writes nothing', async () => {
  const big = { users: { huge: { id: 'huge', blob: 'x'.repeat(17 * 1024 * 1024) } } };
  const r = await srv.raw('POST', '/users', { body: big });
  assert.equal(r.status, 413, r.text.slice(0, 300));
  assert.equal(r.json?.code, 22, r.text.slice(0, 300));
  assert.deepEqual((await client.queryUsers({ id: 'huge' })).users, []);
});

test('soft delete hides the user from reads; deleting again is 404 code 16', async () => {
  await client.upsertUser({ id: 'soft', name: 'Soft' });
  const res = await client.deleteUser('soft');
  assert.equal(res.user?.id, 'soft');
  assert.deepEqual((await client.queryUsers({ id: 'soft' })).users, []);
  await rejectsWith(client.partialUpdateUser({ id: 'soft', set: { a: 1 } }), 404, 16);
  await rejectsWith(client.deleteUser('never-existed', { hard_delete: true }), 404, 16);
});

test('partialUpdateUser on an unknown user is 404 code 16; id cannot be set', async () => {
  await rejectsWith(client.partialUpdateUser({ id: 'ghost-user', set: { a: 1 } }), 404, 16);
  await client.upsertUser({ id: 'fixed-id' });
  await rejectsWith(client.partialUpdateUser({ id: 'fixed-id', set: { id: 'other' } }), 400, 4);
});

test('POST /users/import (NDJSON extension): good lines stored, bad lines reported by line number', async () => {
  const lines = [
    JSON.stringify({ id: 'imp-1', name: 'Imp One', country: 'USA' }),
    '{"id": "imp-broken", ',
    '',
    JSON.stringify({ id: 'imp-2', name: 'Imp Two', teams: ['red'] }),
    JSON.stringify({ name: 'no id' }),
    JSON.stringify({ id: 'imp-3' }),
  ];
  const r = await srv.raw('POST', '/users/import', { body: lines.join('\n') + '\n', headers: { 'content-type': 'application/x-ndjson' } });
  assert.equal(r.status, 201, r.text);
  assertDuration(r.json);
  assert.equal(r.json.imported, 3);
  assert.equal(r.json.failed, 2);
  assert.deepEqual(r.json.errors.map((e) => e.line), [2, 5]);
  for (const e of r.json.errors) assert.ok(typeof e.reason === 'string' && e.reason.length > 0);
  const { users } = await client.queryUsers({ id: { $in: ['imp-1', 'imp-2', 'imp-3', 'imp-broken'] } }, { id: 1 });
  assert.deepEqual(ids(users), ['imp-1', 'imp-2', 'imp-3']);
  assert.equal(users[0].country, 'USA');
  assert.deepEqual(users[1].teams, ['red']);
  assert.equal(users[2].role, 'user');
});
