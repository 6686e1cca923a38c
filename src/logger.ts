/**
 * Structured logging (pino) that cannot leak credentials. Two layers, because either alone
 * misses cases: pino's path redaction removes known secret fields wherever they sit in a log
 * object, and a last pass over each serialized line scrubs anything that merely looks like a
 * token (an error message quoting a webhook URL, a header dumped by a client library) as well
 * as the exact values of the secret variables this process was configured with.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { SECRET_ENV_NAMES } from './config.ts';

export type { Logger } from 'pino';

export const REDACTED = '[redacted]';

/** Field names that hold credentials whatever object they appear in. */
const SECRET_FIELDS = [
  ...SECRET_ENV_NAMES,
  'token',
  'interactionToken',
  'responseUrl',
  'response_url',
  'botToken',
  'appToken',
  'signingSecret',
  'password',
  'authorization',
  'Authorization',
  'cookie',
  'secret',
  'clientSecret',
];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const field of SECRET_FIELDS) {
    paths.push(field, `*.${field}`, `*.*.${field}`);
  }
  // Request/response objects logged by HTTP clients put credentials in headers.
  paths.push('headers.authorization', '*.headers.authorization', 'req.headers.authorization', 'req.headers.cookie');
  return paths;
}

/** Shapes of credentials: Slack tokens, Discord bot tokens, webhook URLs that embed a token, bearer headers. */
const TOKEN_PATTERNS: RegExp[] = [
  /xox[abposr]-[A-Za-z0-9-]+/g,
  /xapp-[A-Za-z0-9-]+/g,
  /[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}/g,
  /(\/webhooks\/\d+\/)[A-Za-z0-9_.-]{20,}/g,
  /(\/interactions\/\d+\/)[A-Za-z0-9_.-]{20,}/g,
  /https:\/\/hooks\.slack\.com\/[^\s"'\\]+/g,
  /(Bearer |Bot )[A-Za-z0-9._~+/=-]{8,}/g,
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Builds the line scrubber. `secretValues` are the configured secrets themselves (e.g. a
 * signing secret has no recognisable shape, so only its exact value can be caught).
 */
export function createScrubber(secretValues: Iterable<string | undefined>): (line: string) => string {
  const exact = [...secretValues]
    .filter((v): v is string => typeof v === 'string' && v.length >= 6)
    .map((v) => new RegExp(escapeRegExp(v) + '|' + escapeRegExp(JSON.stringify(v).slice(1, -1)), 'g'));
  return (line: string) => {
    let out = line;
    for (const re of exact) out = out.replace(re, REDACTED);
    for (const re of TOKEN_PATTERNS) {
      out = out.replace(re, (_match, keep?: string) => (typeof keep === 'string' && /^(\/|Bearer |Bot )/.test(keep) ? keep + REDACTED : REDACTED));
    }
    return out;
  };
}

export interface LoggerOptions {
  level?: string;
  /** Where lines go (default stdout); tests pass a stream to read the output. */
  destination?: DestinationStream;
  /** Environment whose secret variables' values are scrubbed (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Extra exact values to scrub. */
  secrets?: string[];
  name?: string;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const env = opts.env ?? process.env;
  const scrub = createScrubber([...SECRET_ENV_NAMES.map((n) => env[n]), ...(opts.secrets ?? [])]);
  return pino(
    {
      name: opts.name,
      level: opts.level ?? env.LOG_LEVEL ?? 'info',
      redact: { paths: redactPaths(), censor: REDACTED },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      hooks: { streamWrite: scrub },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
