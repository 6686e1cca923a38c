/**
 * The README's "Commands and options" reference, generated from the option schema and the
 * command list (`npm run docs:commands` writes it; test/deploy/readme-commands.test.ts checks it).
 * Limits shown are the configuration defaults; the environment variable that changes each
 * one is named beside it.
 */
import { envSchema } from '../src/config.ts';
import { BUTTONS, COMMANDS } from './command-list.ts';
import { limitsFromConfig } from './context.ts';
import { LANGUAGE_RULES } from './language-rules.ts';
import { optionRows } from './option-reference.ts';

export const START_MARKER = '<!-- commands:start -->';
export const END_MARKER = '<!-- commands:end -->';

const cell = (text: string) => (text === '' ? ' ' : text.replace(/\|/g, '\\|'));
const code = (text: string) => (text === '' ? '' : `\`${text}\``);

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

export function commandsReference(): string {
  const limits = limitsFromConfig(envSchema.parse({}));
  const options = optionRows(limits);
  return [
    ...table(['Command', 'What it does'], COMMANDS.map((c) => [code(c.usage), c.description])),
    '',
    ...LANGUAGE_RULES.map((r) => `- ${r}`),
    '',
    ...table(
      ['Option', 'Inline flag', 'Range', 'Default', 'What it does'],
      options.map((o) => [code(o.option), o.inline ? [code(o.inline), ...o.aliases.map((a) => `also ${code(a)}`)].join(', ') : '(the text before the flags)', o.range, o.default, o.description]),
    ),
    '',
    ...table(['Button', 'What it does'], BUTTONS.map((b) => [b.label, b.description])),
  ].join('\n');
}

/** README text with the reference between the markers replaced; throws when the markers are missing. */
export function withCommandsReference(readme: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`README needs ${START_MARKER} followed by ${END_MARKER}`);
  return `${readme.slice(0, start + START_MARKER.length)}\n${commandsReference()}\n${readme.slice(end)}`;
}

/** The text currently between the markers (for the drift test). */
export function currentCommandsReference(readme: string): string | null {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) return null;
  return readme.slice(start + START_MARKER.length, end).replace(/^\n/, '').replace(/\n$/, '');
}
