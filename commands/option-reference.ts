/**
 * The rows of the options reference, read from the zod schema itself (ranges, enums) and
 * the documentation registered on each field, so help and the README cannot drift from
 * what the parser accepts.
 */
import { z } from 'zod';
import type { CommandLimits } from './context.ts';
import { imagineOptionsSchema, MAX_PROMPT_CHARS, optionDocs } from './options-schema.ts';

export interface OptionRow {
  /** Structured option name (Discord option field). */
  option: string;
  /** Inline spelling, e.g. "--cfg X"; empty for the prompt. */
  inline: string;
  /** Other spellings of the same flag, e.g. ["--guidance"]. */
  aliases: string[];
  range: string;
  default: string;
  description: string;
}

function rangeOf(field: z.ZodType, name: string, modelNames: readonly string[] | undefined): string {
  const inner = field instanceof z.ZodOptional ? field.unwrap() : field;
  if (inner instanceof z.ZodNumber) return `${inner.minValue}–${inner.maxValue}${inner.isInt ? '' : ' (decimals allowed)'}`;
  if (inner instanceof z.ZodEnum) {
    return name === 'model' && !modelNames ? 'a configured model name' : (inner.options as string[]).join(', ');
  }
  if (name === 'prompt') return `up to ${MAX_PROMPT_CHARS} characters; the model reads the first 75 tokens`;
  if (inner instanceof z.ZodString && inner.maxLength !== null) return `up to ${inner.maxLength} characters`;
  return '';
}

/** One row per option, in schema order. Without modelNames the model row says "a configured model name". */
export function optionRows(limits: CommandLimits, modelNames?: readonly string[]): OptionRow[] {
  const schema = imagineOptionsSchema(limits, modelNames ?? ['model']);
  return Object.entries(schema.shape).map(([name, field]) => {
    const doc = optionDocs.get(field);
    if (!doc) throw new Error(`option ${name} has no documentation`);
    const range = doc.range ?? rangeOf(field, name, modelNames);
    return {
      option: name,
      inline: doc.flag ? `--${doc.flag} ${doc.value}` : '',
      aliases: (doc.aliases ?? []).map((a) => `--${a}`),
      range: doc.limitVariable ? `${range} (${doc.limitVariable})` : range,
      default: typeof doc.default === 'function' ? doc.default(limits) : doc.default,
      description: doc.description,
    };
  });
}
