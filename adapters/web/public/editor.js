// The region editor: an image with a canvas over it where the region to repaint is drawn, as a
// rectangle or freehand, with the prompt to change if wanted. The mask is a second canvas the
// size of the image (black = keep, white = repaint) that the server checks and stores as a PNG.
// Pointer events, so a mouse, a pen and a finger draw alike; the canvas takes no touch scrolling.
// Used by the playground (over its own results) and by the page links from chat open (edit.js).

const TOOLS = [
  ['rect', 'Rectangle'],
  ['free', 'Freehand'],
];

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/**
 * Builds the editor in `root`. options: { imageUrl, width, height, prompt, submitLabel, onSubmit }
 * where onSubmit({ prompt, mask }) sends it (mask: a PNG data URL) and resolves to a message to
 * show, or throws to show the error. Returns { element, shapes() }.
 */
export function mountEditor(root, options) {
  const { width, height } = options;
  const shapes = [];
  let tool = 'rect';
  let drawing = null;

  const image = el('img', { className: 'editor-image', src: options.imageUrl, alt: 'the image to edit', width, height, draggable: false });
  const overlay = el('canvas', { className: 'editor-overlay', width, height });
  overlay.dataset.testid = 'editor-canvas';
  overlay.setAttribute('aria-label', 'Draw the region to repaint');
  const mask = el('canvas', { width, height });
  const stage = el('div', { className: 'editor-stage' }, image, overlay);
  stage.style.aspectRatio = `${width} / ${height}`;

  const defaultBrush = Math.max(2, Math.round(Math.min(width, height) / 8));
  const brush = el('input', { type: 'range', min: String(Math.max(1, Math.round(defaultBrush / 4))), max: String(defaultBrush * 4), value: String(defaultBrush), className: 'editor-brush' });
  brush.setAttribute('aria-label', 'Brush size');
  const toolButtons = TOOLS.map(([name, label]) => {
    const b = el('button', { type: 'button', className: 'editor-tool', textContent: label });
    b.dataset.tool = name;
    b.setAttribute('aria-pressed', String(name === tool));
    b.addEventListener('click', () => {
      tool = name;
      for (const other of toolButtons) other.setAttribute('aria-pressed', String(other === b));
    });
    return b;
  });
  const undo = el('button', { type: 'button', className: 'editor-undo', textContent: 'Undo' });
  const clear = el('button', { type: 'button', className: 'editor-clear', textContent: 'Clear' });
  const tools = el('div', { className: 'editor-tools' }, ...toolButtons, el('label', { className: 'editor-brush-label' }, 'Brush ', brush), undo, clear);
  tools.setAttribute('role', 'toolbar');

  const prompt = el('textarea', { className: 'editor-prompt', value: options.prompt, rows: 2, maxLength: 4000, spellcheck: false });
  prompt.setAttribute('aria-label', 'Prompt');
  const status = el('p', { className: 'editor-status' });
  status.setAttribute('role', 'status');
  const submit = el('button', { type: 'submit', className: 'editor-submit', textContent: options.submitLabel ?? 'Repaint region' });
  const form = el('form', { className: 'editor' }, tools, stage, el('label', { className: 'editor-prompt-label' }, 'Prompt', prompt), status, submit);
  root.append(form);

  function paint(ctx, shape, fill) {
    ctx.fillStyle = fill;
    ctx.strokeStyle = fill;
    if (shape.type === 'rect') {
      // Whole pixels: every pixel the rectangle touches, from its first corner's to its last's.
      const x = Math.floor(Math.min(shape.x0, shape.x1));
      const y = Math.floor(Math.min(shape.y0, shape.y1));
      ctx.fillRect(x, y, Math.floor(Math.max(shape.x0, shape.x1)) + 1 - x, Math.floor(Math.max(shape.y0, shape.y1)) + 1 - y);
      return;
    }
    ctx.lineWidth = shape.size;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    const [first, ...rest] = shape.points;
    ctx.moveTo(first.x, first.y);
    // A single tap is a dot: a zero-length line with round caps.
    for (const p of rest.length ? rest : [first]) ctx.lineTo(p.x, p.y);
    ctx.stroke();
  }

  /** The mask and the tinted overlay, both from the shapes (the overlay also shows the one being drawn). */
  function redraw() {
    const m = mask.getContext('2d');
    m.fillStyle = '#000';
    m.fillRect(0, 0, width, height);
    for (const s of shapes) paint(m, s, '#fff');
    const o = overlay.getContext('2d');
    o.clearRect(0, 0, width, height);
    for (const s of [...shapes, ...(drawing ? [drawing] : [])]) paint(o, s, 'rgba(255, 0, 170, 0.45)');
    form.dataset.drawn = String(shapes.length > 0);
  }

  /** Canvas pixels under the pointer, whatever size the canvas is shown at. */
  function at(event) {
    const r = overlay.getBoundingClientRect();
    return { x: ((event.clientX - r.left) * width) / r.width, y: ((event.clientY - r.top) * height) / r.height };
  }

  overlay.addEventListener('pointerdown', (event) => {
    event.preventDefault();
    overlay.setPointerCapture(event.pointerId);
    const p = at(event);
    drawing = tool === 'rect' ? { type: 'rect', x0: p.x, y0: p.y, x1: p.x, y1: p.y } : { type: 'path', size: Number(brush.value), points: [p] };
    redraw();
  });
  overlay.addEventListener('pointermove', (event) => {
    if (!drawing) return;
    const p = at(event);
    if (drawing.type === 'rect') Object.assign(drawing, { x1: p.x, y1: p.y });
    else drawing.points.push(p);
    redraw();
  });
  const finish = () => {
    if (!drawing) return;
    const empty = drawing.type === 'rect' && (Math.abs(drawing.x1 - drawing.x0) < 1 || Math.abs(drawing.y1 - drawing.y0) < 1);
    if (!empty) shapes.push(drawing);
    drawing = null;
    redraw();
  };
  overlay.addEventListener('pointerup', finish);
  overlay.addEventListener('pointercancel', finish);
  undo.addEventListener('click', () => {
    shapes.pop();
    redraw();
  });
  clear.addEventListener('click', () => {
    shapes.length = 0;
    redraw();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (shapes.length === 0) {
      status.textContent = 'Draw the region to repaint first.';
      status.dataset.kind = 'error';
      return;
    }
    submit.disabled = true;
    status.textContent = 'Sending…';
    delete status.dataset.kind;
    try {
      status.textContent = await options.onSubmit({ prompt: prompt.value, mask: mask.toDataURL('image/png') });
      status.dataset.kind = 'done';
    } catch (err) {
      status.textContent = err.message;
      status.dataset.kind = 'error';
      submit.disabled = false;
    }
  });

  redraw();
  return { element: form, shapes: () => shapes.slice() };
}
