import { VSRCError } from './errors.js';
import { resolveUrl } from './url.js';

/**
 * GET {apiBase}/hls/resolve/{mediaId} -> {"ul": "<master playlist URL>"}.
 * Resolves to the master URL (absolute; a relative "ul" is resolved against
 * the resolve URL). Rejects with a VSRCError.
 * `token` (signed media) is sent as ?token=; a 403 rejects with PLAYBACK_DENIED and the server's reason.
 * @param {{apiBase: string, mediaId: string, fetch: Function, signal?: AbortSignal, token?: string}} p
 */
export async function resolveMedia({ apiBase, mediaId, fetch, signal, token }) {
  if (!mediaId || typeof mediaId !== 'string') {
    throw new VSRCError(VSRCError.codes.INVALID_OPTIONS, 'VSRCPlayer: a mediaId is required');
  }
  const url = resolveUrl(apiBase, mediaId, token);
  let res;
  try {
    res = await fetch(url, { method: 'GET', headers: { Accept: 'application/json' }, signal });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new VSRCError(
      VSRCError.codes.NETWORK_ERROR,
      `VSRCPlayer: could not reach ${url} to resolve media "${mediaId}": ${(e && e.message) || e}`,
      { mediaId, url, cause: e },
    );
  }
  if (res.status === 404) {
    throw new VSRCError(
      VSRCError.codes.MEDIA_NOT_FOUND,
      `VSRCPlayer: media "${mediaId}" was not found (GET ${url} returned 404)`,
      { mediaId, url, status: 404 },
    );
  }
  if (res.status === 403) {
    let reason = '';
    try {
      const body = await res.json();
      reason = (body && body.message) || '';
    } catch {
      /* no JSON body */
    }
    throw new VSRCError(
      VSRCError.codes.PLAYBACK_DENIED,
      `VSRCPlayer: playback of "${mediaId}" was denied${reason ? `: ${reason}` : ''} (a signed media needs a valid token option)`,
      { mediaId, url: resolveUrl(apiBase, mediaId), status: 403 },
    );
  }
  if (!res.ok) {
    throw new VSRCError(
      VSRCError.codes.RESOLVE_FAILED,
      `VSRCPlayer: resolving media "${mediaId}" failed (GET ${url} returned ${res.status})`,
      { mediaId, url, status: res.status },
    );
  }
  let body;
  try {
    body = await res.json();
  } catch (e) {
    throw new VSRCError(
      VSRCError.codes.RESOLVE_FAILED,
      `VSRCPlayer: resolving media "${mediaId}" returned invalid JSON`,
      { mediaId, url, status: res.status, cause: e },
    );
  }
  const ul = body && (body.ul || (body.data && body.data.ul));
  if (!ul || typeof ul !== 'string') {
    throw new VSRCError(
      VSRCError.codes.RESOLVE_FAILED,
      `VSRCPlayer: resolving media "${mediaId}" returned no playlist URL ("ul")`,
      { mediaId, url, status: res.status },
    );
  }
  try {
    return new URL(ul, url).href;
  } catch {
    return ul;
  }
}
