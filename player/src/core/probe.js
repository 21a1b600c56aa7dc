// Live playlist probing loop (pure: fetch, sleep and the clock are injected).

export const DEFAULT_PROBE_INTERVAL = 5000;
export const DEFAULT_MAX_PROBE_ATTEMPTS = 12;

function abortError() {
  const e = new Error('Probe cancelled');
  e.name = 'AbortError';
  return e;
}

/** setTimeout-based sleep that rejects with AbortError when `signal` aborts. */
export function defaultSleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) return reject(abortError());
    const t = setTimeout(() => {
      if (signal) signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(t);
      reject(abortError());
    }
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * One probe request. Returns true when the playlist is there (2xx).
 * Servers that refuse HEAD (405/501) are retried with GET.
 */
async function probeOnce(fetch, url, method, signal, timeoutMs) {
  const ctrl = typeof AbortController !== 'undefined' ? new AbortController() : null;
  const onOuterAbort = () => ctrl && ctrl.abort();
  if (signal && ctrl) signal.addEventListener('abort', onOuterAbort, { once: true });
  let timer;
  try {
    const req = fetch(url, { method, cache: 'no-store', signal: ctrl ? ctrl.signal : signal });
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        if (ctrl) ctrl.abort();
        reject(new Error(`probe timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const res = await Promise.race([req, timeout]);
    if (res && typeof res.body === 'object' && res.body && typeof res.body.cancel === 'function' && method === 'GET') {
      try { res.body.cancel(); } catch { /* ignore */ }
    }
    return { ok: !!(res && res.ok), status: res ? res.status : 0 };
  } finally {
    clearTimeout(timer);
    if (signal && ctrl) signal.removeEventListener('abort', onOuterAbort);
  }
}

/**
 * Probe `url` until it answers 2xx: first attempt at once, then one every
 * `interval` ms, at most `maxAttempts` attempts.
 *
 * Resolves to {ok: true, attempts} on success or {ok: false, attempts} when
 * exhausted. Rejects with an AbortError when `signal` aborts.
 *
 * @param {object} p
 * @param {string} p.url
 * @param {Function} p.fetch
 * @param {number} [p.interval]
 * @param {number} [p.maxAttempts]
 * @param {(ms:number, signal?:AbortSignal)=>Promise<void>} [p.sleep]
 * @param {AbortSignal} [p.signal]
 * @param {(info:{attempt:number, ok:boolean, status:number, error?:any})=>void} [p.onAttempt]
 * @param {number} [p.attemptTimeout] per-request timeout (ms)
 */
export async function probeUntilAvailable({
  url,
  fetch,
  interval = DEFAULT_PROBE_INTERVAL,
  maxAttempts = DEFAULT_MAX_PROBE_ATTEMPTS,
  sleep = defaultSleep,
  signal,
  onAttempt,
  attemptTimeout,
}) {
  const max = Math.max(1, Math.floor(Number(maxAttempts) || DEFAULT_MAX_PROBE_ATTEMPTS));
  const wait = Math.max(0, Number(interval) >= 0 ? Number(interval) : DEFAULT_PROBE_INTERVAL);
  const perTry = attemptTimeout || Math.max(wait, 5000);
  let method = 'HEAD';
  for (let attempt = 1; attempt <= max; attempt++) {
    if (signal && signal.aborted) throw abortError();
    let result;
    try {
      result = await probeOnce(fetch, url, method, signal, perTry);
      if (!result.ok && method === 'HEAD' && (result.status === 405 || result.status === 501)) {
        method = 'GET';
        result = await probeOnce(fetch, url, method, signal, perTry);
      }
    } catch (error) {
      if (signal && signal.aborted) throw abortError();
      result = { ok: false, status: 0, error };
    }
    if (onAttempt) {
      try { onAttempt({ attempt, ...result }); } catch { /* user callback */ }
    }
    if (result.ok) return { ok: true, attempts: attempt };
    if (attempt < max) await sleep(wait, signal);
  }
  return { ok: false, attempts: max };
}
