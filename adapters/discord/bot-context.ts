/** What the Discord bot needs from the process, and the command context it builds per event. */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { limitsFromConfig, type CommandContext, type CommandLimits, type TokenCounter } from '../../commands/context.ts';
import type { ArtifactStore } from '../../src/artifacts.ts';
import type { Config } from '../../src/config.ts';
import type { JobPayload, Origin } from '../../src/jobs.ts';
import type { KeyValueStore } from '../../src/kv.ts';
import type { ModelCatalog } from '../../src/models.ts';
import type { JobQueue } from '../../src/queue/types.ts';
import type { ResultStore } from '../../src/results.ts';
import type { ReactionMap } from './reactions.ts';

export interface DiscordBotDeps {
  config: Pick<Config, 'DISCORD_TOKEN' | 'DISCORD_APP_ID' | 'DISCORD_API_URL' | 'DISCORD_GUILD_IDS' | 'DISCORD_REACTIONS' | 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS' | 'PRESS_POLICY'>;
  queue: JobQueue;
  results: ResultStore;
  /** Shared with the workers (Redis in a fleet): attachment limits, job messages, reply holds. */
  kv: KeyValueStore;
  /** Where an attached start image is stored for the worker. */
  artifacts: ArtifactStore;
  models: ModelCatalog;
  countTokens: TokenCounter;
  logger: Logger;
  /** A failed job's payload, for Retry; without it Retry answers that the request is no longer stored. */
  jobPayload?: (jobId: string) => Promise<JobPayload | null>;
  randomSeed?: () => number;
}

export interface BotRuntime extends DiscordBotDeps {
  limits: CommandLimits;
  reactions: ReactionMap;
}

const MAX_SEED_EXCLUSIVE = 2 ** 32;

export function commandContext(rt: BotRuntime, origin: Origin): CommandContext {
  return {
    limits: rt.limits,
    models: rt.models,
    origin,
    now: Date.now(),
    randomSeed: rt.randomSeed ?? (() => randomInt(0, MAX_SEED_EXCLUSIVE)),
    countTokens: rt.countTokens,
  };
}

export function runtimeLimits(config: DiscordBotDeps['config']): CommandLimits {
  return limitsFromConfig(config);
}
