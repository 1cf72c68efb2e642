// Campaigns while they run (issues #3 item 7, #4 items 3, 7, 9): live stats, segment locks, stop and
// delete of an in-progress campaign. Uses a 20,000-user audience so the fan-out takes long enough.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rejectsWith, assertDuration, eventually, sleep } from '../harness.mjs';

const N = 20000;
let srv, client, segmentId;
before(async () => {
  srv = await startServer();
  client = srv.client();
  const lines = [JSON.stringify({ id: 'run-sender', name: 'Runner' })];
  for (let i = 0; i < N; i++) lines.push(JSON.stringify({ id: `run-${String(i).padStart(5, '0')}`, name: `R${i}` }));
  const r = await srv.raw('POST', '/users/import', { body: lines.join('\n') + '\n', headers: { 'content-type': 'application/x-ndjson' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.imported, N + 1);
  const seg = await client.segment('user', 'run-all', { name: 'everyone', all_users: true }).create();
  segmentId = seg.segment.id;
  const sized = await eventually(async () => (await client.getSegment(segmentId)).segment.size === N + 1, 20000);
  assert.ok(sized, 'all_users segment sized');
});
after(async () => {
  await srv?.stop();
});

function newCampaign(id) {
  return client.campaign(id, {
    segment_ids: [segmentId],
    sender_id: 'run-sender',
    message_template: { text: 'Hi {{ receiver.name }}' },
    create_channels: true,
    channel_template: { type: 'messaging', id: `${id}-{{ receiver.id }}` },
  });
}

test('live stats, segment lock, then stop of an in-progress campaign', async () => {
  const campaign = newCampaign('run-stop');
  await campaign.create();
  const t0 = Date.now();
  const started = await campaign.start();
  assert.ok(Date.now() - t0 < 3000, 'start answers within the SDK timeout');
  assert.equal(started.campaign.status, 'in_progress');

  // the segment is locked while a campaign uses it
  const seg = (await client.getSegment(segmentId)).segment;
  assert.equal(seg.locked, true, 'segment used by a running campaign is locked');
  await rejectsWith(client.updateSegment(segmentId, { name: 'renamed' }), 400, 4);
  await rejectsWith(client.deleteSegment(segmentId), 400, 4);

  // live stats: some but not all sent while in progress
  let live;
  const seen = await eventually(async () => {
    live = (await campaign.get()).campaign;
    return live.status !== 'in_progress' || live.stats.stats_messages_sent > 0;
  }, 20000, 20);
  assert.ok(seen);
  assert.equal(live.status, 'in_progress', `campaign must still run (status ${live.status}); stats ${JSON.stringify(live.stats)}`);
  assert.ok(live.stats.stats_messages_sent > 0 && live.stats.stats_messages_sent < N, `live stats ${JSON.stringify(live.stats)}`);
  assert.ok(live.stats.progress > 0 && live.stats.progress < 1, `live progress ${live.stats.progress}`);
  assert.ok(live.stats.stats_started_at, 'stats_started_at set while running');

  const stopped = await campaign.stop();
  assertDuration(stopped);
  assert.equal(stopped.campaign.status, 'stopped');
  await sleep(1500);
  const a = (await campaign.get()).campaign;
  await sleep(500);
  const b = (await campaign.get()).campaign;
  assert.equal(a.status, 'stopped');
  assert.equal(b.stats.stats_messages_sent, a.stats.stats_messages_sent, 'nothing is sent after stop');
  assert.ok(a.stats.stats_messages_sent < N, `stopped before the end: ${a.stats.stats_messages_sent}`);
  assert.equal((await client.getSegment(segmentId)).segment.locked, false, 'lock released after stop');
  await rejectsWith(campaign.start(), 400, 4);
});

test('delete of an in-progress campaign stops it and removes it', async () => {
  const campaign = newCampaign('run-del');
  await campaign.create();
  await campaign.start();
  const res = await campaign.delete();
  assertDuration(res);
  await rejectsWith(campaign.get(), 404, 16);
  // the fan-out is over: the count of its channels stops growing
  const count = async () => (await client.queryChannelsRequest({ id: { $in: ['run-del-run-19999', 'run-del-run-10000'] } })).length;
  const before = await count();
  await sleep(1500);
  assert.equal(await count(), before, 'no channels appear after delete');
  assert.equal((await client.getSegment(segmentId)).segment.locked, false, 'lock released after delete');
  await client.updateSegment(segmentId, { name: 'unlocked again' });
});

test('an all_users campaign reaches every user but the sender exactly once', async () => {
  const campaign = newCampaign('run-full');
  await campaign.create();
  await campaign.start();
  let last;
  const done = await eventually(async () => (last = (await campaign.get()).campaign).status === 'completed', 60000, 200);
  assert.ok(done, `completes (status ${last?.status}, ${JSON.stringify(last?.stats)})`);
  assert.equal(last.stats.stats_messages_sent, N, 'sender is not a receiver');
  assert.equal(last.stats.stats_users_sent, N);
  assert.equal(last.stats.stats_channels_created, N);
  assert.equal(last.stats.progress, 1);
  const sample = ['run-00000', 'run-09999', `run-${N - 1}`];
  const chans = await client.queryChannelsRequest({ id: { $in: sample.map((u) => `run-full-${u}`) } }, {}, { message_limit: 10 });
  assert.equal(chans.length, sample.length);
  for (const ch of chans) {
    assert.equal(ch.messages.length, 1, `${ch.channel.cid} holds exactly one message`);
    assert.equal(ch.messages[0].campaign_id, 'run-full');
  }
  assert.deepEqual(await client.queryChannelsRequest({ id: 'run-full-run-sender' }), []);
});
