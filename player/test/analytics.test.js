import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnalyticsQueue, AnalyticsTransport, buildEvent } from '../src/core/analytics.js';
import { fakeTimers, fakeFetch, fakeWebSocketClass, response, flushMicrotasks } from '../test-helpers/fakes.js';

const ev = (i) => ({ event: 'play', n: i });

function recorder({ fail = 0 } = {}) {
  const batches = [];
  let failures = fail;
  const send = async (events) => {
    if (failures > 0) {
      failures--;
      throw new Error('offline');
    }
    batches.push(events.map((e) => e.n));
  };
  return { send, batches };
}

test('event shape', () => {
  const e = buildEvent({ event: 'seek', sessionId: 's', mediaId: 'vod_1', playerType: 'vod', currentTime: 12.34567, duration: Infinity, quality: '720p', timestamp: 1700000000000, data: { from: 1, to: 12 } });
  assert.deepEqual(e, {
    event: 'seek', type: 'seek', sessionId: 's', mediaId: 'vod_1', playerType: 'vod',
    currentTime: 12.346, duration: null, quality: '720p', timestamp: 1700000000000, data: { from: 1, to: 12 },
  });
  assert.equal('data' in buildEvent({ event: 'play', sessionId: 's', currentTime: NaN }), false);
  assert.equal(buildEvent({ event: 'play', sessionId: 's', currentTime: NaN }).currentTime, 0);
});

test('flushes after 5 s when fewer than 20 events are queued', async () => {
  const t = fakeTimers();
  const r = recorder();
  const q = new AnalyticsQueue({ send: r.send, setTimeout: t.setTimeout, clearTimeout: t.clearTimeout });
  q.enqueue(ev(1));
  q.enqueue(ev(2));
  await t.advance(4999);
  assert.deepEqual(r.batches, []);
  await t.advance(1);
  assert.deepEqual(r.batches, [[1, 2]]);
  assert.equal(q.length, 0);
  assert.equal(t.pending, 0, 'no timer left when the queue is empty');
});

test('flushes at once when 20 events are queued', async () => {
  const t = fakeTimers();
  const r = recorder();
  const q = new AnalyticsQueue({ send: r.send, setTimeout: t.setTimeout, clearTimeout: t.clearTimeout });
  for (let i = 0; i < 19; i++) q.enqueue(ev(i));
  await flushMicrotasks();
  assert.equal(r.batches.length, 0);
  q.enqueue(ev(19));
  await flushMicrotasks();
  assert.equal(r.batches.length, 1);
  assert.equal(r.batches[0].length, 20);
  assert.equal(t.pending, 0);
});

test('queue is bounded: oldest events are dropped beyond maxQueue', async () => {
  const t = fakeTimers();
  const r = recorder({ fail: 1000 });
  const q = new AnalyticsQueue({ send: r.send, maxQueue: 500, setTimeout: t.setTimeout, clearTimeout: t.clearTimeout });
  for (let i = 0; i < 650; i++) q.enqueue(ev(i));
  await flushMicrotasks();
  assert.equal(q.length, 500);
  assert.equal(q.dropped, 150);
  assert.equal(q.queue[0].n, 150, 'oldest dropped, order kept');
  assert.equal(q.queue[499].n, 649);
});

test('failed sends are retried later, in order', async () => {
  const t = fakeTimers();
  const r = recorder({ fail: 1 });
  const q = new AnalyticsQueue({ send: r.send, setTimeout: t.setTimeout, clearTimeout: t.clearTimeout });
  q.enqueue(ev(1));
  await t.advance(5000);
  assert.deepEqual(r.batches, []);
  assert.equal(q.length, 1);
  q.enqueue(ev(2));
  await t.advance(5000);
  assert.deepEqual(r.batches, [[1, 2]]);
});

test('flushBeacon hands everything over synchronously', () => {
  const t = fakeTimers();
  const got = [];
  const q = new AnalyticsQueue({ send: async () => {}, beacon: (events) => (got.push(events.map((e) => e.n)), true), setTimeout: t.setTimeout, clearTimeout: t.clearTimeout });
  for (let i = 0; i < 5; i++) q.enqueue(ev(i));
  assert.equal(q.flushBeacon(), true);
  assert.deepEqual(got, [[0, 1, 2, 3, 4]]);
  assert.equal(q.length, 0);
  assert.equal(t.pending, 0);
});

function transport(WS, fetchImpl, extra = {}) {
  const t = fakeTimers();
  return new AnalyticsTransport({
    wsUrl: 'ws://api.example/ws/analytics',
    batchUrl: 'http://api.example/api/analytics/batch',
    eventUrl: 'http://api.example/api/analytics/event',
    WebSocket: WS,
    fetch: fetchImpl,
    setTimeout: t.setTimeout,
    clearTimeout: t.clearTimeout,
    ...extra,
  });
}

