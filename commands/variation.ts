/**
 * V1–V4, Vary (Strong), Vary (Subtle): a new job from one image of a stored result.
 *   strong: img2img of the source image at `strength` (default 0.6) with a fresh seed.
 *   subtle: the source image's own seed, its noise slerped a quarter of the way toward a
 *           fresh seed's noise; no init image, so strength is 1.
 * Remix passes an edited prompt, which then drives the variation (commands/remix-prompt.ts).
 */
import { JOB_VERSION, variationJobSchema, type JobResult } from '../src/jobs.ts';
import type { CommandContext, CommandOutcome, CommandWarning } from './context.ts';
import { refuse } from './context.ts';
import { checkResultAccess, currentParams } from './result-access.ts';
import { freshSeed } from './random-seed.ts';
import { parseDecimal } from './option-values.ts';
import { DEFAULT_STRENGTH, STRENGTH_MAX, STRENGTH_MIN } from './options-schema.ts';
import { jobOutcome } from './job-outcome.ts';
import { describeParams } from './summary.ts';
import { applyRemix } from './remix-prompt.ts';

export const VARIATION_STRENGTH = DEFAULT_STRENGTH;
export const SUBTLE_BLEND_AMOUNT = 0.25;

export interface VariationInput {
  /** The stored result, or null when it has expired. */
  result: JobResult | null;
  /** 0-based image index (V1 is 0). */
  index: number;
  mode: 'strong' | 'subtle';
  /** Strong mode only; 0.05..1. */
  strength?: number | string;
  /** Remix: the edited prompt that drives the variation (absent: the image's own prompt). */
  prompt?: string;
}

export function variation(input: VariationInput, ctx: CommandContext): CommandOutcome {
  const denied = checkResultAccess(input.result, input.index, ctx);
  if (denied) return denied;
  const result = input.result!;
  const warnings: CommandWarning[] = [];

  let strength = VARIATION_STRENGTH;
  if (input.strength !== undefined && input.mode === 'subtle') {
    warnings.push({ code: 'strength-ignored', message: 'Vary (Subtle) keeps the composition; strength only applies to strong variations, so it was ignored.' });
  } else if (input.strength !== undefined) {
    const value = typeof input.strength === 'number' ? input.strength : parseDecimal(input.strength);
    if (value === null || Number.isNaN(value)) return refuse('bad-number', `Strength needs a number from ${STRENGTH_MIN} to ${STRENGTH_MAX}.`);
    if (value < STRENGTH_MIN || value > STRENGTH_MAX) return refuse('out-of-range', `Strength must be from ${STRENGTH_MIN} to ${STRENGTH_MAX}.`);
    strength = value;
  }

  const remixed = applyRemix(currentParams(result.params, ctx, warnings), input.prompt, ctx, warnings);
  if (!remixed.ok) return remixed.refusal;
  const base = remixed.params;
  const sourceSeed = result.images[input.index].seed;
  const subtle = input.mode === 'subtle';
  const payload = variationJobSchema.parse({
    v: JOB_VERSION,
    kind: 'variation',
    origin: ctx.origin,
    params: { ...base, seed: subtle ? sourceSeed : freshSeed(ctx.randomSeed, sourceSeed) },
    parentResultId: result.resultId,
    createdAt: ctx.now,
    source: { resultId: result.resultId, index: input.index },
    mode: input.mode,
    strength: subtle ? 1 : strength,
    ...(subtle ? { blendSeed: freshSeed(ctx.randomSeed, sourceSeed), blendAmount: SUBTLE_BLEND_AMOUNT } : {}),
  });
  const what = `${subtle ? 'Subtle variation' : `Strong variation (strength ${strength})`}${input.prompt !== undefined ? ' (remix)' : ''}`;
  return jobOutcome(payload, ctx, warnings, `${what} of image ${input.index + 1} · ${describeParams(payload.params)}`);
}
