import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPlayerClass, HLS_MIME } from '../src/player.js';
import { fakeVideojs, fakeElement, fakeFetch, fakeWindow, fakeTimers, fakeQualityLevels, fakeWebSocketClass, response, flushMicrotasks } from '../test-helpers/fakes.js';

const VOD = 'vod_a1b2c3d4-e5f6-7890-abcd-ef1234567890';
const LIVE = 'live_a1b2c3d4-e5f6-7890-abcd-ef1234567890';
const API = 'https://api.vsrc.example';
const master = (id) => `https://cdn.vsrc.example/hls/${id}/master.m3u8`;
const VTT = 'WEBVTT\n\n00:00.000 --> 00:05.000\nsprite.jpg#xywh=0,0,160,90\n';

function setup({ routes, scriptSrc = `${API}/player/dist/vsrc-player.js`, WebSocket, ui } = {}) {
  const videojs = fakeVideojs();
  const win = fakeWindow();
  const timers = fakeTimers();
  const probeSleeps = [];
  const fetch = fakeFetch(
    routes ||
      ((url) => {
        if (url.includes('/hls/resolve/')) return response(200, { ul: master(url.split('/').pop()) });
        if (url.endsWith('storyboard.vtt')) return response(200, VTT, { url });
        if (url.includes('/api/analytics/')) return response(200, {});
        return response(200, '');
      }),
  );
  const uiCalls = { thumbs: [] };
  const VSRCPlayer = createPlayerClass({
    videojs,
    window: win,
    document: { querySelector: (s) => (s === '#v' ? fakeElement('VIDEO') : null), createElement: () => fakeElement('VIDEO') },
    fetch,
    WebSocket,
    scriptSrc,
    sleep: async (ms) => probeSleeps.push(ms),
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    uuid: () => '11111111-2222-4333-8444-555555555555',
    ui: ui || { attach: () => ({ setThumbnails: (c) => uiCalls.thumbs.push(c) }) },
  });
  return { VSRCPlayer, videojs, win, fetch, timers, probeSleeps, uiCalls };
}

test('VOD: resolves via {apiBase}/hls/resolve, sets the HLS source, ready at once, poster + storyboard', async () => {
  const env = setup();
  const readyArgs = [];
  const errors = [];
  const p = new env.VSRCPlayer('#v', { type: 'vod', mediaId: VOD, onReady: (x) => readyArgs.push(x), onError: (e) => errors.push(e) });
  assert.equal(p.apiBase, API, 'apiBase = origin of the script');
  await p.whenReady();
  await flushMicrotasks();
  const vp = env.videojs.players[0];
  assert.equal(p.getPlayer(), vp);
  assert.equal(env.fetch.calls[0].url, `${API}/hls/resolve/${VOD}`);
  assert.deepEqual(vp.sources, [{ src: master(VOD), type: HLS_MIME }]);
  assert.equal(vp.options.liveui, true);
  assert.deepEqual(readyArgs, [p]);
  assert.deepEqual(errors, []);
  assert.equal(vp.plays, 0, 'VOD does not autoplay by default');
  assert.equal(vp.posterUrl, `${API}/thumbnails/${VOD}/poster.jpg`);
  assert.ok(env.fetch.calls.some((c) => c.url === `${API}/thumbnails/${VOD}/storyboard.vtt`));
  assert.equal(p.thumbnails.length, 1);
  assert.equal(p.thumbnails[0].url, `${API}/thumbnails/${VOD}/sprite.jpg`);
  assert.equal(env.uiCalls.thumbs.at(-1).length, 1);
});

test('options: vhs passthrough, muted, explicit poster, apiBase fallback to the page origin', async () => {
  const env = setup({ scriptSrc: '' });
  const p = new env.VSRCPlayer('#v', { mediaId: VOD, muted: true, poster: 'https://img/p.jpg', vhs: { enableLowInitialPlaylist: true, bandwidth: 1e6 } });
  await p.whenReady();
  const o = env.videojs.players[0].options;
  assert.equal(p.apiBase, 'https://customer.example');
  assert.equal(o.html5.vhs.enableLowInitialPlaylist, true);
  assert.equal(o.html5.vhs.bandwidth, 1e6);
  assert.equal(o.muted, true);
  assert.equal(env.videojs.players[0].posterUrl, 'https://img/p.jpg');
  assert.equal(p.type, 'vod', 'type inferred from the id');
});

test('resolve 404 -> onError with MEDIA_NOT_FOUND, no source set', async () => {
  const env = setup({ routes: (url) => (url.includes('/hls/resolve/') ? response(404, { message: 'not found' }) : response(200, {})) });
  const errors = [];
  let ready = 0;
  const p = new env.VSRCPlayer('#v', { type: 'vod', mediaId: VOD, onError: (e) => errors.push(e), onReady: () => ready++ });
  await assert.rejects(p.whenReady());
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'MEDIA_NOT_FOUND');
  assert.ok(errors[0].message.includes(VOD));
  assert.equal(ready, 0);
  assert.deepEqual(env.videojs.players[0].sources, []);
  assert.ok(env.videojs.players[0].err, 'message shown in the player');
});

