/**
 * Remix: a prompt the user edited before varying or editing an image. It is read like
 * /imagine's text (the same prompt language and checks), but only the prompt and `--no`
 * carry over: the size, seed and settings come from the image being remixed.
 */
import type { GenerationParams } from '../src/jobs.ts';
import type { CommandContext, CommandWarning, MessageOutcome } from './context.ts';
import { refuse } from './context.ts';
import { parseImagine } from './prompt-language.ts';
import { tokenWarnings } from './token-warnings.ts';

export type RemixOutcome = { ok: true; params: GenerationParams } | { ok: false; refusal: MessageOutcome };

/** `params` with the remixed prompt applied (unchanged when `prompt` is undefined); warnings are added to `warnings`. */
export function applyRemix(params: GenerationParams, prompt: string | undefined, ctx: CommandContext, warnings: CommandWarning[]): RemixOutcome {
  if (prompt === undefined) return { ok: true, params };
  const parsed = parseImagine(prompt, undefined, ctx.limits, ctx.models, ctx.helpCommand);
  if (!parsed.ok) return { ok: false, refusal: refuse(parsed.code, parsed.message) };
  const { options } = parsed.value;
  warnings.push(...parsed.value.warnings);
  const ignored = Object.keys(parsed.value.sources).filter((name) => name !== 'no');
  if (ignored.length > 0) {
    warnings.push({
      code: 'flags-ignored',
      message: `A remix keeps the image's own settings, so ${ignored.map((name) => `--${name}`).join(', ')} ${ignored.length === 1 ? 'was' : 'were'} ignored.`,
    });
  }
  const out: GenerationParams = { ...params, prompt: options.prompt, negativePrompt: options.no ?? params.negativePrompt };
  const model = ctx.models.get(params.model);
  if (model) warnings.push(...tokenWarnings(out.prompt, out.negativePrompt, model, ctx.countTokens));
  return { ok: true, params: out };
}
