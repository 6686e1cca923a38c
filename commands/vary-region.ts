/** Vary (Region): the white area of a mask drawn in the editor is repainted; the rest of the image stays. */
import type { CommandContext, CommandOutcome } from './context.ts';
import { editOutcome, type EditInput } from './edit-job.ts';

export interface VaryRegionInput extends EditInput {
  /** The mask PNG, already in the artifact store (any size: the worker resizes it to the image). */
  maskArtifactKey: string;
}

export function varyRegion(input: VaryRegionInput, ctx: CommandContext): CommandOutcome {
  return editOutcome(input, { type: 'region', maskArtifactKey: input.maskArtifactKey }, ctx);
}
