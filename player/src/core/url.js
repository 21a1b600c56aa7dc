// Pure URL helpers: no DOM access, everything is passed in.

/**
 * Origin of an absolute URL ("https://cdn.example.com:8443"), or '' when the
 * string is not an absolute http(s) URL.
 */
export function originOf(url) {
  if (!url || typeof url !== 'string') return '';
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return '';
    return u.origin;
  } catch {
    return '';
  }
}

/**
 * API base implied by the player script URL: its origin, plus any path prefix
 * in front of the standard "/player/dist/vsrc-player.js" location
 * ("https://h/vsrc/player/dist/vsrc-player.js" -> "https://h/vsrc").
 */
export function scriptBase(scriptSrc) {
  const origin = originOf(scriptSrc);
  if (!origin) return '';
  const path = new URL(scriptSrc).pathname;
  const m = /^(.*)\/player\/dist\/vsrc-player(?:\.min)?\.js$/.exec(path);
  return m ? trimSlashes(origin + m[1]) : origin;
}

/** Remove trailing slashes ("https://x/"  -> "https://x"). */
export function trimSlashes(base) {
  return String(base).replace(/\/+$/, '');
}

/**
 * Work out the API base URL.
 *  1. options.apiBase when given (absolute, or relative to the page);
 *  2. the origin the player script was loaded from (document.currentScript.src
 *     captured at load time);
 *  3. the page origin (window.location.origin).
 * @param {{apiBase?: string, scriptSrc?: string, pageHref?: string, pageOrigin?: string}} p
 */
export function resolveApiBase({ apiBase, scriptSrc, pageHref, pageOrigin } = {}) {
  if (apiBase !== undefined && apiBase !== null && apiBase !== '') {
    const s = String(apiBase);
    if (/^https?:\/\//i.test(s)) return trimSlashes(s);
    // Relative ("/vsrc", "//host") — resolve against the page.
    const ref = pageHref || pageOrigin;
    if (ref) {
      try {
        return trimSlashes(new URL(s, ref).href);
      } catch {
        /* fall through */
      }
    }
    return trimSlashes(s);
  }
  const fromScript = scriptBase(scriptSrc);
  if (fromScript) return fromScript;
  if (pageOrigin && pageOrigin !== 'null') return trimSlashes(pageOrigin);
  const fromHref = originOf(pageHref);
  if (fromHref) return fromHref;
  return '';
}

const enc = (id) => encodeURIComponent(String(id));

/**
 * `url` with `token=<token>` added to its query (before any #fragment) for signed playback;
 * unchanged when there is no token or the URL already carries one.
 */
export function withToken(url, token) {
  if (!token || typeof url !== 'string') return url;
  const hashAt = url.indexOf('#');
  const path = hashAt < 0 ? url : url.slice(0, hashAt);
  const hash = hashAt < 0 ? '' : url.slice(hashAt);
  if (/[?&]token=/.test(path)) return url;
  return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(String(token))}${hash}`;
}

export function resolveUrl(apiBase, mediaId, token) {
  return withToken(`${trimSlashes(apiBase)}/hls/resolve/${enc(mediaId)}`, token);
}

export function posterUrl(apiBase, mediaId, token) {
  return withToken(`${trimSlashes(apiBase)}/thumbnails/${enc(mediaId)}/poster.jpg`, token);
}

export function storyboardUrl(apiBase, mediaId, token) {
  return withToken(`${trimSlashes(apiBase)}/thumbnails/${enc(mediaId)}/storyboard.vtt`, token);
}

/**
 * Analytics endpoints {ws, batch, single}.
 * `analyticsUrl` (optional) may be:
 *  - a ws:// or wss:// URL: the WebSocket endpoint (HTTP fallback stays on apiBase);
 *  - an http(s) URL ending in /batch or /event: the HTTP endpoint (the other one is
 *    derived by swapping the last segment; WebSocket on that host's /ws/analytics);
 *  - any other URL: a base replacing apiBase for analytics.
 * `wsOverride`: a WebSocket URL, or '' / false to disable the WebSocket.
 */
export function analyticsEndpoints(apiBase, analyticsUrl, wsOverride) {
  let base = trimSlashes(apiBase || '');
  let ws;
  let batch;
  let single;
  if (analyticsUrl && /^wss?:\/\//i.test(analyticsUrl)) {
    ws = String(analyticsUrl);
  } else if (analyticsUrl) {
    const u = trimSlashes(analyticsUrl);
    if (/\/(batch|event)$/.test(u)) {
      batch = u.replace(/\/event$/, '/batch');
      single = u.replace(/\/batch$/, '/event');
      base = originOf(u) || base;
    } else {
      base = u;
    }
  }
  if (!batch) {
    batch = `${base}/api/analytics/batch`;
    single = `${base}/api/analytics/event`;
  }
  if (ws === undefined) ws = analyticsWsUrl(base);
  if (wsOverride !== undefined && wsOverride !== null) ws = wsOverride || '';
  return { ws, batch, single };
}

/** ws(s)://{apiBase host}/ws/analytics  ('' when apiBase is not absolute). */
export function analyticsWsUrl(apiBase) {
  try {
    const u = new URL(trimSlashes(apiBase));
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return '';
    const proto = u.protocol === 'https:' ? 'wss:' : 'ws:';
    const path = u.pathname.replace(/\/+$/, '');
    return `${proto}//${u.host}${path}/ws/analytics`;
  } catch {
    return '';
  }
}

/** Infer 'vod' | 'live' from the id prefix; undefined when it has none. */
export function typeFromMediaId(mediaId) {
  if (typeof mediaId !== 'string') return undefined;
  if (mediaId.startsWith('live_')) return 'live';
  if (mediaId.startsWith('vod_')) return 'vod';
  return undefined;
}

/**
 * Does setSource()'s argument look like a playlist URL rather than a media id?
 * Media ids are "vod_<uuid>" / "live_<uuid>" (no slashes, no dots).
 */
export function looksLikeUrl(s) {
  if (typeof s !== 'string') return false;
  return /^(https?:)?\/\//i.test(s) || s.startsWith('/') || s.startsWith('./') || /\.m3u8(\?|#|$)/i.test(s) || s.startsWith('blob:');
}
