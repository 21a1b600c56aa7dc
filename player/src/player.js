// VSRCPlayer: thin glue between the pure core modules and video.js.
// Every browser dependency comes in through `deps`, so this file can be
// exercised in plain node with fakes (see test/player.test.js).

import { VSRCError } from './core/errors.js';
import {
  resolveApiBase,
  posterUrl,
  storyboardUrl,
  withToken,
  analyticsEndpoints,
  typeFromMediaId,
  looksLikeUrl,
  originOf,
} from './core/url.js';
import { resolveMedia } from './core/resolve.js';
import { probeUntilAvailable, defaultSleep, DEFAULT_PROBE_INTERVAL, DEFAULT_MAX_PROBE_ATTEMPTS } from './core/probe.js';
import { AnalyticsQueue, AnalyticsTransport, buildEvent } from './core/analytics.js';
import { listQualities, applyQuality, currentSelection, playingLabel, menuItems } from './core/quality.js';
import { parseThumbnailVtt } from './core/vtt.js';
import { uuid4 } from './core/uuid.js';

export const HLS_MIME = 'application/x-mpegURL';

const noop = () => {};

function isPromise(p) {
  return p && typeof p.then === 'function';
}

function mediaIdFromUrl(url) {
  const m = /\/hls\/((?:vod|live)_[A-Za-z0-9-]+)(?:\/|$)/.exec(url || '');
  return m ? m[1] : null;
}

/**
 * Build the VSRCPlayer class around injected dependencies:
 *  videojs, window, document, fetch, WebSocket, scriptSrc, sleep, ui, uuid.
 */
