// Storyboard thumbnails: WebVTT with "sprite.jpg#xywh=x,y,w,h" cue payloads. Pure.

/** "01:02:03.456" | "02:03.456" | "3.5" -> seconds (NaN when malformed). */
export function parseTimestamp(s) {
  const m = /^\s*(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:[.,]\d+)?)\s*$/.exec(s);
  if (m) {
    const h = m[1] ? parseInt(m[1], 10) : 0;
    return h * 3600 + parseInt(m[2], 10) * 60 + parseFloat(m[3].replace(',', '.'));
  }
  const n = /^\s*\d+(?:\.\d+)?\s*$/.test(s) ? parseFloat(s) : NaN;
  return n;
}

function resolve(url, base) {
  if (!base) return url;
  try {
    return new URL(url, base).href;
  } catch {
    return url;
  }
}

/**
 * Parse a thumbnails VTT. Returns cues sorted by start:
 * [{start, end, url, x, y, w, h}] — url resolved against `baseUrl`;
 * x/y/w/h are null when the cue has no #xywh fragment (whole image).
 */
export function parseThumbnailVtt(text, baseUrl) {
  if (typeof text !== 'string') return [];
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const lines = src.split('\n');
  if (!/^WEBVTT/.test(lines[0] || '')) return [];
  const cues = [];
  let i = 1;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.includes('-->')) {
      // Skip NOTE/STYLE/REGION blocks entirely, cue ids and blank lines.
      if (/^(NOTE|STYLE|REGION)\b/.test(line)) {
        while (i < lines.length && lines[i].trim() !== '') i++;
      }
      i++;
      continue;
    }
    const [a, rest] = line.split('-->');
    const start = parseTimestamp(a);
    const end = parseTimestamp((rest || '').trim().split(/\s+/)[0] || '');
    i++;
    const payload = [];
    while (i < lines.length && lines[i].trim() !== '') payload.push(lines[i++].trim());
    if (!Number.isFinite(start) || !Number.isFinite(end) || !payload.length) continue;
    const ref = payload[0];
    const hashAt = ref.indexOf('#');
    const file = hashAt >= 0 ? ref.slice(0, hashAt) : ref;
    const frag = hashAt >= 0 ? ref.slice(hashAt + 1) : '';
    const cue = { start, end, url: resolve(file, baseUrl), x: null, y: null, w: null, h: null };
    const m = /(?:^|&)xywh=(?:pixel:)?(\d+),(\d+),(\d+),(\d+)/.exec(frag);
    if (m) {
      cue.x = +m[1];
      cue.y = +m[2];
      cue.w = +m[3];
      cue.h = +m[4];
    }
    cues.push(cue);
  }
  cues.sort((p, q) => p.start - q.start);
  return cues;
}

/** Cue covering `time` (start <= time < end), binary search; else nearest previous; null if none. */
export function findCue(cues, time) {
  if (!cues || !cues.length || !Number.isFinite(time)) return null;
  let lo = 0;
  let hi = cues.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cues[mid].start <= time) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (best < 0) return time >= 0 ? cues[0] : null;
  const c = cues[best];
  if (time < c.end) return c;
  // Past the end of the last cue (or in a gap): keep the previous one if it is the last.
  return best === cues.length - 1 ? c : cues[best + 1].start - time < time - c.end ? cues[best + 1] : c;
}
