import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveMedia } from '../src/core/resolve.js';
import { VSRCError } from '../src/core/errors.js';
import { fakeFetch, response } from '../test-helpers/fakes.js';

const ID = 'vod_a1b2c3d4-e5f6-7890-abcd-ef1234567890';

test('resolve returns the "ul" master URL and calls GET /hls/resolve/{id}', async () => {
  const f = fakeFetch(() => response(200, { ul: 'https://cdn.example/hls/x/master.m3u8' }));
  const url = await resolveMedia({ apiBase: 'https://api.example', mediaId: ID, fetch: f });
  assert.equal(url, 'https://cdn.example/hls/x/master.m3u8');
  assert.equal(f.calls.length, 1);
  assert.equal(f.calls[0].url, `https://api.example/hls/resolve/${ID}`);
  assert.equal(f.calls[0].method, 'GET');
});

test('a relative "ul" is made absolute against the resolve URL', async () => {
  const f = fakeFetch(() => response(200, { ul: '/hls/x/master.m3u8' }));
  assert.equal(await resolveMedia({ apiBase: 'http://localhost:8000', mediaId: ID, fetch: f }), 'http://localhost:8000/hls/x/master.m3u8');
});

test('404 rejects with MEDIA_NOT_FOUND and a clear message', async () => {
  const f = fakeFetch(() => response(404, { detail: 'nope' }));
  await assert.rejects(resolveMedia({ apiBase: 'https://api.example', mediaId: ID, fetch: f }), (e) => {
    assert.ok(e instanceof VSRCError);
    assert.equal(e.code, 'MEDIA_NOT_FOUND');
    assert.equal(e.status, 404);
    assert.match(e.message, /not found/);
    assert.ok(e.message.includes(ID));
    return true;
  });
});

test('server errors, network errors, bad JSON and missing "ul" all reject', async () => {
  const cases = [
    [fakeFetch(() => response(500, {})), 'RESOLVE_FAILED'],
    [fakeFetch(() => { throw new TypeError('Failed to fetch'); }), 'NETWORK_ERROR'],
    [fakeFetch(() => response(200, 'not json{')), 'RESOLVE_FAILED'],
    [fakeFetch(() => response(200, { url: 'x' })), 'RESOLVE_FAILED'],
  ];
  for (const [f, code] of cases) {
    await assert.rejects(resolveMedia({ apiBase: 'https://a', mediaId: ID, fetch: f }), (e) => e.code === code);
  }
  await assert.rejects(resolveMedia({ apiBase: 'https://a', mediaId: '', fetch: fakeFetch(() => response(200, {})) }), (e) => e.code === 'INVALID_OPTIONS');
});
