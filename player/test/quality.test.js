import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listQualities, menuItems, applyQuality, parseQualityTarget, currentSelection, playingLabel, qualityLabel } from '../src/core/quality.js';

function levels() {
  // VHS order is manifest order, not sorted.
  return [
    { id: 'a', height: 360, width: 640, bitrate: 800000, enabled: true },
    { id: 'b', height: 1080, width: 1920, bitrate: 5000000, enabled: true },
    { id: 'c', height: 720, width: 1280, bitrate: 2800000, enabled: true },
    { id: 'd', height: 240, width: 426, bitrate: 400000, enabled: true },
  ];
}

test('getQualities model: sorted by height desc with "NNNp" labels', () => {
  const q = listQualities(levels());
  assert.deepEqual(q.map((x) => x.label), ['1080p', '720p', '360p', '240p']);
  assert.deepEqual(q[0], { label: '1080p', height: 1080, bitrate: 5000000, enabled: true });
});

test('menu: Auto first and selected when all levels are enabled', () => {
  const m = menuItems(levels());
  assert.deepEqual(m.map((x) => x.label), ['Auto', '1080p', '720p', '360p', '240p']);
  assert.equal(m[0].selected, true);
  assert.ok(m.slice(1).every((x) => !x.selected));
});

test('selecting a height enables only that level; Auto enables all', () => {
  const l = levels();
  assert.equal(applyQuality(l, '720p'), true);
  assert.deepEqual(l.map((x) => x.enabled), [false, false, true, false]);
  assert.equal(currentSelection(l), 720);
  const m = menuItems(l);
  assert.equal(m[0].selected, false);
  assert.equal(m.find((x) => x.label === '720p').selected, true);
  assert.equal(applyQuality(l, 'auto'), true);
  assert.ok(l.every((x) => x.enabled));
  assert.equal(currentSelection(l), 'auto');
});

test('unknown heights change nothing', () => {
  const l = levels();
  assert.equal(applyQuality(l, 480), false);
  assert.equal(applyQuality(l, 'best'), false);
  assert.ok(l.every((x) => x.enabled));
});

test('duplicate heights (two bitrates) collapse into one menu entry and are selected together', () => {
  const l = [...levels(), { id: 'e', height: 720, bitrate: 4000000, enabled: true }];
  assert.deepEqual(menuItems(l).map((x) => x.label), ['Auto', '1080p', '720p', '360p', '240p']);
  applyQuality(l, 720);
  assert.deepEqual(l.filter((x) => x.enabled).map((x) => x.id), ['c', 'e']);
});

test('target parsing and labels', () => {
  assert.equal(parseQualityTarget('AUTO'), 'auto');
  assert.equal(parseQualityTarget(1080), 1080);
  assert.equal(parseQualityTarget('480p'), 480);
  assert.equal(parseQualityTarget(''), null);
  assert.equal(qualityLabel({ bitrate: 128000 }), '128 kbps');
  const l = levels();
  l.selectedIndex = 2;
  assert.equal(playingLabel(l), '720p');
  assert.equal(playingLabel([], 480), '480p');
  assert.equal(playingLabel([], 0), null);
});

test('a forced rendition is switched on again last, so VHS flushes its buffer (switch from Auto)', () => {
  const writes = [];
  const l = levels().map((lvl) => {
    let on = lvl.enabled;
    return Object.defineProperty({ ...lvl }, 'enabled', {
      get: () => on,
      set: (v) => { on = v; writes.push(`${lvl.height}:${v}`); },
    });
  });
  applyQuality(l, 240);
  assert.equal(writes.at(-1), '240:true');
  assert.ok(writes.indexOf('240:false') > writes.indexOf('1080:false'));
  assert.deepEqual(l.filter((x) => x.enabled).map((x) => x.height), [240]);
});
