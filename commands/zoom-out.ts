/** Zoom Out 2x / 1.5x / Custom Zoom: the image shrinks into the centre of a canvas of its size and the border is drawn. */
import { ZOOM_MAX, ZOOM_MIN } from '../src/jobs.ts';
import type { CommandContext, CommandOutcome } from './context.ts';
import { refuse } from './context.ts';
import { parseDecimal } from './option-values.ts';
import { editOutcome, type EditInput } from './edit-job.ts';

export interface ZoomOutInput extends EditInput {
  /** 1.0..2.0 (Custom Zoom passes what the user typed). */
  factor: number | string;
}

export function zoomOut(input: ZoomOutInput, ctx: CommandContext): CommandOutcome {
  const factor = typeof input.factor === 'number' ? input.factor : parseDecimal(input.factor);
  if (factor === null || !Number.isFinite(factor)) return refuse('bad-number', `Zoom needs a number from ${ZOOM_MIN} to ${ZOOM_MAX}, e.g. 1.5.`);
  if (factor < ZOOM_MIN || factor > ZOOM_MAX) return refuse('out-of-range', `Zoom must be from ${ZOOM_MIN} to ${ZOOM_MAX}.`);
  return editOutcome(input, { type: 'zoom', factor }, ctx);
}