test('live: probes HEAD until the playlist appears, then sets the source and plays', async () => {
  let heads = 0;
  const env = setup({
    routes: (url, init) => {
      if (url.includes('/hls/resolve/')) return response(200, { ul: master(LIVE) });
      if (init.method === 'HEAD') return response(++heads >= 3 ? 200 : 404, '');
      return response(200, {});
    },
  });
  const order = [];
  const p = new env.VSRCPlayer('#v', {
    type: 'live',
    mediaId: LIVE,
    probeInterval: 2000,
    onProbeSuccess: () => order.push('probeSuccess'),
    onProbeFailed: () => order.push('probeFailed'),
    onReady: () => order.push('ready'),
  });
  const during = [];
  env.videojs.players[0].on('vsrc:probe', (e) => during.push([e.attempt, e.ok, env.videojs.players[0].hasClass('vsrc-waiting-live')]));
  await p.whenReady();
  assert.deepEqual(during, [[1, false, true], [2, false, true], [3, true, true]], 'vsrc:probe events, waiting overlay while probing');
  assert.equal(env.videojs.players[0].hasClass('vsrc-waiting-live'), false);
  await flushMicrotasks();
  const vp = env.videojs.players[0];
  assert.equal(heads, 3);
  assert.deepEqual(env.probeSleeps, [2000, 2000]);
  assert.deepEqual(order, ['probeSuccess', 'ready']);
  assert.deepEqual(vp.sources, [{ src: master(LIVE), type: HLS_MIME }]);
  assert.equal(vp.plays, 1, 'live plays after the probe succeeds');
  assert.equal(p.isPlaying(), true);
  assert.equal(vp.posterUrl, '', 'no VOD poster for live');
});

test('live: onProbeFailed after maxProbeAttempts, no source', async () => {
  const env = setup({ routes: (url) => (url.includes('/hls/resolve/') ? response(200, { ul: master(LIVE) }) : response(404, '')) });
  const calls = [];
  const p = new env.VSRCPlayer('#v', {
    mediaId: LIVE,
    maxProbeAttempts: 4,
    onProbeFailed: () => calls.push('failed'),
    onProbeSuccess: () => calls.push('success'),
    onError: (e) => calls.push(e.code),
  });
  assert.equal(p.type, 'live');
  await assert.rejects(p.whenReady());
  assert.deepEqual(calls, ['failed', 'PROBE_FAILED']);
  assert.equal(env.fetch.calls.filter((c) => c.method === 'HEAD').length, 4);
  assert.deepEqual(env.videojs.players[0].sources, []);
});

test('live autoplay blocked with sound -> retried muted', async () => {
  const env = setup();
  const p = new env.VSRCPlayer('#v', { mediaId: LIVE });
  const vp = env.videojs.players[0];
  let n = 0;
  vp.playResult = () => (n++ === 0 ? Promise.reject(Object.assign(new Error('no'), { name: 'NotAllowedError' })) : Promise.resolve());
  await p.whenReady();
  await flushMicrotasks();
  assert.equal(vp.plays, 2);
  assert.equal(vp.muted(), true);
});

test('methods: play, pause, seek, volume, currentTime, isPlaying, setSource, dispose', async () => {
  const env = setup();
  const p = new env.VSRCPlayer('#v', { mediaId: VOD });
  await p.whenReady();
  const vp = env.videojs.players[0];
  await p.play();
  assert.equal(p.isPlaying(), true);
  p.pause();
  assert.equal(p.isPlaying(), false);
  p.seek(42.5);
  assert.equal(p.currentTime(), 42.5);
  p.volume(0.3);
  assert.equal(p.volume(), 0.3);
  p.volume(7);
  assert.equal(p.volume(), 1, 'volume clamped');
  await p.setSource(LIVE);
  assert.equal(p.type, 'live');
  assert.equal(p.mediaId, LIVE);
  assert.equal(vp.sources.at(-1).src, master(LIVE));
  await p.setSource('https://other.example/hls/vod_x-1/master.m3u8');
  assert.equal(vp.sources.at(-1).src, 'https://other.example/hls/vod_x-1/master.m3u8');
  assert.equal(p.mediaId, 'vod_x-1');
  p.dispose();
  assert.equal(vp.disposed, true);
  assert.equal(p.isPlaying(), false);
});

test('quality API over player.qualityLevels()', async () => {
  const env = setup();
  const p = new env.VSRCPlayer('#v', { mediaId: VOD });
  const vp = env.videojs.players[0];
  const ql = fakeQualityLevels([
    { height: 480, bitrate: 1.4e6 },
    { height: 1080, bitrate: 5e6 },
    { height: 720, bitrate: 2.8e6 },
  ]);
  vp.ql = ql;
  assert.deepEqual(p.getQualities().map((q) => q.label), ['1080p', '720p', '480p']);
  assert.equal(p.setQuality(720), true);
  assert.deepEqual(p.getQualities().map((q) => q.enabled), [false, true, false]);
  assert.equal(p.getQuality(), 720);
  assert.equal(p.setQuality(144), false);
  assert.equal(p.setQuality('auto'), true);
  assert.ok(p.getQualities().every((q) => q.enabled));
  assert.deepEqual(p.getQualityMenu().map((m) => m.label), ['Auto', '1080p', '720p', '480p']);
});

