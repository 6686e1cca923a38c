/** A command context over a two-model catalog (SD 1.5-like and the tiny model), with a fixed clock and seed source. */
import { envSchema } from '../../src/config.ts';
import { resultSchema, type JobPayload, type JobResult, type Origin } from '../../src/jobs.ts';
import { createModelCatalog, SD_DEFAULTS, type ModelInfo } from '../../src/models.ts';
import { imagine } from '../../commands/imagine.ts';
import { limitsFromConfig, type CommandContext, type CommandLimits, type TokenCounter } from '../../commands/context.ts';
import type { PlatformCommandRules } from '../../src/platform.ts';
import { PLATFORMS } from '../../src/root/platforms.ts';

/** The command rules of an origin's platform, from the composition root's list (as its adapter hands them over). */
export function platformRules(o: Origin): PlatformCommandRules {
  const found = PLATFORMS.find((p) => p.name === o.platform);
  if (!found) throw new Error(`no platform module named ${o.platform}`);
  return found.commands;
}

/** The roles the origin's platform says its person holds. */
export function rolesOf(o: Origin): readonly string[] {
  return platformRules(o).pressRoles?.(o) ?? [];
}

export const SD15: ModelInfo = { name: 'sd15', dir: 'models/sd15', ...SD_DEFAULTS, maxTokens: 75 };
export const TINY: ModelInfo = { name: 'tiny', dir: 'models/tiny', baseSize: 64, sizeMultiple: 32, defaultSteps: 20, defaultSampler: 'euler_a', defaultGuidance: 5, maxTokens: 75 };

export const NOW = 1_760_000_000_000;

/** Counts whitespace-separated words as tokens: enough to drive the warning path without a vocabulary. */
export const wordTokenCounter: TokenCounter = (text, model) => {
  const words = text.split(' ').filter(Boolean);
  const truncated = words.length > model.maxTokens;
  return truncated ? { count: words.length, truncated, droppedText: words.slice(model.maxTokens).join(' ') } : { count: words.length, truncated };
};

export function origin(overrides: Partial<Origin> = {}): Origin {
  return { platform: 'discord', workspaceId: 'g1', channelId: 'c1', userId: 'u1', eventId: 'evt-1', ...overrides };
}

/** A seed source that returns the given values in turn (then repeats the last). */
export function seeds(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)];
}

export function context(overrides: { env?: Record<string, string>; limits?: Partial<CommandLimits>; origin?: Partial<Origin>; randomSeed?: () => number } = {}): CommandContext {
  const asker = origin(overrides.origin);
  return {
    limits: { ...limitsFromConfig(envSchema.parse(overrides.env ?? {})), ...overrides.limits },
    models: createModelCatalog([SD15, TINY], 'sd15'),
    origin: asker,
    helpCommand: platformRules(asker).helpCommand,
    roles: rolesOf(asker),
    now: NOW,
    randomSeed: overrides.randomSeed ?? seeds(42),
    countTokens: wordTokenCounter,
  };
}

/** The parameters storedResult() was asked with, written out: what commands acting on it must carry over. */
export const SOURCE_PARAMS = { prompt: 'a lighthouse at dusk', negativePrompt: 'fog', seed: 100, steps: 30, guidance: 6.5, width: 512, height: 512, n: 4, sampler: 'euler_a', model: 'sd15' };

/** A stored 4-image SD 1.5 result asked for by user u1 in guild g1 (seeds 100..103). */
export function storedResult(overrides: Partial<JobResult> & { imageCount?: number } = {}): JobResult {
  const { imageCount = 4, ...rest } = overrides;
  const params = { prompt: 'a lighthouse at dusk', negativePrompt: 'fog', seed: 100, steps: 30, guidance: 6.5, width: 512, height: 512, n: imageCount, sampler: 'euler_a' as const, model: 'sd15' };
  return resultSchema.parse({
    v: 1,
    resultId: 'res-1',
    jobId: 'job-1',
    kind: 'txt2img',
    params,
    origin: origin({ eventId: 'evt-0', messageId: 'msg-0' }),
    images: Array.from({ length: imageCount }, (_, i) => ({ artifact: { key: `res-1/${i}.png`, bytes: 100, contentType: 'image/png' }, seed: 100 + i, width: 512, height: 512 })),
    timings: { totalMs: 1000 },
    model: 'sd15',
    sampler: 'euler_a',
    provider: 'cpu',
    createdAt: NOW - 60_000,
    messageId: 'msg-0',
    ...rest,
  });
}

/** A job's payload as /imagine made it five seconds ago: what Retry and Cancel act on. */
export function failedPayload(userId = 'u1'): JobPayload {
  const out = imagine({ text: 'a red fox --seed 11 --n 2' }, context({ origin: { userId, eventId: 'evt-0', messageId: 'msg-0' } }));
  if (out.kind !== 'job') throw new Error(out.kind);
  return { ...out.payload, createdAt: NOW - 5000 };
}
