/** U1–U4: one image of a stored result, upscaled (×2 unless told ×4). */
import { JOB_VERSION, upscaleJobSchema, type JobResult } from '../src/jobs.ts';
import { upscaleViolation } from '../src/job-limits.ts';
import type { CommandContext, CommandOutcome, CommandWarning } from './context.ts';
import { refuse } from './context.ts';
import { jobOutcome } from './job-outcome.ts';
import { checkResultAccess, currentParams } from './result-access.ts';

export interface UpscaleInput {
  result: JobResult | null;
  /** 0-based image index (U1 is 0). */
  index: number;
  factor?: number;
}

export function upscale(input: UpscaleInput, ctx: CommandContext): CommandOutcome {
  const denied = checkResultAccess(input.result, input.index, ctx);
  if (denied) return denied;
  const result = input.result!;
  if (result.kind === 'upscale') return refuse('already-upscaled', 'This image is already upscaled.');
  const factor = input.factor ?? 2;
  if (factor !== 2 && factor !== 4) return refuse('out-of-range', 'Upscale factor must be 2 or 4.');
  const image = result.images[input.index];
  // The image's own size, which the job's parameters normally repeat: checked before anything is built.
  const tooLarge = upscaleViolation(image.width, image.height, factor);
  if (tooLarge) return refuse('out-of-range', tooLarge.message);
  const warnings: CommandWarning[] = [];
  const params = currentParams({ ...result.params, n: 1, seed: image.seed }, ctx, warnings);
  const payload = upscaleJobSchema.parse({
    v: JOB_VERSION,
    kind: 'upscale',
    origin: ctx.origin,
    params,
    parentResultId: result.resultId,
    createdAt: ctx.now,
    source: { resultId: result.resultId, index: input.index },
    factor,
  });
  return jobOutcome(payload, ctx, warnings, `Upscale ×${factor} of image ${input.index + 1} · ${image.width * factor}x${image.height * factor}`);
}
