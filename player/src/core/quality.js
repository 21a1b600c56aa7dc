// Quality-menu model over a video.js QualityLevelList-like array
// (items: {id, label, width, height, bitrate, enabled}). Pure.

export const AUTO = 'auto';

/** "1080p" for a height, "<n> kbps" for audio-only levels, else the level's own label. */
export function qualityLabel(level) {
  if (!level) return '';
  if (level.height) return `${level.height}p`;
  if (level.bitrate) return `${Math.round(level.bitrate / 1000)} kbps`;
  return String(level.label || level.id || '');
}

function toArray(levels) {
  if (!levels) return [];
  if (Array.isArray(levels)) return levels.slice();
  const out = [];
  for (let i = 0; i < (levels.length || 0); i++) out.push(levels[i]);
  return out;
}

/**
 * List of levels for getQualities(): [{label, height, bitrate, enabled}],
 * sorted by height desc then bitrate desc.
 */
export function listQualities(levels) {
  return toArray(levels)
    .filter(Boolean)
    .map((l) => ({
      label: qualityLabel(l),
      height: l.height || 0,
      bitrate: l.bitrate || 0,
      enabled: !!l.enabled,
    }))
    .sort((a, b) => b.height - a.height || b.bitrate - a.bitrate);
}

/** Parse setQuality()'s argument: 'auto' | 720 | '720' | '720p' -> 'auto' | number | null. */
export function parseQualityTarget(target) {
  if (target === undefined || target === null) return null;
  if (typeof target === 'number') return Number.isFinite(target) && target > 0 ? Math.round(target) : null;
  const s = String(target).trim().toLowerCase();
  if (s === AUTO) return AUTO;
  const m = /^(\d+)\s*p?$/.exec(s);
  return m ? parseInt(m[1], 10) : null;
}

/** Is the level list in "Auto" (every level enabled)? */
export function isAuto(levels) {
  const arr = toArray(levels);
  return arr.length === 0 || arr.every((l) => l.enabled);
}

/**
 * Menu model: "Auto" first, then one item per distinct height (desc).
 * [{key: 'auto'|height, label, selected}]
 */
export function menuItems(levels) {
  const arr = toArray(levels).filter(Boolean);
  const auto = isAuto(arr);
  const byKey = new Map();
  for (const l of arr) {
    const key = l.height || `b${l.bitrate || 0}`;
    const cur = byKey.get(key);
    if (!cur) byKey.set(key, { key: l.height || key, label: qualityLabel(l), height: l.height || 0, bitrate: l.bitrate || 0, enabled: !!l.enabled });
    else {
      cur.enabled = cur.enabled || !!l.enabled;
      cur.bitrate = Math.max(cur.bitrate, l.bitrate || 0);
    }
  }
  const items = [...byKey.values()]
    .sort((a, b) => b.height - a.height || b.bitrate - a.bitrate)
    .map((q) => ({ key: q.key, label: q.label, selected: !auto && q.enabled }));
  return [{ key: AUTO, label: 'Auto', selected: auto }, ...items];
}

/**
 * Apply a selection: 'auto' enables every level; a height enables only the
 * levels with that height. Returns false (and changes nothing) when no level
 * matches.
 */
export function applyQuality(levels, target) {
  const t = parseQualityTarget(target);
  const arr = toArray(levels).filter(Boolean);
  if (t === null) return false;
  if (t === AUTO) {
    for (const l of arr) l.enabled = true;
    return true;
  }
  if (!arr.some((l) => l.height === t)) return false;
  // Enable the chosen ones first so there is never a moment with none enabled.
  for (const l of arr) if (l.height === t) l.enabled = true;
  for (const l of arr) if (l.height !== t) l.enabled = false;
  // VHS flushes its buffer and refetches only when a rendition is switched *on*: re-enabling the
  // chosen one makes a switch away from Auto show now, not after everything already buffered.
  for (const l of arr) {
    if (l.height === t) {
      l.enabled = false;
      l.enabled = true;
    }
  }
  return true;
}

/** The selection in force: 'auto' or the selected height. */
export function currentSelection(levels) {
  const arr = toArray(levels).filter(Boolean);
  if (isAuto(arr)) return AUTO;
  const on = arr.filter((l) => l.enabled);
  return on.length ? on[0].height || AUTO : AUTO;
}

/** Label of the rendition actually playing (selectedIndex), or null. */
export function playingLabel(levels, fallbackHeight) {
  if (levels && typeof levels.selectedIndex === 'number' && levels.selectedIndex >= 0) {
    const l = levels[levels.selectedIndex];
    if (l) return qualityLabel(l);
  }
  return fallbackHeight ? `${fallbackHeight}p` : null;
}
