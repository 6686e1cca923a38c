/**
 * The Slack Web API clients of the bot role: SLACK_API_URL as their base and a timeout on every
 * request. The replies' client retries network failures and 5xx a bounded number of times;
 * the delivery client retries nothing (DELIVERY_CLIENT_LIMITS): the delivery service's retry
 * layer owns that. Rate limits are NOT waited out inside the client (its own wait has no upper
 * bound and pauses every other call): they come back as errors and slack-api.ts decides, with
 * a cap, whether to wait.
 */
import { LogLevel, WebClient, type Logger as SlackLogger, type RetryOptions } from '@slack/web-api';
import type { SlackConfig } from './env.ts';
import type { Logger } from '../../src/logger.ts';

export interface SlackClientLimits {
  /** Each HTTP request is abandoned after this long. */
  timeoutMs: number;
  retryConfig: RetryOptions;
}

/** Three retries over about four seconds: enough for a blip, short enough that a user is told soon. */
export const DEFAULT_CLIENT_LIMITS: SlackClientLimits = {
  timeoutMs: 15_000,
  retryConfig: { retries: 3, factor: 2, minTimeout: 400, maxTimeout: 2_000, randomize: true },
};

/** For deliveries: no retries of its own; the delivery service retries with the deliverer's classifyError. */
export const DELIVERY_CLIENT_LIMITS: SlackClientLimits = { timeoutMs: 15_000, retryConfig: { retries: 0 } };

const LEVELS: Record<string, LogLevel> = { fatal: LogLevel.ERROR, error: LogLevel.ERROR, warn: LogLevel.WARN, info: LogLevel.INFO, debug: LogLevel.DEBUG, trace: LogLevel.DEBUG };

/** The SDKs' logger interface on top of our pino logger (which redacts tokens). */
export function slackLogger(logger: Logger): SlackLogger {
  let level = LEVELS[logger.level] ?? LogLevel.ERROR;
  const text = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' ');
  return {
    debug: (...msg) => logger.debug(text(msg)),
    info: (...msg) => logger.info(text(msg)),
    warn: (...msg) => logger.warn(text(msg)),
    error: (...msg) => logger.error(text(msg)),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

export function slackClientOptions(config: Pick<SlackConfig, 'SLACK_API_URL'>, logger: Logger, limits: SlackClientLimits = DEFAULT_CLIENT_LIMITS) {
  return {
    slackApiUrl: config.SLACK_API_URL,
    timeout: limits.timeoutMs,
    retryConfig: limits.retryConfig,
    rejectRateLimitedCalls: true,
    logger: slackLogger(logger),
  };
}

export function createSlackWebClient(config: Pick<SlackConfig, 'SLACK_BOT_TOKEN' | 'SLACK_API_URL'>, logger: Logger, limits: SlackClientLimits = DEFAULT_CLIENT_LIMITS): WebClient {
  if (!config.SLACK_BOT_TOKEN) throw new Error('SLACK_BOT_TOKEN is required to talk to Slack');
  return new WebClient(config.SLACK_BOT_TOKEN, slackClientOptions(config, logger, limits));
}
