// The Upload page: Uppy + tus. For each file the dashboard first creates a direct upload
// (POST /upload/create: the server calls the same service as POST /api/v1/uploads), then Uppy
// sends the bytes with tus to the returned uploadUrl: resumable, pausable, one progress bar per file.
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';

const form = document.getElementById('upload-form');
const input = document.getElementById('files');
const drop = document.getElementById('drop');
const list = document.getElementById('file-list');
const startButton = document.getElementById('start-upload');
const csrf = form.querySelector('input[name=csrf_token]').value;

const uppy = new Uppy({
  autoProceed: false,
  restrictions: { maxFileSize: Number(form.dataset.maxBytes) || null },
});
uppy.use(Tus, {
  chunkSize: 8 * 1024 * 1024,
  retryDelays: [0, 1000, 3000, 5000, 10000],
  removeFingerprintOnSuccess: true,
});

const rows = new Map();

function fieldValue(name) {
  const el = form.elements[name];
  return el ? el.value : '';
}

function row(file) {
  const li = document.createElement('li');
  li.dataset.fileId = file.id;
  li.innerHTML = `
    <div class="row"><strong class="name"></strong><span class="muted size"></span></div>
    <progress max="100" value="0"></progress>
    <div class="row"><span class="state" role="status">Ready</span>
      <button type="button" class="secondary small pause" hidden>Pause</button>
      <button type="button" class="secondary small remove">Remove</button>
      <a class="open" hidden>Open</a></div>`;
  li.querySelector('.name').textContent = file.name;
  li.querySelector('.size').textContent = `${(file.size / 1048576).toFixed(1)} MB`;
  li.querySelector('progress').setAttribute('aria-label', `Upload progress of ${file.name}`);
  li.querySelector('.pause').setAttribute('aria-label', `Pause ${file.name}`);
  li.querySelector('.remove').setAttribute('aria-label', `Remove ${file.name}`);
  li.querySelector('.pause').addEventListener('click', () => {
    const paused = uppy.pauseResume(file.id);
    const button = li.querySelector('.pause');
    button.textContent = paused ? 'Resume' : 'Pause';
    button.setAttribute('aria-label', `${paused ? 'Resume' : 'Pause'} ${file.name}`);
    setState(file.id, paused ? 'Paused' : 'Uploading');
  });
  li.querySelector('.remove').addEventListener('click', () => uppy.removeFile(file.id));
  list.appendChild(li);
  rows.set(file.id, li);
}

function setState(id, text) {
  const li = rows.get(id);
  if (li) li.querySelector('.state').textContent = text;
}

function addFiles(files) {
  for (const file of files) {
    try {
      uppy.addFile({ name: file.name, type: file.type, data: file, source: 'picker' });
    } catch (err) {
      const li = document.createElement('li');
      li.textContent = `${file.name}: ${err.message}`;
      li.setAttribute('role', 'alert');
      list.appendChild(li);
    }
  }
}

input.addEventListener('change', () => {
  addFiles(Array.from(input.files));
  input.value = '';
});
['dragenter', 'dragover'].forEach((type) => drop.addEventListener(type, (e) => {
  e.preventDefault();
  drop.classList.add('over');
}));
['dragleave', 'drop'].forEach((type) => drop.addEventListener(type, (e) => {
  e.preventDefault();
  drop.classList.remove('over');
}));
drop.addEventListener('drop', (e) => addFiles(Array.from(e.dataTransfer.files)));

uppy.on('file-added', (file) => row(file));
uppy.on('file-removed', (file) => {
  rows.get(file.id)?.remove();
  rows.delete(file.id);
});

// Before tus starts: one direct upload per file, with the form's fields (title defaults to the file name).
uppy.addPreProcessor(async (fileIDs) => {
  for (const id of fileIDs) {
    const file = uppy.getFile(id);
    if (file.tus && file.tus.endpoint) continue;
    setState(id, 'Preparing');
    const title = fieldValue('title').trim() || file.name.replace(/\.[^.]+$/, '') || file.name;
    const body = {
      title: fileIDs.length > 1 && fieldValue('title').trim() ? `${title} (${file.name})` : title,
      description: fieldValue('description'),
      tags: fieldValue('tags'),
      encodingProfileId: fieldValue('encodingProfileId'),
      playbackPolicy: fieldValue('playbackPolicy'),
    };
    const resp = await fetch('/upload/create', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body),
    });
    const answer = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const msg = answer.message || `HTTP ${resp.status}`;
      setState(id, `Refused: ${msg}`);
      throw new Error(msg);
    }
    uppy.setFileState(id, { tus: { endpoint: answer.uploadUrl }, meta: { ...file.meta, uploadId: answer.uploadId } });
  }
});

uppy.on('upload-progress', (file, progress) => {
  const li = rows.get(file.id);
  if (!li || !progress.bytesTotal) return;
  const pct = Math.floor((progress.bytesUploaded / progress.bytesTotal) * 100);
  li.querySelector('progress').value = pct;
  if (!uppy.getFile(file.id).isPaused) setState(file.id, `Uploading ${pct}%`);
  li.querySelector('.pause').hidden = false;
  li.querySelector('.remove').hidden = true;
});

async function waitForMedia(file) {
  const li = rows.get(file.id);
  for (let i = 0; i < 600; i += 1) {
    const resp = await fetch(`/upload/${encodeURIComponent(file.meta.uploadId)}/status`);
    const data = await resp.json().catch(() => ({}));
    if (data.mediaId) {
      const link = li.querySelector('.open');
      link.href = `/media/${data.mediaId}`;
      link.textContent = `Open ${file.name}`;
      link.hidden = false;
      setState(file.id, 'Uploaded: encoding');
      return;
    }
    if (data.status === 'failed' || data.status === 'expired' || data.status === 'cancelled') {
      setState(file.id, `Upload ${data.status}${data.errorMessage ? `: ${data.errorMessage}` : ''}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

uppy.on('upload-success', (file) => {
  const li = rows.get(file.id);
  if (!li) return;
  li.querySelector('progress').value = 100;
  li.querySelector('.pause').hidden = true;
  li.querySelector('.remove').hidden = true;
  setState(file.id, 'Uploaded: checking the file');
  waitForMedia(uppy.getFile(file.id));
});
uppy.on('upload-error', (file, error) => {
  if (file) setState(file.id, `Failed: ${error.message}`);
});

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!uppy.getFiles().length) {
    input.focus();
    return;
  }
  uppy.upload();
});
startButton.disabled = false;