test('WebSocket transport sends {"events":[...]}', async () => {
  const WS = fakeWebSocketClass('open');
  const f = fakeFetch(() => response(200, {}));
  const tr = transport(WS, f);
  await tr.send([{ event: 'play' }, { event: 'pause' }]);
  assert.equal(WS.sockets.length, 1);
  assert.equal(WS.sockets[0].url, 'ws://api.example/ws/analytics');
  assert.deepEqual(WS.sockets[0].sent, [{ events: [{ event: 'play' }, { event: 'pause' }] }]);
  assert.equal(f.calls.length, 0);
  await tr.send([{ event: 'ended' }]);
  assert.equal(WS.sockets.length, 1, 'socket reused');
});

test('falls back to HTTP POST when the socket cannot open', async () => {
  const WS = fakeWebSocketClass('error');
  const f = fakeFetch(() => response(204, ''));
  const tr = transport(WS, f);
  await tr.send([{ event: 'play' }, { event: 'pause' }]);
  assert.equal(tr.mode, 'http');
  assert.equal(f.calls.length, 1);
  assert.equal(f.calls[0].url, 'http://api.example/api/analytics/batch');
  assert.equal(f.calls[0].method, 'POST');
  assert.equal(f.calls[0].init.headers['Content-Type'], 'application/json');
  assert.deepEqual(JSON.parse(f.calls[0].init.body), { events: [{ event: 'play' }, { event: 'pause' }] });
  // a single event goes to /event as the bare object
  await tr.send([{ event: 'seek' }]);
  assert.equal(f.calls[1].url, 'http://api.example/api/analytics/event');
  assert.deepEqual(JSON.parse(f.calls[1].init.body), { event: 'seek' });
  assert.equal(WS.sockets.length, 1, 'no new socket after the failure');
});

test('falls back to HTTP when the socket closes later, and when WebSocket throws', async () => {
  const WS = fakeWebSocketClass('open');
  const f = fakeFetch(() => response(200, {}));
  const tr = transport(WS, f);
  await tr.send([{ event: 'play' }, { event: 'x' }]);
  WS.sockets[0].serverClose();
  await tr.send([{ event: 'pause' }, { event: 'y' }]);
  assert.equal(WS.sockets[0].sent.length, 1);
  assert.equal(f.calls.length, 1);
  assert.equal(f.calls[0].url, 'http://api.example/api/analytics/batch');

  const f2 = fakeFetch(() => response(200, {}));
  const tr2 = transport(fakeWebSocketClass('throw'), f2);
  await tr2.send([{ event: 'play' }, { event: 'x' }]);
  assert.equal(f2.calls.length, 1);
});

test('a socket that never opens times out into HTTP', async () => {
  const WS = fakeWebSocketClass('hang');
  const f = fakeFetch(() => response(200, {}));
  const t = fakeTimers();
  const tr = transport(WS, f, { setTimeout: t.setTimeout, clearTimeout: t.clearTimeout, openTimeout: 3000 });
  const p = tr.send([{ event: 'play' }, { event: 'x' }]);
  await t.advance(3000);
  await p;
  assert.equal(f.calls.length, 1);
  assert.equal(tr.mode, 'http');
});

test('HTTP 5xx rejects (retry), 400 drops', async () => {
  const tr = transport(null, fakeFetch(() => response(503, '')));
  await assert.rejects(tr.send([{ event: 'a' }, { event: 'b' }]));
  const tr2 = transport(null, fakeFetch(() => response(400, '')));
  await tr2.send([{ event: 'a' }, { event: 'b' }]);
});

test('beacon posts the batch with sendBeacon (text/plain cross-origin, JSON same-origin)', async () => {
  const beacons = [];
  const sendBeacon = (url, data) => (beacons.push({ url, data }), true);
  const tr = transport(null, fakeFetch(() => response(200, {})), { sendBeacon });
  assert.equal(tr.beacon([{ event: 'pause' }]), true);
  assert.equal(beacons[0].url, 'http://api.example/api/analytics/batch');
  assert.match(beacons[0].data.type, /^text\/plain/);
  assert.deepEqual(JSON.parse(await beacons[0].data.text()), { events: [{ event: 'pause' }] });
  const tr2 = transport(null, fakeFetch(() => response(200, {})), { sendBeacon, sameOrigin: true });
  tr2.beacon([{ event: 'ended' }]);
  assert.equal(beacons[1].data.type, 'application/json');
  // no sendBeacon -> fetch keepalive
  const f = fakeFetch(() => response(200, {}));
  const tr3 = transport(null, f);
  assert.equal(tr3.beacon([{ event: 'ended' }]), true);
  assert.equal(f.calls[0].init.keepalive, true);
});

test('queue + transport end to end: WS down -> batch POSTed after 5 s', async () => {
  const t = fakeTimers();
  const f = fakeFetch(() => response(200, {}));
  const tr = transport(fakeWebSocketClass('error'), f);
  const q = new AnalyticsQueue({ send: (e) => tr.send(e), setTimeout: t.setTimeout, clearTimeout: t.clearTimeout });
  q.enqueue({ event: 'play' });
  q.enqueue({ event: 'pause' });
  await t.advance(5000);
  await flushMicrotasks();
  assert.equal(f.calls.length, 1);
  assert.deepEqual(JSON.parse(f.calls[0].init.body).events.map((e) => e.event), ['play', 'pause']);
});
