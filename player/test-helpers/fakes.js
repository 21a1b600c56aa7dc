// Test doubles: fetch, timers, WebSocket, a minimal video.js player.

export function response(status, body, { url } = {}) {
  return {
    ok: status >= 200 && status < 300,
    status,
    url: url || '',
    async json() {
      if (typeof body === 'string') return JSON.parse(body);
      return body;
    },
    async text() {
      return typeof body === 'string' ? body : JSON.stringify(body);
    },
  };
}

/**
 * fetch double: `routes` is a function (url, init, callIndex) -> response | Promise | throws.
 * Records calls in fetch.calls.
 */
export function fakeFetch(routes) {
  const f = async (url, init = {}) => {
    const call = { url, init, method: (init.method || 'GET').toUpperCase() };
    f.calls.push(call);
    return routes(url, init, f.calls.length - 1);
  };
  f.calls = [];
  return f;
}

/** Manual clock for setTimeout/clearTimeout injection. */
export function fakeTimers() {
  let now = 0;
  let seq = 0;
  const timers = new Map();
  return {
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { fn, at: now + (ms || 0) });
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    get pending() {
      return timers.size;
    },
    /** Advance the clock, firing due timers in order. */
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        let next = null;
        for (const [id, t] of timers) if (t.at <= target && (!next || t.at < next[1].at)) next = [id, t];
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
        await flushMicrotasks();
      }
      now = target;
      await flushMicrotasks();
    },
  };
}

export async function flushMicrotasks(n = 20) {
  for (let i = 0; i < n; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

/** WebSocket double. behaviour: 'open' | 'error' | 'hang' | 'throw'. */
export function fakeWebSocketClass(behaviour = 'open') {
  const sockets = [];
  class FakeWS {
    constructor(url) {
      if (behaviour === 'throw') throw new Error('blocked');
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
      queueMicrotask(() => {
        if (behaviour === 'open') {
          this.readyState = 1;
          this.onopen && this.onopen({});
        } else if (behaviour === 'error') {
          this.readyState = 3;
          this.onerror && this.onerror({});
          this.onclose && this.onclose({});
        }
      });
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('not open');
      this.sent.push(JSON.parse(data));
    }
    close() {
      this.readyState = 3;
    }
    /** Simulate the server dropping the connection. */
    serverClose() {
      this.readyState = 3;
      this.onclose && this.onclose({});
    }
  }
  FakeWS.sockets = sockets;
  return FakeWS;
}

class Emitter {
  constructor() {
    this.handlers = {};
  }
  on(type, fn) {
    (this.handlers[type] = this.handlers[type] || []).push(fn);
  }
  trigger(ev) {
    const type = typeof ev === 'string' ? ev : ev.type;
    for (const fn of this.handlers[type] || []) fn(typeof ev === 'string' ? { type } : ev);
  }
}

export function fakeQualityLevels(levels) {
  const list = new Emitter();
  levels.forEach((l, i) => {
    list[i] = { id: String(i), enabled: true, ...l };
  });
  list.length = levels.length;
  list.selectedIndex = -1;
  return list;
}

export class FakePlayer extends Emitter {
  constructor(el, options) {
    super();
    this.el_ = el;
    this.options = options;
    this.sources = [];
    this.plays = 0;
    this.paused_ = true;
    this.time = 0;
    this.dur = NaN;
    this.vol = 1;
    this.muted_ = !!options.muted;
    this.posterUrl = options.poster || '';
    this.err = null;
    this.disposed = false;
    this.ql = fakeQualityLevels([]);
    this.playResult = () => Promise.resolve();
  }
  addClass(c) {
    this.classes = this.classes || new Set();
    this.classes.add(c);
  }
  removeClass(c) {
    if (this.classes) this.classes.delete(c);
  }
  hasClass(c) {
    return !!(this.classes && this.classes.has(c));
  }
  ready(fn) {
    fn.call(this);
  }
  src(s) {
    if (s === undefined) return this.sources[this.sources.length - 1];
    this.sources.push(s);
  }
  play() {
    this.plays++;
    this.paused_ = false;
    this.trigger('play');
    return this.playResult();
  }
  pause() {
    this.paused_ = true;
    this.trigger('pause');
  }
  paused() {
    return this.paused_;
  }
  ended() {
    return false;
  }
  seeking() {
    return false;
  }
  currentTime(t) {
    if (t === undefined) return this.time;
    this.trigger('seeking');
    this.time = t;
    this.trigger('seeked');
  }
  duration() {
    return this.dur;
  }
  volume(v) {
    if (v === undefined) return this.vol;
    this.vol = v;
  }
  muted(m) {
    if (m === undefined) return this.muted_;
    this.muted_ = m;
  }
  videoHeight() {
    return 0;
  }
  poster(u) {
    if (u === undefined) return this.posterUrl;
    this.posterUrl = u;
  }
  error(e) {
    if (e === undefined) return this.err;
    this.err = e;
    if (e) this.trigger('error');
  }
  qualityLevels() {
    return this.ql;
  }
  dispose() {
    this.disposed = true;
  }
}

export function fakeVideojs() {
  const players = [];
  const videojs = (el, options) => {
    const p = new FakePlayer(el, options);
    players.push(p);
    return p;
  };
  videojs.browser = {};
  videojs.players = players;
  return videojs;
}

export function fakeElement(tag = 'VIDEO', attrs = {}) {
  return {
    tagName: tag,
    children: [],
    getAttribute: (k) => (k in attrs ? attrs[k] : null),
    setAttribute(k, v) {
      attrs[k] = v;
    },
    appendChild(c) {
      this.children.push(c);
    },
  };
}

export function fakeWindow({ origin = 'https://customer.example', href } = {}) {
  const listeners = {};
  const beacons = [];
  return {
    location: { origin, href: href || `${origin}/watch.html` },
    navigator: {
      sendBeacon(url, data) {
        beacons.push({ url, data });
        return true;
      },
    },
    addEventListener(t, fn) {
      (listeners[t] = listeners[t] || []).push(fn);
    },
    removeEventListener(t, fn) {
      listeners[t] = (listeners[t] || []).filter((f) => f !== fn);
    },
    dispatch(t) {
      for (const fn of listeners[t] || []) fn({ type: t });
    },
    listeners,
    beacons,
  };
}
