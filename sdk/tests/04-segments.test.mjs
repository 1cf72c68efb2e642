// Segments (issue #3): every segment example of the seed, through the SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rejectsWith, assertDuration, ts, eventually, rnd } from '../harness.mjs';

let srv, client;
before(async () => {
  srv = await startServer();
  client = srv.client();
  await client.upsertUsers([
    { id: 'sender', name: 'Sender' },
    { id: 'usa-1', name: 'Ann', country: 'USA', teams: ['commonteam'] },
    { id: 'usa-2', name: 'Bo', country: 'USA' },
    { id: 'nl-1', name: 'Cas', country: 'NL', teams: ['commonteam'] },
  ]);
});
after(async () => {
  await srv?.stop();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function assertSegment(s, want) {
  assert.equal(typeof s.id, 'string');
  assert.ok(['user', 'channel'].includes(s.type), `type ${s.type}`);
  assert.equal(typeof s.name, 'string');
  assert.equal(typeof s.description, 'string');
  assert.equal(typeof s.filter, 'object');
  assert.notEqual(s.filter, null, 'filter must be an object ({} when none)');
  assert.equal(typeof s.all_users, 'boolean');
  assert.equal(typeof s.all_sender_channels, 'boolean');
  assert.equal(typeof s.size, 'number');
  ts(s.created_at, 'segment.created_at');
  ts(s.updated_at, 'segment.updated_at');
  for (const [k, v] of Object.entries(want || {})) assert.deepEqual(s[k], v, `segment.${k}`);
}

test('seed: user segment with id and a created_at filter (create, get)', async () => {
  const segmentId = `seg-${rnd(3)}`;
  const segment = client.segment('user', segmentId, {
    name: 'New App Users Segment (optional)',
    filter: { created_at: { $gte: '2020-01-01T00:00:00Z' } },
  });
  const res = await segment.create();
  assertDuration(res);
  assertSegment(res.segment, {
    id: segmentId,
    type: 'user',
    name: 'New App Users Segment (optional)',
    description: '',
    filter: { created_at: { $gte: '2020-01-01T00:00:00Z' } },
    all_users: false,
    all_sender_channels: false,
  });
  const got = await segment.get();
  assertDuration(got);
  assertSegment(got.segment, { id: segmentId, name: 'New App Users Segment (optional)' });
  assert.ok(!got.segment.deleted_at, 'not deleted');
  // Size of a filter segment is computed asynchronously: all 4 users match.
  const sized = await eventually(async () => ((await segment.get()).segment.size === 4 ? true : false), 10000);
  assert.ok(sized, `filter segment size should become 4, is ${(await segment.get()).segment.size}`);
});

test('seed: segment without id sends id:null and gets a generated UUID', async () => {
  const userSegment = client.segment('user', { name: 'everyone', all_users: true });
  assert.equal(userSegment.id, null);
  const res = await userSegment.create();
  assertSegment(res.segment, { type: 'user', name: 'everyone', all_users: true, all_sender_channels: false, filter: {} });
  assert.match(res.segment.id, UUID);
  const got = await client.getSegment(res.segment.id);
  assert.equal(got.segment.all_users, true);
  const sized = await eventually(async () => (await client.getSegment(res.segment.id)).segment.size >= 4, 10000);
  assert.ok(sized, 'all_users segment size should reach the user count');
});

test('seed: segment without a name gets name ""', async () => {
  const res = await client.segment('user', `noname-${rnd(3)}`, {}).create();
  assert.equal(res.segment.name, '');
  assert.equal(res.segment.description, '');
  assert.equal(res.segment.size, 0);
});

test('seed: user segment by team filter with name and description', async () => {
  const id = `team-${rnd(3)}`;
  const res = await client.segment('user', id, { filter: { team: 'commonteam' }, name: 'segment_name', description: 'segment_description' }).create();
  assertSegment(res.segment, { id, name: 'segment_name', description: 'segment_description', filter: { team: 'commonteam' } });
  const sized = await eventually(async () => (await client.getSegment(id)).segment.size === 2, 10000);
  assert.ok(sized, `team segment size should become 2, is ${(await client.getSegment(id)).segment.size}`);
});

test('seed: People in the USA (filter on a custom field)', async () => {
  const segment = client.segment('user', { name: 'People in the USA', filter: { country: 'USA' } });
  const res = await segment.create();
  const id = res.segment.id;
  assert.match(id, UUID);
  const sized = await eventually(async () => (await client.getSegment(id)).segment.size === 2, 10000);
  assert.ok(sized, `USA segment size should become 2, is ${(await client.getSegment(id)).segment.size}`);
});

test('seed: static user segment — addTargets, targetExists, removeTargets, queryTargets, delete', async () => {
  const segmentId = `static-${rnd(3)}`;
  const userSegment = client.segment('user', segmentId, { name: 'static' });
  await userSegment.create();

  const targets = ['t-a', 't-b', 't-c', 't-d', 't-e'];
  assertDuration(await userSegment.addTargets(targets));
  assert.equal((await userSegment.get()).segment.size, 5, 'static size is counted in place');
  // adding present targets changes nothing; unknown users are accepted
  await userSegment.addTargets(['t-a', 't-b', 'not-a-user-yet']);
  assert.equal((await userSegment.get()).segment.size, 6);

  assertDuration(await userSegment.targetExists('t-c'));
  await rejectsWith(userSegment.targetExists('t-zzz'), 404, 16);

  assertDuration(await userSegment.removeTargets(['not-a-user-yet', 'absent-one']));
  assert.equal((await userSegment.get()).segment.size, 5);
  await rejectsWith(userSegment.targetExists('not-a-user-yet'), 404, 16);

  // seed: queryTargets with $gte, sort -1
  const q = await userSegment.queryTargets({ target_id: { $gte: 't-b' } }, [{ field: 'target_id', direction: -1 }], { limit: 10000 });
  assertDuration(q);
  assert.deepEqual(q.targets.map((t) => t.target_id), ['t-e', 't-d', 't-c', 't-b']);
  for (const t of q.targets) {
    assert.equal(t.segment_id, segmentId);
    ts(t.created_at, 'target.created_at');
  }
  assert.ok(!q.next, 'no next cursor on the last page');

  // default sort/filter (SDK sends filter:{} sort:[])
  const all = await userSegment.queryTargets();
  assert.deepEqual(all.targets.map((t) => t.target_id), targets);

  const del = await userSegment.delete();
  assertDuration(del);
  const listed = await client.querySegments({ id: segmentId });
  assert.deepEqual(listed.segments, [], 'a deleted segment leaves query results');
});

test('queryTargets: operators and next/prev cursors in both directions', async () => {
  const seg = client.segment('user', `cursor-${rnd(3)}`, {});
  await seg.create();
  const ids = [];
  for (let i = 0; i < 9; i++) ids.push(`c-${String(i).padStart(2, '0')}`);
  await seg.addTargets([...ids].reverse());

  let r = await seg.queryTargets({ target_id: { $eq: 'c-03' } });
  assert.deepEqual(r.targets.map((t) => t.target_id), ['c-03']);
  r = await seg.queryTargets({ target_id: { $in: ['c-01', 'c-05', 'nope'] } });
  assert.deepEqual(r.targets.map((t) => t.target_id), ['c-01', 'c-05']);
  r = await seg.queryTargets({ target_id: { $gt: 'c-06' } });
  assert.deepEqual(r.targets.map((t) => t.target_id), ['c-07', 'c-08']);
  r = await seg.queryTargets({ target_id: { $lt: 'c-02' } });
  assert.deepEqual(r.targets.map((t) => t.target_id), ['c-00', 'c-01']);
  r = await seg.queryTargets({ target_id: { $lte: 'c-01' } }, [{ field: 'target_id', direction: -1 }]);
  assert.deepEqual(r.targets.map((t) => t.target_id), ['c-01', 'c-00']);

  // ascending pages of 4 via next
  const seen = [];
  let next;
  let pages = 0;
  const cursors = [];
  do {
    const page = await seg.queryTargets({}, [{ field: 'target_id', direction: 1 }], { limit: 4, ...(next ? { next } : {}) });
    cursors.push(page);
    seen.push(...page.targets.map((t) => t.target_id));
    next = page.next;
    assert.ok(++pages <= 5, 'too many pages');
  } while (next);
  assert.deepEqual(seen, ids);
  assert.equal(pages, 3);
  assert.equal(typeof cursors[0].next, 'string');
  // prev from the last page returns the page before it
  assert.equal(typeof cursors[2].prev, 'string', 'last page must carry prev');
  const back = await seg.queryTargets({}, [{ field: 'target_id', direction: 1 }], { limit: 4, prev: cursors[2].prev });
  assert.deepEqual(back.targets.map((t) => t.target_id), ids.slice(4, 8));

  // descending with $gte, seed style, paged
  const desc = [];
  next = undefined;
  do {
    const page = await seg.queryTargets({ target_id: { $gte: 'c-02' } }, [{ field: 'target_id', direction: -1 }], { limit: 3, ...(next ? { next } : {}) });
    desc.push(...page.targets.map((t) => t.target_id));
    next = page.next;
  } while (next);
  assert.deepEqual(desc, ids.slice(2).reverse());
});

test('seed: channel segment — filter, addTargets(cids), removeTargets, targetExists, delete', async () => {
  const segmentId = `chan-${rnd(3)}`;
  const channelSegment = client.segment('channel', segmentId, {
    name: 'segment_name',
    description: 'segment_description',
    filter: { team: 'commonteam' },
  });
  const res = await channelSegment.create();
  assertSegment(res.segment, { id: segmentId, type: 'channel', filter: { team: 'commonteam' } });
  await channelSegment.get();

  const staticSeg = client.segment('channel', `chan-static-${rnd(3)}`, { name: 'static channels' });
  await staticSeg.create();
  const channelCids = ['messaging:one', 'messaging:two', 'team:three'];
  await staticSeg.addTargets(channelCids);
  assert.equal((await staticSeg.get()).segment.size, 3);
  await staticSeg.targetExists('messaging:two');
  await staticSeg.removeTargets(['messaging:two']);
  await rejectsWith(staticSeg.targetExists('messaging:two'), 404, 16);
  assert.equal((await staticSeg.get()).segment.size, 2);
  await staticSeg.delete();
  await channelSegment.delete();
});

test('seed: all_sender_channels channel segment (size not computed)', async () => {
  const channelSegment = client.segment('channel', { name: 'All my existing chats', all_sender_channels: true });
  const res = await channelSegment.create();
  assertSegment(res.segment, { type: 'channel', all_sender_channels: true, all_users: false, name: 'All my existing chats' });
  assert.match(res.segment.id, UUID);
  assert.equal(res.segment.size, 0);
});

test('update (PUT) changes name, description, filter; updated_at moves', async () => {
  const id = `upd-${rnd(3)}`;
  const seg = client.segment('user', id, { name: 'before', filter: { country: 'NL' } });
  const created = (await seg.create()).segment;
  await new Promise((r) => setTimeout(r, 15));
  const res = await seg.update({ name: 'after' });
  assertDuration(res);
  assertSegment(res.segment, { id, name: 'after', filter: { country: 'NL' } });
  assert.ok(ts(res.segment.updated_at) > ts(created.updated_at), 'updated_at must move forward');
  assert.equal(res.segment.created_at, created.created_at);
  const res2 = await client.updateSegment(id, { description: 'desc', filter: { country: 'USA' } });
  assertSegment(res2.segment, { name: 'after', description: 'desc', filter: { country: 'USA' } });
  const got = await seg.get();
  assertSegment(got.segment, { name: 'after', description: 'desc', filter: { country: 'USA' } });
  const sized = await eventually(async () => (await seg.get()).segment.size === 2, 10000);
  assert.ok(sized, 'size recomputed after the filter changed');
});

test('querySegments: filters on id, name, type, all_users, created_at; sort; limit/next', async () => {
  const t = rnd(3);
  const made = [];
  for (let i = 0; i < 5; i++) {
    const r = await client.segment(i % 2 ? 'channel' : 'user', `qs-${t}-${i}`, { name: `qs-${t}` }).create();
    made.push(r.segment);
    await new Promise((r) => setTimeout(r, 10));
  }
  // seed example
  const filter = { name: `qs-${t}` };
  const sort = [{ field: 'created_at', direction: -1 }];
  let res = await client.querySegments(filter, sort, { limit: 30 });
  assertDuration(res);
  assert.deepEqual(res.segments.map((s) => s.id), made.map((s) => s.id).reverse());
  for (const s of res.segments) assertSegment(s);

  res = await client.querySegments({ name: `qs-${t}`, type: 'channel' }, [{ field: 'created_at', direction: 1 }]);
  assert.deepEqual(res.segments.map((s) => s.id), [`qs-${t}-1`, `qs-${t}-3`]);
  res = await client.querySegments({ id: { $in: [`qs-${t}-0`, `qs-${t}-4`] } }, [{ field: 'created_at', direction: 1 }]);
  assert.deepEqual(res.segments.map((s) => s.id), [`qs-${t}-0`, `qs-${t}-4`]);
  res = await client.querySegments({ name: `qs-${t}`, created_at: { $gt: made[2].created_at } }, [{ field: 'created_at', direction: 1 }]);
  assert.deepEqual(res.segments.map((s) => s.id), [`qs-${t}-3`, `qs-${t}-4`]);
  res = await client.querySegments({ all_users: true });
  assert.ok(res.segments.length >= 1);
  assert.ok(res.segments.every((s) => s.all_users === true));
  // no sort key at all (the SDK omits it)
  res = await client.querySegments({ name: `qs-${t}` });
  assert.equal(res.segments.length, 5);

  const pages = [];
  let next;
  do {
    const page = await client.querySegments({ name: `qs-${t}` }, sort, { limit: 2, ...(next ? { next } : {}) });
    pages.push(page.segments.map((s) => s.id));
    next = page.next;
    assert.ok(pages.length <= 4);
  } while (next);
  assert.deepEqual(pages.flat(), made.map((s) => s.id).reverse());
  assert.equal(pages.length, 3);
});

test('segment ids with "/", spaces and unicode route intact', async () => {
  const id = `seg 1/x ü ${rnd(2)}`;
  const seg = client.segment('user', id, { name: 'weird' });
  const res = await seg.create();
  assert.equal(res.segment.id, id);
  assert.equal((await seg.get()).segment.id, id);
  await seg.addTargets(['user/with slash', 'ünï']);
  await seg.targetExists('user/with slash');
  await seg.targetExists('ünï');
  await rejectsWith(seg.targetExists('user'), 404, 16);
  const q = await seg.queryTargets();
  assert.deepEqual(q.targets.map((t) => t.target_id).sort(), ['user/with slash', 'ünï'].sort());
  await seg.delete();
});

test('validation: type, lengths, exclusive kinds, kind/type fit, target counts → 400 code 4', async () => {
  await rejectsWith(client.createSegment('bogus', null, { name: 'x' }), 400, 4);
  await rejectsWith(client.createSegment(undefined, null, { name: 'x' }), 400, 4);
  await rejectsWith(client.segment('user', 'x'.repeat(256), {}).create(), 400, 4);
  await rejectsWith(client.segment('user', { name: 'n'.repeat(129) }).create(), 400, 4);
  await rejectsWith(client.segment('user', { description: 'd'.repeat(257) }).create(), 400, 4);
  await rejectsWith(client.segment('user', { filter: { country: 'USA' }, all_users: true }).create(), 400, 4);
  await rejectsWith(client.segment('user', { all_sender_channels: true }).create(), 400, 4);
  await rejectsWith(client.segment('channel', { all_users: true }).create(), 400, 4);
  await rejectsWith(client.segment('user', { filter: { id: { $nope: 1 } } }).create(), 400, 4);
  // boundaries are allowed
  await client.segment('user', { name: 'n'.repeat(128), description: 'd'.repeat(256) }).create();

  const seg = client.segment('user', `limits-${rnd(3)}`, {});
  await seg.create();
  const tooMany = Array.from({ length: 10001 }, (_, i) => `lim-${i}`);
  await rejectsWith(seg.addTargets(tooMany), 400, 4);
  await rejectsWith(seg.addTargets([]), 400, 4);
  assert.equal((await seg.get()).segment.size, 0, 'rejected addtargets writes nothing');
  const t0 = Date.now();
  await seg.addTargets(tooMany.slice(0, 10000));
  const took = Date.now() - t0;
  assert.ok(took < 3000, `10,000 targets took ${took}ms (SDK timeout is 3s)`);
  assert.equal((await seg.get()).segment.size, 10000);
  const page = await seg.queryTargets({}, [], { limit: 10000 });
  assert.equal(page.targets.length, 10000);
});

test('unknown segment: get/update/delete/addtargets/queryTargets are 404 code 16', async () => {
  const missing = `missing-${rnd(3)}`;
  await rejectsWith(client.getSegment(missing), 404, 16);
  await rejectsWith(client.updateSegment(missing, { name: 'x' }), 404, 16);
  await rejectsWith(client.deleteSegment(missing), 404, 16);
  await rejectsWith(client.addSegmentTargets(missing, ['a']), 404, 16);
  await rejectsWith(client.querySegmentTargets(missing), 404, 16);
  await rejectsWith(client.segmentTargetExists(missing, 'a'), 404, 16);
});
