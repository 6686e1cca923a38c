/**
 * Turning option values into typed ones, and zod issues into short user messages.
 * Numbers are written in plain decimal ("7", "-1", "7.5", ".5"); anything else ("NaN",
 * "1e3", "0x10", "7,5") is refused rather than guessed at.
 */
import { z } from 'zod';
import { SAMPLERS } from '../src/samplers.ts';
import type { CommandErrorCode } from './context.ts';
import { quoteForMessage } from './prompt-lexer.ts';
import { MAX_PROMPT_CHARS, NUMERIC_OPTIONS, type ImagineOptionsSchema, type OptionName } from './options-schema.ts';
import { nearest } from './suggest.ts';

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/** A number from text, or null. Digit strings too long for a double clamp to ±MAX_VALUE so they read as out of range. */
export function parseDecimal(raw: string): number | null {
  const text = raw.normalize('NFKC').trim();
  if (!DECIMAL.test(text)) return null;
  const value = Number(text);
  if (Number.isNaN(value)) return null;
  return Number.isFinite(value) ? value : Math.sign(value) * Number.MAX_VALUE;
}

/** "Euler-A", "DPM++ 2M" -> "euler_a", "dpmpp_2m". */
export function normalizeSampler(raw: string): string {
  return raw.normalize('NFKC').trim().toLowerCase().replace(/\+\+/g, 'pp').replace(/[\s-]+/g, '_');
}

export type ValueError = { code: CommandErrorCode; message: string };

/** Where a value came from decides how errors name it: `--steps` inline, "the steps option" structured. */
export type ValueSource = 'flag' | 'option';
export const nameFor = (option: OptionName, source: ValueSource) => (source === 'flag' ? `--${option}` : `The ${option} option`);

function bounds(schema: ImagineOptionsSchema, option: OptionName) {
  const field = schema.shape[option].unwrap();
  return field instanceof z.ZodNumber ? { min: field.minValue ?? 0, max: field.maxValue ?? 0, int: field.isInt } : null;
}

const rangeText = (b: { min: number; max: number; int: boolean }) => `${b.int ? 'a whole number' : 'a number'} from ${b.min} to ${b.max}`;

/** Convert one raw value (typed inline, or a structured option) to what the schema expects. */
export function convertValue(
  schema: ImagineOptionsSchema,
  option: OptionName,
  raw: string | number,
  source: ValueSource,
): { ok: true; value: string | number } | ({ ok: false } & ValueError) {
  if (NUMERIC_OPTIONS.has(option)) {
    const value = typeof raw === 'number' ? raw : parseDecimal(raw);
    if (value === null || Number.isNaN(value)) {
      const b = bounds(schema, option)!;
      return { ok: false, code: 'bad-number', message: `${nameFor(option, source)} needs ${rangeText(b)}, not ${quoteForMessage(String(raw))}.` };
    }
    return { ok: true, value };
  }
  const text = String(raw);
  if (option === 'sampler') return { ok: true, value: normalizeSampler(text) };
  if (option === 'model') return { ok: true, value: text.normalize('NFKC').trim().toLowerCase() };
  return { ok: true, value: text };
}

/** The first schema issue as a user message. */
export function describeIssue(
  schema: ImagineOptionsSchema,
  issue: z.core.$ZodIssue,
  value: unknown,
  sourceOf: (option: OptionName) => ValueSource,
): ValueError {
  const field = issue.path[0] as OptionName | 'prompt';
  if (field === 'prompt') return { code: 'too-long', message: `The prompt is longer than ${MAX_PROMPT_CHARS} characters; shorten it.` };
  const name = nameFor(field, sourceOf(field));
  const b = bounds(schema, field);
  if (b) {
    const outside = typeof value === 'number' && (value < b.min || value > b.max);
    return outside
      ? { code: 'out-of-range', message: `${name} must be from ${b.min} to ${b.max}.` }
      : { code: 'bad-number', message: `${name} needs ${rangeText(b)}, not ${quoteForMessage(String(value))}.` };
  }
  if (field === 'no') return { code: 'too-long', message: `${name} is longer than ${MAX_PROMPT_CHARS} characters; shorten it.` };
  const allowed = [...(schema.shape[field].unwrap() as z.ZodEnum).options] as string[];
  const given = String(value);
  if (field === 'sampler') {
    if ((SAMPLERS as readonly string[]).includes(given)) {
      return { code: 'unknown-sampler', message: `The ${given} sampler is not enabled here. Use one of: ${allowed.join(', ')}.` };
    }
    const guess = nearest(given, allowed);
    return { code: 'unknown-sampler', message: `Unknown sampler ${quoteForMessage(given)}.${guess ? ` Did you mean ${guess}?` : ''} Samplers: ${allowed.join(', ')}.` };
  }
  if (field === 'model') {
    const guess = nearest(given, allowed);
    return { code: 'unknown-model', message: `Unknown model ${quoteForMessage(given)}.${guess ? ` Did you mean ${guess}?` : ''} Models: ${allowed.join(', ')}.` };
  }
  return { code: 'bad-aspect', message: `${name} is not valid.` };
}
