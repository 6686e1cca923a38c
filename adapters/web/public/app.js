// The playground page: a chat log of commands and results, live over server-sent events.
// Plain browser JavaScript served as is (no build step); the server does all parsing and
// validation with the same commands the chat platforms use, so this file only renders.

import { mountEditor } from './editor.js';

const log = document.getElementById('log');
const form = document.getElementById('composer');
const input = document.getElementById('prompt');
const galleryPane = document.getElementById('gallery-pane');
const galleryList = document.getElementById('gallery');
const galleryEmpty = document.getElementById('gallery-empty');
const connection = document.getElementById('connection');
const jobTemplate = document.getElementById('job-template');
const resultTemplate = document.getElementById('result-template');

/** jobId -> the <li> showing that job (queued, running, failed) or its result. */
const jobCards = new Map();
/** Jobs that have finished here, so a late place-in-line report cannot bring them back. */
const finishedJobs = new Set();
/** Shown where a picture the server withholds (NSFW_MODE=withhold) would have been. */
const WITHHELD_NOTE = 'The safety checker flagged this image, so it is withheld.';

function requestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Pages served over plain http on a LAN address are not a secure context: no randomUUID there.
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
  return data;
}

function scrollToEnd() {
  log.lastElementChild?.scrollIntoView({ block: 'end', behavior: 'smooth' });
}

/** Text with `code` spans (the chat-platform markup the commands' messages use) as DOM nodes. */
function withCode(text) {
  return text.split(/`([^`\n]+)`/).map((part, i) => (i % 2 ? Object.assign(document.createElement('code'), { textContent: part }) : document.createTextNode(part)));
}

function addMessage(who, text, extraClass = '') {
  const li = document.createElement('li');
  li.className = `msg ${who} ${extraClass}`.trim();
  const p = document.createElement('p');
  if (who === 'bot') p.append(...withCode(text));
  else p.textContent = text;
  li.append(p);
  log.append(li);
  scrollToEnd();
  return li;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
/** Icons drawn inline: an emoji label (🔄) is an empty box on systems without an emoji font. */
const ICONS = {
  // Two arrows chasing each other round a circle: "again, differently".
  reseed: ['M20 11a8 8 0 0 0-14.6-4.5', 'M4 4v3.5h3.5', 'M4 13a8 8 0 0 0 14.6 4.5', 'M20 20v-3.5h-3.5'],
};

function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.classList.add('icon');
  for (const d of ICONS[name]) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/**
 * Remix and Custom Zoom: the form the server described (prefilled), opened under the result's
 * buttons; its text goes to /api/form with the button's id. Pressing the button again closes it.
 */
function toggleForm(container, b) {
  const open = container.parentElement.querySelector(`form.inline-form[data-form-id="${CSS.escape(b.id)}"]`);
  for (const other of container.parentElement.querySelectorAll('form.inline-form')) other.remove();
  if (open) return;
  const f = b.opens.form;
  const area = Object.assign(document.createElement('textarea'), { value: f.value, rows: 3, maxLength: 4100, spellcheck: false });
  area.setAttribute('aria-label', f.label);
  const error = Object.assign(document.createElement('p'), { className: 'error', role: 'alert' });
  const submit = Object.assign(document.createElement('button'), { type: 'submit', textContent: f.submit });
  const cancel = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Cancel' });
  const buttons = Object.assign(document.createElement('div'), { className: 'buttons' });
  buttons.append(submit, cancel);
  const form = Object.assign(document.createElement('form'), { className: 'inline-form' });
  form.dataset.formId = b.id;
  form.dataset.action = f.action;
  form.append(
    Object.assign(document.createElement('strong'), { textContent: f.title }),
    area,
    Object.assign(document.createElement('p'), { className: 'hint muted', textContent: f.hint }),
    error,
    buttons,
  );
  cancel.addEventListener('click', () => form.remove());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    try {
      const reply = await post('/api/form', { id: b.id, text: area.value, requestId: requestId() });
      if (reply.kind === 'message') error.textContent = reply.message;
      else {
        form.remove();
        handleReply(reply);
      }
    } catch (err) {
      error.textContent = `Could not send that: ${err.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  container.after(form);
  area.focus();
}

