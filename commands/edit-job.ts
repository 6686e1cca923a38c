/**
 * What Zoom Out, Pan and Vary (Region) share: the checks every button on a result makes,
 * the remixed prompt when there is one, the canvas size, and the job. The edit keeps the
 * image's seed family (a fresh seed, like a strong variation) and its settings.
 */
import { JOB_VERSION, describeEdit, editJobSchema, type Edit, type JobResult } from '../src/jobs.ts';
import type { CommandContext, CommandOutcome, CommandWarning } from './context.ts';
import { checkResultAccess, currentParams } from './result-access.ts';
import { freshSeed } from './random-seed.ts';
import { jobOutcome } from './job-outcome.ts';
import { describeParams } from './summary.ts';
import { applyRemix } from './remix-prompt.ts';
import { editCanvasSize } from './edit-canvas.ts';

export interface EditInput {
  /** The stored result, or null when it has expired. */
  result: JobResult | null;
  /** 0-based image index. */
  index: number;
  /** Remix: the edited prompt (absent: the image's own prompt). */
  prompt?: string;
}

export function editOutcome(input: EditInput, edit: Edit, ctx: CommandContext): CommandOutcome {
  const denied = checkResultAccess(input.result, input.index, ctx);
  if (denied) return denied;
  const result = input.result!;
  const image = result.images[input.index];
  const warnings: CommandWarning[] = [];
  const remixed = applyRemix(currentParams({ ...result.params, n: 1 }, ctx, warnings), input.prompt, ctx, warnings);
  if (!remixed.ok) return remixed.refusal;
  const model = ctx.models.get(result.params.model)!;
  const size = editCanvasSize(edit, image, model);
  const payload = editJobSchema.parse({
    v: JOB_VERSION,
    kind: 'edit',
    origin: ctx.origin,
    params: { ...remixed.params, ...size, seed: freshSeed(ctx.randomSeed, image.seed) },
    parentResultId: result.resultId,
    createdAt: ctx.now,
    source: { resultId: result.resultId, index: input.index },
    edit,
  });
  const remix = input.prompt !== undefined ? ' (remix)' : '';
  return jobOutcome(payload, ctx, warnings, `${describeEdit(edit)}${remix} of image ${input.index + 1} · ${describeParams(payload.params)}`);
}
