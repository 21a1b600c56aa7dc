// Browser entry: bundled by esbuild into dist/vsrc-player.js (IIFE, global VSRCPlayer).
import videojs from 'video.js';
import css from 'vsrc:css';
import { createPlayerClass } from './player.js';
import { createUi } from './ui/index.js';
import { VSRCError } from './core/errors.js';

// Where was this script loaded from? Only knowable while it executes.
function currentScriptSrc() {
  if (typeof document === 'undefined') return '';
  const cs = document.currentScript;
  if (cs && cs.src) return cs.src;
  const scripts = document.querySelectorAll ? document.querySelectorAll('script[src*="vsrc-player"]') : [];
  return scripts.length ? scripts[scripts.length - 1].src : '';
}
const SCRIPT_SRC = currentScriptSrc();

function injectCss() {
  if (typeof document === 'undefined' || !css) return;
  if (typeof window !== 'undefined' && window.VSRC_PLAYER_NO_CSS) return;
  if (document.getElementById('vsrc-player-css')) return;
  const links = document.querySelectorAll('link[rel="stylesheet"]');
  for (const l of links) if (/vsrc-player(\.min)?\.css/.test(l.getAttribute('href') || '')) return;
  const style = document.createElement('style');
  style.id = 'vsrc-player-css';
  style.textContent = css;
  const head = document.head || document.getElementsByTagName('head')[0] || document.documentElement;
  head.insertBefore(style, head.firstChild);
}

function preloadImage(url) {
  return new Promise((resolve) => {
    if (typeof Image === 'undefined') return resolve(true);
    const img = new Image();
    img.onload = () => resolve(true);
    img.onerror = () => resolve(false);
    img.src = url;
  });
}

const ui = createUi(videojs, {
  document: typeof document !== 'undefined' ? document : undefined,
  Image: typeof Image !== 'undefined' ? Image : undefined,
});

const Base = createPlayerClass({
  videojs,
  window: typeof window !== 'undefined' ? window : undefined,
  document: typeof document !== 'undefined' ? document : undefined,
  fetch: (...args) => fetch(...args),
  WebSocket: typeof WebSocket !== 'undefined' ? WebSocket : undefined,
  scriptSrc: SCRIPT_SRC,
  preloadImage,
  ui,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t),
  log: (...a) => videojs.log.warn(...a),
});

class VSRCPlayer extends Base {
  constructor(target, options) {
    injectCss();
    super(target, options);
  }
}

VSRCPlayer.version = __VSRC_VERSION__;
VSRCPlayer.videojs = videojs;
VSRCPlayer.Error = VSRCError;
VSRCPlayer.scriptSrc = SCRIPT_SRC;

if (typeof window !== 'undefined') window.VSRCPlayer = VSRCPlayer;

export default VSRCPlayer;
