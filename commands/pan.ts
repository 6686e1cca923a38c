/** ⬅ ➡ ⬆ ⬇: the canvas grows by half towards the pan and the new strip is drawn. */
import type { PanDirection } from '../src/jobs.ts';
import type { CommandContext, CommandOutcome } from './context.ts';
import { editOutcome, type EditInput } from './edit-job.ts';

export interface PanInput extends EditInput {
  direction: PanDirection;
}

export function pan(input: PanInput, ctx: CommandContext): CommandOutcome {
  return editOutcome(input, { type: 'pan', direction: input.direction }, ctx);
}
