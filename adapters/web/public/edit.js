// The page a Vary (Region) link from Discord or Slack opens: the editor over that one image.
// The link (in the address) is the only credential; the server says what it may edit.
import { mountEditor } from './editor.js';

const link = new URLSearchParams(location.search).get('link') ?? '';
const root = document.getElementById('editor-root');
const problem = document.getElementById('problem');
const PLACE = { discord: 'Discord', slack: 'Slack', web: 'the playground' };

function showProblem(message) {
  root.replaceChildren();
  problem.textContent = message;
  problem.hidden = false;
}

function requestId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function start() {
  const res = await fetch(`/edit/api/link?link=${encodeURIComponent(link)}`, { credentials: 'same-origin' });
  const info = await res.json().catch(() => ({}));
  if (!res.ok) return showProblem(info.error ?? `HTTP ${res.status}`);
  const where = PLACE[info.platform] ?? 'the chat';
  document.getElementById('intro').textContent = `Image ${info.index + 1}: draw over the part to repaint (a rectangle or freehand), change the prompt if you like, and send. The result is posted back in ${where}.`;
  mountEditor(root, {
    imageUrl: info.imageUrl,
    width: info.width,
    height: info.height,
    prompt: info.prompt,
    onSubmit: async ({ prompt, mask }) => {
      const sent = await fetch('/edit/api/submit', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify({ link, prompt, mask, requestId: requestId() }),
      });
      const reply = await sent.json().catch(() => ({}));
      if (!sent.ok) throw new Error(reply.error ?? `HTTP ${sent.status}`);
      if (reply.kind !== 'queued') throw new Error(reply.message);
      return `Queued (${reply.summary}). The result will be posted in ${where}; this link is now used.`;
    },
  });
}

start().catch((err) => showProblem(`Could not load the editor: ${err.message}`));
