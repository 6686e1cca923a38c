/** What the Slack bot needs from the process, and the command context it builds per event. */
import { randomInt } from 'node:crypto';
import { limitsFromConfig, type CommandContext, type CommandLimits, type TokenCounter } from '../../commands/context.ts';
import type { Config } from '../../src/config.ts';
import type { JobPayload, Origin } from '../../src/jobs.ts';
import type { KeyValueStore } from '../../src/kv.ts';
import type { Logger } from '../../src/logger.ts';
import type { ModelCatalog } from '../../src/models.ts';
import type { JobQueue } from '../../src/queue/types.ts';
import type { ResultStore } from '../../src/results.ts';
import type { ReactionMap } from './reactions.ts';
import type { ResponseUrlReplies } from './response-url.ts';
import type { SlackApi } from './slack-api.ts';

export type SlackBotConfig = Pick<
  Config,
  'SLACK_BOT_TOKEN' | 'SLACK_SIGNING_SECRET' | 'SLACK_APP_TOKEN' | 'SLACK_API_URL' | 'SLACK_REACTIONS' | 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS' | 'PRESS_POLICY'
>;

export interface SlackBotDeps {
  config: SlackBotConfig;
  queue: JobQueue;
  results: ResultStore;
  /** Shared with the workers (Redis in a fleet): status holds, event dedupe, pacing, response_url budgets. */
  kv: KeyValueStore;
  models: ModelCatalog;
  countTokens: TokenCounter;
  logger: Logger;
  /** A failed job's payload, for Retry; without it Retry answers that the request is no longer stored. */
  jobPayload?: (jobId: string) => Promise<JobPayload | null>;
  randomSeed?: () => number;
}

export interface SlackRuntime extends SlackBotDeps {
  limits: CommandLimits;
  reactions: ReactionMap;
  api: SlackApi;
  responses: ResponseUrlReplies;
}

const MAX_SEED_EXCLUSIVE = 2 ** 32;

export function commandContext(rt: SlackRuntime, origin: Origin): CommandContext {
  return {
    limits: rt.limits,
    models: rt.models,
    origin,
    now: Date.now(),
    randomSeed: rt.randomSeed ?? (() => randomInt(0, MAX_SEED_EXCLUSIVE)),
    countTokens: rt.countTokens,
  };
}

export function runtimeLimits(config: SlackBotConfig): CommandLimits {
  return limitsFromConfig(config);
}
