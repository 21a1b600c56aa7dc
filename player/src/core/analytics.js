// Analytics: event shape, bounded batching queue and WebSocket/HTTP transport.
// Pure: timers, WebSocket, fetch and sendBeacon are injected.

export const ANALYTICS_EVENTS = Object.freeze(['play', 'pause', 'seek', 'ended', 'error', 'buffer', 'quality_change']);
export const DEFAULT_FLUSH_INTERVAL = 5000;
export const DEFAULT_BATCH_SIZE = 20;
export const DEFAULT_MAX_QUEUE = 500;

const round3 = (n) => Math.round(n * 1000) / 1000;
const finiteOrNull = (n) => (typeof n === 'number' && Number.isFinite(n) ? round3(n) : null);

/**
 * Build one analytics event (the exact wire shape).
 * {event, type, sessionId, mediaId, playerType, currentTime, duration, quality, timestamp[, data]}
 */
export function buildEvent({ event, sessionId, mediaId, playerType, currentTime, duration, quality, timestamp, data }) {
  const ev = {
    event,
    type: event,
    sessionId,
    mediaId: mediaId || null,
    playerType: playerType || null,
    currentTime: finiteOrNull(currentTime) ?? 0,
    duration: finiteOrNull(duration),
    quality: quality || null,
    timestamp: typeof timestamp === 'number' ? timestamp : Date.now(),
  };
  if (data && typeof data === 'object' && Object.keys(data).length) ev.data = data;
  return ev;
}

/**
 * Bounded queue that flushes every `flushInterval` ms (timer armed by the
 * first queued event) or as soon as `batchSize` events are queued.
 * `send(events)` returns a promise: resolve = delivered (or permanently
 * rejected by the server), reject = retry later (events go back to the head
 * of the queue).
 */
export class AnalyticsQueue {
  constructor({
    send,
    beacon,
    flushInterval = DEFAULT_FLUSH_INTERVAL,
    batchSize = DEFAULT_BATCH_SIZE,
    maxQueue = DEFAULT_MAX_QUEUE,
    setTimeout: setT = (fn, ms) => setTimeout(fn, ms),
    clearTimeout: clearT = (t) => clearTimeout(t),
  }) {
    this.send_ = send;
    this.beacon_ = beacon;
    this.flushInterval = flushInterval;
    this.batchSize = Math.max(1, batchSize);
    this.maxQueue = Math.max(this.batchSize, maxQueue);
    this.setT_ = setT;
    this.clearT_ = clearT;
    this.queue = [];
    this.dropped = 0;
    this.sent = 0;
    this.timer_ = null;
    this.inFlight_ = null;
    this.closed = false;
  }

  get length() {
    return this.queue.length;
  }

  enqueue(ev) {
    if (this.closed) return;
    this.queue.push(ev);
    this.trim_();
    if (this.queue.length >= this.batchSize) {
      this.flush();
    } else {
      this.arm_();
    }
  }

  trim_() {
    const over = this.queue.length - this.maxQueue;
    if (over > 0) {
      this.queue.splice(0, over);
      this.dropped += over;
    }
  }

  arm_() {
    if (this.timer_ !== null || this.closed) return;
    this.timer_ = this.setT_(() => {
      this.timer_ = null;
      this.flush();
    }, this.flushInterval);
  }

  disarm_() {
    if (this.timer_ !== null) {
      this.clearT_(this.timer_);
      this.timer_ = null;
    }
  }

  /** Send everything queued, in batches of `batchSize`. Returns a promise. */
  flush() {
    this.disarm_();
    if (this.inFlight_) {
      // One flush at a time; re-run when the current one finishes.
      this.again_ = true;
      return this.inFlight_;
    }
    if (!this.queue.length) return Promise.resolve();
    this.inFlight_ = (async () => {
      try {
        while (this.queue.length) {
          const batch = this.queue.splice(0, this.batchSize);
          try {
            await this.send_(batch);
            this.sent += batch.length;
          } catch {
            // Put them back at the head (oldest first), keep the bound, retry later.
            this.queue.unshift(...batch);
            this.trim_();
            this.again_ = false;
            if (!this.closed) this.arm_();
            return;
          }
        }
      } finally {
        this.inFlight_ = null;
      }
      if (this.again_) {
        this.again_ = false;
        if (this.queue.length >= this.batchSize) await this.flush();
        else if (this.queue.length) this.arm_();
      }
    })();
    return this.inFlight_;
  }

  /**
   * Synchronous last-chance delivery (pagehide / dispose): hand everything
   * queued to `beacon(events)`. Returns true when handed over.
   */
  flushBeacon() {
    this.disarm_();
    if (!this.queue.length || !this.beacon_) return false;
    const all = this.queue.splice(0, this.queue.length);
    let ok = false;
    try {
      ok = !!this.beacon_(all);
    } catch {
      ok = false;
    }
    if (ok) this.sent += all.length;
    else {
      this.queue.unshift(...all);
      this.trim_();
    }
    return ok;
  }

