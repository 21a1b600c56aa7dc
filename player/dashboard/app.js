// Dashboard behaviour shared by every page: htmx, sign-out, Copy buttons, confirmations, players.
import htmx from 'htmx.org';

window.htmx = htmx;

function announce(button, text) {
  const status = button.parentElement.querySelector('[data-copy-status]');
  if (status) {
    status.textContent = text;
    setTimeout(() => { status.textContent = ''; }, 2500);
  }
}

async function copyFrom(button) {
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = 'value' in source ? source.value : source.textContent;
  try {
    // navigator.clipboard exists only in secure contexts (https, localhost); fall back to a selection.
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
    } else {
      const area = document.createElement('textarea');
      area.value = text;
      area.setAttribute('readonly', '');
      area.style.position = 'fixed';
      area.style.opacity = '0';
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    announce(button, 'Copied');
  } catch (err) {
    announce(button, 'Copy failed: select the text and copy it by hand');
  }
}

document.addEventListener('click', (event) => {
  const signout = event.target.closest('a[data-signout]');
  if (signout) {
    event.preventDefault();
    document.getElementById('signout-form').submit();
    return;
  }
  const copy = event.target.closest('button[data-copy]');
  if (copy) {
    event.preventDefault();
    copyFrom(copy);
  }
});

document.addEventListener('submit', (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// <div data-player data-media-id="vod_…" data-type="vod|live" [data-token]>: a VSRCPlayer once its
// script (/player/dist/vsrc-player.js, loaded by the page) is there; also inside htmx swaps.
function startPlayers(root) {
  if (!window.VSRCPlayer) return;
  root.querySelectorAll('[data-player]:not([data-started])').forEach((box) => {
    box.dataset.started = '1';
    const video = box.querySelector('video');
    const options = { type: box.dataset.type, mediaId: box.dataset.mediaId };
    if (box.dataset.token) options.token = box.dataset.token;
    window.dashboardPlayers = window.dashboardPlayers || {};
    window.dashboardPlayers[box.dataset.mediaId] = new window.VSRCPlayer(video, options);
  });
}

document.addEventListener('DOMContentLoaded', () => {
  startPlayers(document);
  // A page answering a POST with a secret (new key): a reload must not POST again and create another.
  if (document.querySelector('[data-shown-once]')) window.history.replaceState(null, '', window.location.pathname);
});
htmx.onLoad((el) => startPlayers(el));
