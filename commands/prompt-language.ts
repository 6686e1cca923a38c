/**
 * The /imagine prompt language shared by every platform: the prompt, inline flags
 * (prompt-lexer.ts), structured options (which win over inline flags), and validation
 * against the schema in options-schema.ts with limits from configuration.
 */
import type { ModelCatalog } from '../src/models.ts';
import type { CommandErrorCode, CommandLimits, CommandWarning } from './context.ts';
import { lexPrompt, quoteForMessage } from './prompt-lexer.ts';
import { imagineOptionsSchema, OPTION_NAMES, type ImagineOptions, type OptionName, type StructuredOptions } from './options-schema.ts';
import { convertValue, describeIssue, type ValueSource } from './option-values.ts';
import { parseAspect } from './aspect.ts';

export interface ParsedImagine {
  /** Validated options; `prompt` and `no` have whitespace collapsed. */
  options: ImagineOptions;
  /** The parsed --ar ratio (1:1 when not given). */
  aspect: { w: number; h: number };
  /** Whether each option came from an inline flag or a structured option. */
  sources: Partial<Record<OptionName, ValueSource>>;
  warnings: CommandWarning[];
}

export type ParseOutcome = { ok: true; value: ParsedImagine } | { ok: false; code: CommandErrorCode; message: string };

/** Nothing a model could draw: whitespace, control and invisible format characters only. */
const isBlank = (text: string) => text.replace(/[\s\p{Cc}\p{Cf}]/gu, '') === '';

export function parseImagine(text: string, structured: StructuredOptions | undefined, limits: CommandLimits, models: ModelCatalog, helpCommand: string): ParseOutcome {
  // Control characters (NUL, escapes, newlines) carry nothing a prompt needs.
  const lexed = lexPrompt(text.replace(/\p{Cc}/gu, ' '), helpCommand);
  if (!lexed.ok) return lexed;
  if (isBlank(lexed.prompt)) {
    // "before the flags" only helps someone who typed flags; a bare /imagine needs to hear what is missing.
    const message = isBlank(text) ? 'Nothing to draw yet: write a prompt after /imagine, e.g. `a lighthouse at dusk --ar 16:9`.' : 'Write a prompt before the flags, e.g. `a lighthouse at dusk --ar 16:9`.';
    return { ok: false, code: 'empty-prompt', message };
  }

  const schema = imagineOptionsSchema(limits, models.names());
  const merged: Record<string, string | number> = { prompt: lexed.prompt };
  const sources: Partial<Record<OptionName, ValueSource>> = {};
  const warnings: CommandWarning[] = [];

  for (const option of OPTION_NAMES) {
    const inline = lexed.flags[option];
    const given = structured?.[option];
    const hasOption = given !== undefined && !(typeof given === 'string' && given.trim() === '');
    if (inline) {
      const converted = convertValue(schema, option, inline.value, 'flag');
      if (!converted.ok) return converted;
      merged[option] = converted.value;
      sources[option] = 'flag';
    }
    if (hasOption) {
      const converted = convertValue(schema, option, given, 'option');
      if (!converted.ok) return converted;
      if (inline && merged[option] !== converted.value) {
        warnings.push({
          code: 'option-overrides-flag',
          message: `The ${option} option (${String(converted.value)}) overrides --${inline.spelled} ${quoteForMessage(inline.value)} in the prompt.`,
        });
      }
      merged[option] = converted.value;
      sources[option] = 'option';
    }
  }
  if (typeof merged.no === 'string') merged.no = merged.no.replace(/\s+/gu, ' ').trim();

  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const described = describeIssue(schema, issue, merged[String(issue.path[0])], (o) => sources[o] ?? 'flag');
    return { ok: false, ...described };
  }

  let aspect = { w: 1, h: 1 };
  if (parsed.data.ar !== undefined) {
    const a = parseAspect(parsed.data.ar);
    if (!a.ok) return sources.ar === 'option' ? { ok: false, code: a.code, message: a.message.replace('--ar', 'The ar option') } : a;
    aspect = { w: a.w, h: a.h };
  }
  return { ok: true, value: { options: parsed.data, aspect, sources, warnings } };
}