test('analytics: player events become batched events with the documented shape; dispose beacons the rest', async () => {
  const env = setup({ WebSocket: fakeWebSocketClass('error') });
  const p = new env.VSRCPlayer('#v', { mediaId: VOD });
  await p.whenReady();
  const vp = env.videojs.players[0];
  vp.dur = 120;
  vp.ql = fakeQualityLevels([{ height: 720, bitrate: 2.8e6 }]);
  vp.ql.selectedIndex = 0;
  await p.play();
  vp.time = 10;
  vp.trigger('timeupdate');
  p.seek(30);
  vp.trigger('playing');
  vp.trigger('waiting');
  p.pause();
  vp.trigger('ended');
  const q = p.analytics.queue;
  assert.deepEqual(q.queue.map((e) => e.event), ['play', 'seek', 'buffer', 'pause', 'ended']);
  const seek = q.queue[1];
  assert.deepEqual(Object.keys(seek).sort(), ['currentTime', 'data', 'duration', 'event', 'mediaId', 'playerType', 'quality', 'sessionId', 'timestamp', 'type'].sort());
  assert.equal(seek.sessionId, '11111111-2222-4333-8444-555555555555');
  assert.equal(seek.mediaId, VOD);
  assert.equal(seek.duration, 120);
  assert.equal(seek.quality, '720p');
  assert.deepEqual(seek.data, { from: 10, to: 30 });

  // 5 s later the batch goes out over HTTP (socket refused)
  await env.timers.advance(5000);
  await flushMicrotasks();
  const posts = env.fetch.calls.filter((c) => c.url === `${API}/api/analytics/batch`);
  assert.equal(posts.length, 1);
  assert.equal(JSON.parse(posts[0].init.body).events.length, 5);

  vp.trigger('play');
  p.dispose();
  assert.equal(env.win.beacons.length, 1);
  assert.equal(env.win.beacons[0].url, `${API}/api/analytics/batch`);
  assert.deepEqual(JSON.parse(await env.win.beacons[0].data.text()).events.map((e) => e.event), ['play']);
  assert.equal((env.win.listeners.pagehide || []).length, 0, 'pagehide listener removed');
});

test('quality_change is reported when the playing rendition changes; pagehide flushes', async () => {
  const env = setup();
  const p = new env.VSRCPlayer('#v', { mediaId: VOD });
  await p.whenReady();
  const vp = env.videojs.players[0];
  const ql = fakeQualityLevels([{ height: 360 }, { height: 720 }]);
  // the listeners were bound to the initial list: reuse it
  Object.assign(vp.ql, { 0: ql[0], 1: ql[1], length: 2 });
  vp.ql.selectedIndex = 0;
  vp.ql.trigger('change');
  vp.ql.selectedIndex = 1;
  vp.ql.trigger('change');
  const evs = p.analytics.queue.queue.filter((e) => e.event === 'quality_change');
  assert.equal(evs.length, 1);
  assert.deepEqual(evs[0].data, { from: '360p', to: '720p', selection: 'auto' });
  assert.equal(evs[0].quality, '720p');
  env.win.dispatch('pagehide');
  assert.equal(env.win.beacons.length, 1);
  assert.equal(p.analytics.queue.length, 0);
});

test('analytics: false sends nothing; missing element throws', async () => {
  const env = setup();
  const p = new env.VSRCPlayer('#v', { mediaId: VOD, analytics: false });
  await p.whenReady();
  await p.play();
  p.dispose();
  assert.equal(p.analytics, null);
  assert.equal(env.win.beacons.length, 0);
  assert.ok(!env.fetch.calls.some((c) => c.url.includes('/api/analytics/')));
  const errors = [];
  assert.throws(() => new env.VSRCPlayer('#missing', { mediaId: VOD, onError: (e) => errors.push(e) }), /element not found/);
  assert.equal(errors.length, 1);
});

test('a container element gets a <video> child', async () => {
  const env = setup();
  const div = fakeElement('DIV');
  const p = new env.VSRCPlayer(div, { mediaId: VOD });
  await p.whenReady();
  assert.equal(div.children.length, 1);
  assert.equal(div.children[0].tagName, 'VIDEO');
  assert.equal(env.videojs.players[0].el_, div.children[0]);
});

test('the quality menu is refreshed on video.js addqualitylevel/removequalitylevel/change events', async () => {
  const env = setup();
  const p = new env.VSRCPlayer('#v', { mediaId: VOD });
  await p.whenReady();
  const vp = env.videojs.players[0];
  let refreshes = 0;
  vp.on('vsrc:qualitieschange', () => refreshes++);
  vp.ql.trigger('addqualitylevel');
  vp.ql.trigger('removequalitylevel');
  vp.ql.trigger('change');
  assert.equal(refreshes, 3);
  p.setQuality('auto');
  assert.equal(refreshes, 4);
});
