/**
 * The checks every button on a result shares, in the order users care about: is it still
 * there, may this person press it, does the image exist, can its model still run.
 */
import type { GenerationParams, JobResult } from '../src/jobs.ts';
import type { CommandContext, CommandWarning, MessageOutcome } from './context.ts';
import { refuse } from './context.ts';
import { mayPress, notAllowedMessage, parsePressPolicy } from './press-policy.ts';

export function checkResultAccess(result: JobResult | null, index: number | undefined, ctx: CommandContext): MessageOutcome | null {
  if (!result) return refuse('expired', 'This result has expired; run /imagine again to make new images.');
  const policy = parsePressPolicy(ctx.limits.pressPolicy);
  if (!mayPress(policy, result.origin, ctx.origin, ctx.roles)) return refuse('not-allowed', notAllowedMessage(policy));
  if (index !== undefined && !(Number.isInteger(index) && index >= 0 && index < result.images.length)) {
    const count = result.images.length;
    return refuse('index-out-of-range', `There is no image ${Number.isInteger(index) ? index + 1 : String(index)} here; this result has ${count === 1 ? '1 image' : `images 1 to ${count}`}.`);
  }
  if (!ctx.models.get(result.params.model)) {
    return refuse('unknown-model', `The model ${result.params.model} that made this image is no longer available here.`);
  }
  return null;
}

/**
 * A stored result's parameters under today's limits: configuration may have lowered max
 * steps, max n or the sampler list since it was made. Adds a warning when anything changed.
 */
export function currentParams(params: GenerationParams, ctx: CommandContext, warnings: CommandWarning[]): GenerationParams {
  const { maxSteps, maxN, allowedSamplers } = ctx.limits;
  const out: GenerationParams = {
    ...params,
    steps: Math.min(params.steps, maxSteps),
    n: Math.min(params.n, maxN),
    sampler: allowedSamplers.includes(params.sampler) ? params.sampler : allowedSamplers[0],
  };
  const changed = (['steps', 'n', 'sampler'] as const).filter((k) => out[k] !== params[k]);
  if (changed.length > 0) {
    warnings.push({ code: 'limit-lowered', message: `Current limits changed ${changed.map((k) => `${k} ${params[k]} → ${out[k]}`).join(', ')}.` });
  }
  return out;
}