export function createPlayerClass(deps) {
  const videojs = deps.videojs;

  class VSRCPlayer {
    /**
     * @param {string|Element} target CSS selector or element (<video>, <video-js> or a container)
     * @param {object} options see README
     */
    constructor(target, options = {}) {
      this.options = { ...options };
      const o = this.options;
      this.onReady_ = typeof o.onReady === 'function' ? o.onReady : noop;
      this.onError_ = typeof o.onError === 'function' ? o.onError : noop;
      this.onProbeSuccess_ = typeof o.onProbeSuccess === 'function' ? o.onProbeSuccess : noop;
      this.onProbeFailed_ = typeof o.onProbeFailed === 'function' ? o.onProbeFailed : noop;

      const win = deps.window;
      const loc = win && win.location;
      this.apiBase = resolveApiBase({
        apiBase: o.apiBase,
        scriptSrc: deps.scriptSrc,
        pageHref: loc && loc.href,
        pageOrigin: loc && loc.origin,
      });
      this.mediaId = o.mediaId || null;
      // Signed playback: one token for everything, or per audience (Mux's playback/thumbnail/storyboard).
      this.token = o.token || null;
      this.thumbnailToken = o.thumbnailToken || this.token;
      this.storyboardToken = o.storyboardToken || this.token;
      this.type = o.type === 'live' || o.type === 'vod' ? o.type : typeFromMediaId(o.mediaId) || 'vod';
      this.probeInterval = Number.isFinite(+o.probeInterval) && +o.probeInterval >= 0 ? +o.probeInterval : DEFAULT_PROBE_INTERVAL;
      this.maxProbeAttempts = Number.isFinite(+o.maxProbeAttempts) && +o.maxProbeAttempts >= 1 ? Math.floor(+o.maxProbeAttempts) : DEFAULT_MAX_PROBE_ATTEMPTS;
      this.sessionId = (deps.uuid || uuid4)();
      this.src = null;
      this.isReady = false;
      this.disposed = false;
      this.thumbnails = [];
      this.loadToken_ = 0;
      this.abort_ = null;
      this.readyFired_ = false;
      this.lastError = null;

      this.ready_ = new Promise((resolve, reject) => {
        this.resolveReady_ = resolve;
        this.rejectReady_ = reject;
      });
      this.ready_.catch(noop);

      const el = this.findElement_(target);
      if (!el) {
        const err = new VSRCError(VSRCError.codes.INVALID_OPTIONS, `VSRCPlayer: element not found: ${String(target)}`);
        this.emitError_(err, false);
        throw err;
      }
      this.player_ = videojs(el, this.videojsOptions_(el));
      this.player_.addClass && this.player_.addClass('vsrc-player');
      this.setupAnalytics_();
      this.bindPlayerEvents_();
      if (deps.ui && typeof deps.ui.attach === 'function') {
        try {
          this.ui_ = deps.ui.attach(this.player_, this) || null;
        } catch (e) {
          if (deps.log) deps.log('VSRCPlayer: UI setup failed', e);
        }
      }

      const initial = o.src || o.mediaId;
      if (!initial) {
        this.fail_(new VSRCError(VSRCError.codes.INVALID_OPTIONS, 'VSRCPlayer: options.mediaId is required'));
      } else {
        this.load_(initial, this.type);
      }
    }

    // ---- setup -----------------------------------------------------------

    findElement_(target) {
      const doc = deps.document;
      let el = target;
      if (typeof target === 'string') el = doc && doc.querySelector(target);
      if (!el || typeof el !== 'object') return null;
      const tag = String(el.tagName || '').toUpperCase();
      if (tag === 'VIDEO' || tag === 'VIDEO-JS' || tag === 'AUDIO') return el;
      // A container: put a <video> inside it.
      if (!doc || typeof doc.createElement !== 'function') return el;
      const v = doc.createElement('video');
      v.className = 'video-js vjs-default-skin';
      v.setAttribute && v.setAttribute('controls', '');
      v.setAttribute && v.setAttribute('playsinline', '');
      el.appendChild(v);
      return v;
    }

    videojsOptions_(el) {
      const o = this.options;
      const b = videojs.browser || {};
      const overrideNative = !(b.IS_ANY_SAFARI || b.IS_IOS);
      const vhs = { overrideNative, ...(o.vhs || {}) };
      const hasSize = !!(el.getAttribute && (el.getAttribute('width') || el.getAttribute('height')));
      const base = {
        controls: true,
        preload: 'auto',
        liveui: true,
        fluid: !hasSize,
        muted: !!o.muted,
        playsinline: true,
        html5: {
          vhs,
          nativeAudioTracks: vhs.overrideNative ? false : undefined,
          nativeVideoTracks: vhs.overrideNative ? false : undefined,
        },
      };
      if (o.poster) base.poster = o.poster;
      if (!vhs.overrideNative) {
        delete base.html5.nativeAudioTracks;
        delete base.html5.nativeVideoTracks;
      }
      const extra = o.videojs || o.videojsOptions;
      if (extra && typeof extra === 'object') {
        const merge = (videojs.obj && videojs.obj.merge) || videojs.mergeOptions;
        return merge ? merge(base, extra) : { ...base, ...extra };
      }
      return base;
    }

    setupAnalytics_() {
      const o = this.options;
      const enabled = o.analytics !== false;
      this.analytics = null;
      if (!enabled) return;
      const win = deps.window || {};
      const nav = win.navigator;
      const urls = analyticsEndpoints(this.apiBase, o.analyticsUrl, o.analyticsWsUrl);
      const pageOrigin = win.location && win.location.origin;
      const transport = new AnalyticsTransport({
        wsUrl: urls.ws,
        batchUrl: urls.batch,
        eventUrl: urls.single,
        WebSocket: deps.WebSocket,
        fetch: deps.fetch,
        sendBeacon: nav && typeof nav.sendBeacon === 'function' ? (u, d) => nav.sendBeacon(u, d) : null,
        sameOrigin: !!pageOrigin && originOf(urls.batch) === pageOrigin,
        setTimeout: deps.setTimeout,
        clearTimeout: deps.clearTimeout,
      });
      const queue = new AnalyticsQueue({
        send: (events) => transport.send(events),
        beacon: (events) => transport.beacon(events),
        flushInterval: o.analyticsFlushInterval || undefined,
        batchSize: o.analyticsBatchSize || undefined,
        maxQueue: o.analyticsMaxQueue || undefined,
        setTimeout: deps.setTimeout,
        clearTimeout: deps.clearTimeout,
      });
      this.analytics = { transport, queue };
      this.onPageHide_ = () => queue.flushBeacon();
      this.onVisibility_ = () => {
        const doc = deps.document;
        if (doc && doc.visibilityState === 'hidden') queue.flushBeacon();
      };
      if (win.addEventListener) win.addEventListener('pagehide', this.onPageHide_);
      const doc = deps.document;
      if (doc && doc.addEventListener) doc.addEventListener('visibilitychange', this.onVisibility_);
    }

    bindPlayerEvents_() {
      const p = this.player_;
      this.lastTime_ = 0;
      this.seekFrom_ = null;
      this.started_ = false;
      this.lastQuality_ = null;
      p.on('timeupdate', () => {
        if (!p.seeking || !p.seeking()) this.lastTime_ = this.safeCurrentTime_();
      });
      p.on('play', () => this.track('play'));
      p.on('playing', () => {
        this.started_ = true;
      });
      p.on('pause', () => {
        if (p.ended && p.ended()) return;
        this.track('pause');
      });
      p.on('seeking', () => {
        if (this.seekFrom_ === null) this.seekFrom_ = this.lastTime_;
      });
      p.on('seeked', () => {
        const from = this.seekFrom_ === null ? this.lastTime_ : this.seekFrom_;
        this.seekFrom_ = null;
        const to = this.safeCurrentTime_();
        this.lastTime_ = to;
        this.track('seek', { from: Math.round(from * 1000) / 1000, to: Math.round(to * 1000) / 1000 });
      });
      p.on('ended', () => this.track('ended'));
      p.on('waiting', () => {
        if (!this.started_ || (p.seeking && p.seeking())) return;
        this.track('buffer');
      });
      p.on('error', () => {
        if (this.suppressPlayerError_) return;
        const me = p.error ? p.error() : null;
        const err = new VSRCError(VSRCError.codes.PLAYBACK_ERROR, `VSRCPlayer: playback error${me && me.message ? `: ${me.message}` : ''}`, {
          mediaError: me || null,
          mediaErrorCode: me ? me.code : null,
          mediaId: this.mediaId,
        });
        this.emitError_(err, true);
      });
      const ql = this.qualityLevels_();
      if (ql && ql.on) {
        ql.on('change', () => {
          const label = playingLabel(ql);
          const from = this.lastQuality_;
          this.lastQuality_ = label;
          if (from !== null && label !== from) {
            const sel = currentSelection(ql);
            this.track('quality_change', { from, to: label, selection: sel === 'auto' ? 'auto' : `${sel}p` });
          }
          this.notifyQualities_();
        });
        ql.on('addqualitylevel', () => this.notifyQualities_());
        ql.on('removequalitylevel', () => this.notifyQualities_());
      }
    }

    // ---- loading -----------------------------------------------------------

    load_(sourceOrId, type) {
      const token = ++this.loadToken_;
      if (this.abort_) this.abort_.abort();
      const ctrl = typeof AbortController !== 'undefined' ? new AbortController() : null;
      this.abort_ = ctrl;
      const signal = ctrl ? ctrl.signal : undefined;
      const stale = () => this.disposed || token !== this.loadToken_;

      const run = async () => {
        let url;
        if (looksLikeUrl(sourceOrId)) {
          const base = (deps.window && deps.window.location && deps.window.location.href) || this.apiBase || undefined;
          try {
            url = new URL(sourceOrId, base).href;
          } catch {
            url = sourceOrId;
          }
          url = withToken(url, this.token);
          this.mediaId = mediaIdFromUrl(url) || this.mediaId;
        } else {
          this.mediaId = sourceOrId;
          url = await resolveMedia({ apiBase: this.apiBase, mediaId: sourceOrId, fetch: deps.fetch, signal, token: this.token });
        }
        if (stale()) return;
        this.type = type;
        if (type === 'live') {
          this.probing = true;
          this.toggleClass_('vsrc-waiting-live', true);
          const res = await probeUntilAvailable({
            url,
            fetch: deps.fetch,
            interval: this.probeInterval,
            maxAttempts: this.maxProbeAttempts,
            sleep: deps.sleep || defaultSleep,
            signal,
            onAttempt: (info) => this.player_.trigger && this.player_.trigger({ type: 'vsrc:probe', attempt: info.attempt, ok: info.ok }),
          });
          this.probing = false;
          this.toggleClass_('vsrc-waiting-live', false);
          if (stale()) return;
          if (!res.ok) {
            this.safeCall_(this.onProbeFailed_, { attempts: res.attempts, url });
            this.fail_(
              new VSRCError(
                VSRCError.codes.PROBE_FAILED,
                `VSRCPlayer: live stream "${this.mediaId}" is not available (no playlist after ${res.attempts} attempts)`,
                { mediaId: this.mediaId, url, attempts: res.attempts },
              ),
              'The live stream has not started yet.',
            );
            return;
          }
          this.safeCall_(this.onProbeSuccess_, { attempts: res.attempts, url });
        }
        this.setPlayerSource_(url);
        if (type === 'vod') this.loadVodExtras_(token);
        this.markReady_();
        const auto = this.options.autoplay;
        if (auto === 'muted' && this.player_.muted) this.player_.muted(true);
        if (type === 'live' ? auto !== false : !!auto) this.autoplay_();
      };

      run().catch((e) => {
        if (stale() || (e && e.name === 'AbortError')) return;
        this.probing = false;
        this.toggleClass_('vsrc-waiting-live', false);
        const err =
          e instanceof VSRCError
            ? e
            : new VSRCError(VSRCError.codes.RESOLVE_FAILED, `VSRCPlayer: ${(e && e.message) || e}`, { cause: e });
        const shown = {
          [VSRCError.codes.MEDIA_NOT_FOUND]: 'This video is not available.',
          [VSRCError.codes.PLAYBACK_DENIED]: 'This video needs a valid playback token.',
        }[err.code];
        this.fail_(err, shown);
      });
    }

    toggleClass_(cls, on) {
      const p = this.player_;
      if (!p || this.disposed) return;
      try {
        if (on && p.addClass) p.addClass(cls);
        else if (!on && p.removeClass) p.removeClass(cls);
      } catch {
        /* ignore */
      }
    }

    setPlayerSource_(url) {
      this.src = url;
      this.lastQuality_ = null;
      this.suppressPlayerError_ = true;
      try {
        if (this.player_.error && this.player_.error()) this.player_.error(null);
      } finally {
        this.suppressPlayerError_ = false;
      }
      this.player_.src({ src: url, type: HLS_MIME });
    }

    autoplay_() {
      const p = this.player_;
      let r;
      try {
        r = p.play();
      } catch {
        return;
      }
      if (isPromise(r)) {
        r.catch((e) => {
          // Autoplay with sound blocked: retry muted (what browsers allow).
          if (this.disposed || !e || e.name !== 'NotAllowedError' || (p.muted && p.muted())) return;
          p.muted(true);
          const r2 = p.play();
          if (isPromise(r2)) r2.catch(noop);
        });
      }
    }

    loadVodExtras_(token) {
      const o = this.options;
      const id = this.mediaId;
      if (!id) return;
      if (o.poster === undefined || o.poster === null || o.poster === true) {
        const url = posterUrl(this.apiBase, id, this.thumbnailToken);
        const set = () => {
          if (!this.disposed && token === this.loadToken_) this.player_.poster(url);
        };
        if (deps.preloadImage) {
          deps.preloadImage(url).then((ok) => ok && set(), noop);
        } else set();
      }
      if (o.thumbnails !== false) this.loadThumbnails_(storyboardUrl(this.apiBase, id, this.storyboardToken), token);
    }

    async loadThumbnails_(url, token) {
      this.thumbnails = [];
      if (this.ui_ && this.ui_.setThumbnails) this.ui_.setThumbnails([]);
      try {
        const res = await deps.fetch(url, { method: 'GET' });
        if (!res.ok) return;
        const text = await res.text();
        if (this.disposed || token !== this.loadToken_) return;
        this.thumbnails = parseThumbnailVtt(text, res.url || url);
        if (this.ui_ && this.ui_.setThumbnails) this.ui_.setThumbnails(this.thumbnails);
      } catch {
        /* no thumbnails */
      }
    }

    markReady_() {
      this.isReady = true;
      this.resolveReady_(this);
      if (this.readyFired_) return;
      this.readyFired_ = true;
      const fire = () => {
        if (!this.disposed) this.safeCall_(this.onReady_, this);
      };
      if (this.player_.ready) this.player_.ready(fire);
      else fire();
    }

    fail_(err, displayMessage) {
      this.lastError = err;
      this.rejectReady_(err);
      if (this.player_ && this.player_.error && !this.disposed) {
        this.suppressPlayerError_ = true;
        try {
          this.player_.error({ code: 4, message: displayMessage || err.message });
        } catch {
          /* ignore */
        } finally {
          this.suppressPlayerError_ = false;
        }
      }
      this.emitError_(err, true);
    }

    emitError_(err, track) {
      this.lastError = err;
      if (track) this.track('error', { code: err.code, message: err.message, ...(err.mediaErrorCode ? { mediaErrorCode: err.mediaErrorCode } : {}) });
      this.safeCall_(this.onError_, err);
    }

    safeCall_(fn, arg) {
      try {
        fn(arg);
      } catch (e) {
        if (deps.log) deps.log('VSRCPlayer: callback threw', e);
      }
    }

    // ---- analytics ----------------------------------------------------------

    /** Queue an analytics event (no-op when analytics is off). */
    track(event, data) {
      if (!this.analytics || this.disposed) return null;
      const ev = buildEvent({
        event,
        sessionId: this.sessionId,
        mediaId: this.mediaId,
        playerType: this.type,
        currentTime: this.safeCurrentTime_(),
        duration: this.safeDuration_(),
        quality: this.currentQualityLabel(),
        timestamp: Date.now(),
        data,
      });
      this.analytics.queue.enqueue(ev);
      return ev;
    }

    safeCurrentTime_() {
      try {
        const t = this.player_ && this.player_.currentTime();
        return typeof t === 'number' && Number.isFinite(t) ? t : 0;
      } catch {
        return 0;
      }
    }

    safeDuration_() {
      try {
        const d = this.player_ && this.player_.duration();
        return typeof d === 'number' ? d : NaN;
      } catch {
        return NaN;
      }
    }

    // ---- quality ------------------------------------------------------------

    qualityLevels_() {
      const p = this.player_;
      if (!p || typeof p.qualityLevels !== 'function') return null;
      try {
        return p.qualityLevels();
      } catch {
        return null;
      }
    }

    /** [{label, height, bitrate, enabled}] sorted by height desc. */
    getQualities() {
      return listQualities(this.qualityLevels_());
    }

    /** Menu model: [{key: 'auto'|height, label, selected}] with "Auto" first. */
    getQualityMenu() {
      return menuItems(this.qualityLevels_());
    }

    /** 'auto' or the selected height. */
    getQuality() {
      return currentSelection(this.qualityLevels_());
    }

    /** setQuality(720 | '720p' | 'auto'). Returns false when no such rendition. */
    setQuality(target) {
      const ok = applyQuality(this.qualityLevels_(), target);
      if (ok) this.notifyQualities_();
      return ok;
    }

    /** Label of the rendition playing now ("720p"), or null. */
    currentQualityLabel() {
      let h = 0;
      try {
        h = this.player_ && this.player_.videoHeight ? this.player_.videoHeight() : 0;
      } catch {
        h = 0;
      }
      return playingLabel(this.qualityLevels_(), h);
    }

    notifyQualities_() {
      if (this.player_ && this.player_.trigger && !this.disposed) this.player_.trigger('vsrc:qualitieschange');
    }

    // ---- public API -----------------------------------------------------------

    play() {
      if (this.disposed) return Promise.resolve();
      return this.player_.play();
    }

    pause() {
      if (!this.disposed) this.player_.pause();
      return this;
    }

    seek(seconds) {
      const s = Number(seconds);
      if (!this.disposed && Number.isFinite(s)) this.player_.currentTime(Math.max(0, s));
      return this;
    }

    volume(v) {
      if (this.disposed) return undefined;
      if (v === undefined) return this.player_.volume();
      const n = Math.min(1, Math.max(0, Number(v)));
      if (Number.isFinite(n)) this.player_.volume(n);
      return this;
    }

    currentTime() {
      return this.disposed ? 0 : this.safeCurrentTime_();
    }

    duration() {
      return this.disposed ? NaN : this.safeDuration_();
    }

    isPlaying() {
      if (this.disposed) return false;
      const p = this.player_;
      return !p.paused() && !(p.ended && p.ended());
    }

    /**
     * Load another media id (resolved via /hls/resolve) or a playlist URL.
     * The type follows the id prefix (vod_/live_) unless given.
     * Returns a promise that settles when the new source is set.
     * `opts.token` (and `thumbnailToken`, `storyboardToken`) replace the signed-playback tokens.
     */
    setSource(mediaIdOrUrl, opts = {}) {
      if (this.disposed) return Promise.reject(new VSRCError(VSRCError.codes.INVALID_OPTIONS, 'VSRCPlayer: disposed'));
      if (opts.token !== undefined) {
        this.token = opts.token || null;
        this.thumbnailToken = opts.thumbnailToken || this.token;
        this.storyboardToken = opts.storyboardToken || this.token;
      }
      const type = opts.type === 'live' || opts.type === 'vod' ? opts.type : looksLikeUrl(mediaIdOrUrl) ? this.type : typeFromMediaId(mediaIdOrUrl) || this.type;
      this.ready_ = new Promise((resolve, reject) => {
        this.resolveReady_ = resolve;
        this.rejectReady_ = reject;
      });
      this.ready_.catch(noop);
      if (this.analytics) this.analytics.queue.flush();
      this.load_(mediaIdOrUrl, type);
      return this.ready_;
    }

    /** Promise resolved once a source is set (after probing for live); rejected on failure. */
    whenReady() {
      return this.ready_;
    }

    getPlayer() {
      return this.player_;
    }

    dispose() {
      if (this.disposed) return;
      if (this.analytics) this.analytics.queue.flushBeacon();
      this.disposed = true;
      this.loadToken_++;
      if (this.abort_) this.abort_.abort();
      const win = deps.window;
      if (win && win.removeEventListener && this.onPageHide_) win.removeEventListener('pagehide', this.onPageHide_);
      const doc = deps.document;
      if (doc && doc.removeEventListener && this.onVisibility_) doc.removeEventListener('visibilitychange', this.onVisibility_);
      if (this.analytics) {
        this.analytics.queue.close();
        this.analytics.transport.close();
      }
      if (this.ui_ && this.ui_.dispose) {
        try { this.ui_.dispose(); } catch { /* ignore */ }
      }
      try {
        this.player_.dispose();
      } catch {
        /* ignore */
      }
    }
  }

  VSRCPlayer.Error = VSRCError;
  return VSRCPlayer;
}
