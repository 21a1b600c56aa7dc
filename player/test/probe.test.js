import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeUntilAvailable } from '../src/core/probe.js';
import { fakeFetch, response } from '../test-helpers/fakes.js';

const URL_ = 'https://cdn.example/hls/live_1/master.m3u8';

function recordingSleep() {
  const s = async (ms) => {
    s.waits.push(ms);
  };
  s.waits = [];
  return s;
}

test('succeeds on the Nth attempt, HEAD requests, waiting probeInterval between attempts', async () => {
  const f = fakeFetch((url, init, i) => response(i < 3 ? 404 : 200, ''));
  const sleep = recordingSleep();
  const attempts = [];
  const res = await probeUntilAvailable({ url: URL_, fetch: f, interval: 5000, maxAttempts: 12, sleep, onAttempt: (a) => attempts.push(a.attempt) });
  assert.deepEqual(res, { ok: true, attempts: 4 });
  assert.equal(f.calls.length, 4);
  assert.ok(f.calls.every((c) => c.method === 'HEAD' && c.url === URL_));
  assert.deepEqual(sleep.waits, [5000, 5000, 5000]);
  assert.deepEqual(attempts, [1, 2, 3, 4]);
});

test('gives up after maxAttempts (no sleep after the last one)', async () => {
  const f = fakeFetch(() => response(404, ''));
  const sleep = recordingSleep();
  const res = await probeUntilAvailable({ url: URL_, fetch: f, interval: 250, maxAttempts: 3, sleep });
  assert.deepEqual(res, { ok: false, attempts: 3 });
  assert.equal(f.calls.length, 3);
  assert.deepEqual(sleep.waits, [250, 250]);
});

test('network errors count as failed attempts, not as a crash', async () => {
  const f = fakeFetch((u, i, n) => {
    if (n === 0) throw new TypeError('Failed to fetch');
    return response(200, '');
  });
  const res = await probeUntilAvailable({ url: URL_, fetch: f, interval: 1, maxAttempts: 5, sleep: recordingSleep() });
  assert.deepEqual(res, { ok: true, attempts: 2 });
});

test('a server refusing HEAD (405) is probed with GET', async () => {
  const f = fakeFetch((u, init) => response(init.method === 'HEAD' ? 405 : 200, '#EXTM3U'));
  const res = await probeUntilAvailable({ url: URL_, fetch: f, interval: 1, maxAttempts: 2, sleep: recordingSleep() });
  assert.equal(res.ok, true);
  assert.deepEqual(f.calls.map((c) => c.method), ['HEAD', 'GET']);
});

test('default interval/attempts are 5000 ms x 12; aborting stops the loop', async () => {
  const f = fakeFetch(() => response(404, ''));
  const sleep = recordingSleep();
  const res = await probeUntilAvailable({ url: URL_, fetch: f, sleep });
  assert.equal(res.attempts, 12);
  assert.equal(sleep.waits.length, 11);
  assert.ok(sleep.waits.every((w) => w === 5000));

  const ctrl = new AbortController();
  const f2 = fakeFetch(() => response(404, ''));
  const sleep2 = async () => ctrl.abort();
  await assert.rejects(
    probeUntilAvailable({ url: URL_, fetch: f2, interval: 1, maxAttempts: 10, sleep: sleep2, signal: ctrl.signal }),
    (e) => e.name === 'AbortError',
  );
  assert.equal(f2.calls.length, 1);
});

test('works with real timers (small interval)', async () => {
  const f = fakeFetch((u, i, n) => response(n >= 2 ? 200 : 404, ''));
  const t0 = Date.now();
  const res = await probeUntilAvailable({ url: URL_, fetch: f, interval: 20, maxAttempts: 5 });
  assert.deepEqual(res, { ok: true, attempts: 3 });
  assert.ok(Date.now() - t0 >= 35);
});
