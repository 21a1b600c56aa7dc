import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  resolveApiBase,
  resolveUrl,
  posterUrl,
  storyboardUrl,
  analyticsWsUrl,
  analyticsEndpoints,
  typeFromMediaId,
  looksLikeUrl,
} from '../src/core/url.js';

const ID = 'vod_a1b2c3d4-e5f6-7890-abcd-ef1234567890';

test('apiBase defaults to the origin the script was loaded from', () => {
  assert.equal(
    resolveApiBase({ scriptSrc: 'https://api.vsrc.video:8443/player/dist/vsrc-player.js?v=1', pageOrigin: 'https://customer.example' }),
    'https://api.vsrc.video:8443',
  );
});

test('apiBase keeps a path prefix in front of /player/dist/vsrc-player.js', () => {
  assert.equal(resolveApiBase({ scriptSrc: 'https://h.example/vsrc/player/dist/vsrc-player.js' }), 'https://h.example/vsrc');
  assert.equal(resolveApiBase({ scriptSrc: 'https://cdn.example/libs/vsrc-player.js' }), 'https://cdn.example');
});

test('apiBase falls back to the page origin when the script src is unknown', () => {
  assert.equal(resolveApiBase({ scriptSrc: '', pageOrigin: 'http://localhost:8000' }), 'http://localhost:8000');
  assert.equal(resolveApiBase({ scriptSrc: 'data:text/javascript,1', pageOrigin: 'http://localhost:8000' }), 'http://localhost:8000');
});

test('explicit apiBase wins and loses its trailing slash; relative ones resolve against the page', () => {
  assert.equal(resolveApiBase({ apiBase: 'https://x.example/', scriptSrc: 'https://cdn.example/p.js' }), 'https://x.example');
  assert.equal(resolveApiBase({ apiBase: '/vsrc/', pageHref: 'https://site.example/a/b.html' }), 'https://site.example/vsrc');
});

test('resolve / poster / storyboard URLs', () => {
  assert.equal(resolveUrl('https://api.example/', ID), `https://api.example/hls/resolve/${ID}`);
  assert.equal(posterUrl('https://api.example', ID), `https://api.example/thumbnails/${ID}/poster.jpg`);
  assert.equal(storyboardUrl('https://api.example', ID), `https://api.example/thumbnails/${ID}/storyboard.vtt`);
  // ids are path-escaped
  assert.equal(resolveUrl('https://api.example', 'a/b'), 'https://api.example/hls/resolve/a%2Fb');
});

test('analytics endpoints: ws(s) follows http(s), HTTP fallback paths', () => {
  assert.equal(analyticsWsUrl('https://api.example'), 'wss://api.example/ws/analytics');
  assert.equal(analyticsWsUrl('http://localhost:8000'), 'ws://localhost:8000/ws/analytics');
  assert.equal(analyticsWsUrl('http://h.example/prefix/'), 'ws://h.example/prefix/ws/analytics');
  assert.equal(analyticsWsUrl(''), '');
  assert.deepEqual(analyticsEndpoints('http://localhost:8000'), {
    ws: 'ws://localhost:8000/ws/analytics',
    batch: 'http://localhost:8000/api/analytics/batch',
    single: 'http://localhost:8000/api/analytics/event',
  });
  assert.deepEqual(analyticsEndpoints('http://x', 'https://collector.example/api/analytics/batch'), {
    ws: 'wss://collector.example/ws/analytics',
    batch: 'https://collector.example/api/analytics/batch',
    single: 'https://collector.example/api/analytics/event',
  });
});

test('media type from id prefix; URL detection for setSource', () => {
  assert.equal(typeFromMediaId('live_123'), 'live');
  assert.equal(typeFromMediaId(ID), 'vod');
  assert.equal(typeFromMediaId('abc'), undefined);
  assert.equal(looksLikeUrl('https://x/hls/vod_1/master.m3u8'), true);
  assert.equal(looksLikeUrl('/hls/vod_1/master.m3u8'), true);
  assert.equal(looksLikeUrl(ID), false);
});

test('analyticsUrl override forms', () => {
  assert.deepEqual(analyticsEndpoints('https://api.example'), {
    ws: 'wss://api.example/ws/analytics',
    batch: 'https://api.example/api/analytics/batch',
    single: 'https://api.example/api/analytics/event',
  });
  assert.deepEqual(analyticsEndpoints('https://api.example', 'https://stats.example'), {
    ws: 'wss://stats.example/ws/analytics',
    batch: 'https://stats.example/api/analytics/batch',
    single: 'https://stats.example/api/analytics/event',
  });
  assert.equal(analyticsEndpoints('https://api.example', 'wss://ws.example/a').ws, 'wss://ws.example/a');
  assert.equal(analyticsEndpoints('https://api.example', 'wss://ws.example/a').batch, 'https://api.example/api/analytics/batch');
  assert.equal(analyticsEndpoints('https://api.example', undefined, false).ws, '');
});
