/**
 * Structured logging (pino) that cannot leak credentials. Two layers, because either alone
 * misses cases: pino's path redaction removes known secret fields wherever they sit in a log
 * object, and a last pass over each serialized line scrubs anything that merely looks like a
 * token (an error message quoting a webhook URL, a header dumped by a client library) as well
 * as the exact values of the secret variables this process was configured with. Each platform
 * module names its own fields, token shapes and secret variables (PlatformModule.redaction and
 * env.secretNames); the composition root hands the list to every logger it makes.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { PlatformModule } from './platform.ts';

export type { Logger } from 'pino';

export const REDACTED = '[redacted]';

/** Field names that hold credentials whatever object they appear in, on any platform. */
const SECRET_FIELDS = ['token', 'password', 'authorization', 'Authorization', 'cookie', 'secret', 'clientSecret'];

/** What a logger learns from each platform module: its secret variables, fields and token shapes. */
export type LoggedPlatform = Pick<PlatformModule, 'redaction'> & { env: Pick<PlatformModule['env'], 'secretNames'> };

function redactPaths(platforms: readonly LoggedPlatform[]): string[] {
  const paths: string[] = [];
  const fields = new Set([...SECRET_FIELDS, ...platforms.flatMap((p) => [...p.env.secretNames, ...p.redaction.fields])]);
  for (const field of fields) {
    paths.push(field, `*.${field}`, `*.*.${field}`);
  }
  // Request/response objects logged by HTTP clients put credentials in headers.
  paths.push('headers.authorization', '*.headers.authorization', 'req.headers.authorization', 'req.headers.cookie');
  return paths;
}

/** Shapes of credentials on any platform: authorization headers. Platforms add their tokens' shapes. */
const TOKEN_PATTERNS: readonly RegExp[] = [/(Bearer |Bot )[A-Za-z0-9._~+/=-]{8,}/g];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Builds the line scrubber. `secretValues` are the configured secrets themselves (e.g. a
 * signing secret has no recognisable shape, so only its exact value can be caught).
 */
export function createScrubber(secretValues: Iterable<string | undefined>, platforms: readonly LoggedPlatform[] = []): (line: string) => string {
  const exact = [...secretValues]
    .filter((v): v is string => typeof v === 'string' && v.length >= 6)
    .map((v) => new RegExp(escapeRegExp(v) + '|' + escapeRegExp(JSON.stringify(v).slice(1, -1)), 'g'));
  // Platform token shapes first, as before the generic header one: a header's value may be a platform token.
  const patterns = [...platforms.flatMap((p) => p.redaction.patterns), ...TOKEN_PATTERNS];
  return (line: string) => {
    let out = line;
    for (const re of exact) out = out.replace(re, REDACTED);
    for (const re of patterns) {
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
  /** The platform modules whose credentials are redacted (the composition root passes its list). */
  platforms?: readonly LoggedPlatform[];
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const env = opts.env ?? process.env;
  const platforms = opts.platforms ?? [];
  const secretNames = platforms.flatMap((p) => p.env.secretNames);
  const scrub = createScrubber([...secretNames.map((n) => env[n]), ...(opts.secrets ?? [])], platforms);
  return pino(
    {
      name: opts.name,
      level: opts.level ?? env.LOG_LEVEL ?? 'info',
      redact: { paths: redactPaths(platforms), censor: REDACTED },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      hooks: { streamWrite: scrub },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
