/** 🔄: the same request again with a new seed (always txt2img, even from a variation or upscale). */
import { JOB_VERSION, txt2imgJobSchema, type JobResult } from '../src/jobs.ts';
import type { CommandContext, CommandOutcome, CommandWarning } from './context.ts';
import { checkResultAccess, currentParams } from './result-access.ts';
import { freshSeed } from './random-seed.ts';
import { jobOutcome } from './job-outcome.ts';
import { describeParams } from './summary.ts';

export interface ReseedInput {
  result: JobResult | null;
}

export function reseed(input: ReseedInput, ctx: CommandContext): CommandOutcome {
  const denied = checkResultAccess(input.result, undefined, ctx);
  if (denied) return denied;
  const result = input.result!;
  const warnings: CommandWarning[] = [];
  const base = currentParams(result.params, ctx, warnings);
  const payload = txt2imgJobSchema.parse({
    v: JOB_VERSION,
    kind: 'txt2img',
    origin: ctx.origin,
    params: { ...base, seed: freshSeed(ctx.randomSeed, result.params.seed) },
    parentResultId: result.resultId,
    createdAt: ctx.now,
  });
  return jobOutcome(payload, ctx, warnings, `New seed · ${describeParams(payload.params)}`);
}