/** Vary (Region): the editor over one image of the result, in a dialog; the job then shows in the log like any other. */
function openRegionEditor(view, index) {
  const image = view.images[index];
  const dialog = Object.assign(document.createElement('dialog'), { className: 'region-dialog' });
  dialog.dataset.testid = 'region-dialog';
  const close = Object.assign(document.createElement('button'), { type: 'button', textContent: '✖', title: 'Close' });
  close.setAttribute('aria-label', 'Close the editor');
  const header = document.createElement('header');
  header.append(Object.assign(document.createElement('h2'), { textContent: `Vary (Region) · image ${index + 1}` }), close);
  dialog.append(header);
  mountEditor(dialog, {
    imageUrl: image.url,
    width: image.width,
    height: image.height,
    prompt: view.params.negativePrompt ? `${view.params.prompt} --no ${view.params.negativePrompt}` : view.params.prompt,
    onSubmit: async ({ prompt, mask }) => {
      const reply = await post('/api/region', { resultId: view.resultId, index, prompt, mask, requestId: requestId() });
      if (reply.kind === 'message') throw new Error(reply.message);
      dialog.close();
      handleReply(reply);
      return 'Queued.';
    },
  });
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

function renderButtons(container, rows, view) {
  container.replaceChildren();
  for (const row of rows) {
    const div = document.createElement('div');
    div.className = 'row';
    for (const b of row) {
      const button = document.createElement('button');
      button.type = 'button';
      if (b.icon) {
        button.append(icon(b.icon));
        button.dataset.icon = b.icon;
      } else button.textContent = b.label;
      button.dataset.actionId = b.id;
      button.title = b.title;
      button.setAttribute('aria-label', b.title);
      button.className = `action ${b.style}`;
      if (b.opens?.kind === 'form') button.addEventListener('click', () => toggleForm(container, b));
      else if (b.opens?.kind === 'region' && view) button.addEventListener('click', () => openRegionEditor(view, b.opens.index));
      else button.addEventListener('click', () => press(button, b));
      div.append(button);
    }
    container.append(div);
  }
}

function jobStatusText(job) {
  if (job.state === 'active' || job.position === 0) return 'Running…';
  if (job.position) return `Queued · #${job.position} in line`;
  return 'Queued';
}

function jobCard(jobId, info = {}) {
  let li = jobCards.get(jobId);
  if (!li) {
    li = jobTemplate.content.firstElementChild.cloneNode(true);
    li.querySelector('.job').dataset.jobId = jobId;
    jobCards.set(jobId, li);
    log.append(li);
    scrollToEnd();
  }
  const article = li.querySelector('article');
  if (!article.classList.contains('job')) return li;
  // The prompt is what people recognise a job by; the parameters go on the line under it.
  if (info.prompt) article.querySelector('.summary').textContent = info.prompt;
  if (info.summary) article.querySelector('.details').textContent = info.summary;
  if (info.warnings) {
    const ul = article.querySelector('.warnings');
    ul.replaceChildren(...info.warnings.map((w) => Object.assign(document.createElement('li'), { textContent: w })));
  }
  if (info.rows) renderButtons(article.querySelector('.actions'), info.rows);
  if ('position' in info || 'state' in info) {
    article.querySelector('.status').textContent = jobStatusText(info);
    // A waiting job's estimate until it starts, from the measured average job (absent before any job finished).
    if (info.etaMs) article.querySelector('.eta').textContent = `starts in about ${Math.ceil(info.etaMs / 1000)} s`;
    article.dataset.state = info.state === 'active' || info.position === 0 ? 'running' : 'waiting';
  }
  return li;
}

function formatEta(ms) {
  if (ms == null) return '';
  return ms < 1000 ? 'almost done' : `about ${Math.ceil(ms / 1000)} s left`;
}

function showProgress(event) {
  const li = jobCards.get(event.jobId);
  const article = li?.querySelector('article.job');
  if (!article) return;
  article.dataset.state = 'running';
  article.querySelector('.status').textContent = `Step ${event.step} of ${event.total}`;
  const bar = article.querySelector('progress');
  bar.max = event.total;
  bar.value = event.step;
  article.querySelector('.eta').textContent = formatEta(event.etaMs);
  if (event.preview) {
    const img = article.querySelector('.preview');
    img.src = event.preview;
    img.hidden = false;
  }
}

function resultCard(view) {
  const li = resultTemplate.content.firstElementChild.cloneNode(true);
  const article = li.querySelector('article');
  article.dataset.resultId = view.resultId;
  article.dataset.jobId = view.jobId;
  article.dataset.kind = view.kind;
  if (view.parentResultId) article.dataset.parentResultId = view.parentResultId;
  const kind = { upscale: 'Upscaled', variation: 'Variation', edit: 'Edited' }[view.kind] ?? 'Done';
  article.querySelector('.summary').textContent = `${kind} · ${view.params.prompt}`;
  renderTiles(article.querySelector('.tiles'), view);
  if (view.flagged && !view.withheld) article.querySelector('.summary').append(' · flagged by the safety checker (click the image to show it)');
  article.querySelector('.seeds').textContent = view.summary;
  article.dataset.seeds = view.images.map((i) => i.seed).join(',');
  renderButtons(article.querySelector('.actions'), view.rows, view);
  const dl = article.querySelector('dl');
  const p = view.params;
  const rows = [
    ['prompt', p.prompt],
    ['negative', p.negativePrompt || '—'],
    ['size', `${view.images[0].width}×${view.images[0].height}`],
    ['seed', String(p.seed)],
    ['steps', String(p.steps)],
    ['cfg', String(p.guidance)],
    ['sampler', p.sampler],
    ['model', `${p.model} (${view.provider})`],
  ];
  for (const [k, v] of rows) dl.append(Object.assign(document.createElement('dt'), { textContent: k }), Object.assign(document.createElement('dd'), { textContent: v }));
  article.querySelector('.command').textContent = view.command;
  labelCopy(article.querySelector('.copy'), view.copy);
  article.querySelector('.copy').addEventListener('click', (e) => copyCommand(e.currentTarget, view.command));
  return li;
}

/**
 * The images as separate numbered tiles with a gap between them, laid out as the grid image is
 * (one row up to 3, then 2x2), so four pictures with the same background do not read as one and
 * tile k is plainly the one Uk and Vk act on.
 */
function renderTiles(container, view) {
  const n = view.images.length;
  container.style.setProperty('--cols', String(n <= 3 ? n : Math.ceil(Math.sqrt(n))));
  container.replaceChildren(
    ...view.images.map((image, i) => {
      const number = Object.assign(document.createElement('span'), { className: 'tile-number', textContent: String(i + 1) });
      if (image.withheld) {
        // The server does not send a withheld picture at all; say so where it would have been.
        const note = Object.assign(document.createElement('div'), { className: 'tile withheld muted' });
        note.append(Object.assign(document.createElement('p'), { textContent: WITHHELD_NOTE }), number);
        return note;
      }
      const link = Object.assign(document.createElement('a'), { className: 'tile', href: image.url, target: '_blank', rel: 'noopener' });
      const img = Object.assign(document.createElement('img'), { className: 'tile-image', src: image.url, alt: `${view.params.prompt} (image ${i + 1})`, width: image.width, height: image.height });
      img.dataset.testid = 'tile';
      link.append(img, number);
      if (image.flagged) coverFlagged(link, img);
      return link;
    }),
  );
}

function showResult(jobId, view) {
  finishedJobs.add(jobId);
  const card = resultCard(view);
  const existing = jobCards.get(jobId);
  if (existing) existing.replaceWith(card);
  else log.append(card);
  jobCards.set(jobId, card);
  addToGallery(view, true);
  scrollToEnd();
}

function showFailure(event) {
  finishedJobs.add(event.jobId);
  const li = jobCard(event.jobId);
  const article = li.querySelector('article.job');
  if (!article) return;
  article.dataset.state = event.cancelled ? 'cancelled' : 'failed';
  article.querySelector('.status').textContent = event.message;
  renderButtons(article.querySelector('.actions'), event.rows);
}

/** The copy button says what its line is: the same image again only for a result made from a prompt (view.ts copyLabel). */
function labelCopy(button, copy) {
  button.textContent = copy.label;
  button.title = copy.note;
  return button;
}

async function copyCommand(button, command) {
  try {
    await navigator.clipboard.writeText(command);
  } catch {
    // No clipboard API outside secure contexts: fall back to a selected textarea.
    const area = Object.assign(document.createElement('textarea'), { value: command });
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  button.dataset.copied = 'true';
  const label = button.textContent;
  button.textContent = 'Copied';
  setTimeout(() => {
    button.textContent = label;
    delete button.dataset.copied;
  }, 1500);
}

/** A flagged picture stays blurred until clicked once; the first click only uncovers it. */
function coverFlagged(link, img) {
  img.classList.add('flagged');
  img.title = 'The safety checker flagged this image. Click to show it.';
  link.addEventListener('click', (event) => {
    if (!img.classList.contains('flagged')) return;
    event.preventDefault();
    img.classList.remove('flagged');
    img.title = '';
  });
}

function addToGallery(view, atTop) {
  galleryList.querySelector(`[data-result-id="${CSS.escape(view.resultId)}"]`)?.remove();
  const li = document.createElement('li');
  li.className = 'item';
  li.dataset.resultId = view.resultId;
  const img = view.withheld
    ? Object.assign(document.createElement('p'), { className: 'withheld muted', textContent: WITHHELD_NOTE })
    : Object.assign(document.createElement('img'), { src: view.gridUrl, alt: view.params.prompt, loading: 'lazy' });
  if (view.flagged && !view.withheld) img.classList.add('flagged');
  img.addEventListener('click', () => {
    const card = log.querySelector(`article.result[data-result-id="${CSS.escape(view.resultId)}"]`);
    if (card) card.scrollIntoView({ block: 'center', behavior: 'smooth' });
    else {
      log.append(resultCard(view));
      scrollToEnd();
    }
  });
  const caption = document.createElement('div');
  caption.className = 'caption';
  caption.append(
    Object.assign(document.createElement('p'), { className: 'prompt', textContent: view.params.prompt }),
    Object.assign(document.createElement('p'), { className: 'muted', textContent: view.summary }),
  );
  const copy = labelCopy(Object.assign(document.createElement('button'), { type: 'button', className: 'copy' }), view.copy);
  copy.addEventListener('click', () => copyCommand(copy, view.command));
  caption.append(copy);
  li.append(img, caption);
  if (atTop) galleryList.prepend(li);
  else galleryList.append(li);
  galleryChanged();
}

/** Phones show the gallery as a strip above the chat, only once it has something in it. */
function galleryChanged() {
  const empty = galleryList.children.length === 0;
  galleryEmpty.hidden = !empty;
  galleryPane.dataset.empty = String(empty);
}

function removeResult(resultId) {
  for (const el of log.querySelectorAll(`article.result[data-result-id="${CSS.escape(resultId)}"]`)) el.closest('li').remove();
  galleryList.querySelector(`[data-result-id="${CSS.escape(resultId)}"]`)?.remove();
  galleryChanged();
}

function handleReply(reply) {
  switch (reply.kind) {
    case 'queued':
      if (finishedJobs.has(reply.jobId)) return;
      jobCard(reply.jobId, { prompt: reply.prompt, summary: reply.summary, warnings: reply.warnings, rows: reply.rows, position: reply.position, etaMs: reply.etaMs, state: reply.position === 0 ? 'active' : 'waiting' });
      return;
    case 'message':
      addMessage('bot', reply.message, reply.code === 'help' || reply.code === 'queue' ? 'help' : 'notice');
      return;
    case 'cancelled':
      addMessage('bot', reply.message, 'notice');
      for (const jobId of reply.jobIds) {
        const article = jobCards.get(jobId)?.querySelector('article.job');
        if (article && article.dataset.state === 'waiting') {
          finishedJobs.add(jobId);
          article.dataset.state = 'cancelled';
          article.querySelector('.status').textContent = 'Cancelled.';
          article.querySelector('.actions').replaceChildren();
        }
      }
      return;
    case 'deleted':
      removeResult(reply.resultId);
      return;
  }
}

async function press(button, b) {
  button.disabled = true;
  try {
    handleReply(await post('/api/press', { id: b.id, requestId: requestId() }));
  } catch (err) {
    addMessage('bot', `Could not send that: ${err.message}`, 'notice');
  } finally {
    button.disabled = false;
  }
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  // An empty box is a bare /imagine: the server says what is missing rather than nothing happening.
  const text = input.value.trim() || '/imagine';
  addMessage('user', text);
  input.value = '/imagine ';
  try {
    handleReply(await post('/api/command', { text, requestId: requestId() }));
  } catch (err) {
    addMessage('bot', `Could not send that: ${err.message}`, 'notice');
  }
});

function connect() {
  const events = new EventSource('/api/events');
  const on = (name, fn) => events.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  events.addEventListener('open', () => {
    connection.dataset.state = 'live';
    connection.textContent = 'live';
  });
  events.addEventListener('error', () => {
    connection.dataset.state = 'connecting';
    connection.textContent = 'reconnecting…';
  });
  on('hello', (data) => {
    galleryList.replaceChildren();
    for (const view of data.gallery) addToGallery(view, false);
    galleryChanged();
    for (const job of data.jobs) if (!finishedJobs.has(job.jobId)) jobCard(job.jobId, job);
  });
  on('jobs', (data) => {
    for (const job of data.jobs) if (!finishedJobs.has(job.jobId)) jobCard(job.jobId, job);
  });
  on('progress', showProgress);
  on('result', (data) => showResult(data.jobId, data.result));
  on('failure', showFailure);
  on('deleted', (data) => removeResult(data.resultId));
}

fetch('/api/info', { credentials: 'same-origin' })
  .then((r) => r.json())
  .then((info) => {
    document.getElementById('models').textContent = `Models: ${info.models.map((m) => (m === info.defaultModel ? `${m} (default)` : m)).join(', ')} · up to ${info.limits.maxN} images, ${info.limits.maxSteps} steps.`;
  })
  .catch(() => {});

connect();
input.focus();
input.setSelectionRange(input.value.length, input.value.length);
