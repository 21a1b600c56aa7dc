// Smoke test of the built bundle (skipped when `npm run build` has not run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import vm from 'node:vm';

const bundle = new URL('../dist/vsrc-player.js', import.meta.url);
const css = new URL('../dist/vsrc-player.css', import.meta.url);
const built = existsSync(bundle);

test('dist/vsrc-player.js defines the VSRCPlayer global', { skip: !built && 'run `npm run build` first' }, () => {
  const code = readFileSync(bundle, 'utf8');
  assert.ok(code.includes('VSRCPlayer'));
  assert.ok(existsSync(new URL('../dist/vsrc-player.js.map', import.meta.url)), 'sourcemap');
  assert.ok(code.length > 300000, 'video.js is bundled in');
  const ctx = { console: { log() {}, warn() {}, error() {}, info() {}, debug() {} }, setTimeout, clearTimeout, navigator: { userAgent: 'node' } };
  ctx.window = ctx;
  ctx.self = ctx;
  vm.createContext(ctx);
  vm.runInContext(code, ctx);
  assert.equal(typeof ctx.VSRCPlayer, 'function');
  assert.equal(typeof ctx.VSRCPlayer.videojs, 'function');
  assert.equal(typeof ctx.VSRCPlayer.prototype.setQuality, 'function');
  assert.match(ctx.VSRCPlayer.version, /^\d+\.\d+\.\d+/);
});

test('dist/vsrc-player.css has video.js and VSRC styles', { skip: !built && 'run `npm run build` first' }, () => {
  const text = readFileSync(css, 'utf8');
  assert.ok(text.includes('.video-js'));
  assert.ok(text.includes('.vsrc-thumbnail'));
  assert.ok(text.includes('.vsrc-quality-button'));
});
