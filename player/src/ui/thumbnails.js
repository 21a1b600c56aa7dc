// Storyboard preview over the progress bar on mouse hover.
import { findCue } from '../core/vtt.js';

const MAX_WIDTH = 200;

/**
 * Attach the preview box. Returns {setThumbnails(cues), dispose()}.
 */
export function attachThumbnails(player, { document: doc, Image: Img } = {}) {
  const cb = player.getChild('ControlBar') || player.controlBar;
  const progress = cb && cb.getChild('ProgressControl');
  const seekBar = progress && progress.getChild('SeekBar');
  if (!progress || !seekBar || !doc) return { setThumbnails() {}, dispose() {} };

  const holder = seekBar.el();
  const box = doc.createElement('div');
  box.className = 'vsrc-thumbnail';
  box.setAttribute('aria-hidden', 'true');
  box.style.display = 'none';
  holder.appendChild(box);

  let cues = [];
  const preloaded = new Set();

  function hide() {
    box.style.display = 'none';
  }

  function onMove(e) {
    if (!cues.length) return hide();
    const duration = player.duration();
    if (!Number.isFinite(duration) || duration <= 0) return hide();
    const rect = holder.getBoundingClientRect();
    if (!rect.width) return hide();
    const clientX = e.touches && e.touches[0] ? e.touches[0].clientX : e.clientX;
    const pct = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
    const cue = findCue(cues, pct * duration);
    if (!cue) return hide();
    const w = cue.w || 160;
    const h = cue.h || 90;
    const scale = w > MAX_WIDTH ? MAX_WIDTH / w : 1;
    const shownW = w * scale;
    box.style.width = `${w}px`;
    box.style.height = `${h}px`;
    box.style.transform = scale !== 1 ? `scale(${scale})` : '';
    box.style.backgroundImage = `url("${cue.url.replace(/"/g, '%22')}")`;
    box.style.backgroundPosition = cue.x !== null ? `-${cue.x}px -${cue.y}px` : 'center';
    box.style.backgroundSize = cue.x !== null ? 'auto' : 'cover';
    // Centre on the pointer, kept inside the player.
    const playerRect = player.el().getBoundingClientRect();
    let left = pct * rect.width - shownW / 2;
    const minLeft = playerRect.left - rect.left + 4;
    const maxLeft = playerRect.right - rect.left - shownW - 4;
    left = Math.max(minLeft, Math.min(maxLeft, left));
    box.style.left = `${left}px`;
    box.style.display = 'block';
  }

  const progressEl = progress.el();
  progressEl.addEventListener('mousemove', onMove);
  progressEl.addEventListener('touchmove', onMove, { passive: true });
  progressEl.addEventListener('mouseleave', hide);
  progressEl.addEventListener('touchend', hide);

  return {
    setThumbnails(list) {
      cues = Array.isArray(list) ? list : [];
      if (!cues.length) hide();
      if (Img) {
        for (const c of cues) {
          if (!preloaded.has(c.url)) {
            preloaded.add(c.url);
            const img = new Img();
            img.src = c.url;
          }
        }
      }
    },
    dispose() {
      progressEl.removeEventListener('mousemove', onMove);
      progressEl.removeEventListener('touchmove', onMove);
      progressEl.removeEventListener('mouseleave', hide);
      progressEl.removeEventListener('touchend', hide);
      if (box.parentNode) box.parentNode.removeChild(box);
    },
  };
}