  close() {
    this.disarm_();
    this.closed = true;
  }
}

/**
 * Transport: WebSocket `{"events":[...]}` first; when the socket cannot open
 * (or closes) every later send goes over HTTP POST (batch endpoint, or the
 * single-event endpoint for a batch of one).
 */
export class AnalyticsTransport {
  constructor({
    wsUrl,
    batchUrl,
    eventUrl,
    WebSocket: WS,
    fetch,
    sendBeacon,
    sameOrigin = false,
    openTimeout = 4000,
    setTimeout: setT = (fn, ms) => setTimeout(fn, ms),
    clearTimeout: clearT = (t) => clearTimeout(t),
  }) {
    this.wsUrl = wsUrl;
    this.batchUrl = batchUrl;
    this.eventUrl = eventUrl || batchUrl;
    this.WS_ = WS;
    this.fetch_ = fetch;
    this.sendBeacon_ = sendBeacon;
    this.sameOrigin = sameOrigin;
    this.openTimeout = openTimeout;
    this.setT_ = setT;
    this.clearT_ = clearT;
    this.ws = null;
    this.wsFailed = !WS || !wsUrl;
    this.opening_ = null;
    this.mode = this.wsFailed ? 'http' : 'ws';
  }

  fallback_() {
    this.wsFailed = true;
    this.mode = 'http';
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try { ws.close(); } catch { /* ignore */ }
    }
  }

  /** Resolves to an open socket, or null (then HTTP is used from now on). */
  openSocket_() {
    if (this.wsFailed) return Promise.resolve(null);
    if (this.ws && this.ws.readyState === 1) return Promise.resolve(this.ws);
    if (this.opening_) return this.opening_;
    this.opening_ = new Promise((resolve) => {
      let ws;
      try {
        ws = new this.WS_(this.wsUrl);
      } catch {
        this.fallback_();
        resolve(null);
        return;
      }
      this.ws = ws;
      let settled = false;
      const done = (val) => {
        if (settled) return;
        settled = true;
        this.clearT_(timer);
        this.opening_ = null;
        resolve(val);
      };
      const timer = this.setT_(() => {
        this.fallback_();
        done(null);
      }, this.openTimeout);
      ws.onopen = () => done(ws);
      ws.onerror = () => {
        if (!settled) {
          this.fallback_();
          done(null);
        }
      };
      ws.onclose = () => {
        // Closed before or after opening: use HTTP from now on.
        if (this.ws === ws || !settled) this.fallback_();
        done(null);
      };
      ws.onmessage = () => {};
    });
    return this.opening_;
  }

  /** Deliver a batch. Resolves when delivered (or dropped as invalid); rejects to retry. */
  async send(events) {
    if (!events.length) return;
    const ws = await this.openSocket_();
    if (ws && ws.readyState === 1) {
      try {
        ws.send(JSON.stringify({ events }));
        return;
      } catch {
        this.fallback_();
      }
    }
    return this.sendHttp(events);
  }

  async sendHttp(events) {
    const single = events.length === 1;
    const url = single ? this.eventUrl : this.batchUrl;
    const body = JSON.stringify(single ? events[0] : { events });
    const res = await this.fetch_(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
      keepalive: body.length < 60000,
      credentials: 'omit',
    });
    if (res.ok) return;
    // 4xx other than 408/429: the server will never accept these; drop them.
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) return;
    throw new Error(`analytics POST ${url} -> ${res.status}`);
  }

  /**
   * Synchronous unload-safe delivery via navigator.sendBeacon to the batch
   * endpoint. Cross-origin beacons use a text/plain body (a CORS-safelisted
   * type: application/json beacons are refused cross-origin by Chromium);
   * the body is JSON either way. Falls back to fetch(keepalive).
   */
  beacon(events) {
    if (!events.length) return true;
    const body = JSON.stringify({ events });
    if (this.sendBeacon_) {
      try {
        const type = this.sameOrigin ? 'application/json' : 'text/plain;charset=UTF-8';
        const payload = typeof Blob !== 'undefined' ? new Blob([body], { type }) : body;
        if (this.sendBeacon_(this.batchUrl, payload)) return true;
      } catch {
        /* fall through */
      }
    }
    if (this.fetch_) {
      try {
        const p = this.fetch_(this.batchUrl, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
          keepalive: true,
          credentials: 'omit',
        });
        if (p && typeof p.catch === 'function') p.catch(() => {});
        return true;
      } catch {
        return false;
      }
    }
    return false;
  }

  close() {
    const ws = this.ws;
    this.ws = null;
    this.wsFailed = true;
    if (ws) {
      ws.onclose = null;
      ws.onerror = null;
      try { ws.close(); } catch { /* ignore */ }
    }
  }
}
