/**
 * The size of an edit's canvas, decided where the job is made so the job's parameters (and
 * the limits checked on them) name the size the worker draws:
 *   zoom, region: the source's own size;
 *   pan:          the source grown by half towards the pan (a 64x64 image panned right: 96x64).
 * A canvas the model cannot draw (past its pixel budget, or sides off its size multiple: an
 * upscaled image, a second pan) becomes the nearest size of that shape it can (commands/aspect.ts).
 */
import type { Edit } from '../src/jobs.ts';
import { maxPixels, MIN_SIDE, MAX_SIDE } from '../src/job-limits.ts';
import type { ModelInfo } from '../src/models.ts';
import { snapSize } from './aspect.ts';

export type CanvasModel = Pick<ModelInfo, 'baseSize' | 'sizeMultiple'>;

export function editCanvasSize(edit: Edit, source: { width: number; height: number }, model: CanvasModel): { width: number; height: number } {
  let { width, height } = source;
  if (edit.type === 'pan') {
    if (edit.direction === 'left' || edit.direction === 'right') width = Math.round(width * 1.5);
    else height = Math.round(height * 1.5);
  }
  const m = model.sizeMultiple;
  const fits = width % m === 0 && height % m === 0 && width >= MIN_SIDE && height >= MIN_SIDE && Math.max(width, height) <= MAX_SIDE && width * height <= maxPixels(model);
  return fits ? { width, height } : snapSize(width, height, model);
}
