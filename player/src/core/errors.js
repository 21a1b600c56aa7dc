/** Error type passed to onError. `code` is one of VSRCError.codes. */
export class VSRCError extends Error {
  constructor(code, message, extra = {}) {
    super(message);
    this.name = 'VSRCError';
    this.code = code;
    Object.assign(this, extra);
  }
}

VSRCError.codes = Object.freeze({
  INVALID_OPTIONS: 'INVALID_OPTIONS',
  MEDIA_NOT_FOUND: 'MEDIA_NOT_FOUND',
  RESOLVE_FAILED: 'RESOLVE_FAILED',
  NETWORK_ERROR: 'NETWORK_ERROR',
  PROBE_FAILED: 'PROBE_FAILED',
  PLAYBACK_DENIED: 'PLAYBACK_DENIED',
  PLAYBACK_ERROR: 'PLAYBACK_ERROR',
});
