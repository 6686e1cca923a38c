/** /imagine: the prompt language in, a txt2img job out (img2img when an image is attached). */
import { JOB_VERSION, txt2imgJobSchema, type GenerationParams } from '../src/jobs.ts';
import type { CommandContext, CommandOutcome, CommandWarning } from './context.ts';
import { refuse } from './context.ts';
import { DEFAULT_STRENGTH, type StructuredOptions } from './options-schema.ts';
import { parseImagine } from './prompt-language.ts';
import { snapSize } from './aspect.ts';
import { jobOutcome } from './job-outcome.ts';
import { describeParams } from './summary.ts';
import { tokenWarnings } from './token-warnings.ts';

export interface ImagineInput {
  /** What the user typed: the prompt followed by any inline flags. */
  text: string;
  /** Structured option fields (Discord slash-command options, web form); they win over inline flags. */
  options?: StructuredOptions;
  /** An attached image, already fetched into the artifact store: makes this an img2img job. */
  initImage?: { artifactKey: string };
}

export function imagine(input: ImagineInput, ctx: CommandContext): CommandOutcome {
  const parsed = parseImagine(input.text, input.options, ctx.limits, ctx.models, ctx.helpCommand);
  if (!parsed.ok) return refuse(parsed.code, parsed.message);
  const { options, aspect } = parsed.value;
  const warnings: CommandWarning[] = [...parsed.value.warnings];

  const model = options.model !== undefined ? ctx.models.get(options.model)! : ctx.models.defaultModel;
  const allowed = ctx.limits.allowedSamplers;
  const { width, height } = snapSize(aspect.w, aspect.h, model);
  const params: GenerationParams = {
    prompt: options.prompt,
    negativePrompt: options.no ?? '',
    seed: options.seed ?? ctx.randomSeed() >>> 0,
    steps: options.steps ?? Math.min(model.defaultSteps, ctx.limits.maxSteps),
    guidance: options.cfg ?? model.defaultGuidance,
    width,
    height,
    n: options.n ?? ctx.limits.maxN,
    // A model's favourite sampler may be switched off here; then the first allowed one is used.
    sampler: options.sampler ?? (allowed.includes(model.defaultSampler) ? model.defaultSampler : allowed[0]),
    model: model.name,
  };

  let initImage: { artifactKey: string; strength: number } | undefined;
  if (input.initImage) {
    initImage = { artifactKey: input.initImage.artifactKey, strength: options.strength ?? DEFAULT_STRENGTH };
  } else if (options.strength !== undefined) {
    warnings.push({ code: 'strength-ignored', message: '--strength only applies to variations and attached images, so it was ignored.' });
  }
  warnings.push(...tokenWarnings(params.prompt, params.negativePrompt, model, ctx.countTokens));

  const payload = txt2imgJobSchema.parse({
    v: JOB_VERSION,
    kind: 'txt2img',
    origin: ctx.origin,
    params,
    createdAt: ctx.now,
    ...(initImage ? { initImage } : {}),
  });
  return jobOutcome(payload, ctx, warnings, describeParams(params));
}
