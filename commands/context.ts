/**
 * What every command receives and returns. Commands are pure: no platform types, no I/O.
 * The caller (an adapter or the web playground) looks things up (stored results, the
 * user's jobs), calls a command, and acts on the outcome (enqueue, reply, cancel, delete).
 */
import type { Config } from '../src/config.ts';
import type { JobPayload, Origin } from '../src/jobs.ts';
import { jobLimitsFromConfig, type JobLimits } from '../src/job-limits.ts';
import type { ModelCatalog, ModelInfo } from '../src/models.ts';
import type { PlatformCommandRules } from '../src/platform.ts';
import { systemRandomSeed } from './random-seed.ts';

export type { Sampler } from '../src/job-limits.ts';

/** Limits from configuration: the job limits the worker checks too (MAX_STEPS, MAX_N, ALLOWED_SAMPLERS), and PRESS_POLICY. */
export interface CommandLimits extends JobLimits {
  pressPolicy: string;
}

export function limitsFromConfig(config: Pick<Config, 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS' | 'PRESS_POLICY'>): CommandLimits {
  return { ...jobLimitsFromConfig(config), pressPolicy: config.PRESS_POLICY };
}

export interface TokenCount {
  /** Prompt tokens, without BOS/EOS. */
  count: number;
  /** True when count exceeds what the model reads (75 for CLIP). */
  truncated: boolean;
  /** The words past the limit, for the warning. */
  droppedText?: string;
}

/** Wired by the process to the model's own tokenizer; commands never load one. */
export type TokenCounter = (text: string, model: ModelInfo) => TokenCount;

export interface CommandContext {
  limits: CommandLimits;
  models: ModelCatalog;
  /** Who is asking, and where the answer goes. Its eventId becomes the dedupe id. */
  origin: Origin;
  /** How help is reached on the asker's platform, for messages that point to it. */
  helpCommand: string;
  /** The roles the asker holds on their platform (none where it has no roles), for PRESS_POLICY. */
  roles: readonly string[];
  /** Milliseconds since the epoch (injected so results are reproducible). */
  now: number;
  /** A uniformly random integer in 0..4294967295 (injected so tests are deterministic). */
  randomSeed: () => number;
  countTokens: TokenCounter;
}

/** What a process wires once; every platform event gets its own context from it. */
export interface CommandEnvironment {
  limits: CommandLimits;
  /** The rules of the platform the adapter serves (its module's). */
  platformRules: PlatformCommandRules;
  models: ModelCatalog;
  countTokens: TokenCounter;
  /** Tests inject a fixed source; otherwise seeds come from the system's CSPRNG. */
  randomSeed?: () => number;
}

/** The context for one event: the time is read here, so every command of the event sees the same now. */
export function commandContext(env: CommandEnvironment, origin: Origin): CommandContext {
  return {
    limits: env.limits,
    models: env.models,
    origin,
    helpCommand: env.platformRules.helpCommand,
    roles: env.platformRules.pressRoles?.(origin) ?? [],
    now: Date.now(),
    randomSeed: env.randomSeed ?? systemRandomSeed,
    countTokens: env.countTokens,
  };
}

export type CommandErrorCode =
  | 'unknown-flag'
  | 'missing-value'
  | 'duplicate-flag'
  | 'text-after-flags'
  | 'empty-prompt'
  | 'too-long'
  | 'bad-number'
  | 'out-of-range'
  | 'bad-aspect'
  | 'unknown-sampler'
  | 'unknown-model'
  | 'expired'
  | 'index-out-of-range'
  | 'not-allowed'
  | 'already-upscaled'
  | 'not-found'
  | 'nothing-to-cancel'
  | 'not-retryable'
  | 'wrong-message'
  | 'not-available';

export interface CommandWarning {
  code: 'prompt-truncated' | 'negative-truncated' | 'option-overrides-flag' | 'strength-ignored' | 'limit-lowered' | 'flags-ignored';
  message: string;
}

export type CommandOutcome =
  | { kind: 'job'; payload: JobPayload; dedupeId?: string; warnings: CommandWarning[]; summary: string }
  | { kind: 'message'; message: string; ephemeral: true; code: CommandErrorCode | 'help' }
  | { kind: 'cancel'; jobIds: string[]; summary: string }
  | { kind: 'delete'; resultId: string; messageId?: string; summary: string };

export type MessageOutcome = Extract<CommandOutcome, { kind: 'message' }>;

export function refuse(code: CommandErrorCode, message: string): MessageOutcome {
  return { kind: 'message', message, ephemeral: true, code };
}
