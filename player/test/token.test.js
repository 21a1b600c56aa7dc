import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withToken, resolveUrl, posterUrl, storyboardUrl } from '../src/core/url.js';
import { resolveMedia } from '../src/core/resolve.js';
import { createPlayerClass, HLS_MIME } from '../src/player.js';
import { fakeVideojs, fakeElement, fakeFetch, fakeWindow, fakeTimers, response, flushMicrotasks } from '../test-helpers/fakes.js';

const VOD = 'vod_a1b2c3d4-e5f6-7890-abcd-ef1234567890';
const API = 'https://api.vsrc.example';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ2b2QifQ.c2ln';

test('withToken appends ?token= (or &token=), keeps the fragment, never doubles it', () => {
  assert.equal(withToken('https://h/x.m3u8', TOKEN), `https://h/x.m3u8?token=${TOKEN}`);
  assert.equal(withToken('https://h/x.m3u8?a=1', TOKEN), `https://h/x.m3u8?a=1&token=${TOKEN}`);
  assert.equal(withToken('https://h/s.jpg#xywh=0,0,1,1', TOKEN), `https://h/s.jpg?token=${TOKEN}#xywh=0,0,1,1`);
  assert.equal(withToken(`https://h/x.m3u8?token=${TOKEN}`, 'other'), `https://h/x.m3u8?token=${TOKEN}`);
  assert.equal(withToken('https://h/x.m3u8', ''), 'https://h/x.m3u8');
  assert.equal(withToken('https://h/x', 'a b&c'), 'https://h/x?token=a%20b%26c');
});

test('resolve, poster and storyboard URLs carry the token when given', () => {
  assert.equal(resolveUrl(API, VOD, TOKEN), `${API}/hls/resolve/${VOD}?token=${TOKEN}`);
  assert.equal(posterUrl(API, VOD, TOKEN), `${API}/thumbnails/${VOD}/poster.jpg?token=${TOKEN}`);
  assert.equal(storyboardUrl(API, VOD, TOKEN), `${API}/thumbnails/${VOD}/storyboard.vtt?token=${TOKEN}`);
  assert.equal(resolveUrl(API, VOD), `${API}/hls/resolve/${VOD}`);
});

test('a 403 from resolve rejects with PLAYBACK_DENIED and the server reason', async () => {
  const f = fakeFetch(() => response(403, { success: false, message: 'Playback denied: the token has expired' }));
  await assert.rejects(resolveMedia({ apiBase: API, mediaId: VOD, fetch: f, token: TOKEN }), (e) => {
    assert.equal(e.code, 'PLAYBACK_DENIED');
    assert.equal(e.status, 403);
    assert.match(e.message, /token has expired/);
    assert.ok(!e.url.includes(TOKEN), 'the token is not copied into the error');
    return true;
  });
  assert.equal(f.calls[0].url, `${API}/hls/resolve/${VOD}?token=${TOKEN}`);
});

function setup(routes) {
  const videojs = fakeVideojs();
  const timers = fakeTimers();
  const fetch = fakeFetch(routes);
  const VSRCPlayer = createPlayerClass({
    videojs,
    window: fakeWindow(),
    document: { querySelector: (s) => (s === '#v' ? fakeElement('VIDEO') : null), createElement: () => fakeElement('VIDEO') },
    fetch,
    scriptSrc: `${API}/player/dist/vsrc-player.js`,
    sleep: async () => {},
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    uuid: () => '11111111-2222-4333-8444-555555555555',
    ui: { attach: () => ({ setThumbnails: () => {} }) },
  });
  return { VSRCPlayer, videojs, fetch };
}

test('the token option reaches resolve, poster and storyboard; per-audience tokens override it', async () => {
  const ul = `${API}/hls/${VOD}/master.m3u8?token=${TOKEN}`;
  const env = setup((url) => {
    if (url.includes('/hls/resolve/')) return response(200, { ul });
    if (url.includes('storyboard.vtt')) return response(200, 'WEBVTT\n', { url });
    return response(200, {});
  });
  const p = new env.VSRCPlayer('#v', { mediaId: VOD, token: TOKEN, storyboardToken: 'SB' });
  await p.whenReady();
  await flushMicrotasks();
  const vp = env.videojs.players[0];
  assert.equal(env.fetch.calls[0].url, `${API}/hls/resolve/${VOD}?token=${TOKEN}`);
  assert.deepEqual(vp.sources, [{ src: ul, type: HLS_MIME }]);
  assert.equal(vp.posterUrl, `${API}/thumbnails/${VOD}/poster.jpg?token=${TOKEN}`);
  assert.ok(env.fetch.calls.some((c) => c.url === `${API}/thumbnails/${VOD}/storyboard.vtt?token=SB`));
});

test('a playlist URL given directly gets the token; setSource can replace it', async () => {
  const env = setup((url) => {
    if (url.includes('/hls/resolve/')) return response(200, { ul: `${API}/hls/${VOD}/master.m3u8?token=NEW` });
    return response(200, 'WEBVTT\n', { url });
  });
  const p = new env.VSRCPlayer('#v', { src: `${API}/hls/${VOD}/master.m3u8`, type: 'vod', token: TOKEN, thumbnails: false });
  await p.whenReady();
  assert.deepEqual(env.videojs.players[0].sources, [{ src: `${API}/hls/${VOD}/master.m3u8?token=${TOKEN}`, type: HLS_MIME }]);
  await p.setSource(VOD, { token: 'NEW' });
  assert.ok(env.fetch.calls.some((c) => c.url === `${API}/hls/resolve/${VOD}?token=NEW`));
});
