/**
 * `--ar W:H` -> a width and height the model can draw.
 *
 * The rule: sides are multiples of the model's sizeMultiple (and at least 32 px); among those
 * sizes with at most 1.5 × baseSize² pixels, take the one with the lowest
 *   2 · |ln(aspect error)| + |ln(area / baseSize²)|
 * i.e. keep the requested shape first and the model's pixel budget second. Ties go to the
 * narrower size. Examples: SD 1.5 (512, 64) 1:1 -> 512x512, 16:9 -> 704x384, 2:3 -> 384x576;
 * the embedded tiny model (64, 32) 3:2 -> 96x64. A pure integer grid search; a few thousand
 * candidates at most.
 */
import { MAX_SIDE, maxPixels, MIN_SIDE } from '../src/job-limits.ts';
import type { ModelInfo } from '../src/models.ts';
import { MAX_ASPECT } from './options-schema.ts';
import type { CommandErrorCode } from './context.ts';

export type AspectResult = { ok: true; w: number; h: number } | { ok: false; code: CommandErrorCode; message: string };

export function parseAspect(raw: string): AspectResult {
  // NFKC turns full-width digits and colons (CJK keyboards) into ASCII.
  const m = /^(\d{1,6}):(\d{1,6})$/.exec(raw.normalize('NFKC').trim());
  const w = m ? Number(m[1]) : 0;
  const h = m ? Number(m[2]) : 0;
  if (!m || w === 0 || h === 0) {
    return { ok: false, code: 'bad-aspect', message: '--ar needs two whole numbers like 16:9 or 2:3.' };
  }
  if (w / h > MAX_ASPECT || h / w > MAX_ASPECT) {
    return { ok: false, code: 'out-of-range', message: `--ar must be between 1:${MAX_ASPECT} and ${MAX_ASPECT}:1.` };
  }
  return { ok: true, w, h };
}

export function snapSize(ratioW: number, ratioH: number, model: Pick<ModelInfo, 'baseSize' | 'sizeMultiple'>): { width: number; height: number } {
  const m = model.sizeMultiple;
  const budget = model.baseSize * model.baseSize;
  const most = maxPixels(model);
  const logRatio = Math.log(ratioW / ratioH);
  const first = Math.ceil(MIN_SIDE / m) * m;
  const last = Math.min(MAX_SIDE, Math.floor(most / first / m) * m);
  let best = { width: first, height: first };
  let bestCost = Infinity;
  for (let w = first; w <= last; w += m) {
    for (let h = first; h <= last && w * h <= most; h += m) {
      const cost = 2 * Math.abs(Math.log(w / h) - logRatio) + Math.abs(Math.log((w * h) / budget));
      if (cost < bestCost - 1e-12) {
        best = { width: w, height: h };
        bestCost = cost;
      }
    }
  }
  return best;
}
