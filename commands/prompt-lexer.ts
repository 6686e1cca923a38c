/**
 * Splits what a user typed after /imagine into the prompt and its inline flags.
 *
 * Rules (also in help and the README):
 * - The prompt comes first; flags follow it. After the first flag every word belongs to a flag.
 * - A flag is a word starting with "--" and a letter, e.g. `--seed 42` or `--seed=42`. Names
 *   are case-insensitive. Phones autocorrect "--" into an em dash "—" (or an en dash "–"),
 *   so a word starting with one of those and a letter is a flag too.
 * - `--no` takes every word up to the next flag; every other flag takes exactly one word.
 * - Text in double quotes ("…" or “…”) is prompt text, flags included, kept with its quotes.
 *   A quote without a partner is an ordinary character.
 * - Runs of whitespace become single spaces.
 */
import { FLAG_NAMES, type OptionName } from './options-schema.ts';
import { nearest } from './suggest.ts';
import type { CommandErrorCode } from './context.ts';

interface Word {
  text: string;
  /** Contains a quoted span, so it is never a flag. */
  quoted: boolean;
}

export interface InlineFlag {
  /** As the user spelled it, lower-cased, e.g. "guidance". */
  spelled: string;
  value: string;
}

export type LexResult =
  | { ok: true; prompt: string; flags: Partial<Record<OptionName, InlineFlag>> }
  | { ok: false; code: CommandErrorCode; message: string };

const QUOTES = new Set(['"', '\u201c', '\u201d']);
const FLAG = /^(?:--|\u2014|\u2013)(\p{L}[\p{L}\p{N}_-]*)(?:=(.*))?$/su;
/** Echo user text in messages, but briefly. */
export const quoteForMessage = (text: string) => `“${text.length > 24 ? `${text.slice(0, 23)}…` : text}”`;

function splitWords(text: string): Word[] {
  const chars = [...text];
  // Where the next quote character is, from each position (so pairing stays linear).
  const nextQuote: number[] = new Array(chars.length + 1).fill(-1);
  for (let j = chars.length - 1; j >= 0; j--) nextQuote[j] = QUOTES.has(chars[j]) ? j : nextQuote[j + 1];
  const words: Word[] = [];
  let current = '';
  let quoted = false;
  let inWord = false;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (QUOTES.has(c)) {
      const close = nextQuote[i + 1];
      if (close > i) {
        current += chars.slice(i, close + 1).join('');
        quoted = true;
        inWord = true;
        i = close;
        continue;
      }
    }
    if (/\s/u.test(c)) {
      if (inWord) words.push({ text: current, quoted });
      current = '';
      quoted = false;
      inWord = false;
      continue;
    }
    current += c;
    inWord = true;
  }
  if (inWord) words.push({ text: current, quoted });
  return words;
}

const collapse = (s: string) => s.replace(/\s+/gu, ' ').trim();

function flagOf(word: Word): { name: string; inlineValue?: string } | null {
  if (word.quoted) return null;
  const m = FLAG.exec(word.text);
  return m ? { name: m[1].toLowerCase(), inlineValue: m[2] } : null;
}

/** `helpCommand`: how the asker's platform reaches help, named when an unknown flag has no near match. */
export function lexPrompt(text: string, helpCommand: string): LexResult {
  const words = splitWords(text);
  const promptWords: string[] = [];
  const flags: Partial<Record<OptionName, InlineFlag>> = {};
  let i = 0;
  while (i < words.length && !flagOf(words[i])) promptWords.push(words[i++].text);

  while (i < words.length) {
    const word = words[i];
    const flag = flagOf(word);
    if (!flag) {
      // Only reachable after a one-word flag's value: the prompt must come first.
      const rest = collapse(words.slice(i).map((w) => w.text).join(' '));
      return { ok: false, code: 'text-after-flags', message: `Put the whole prompt before the flags: ${quoteForMessage(rest)} comes after them.` };
    }
    const option = FLAG_NAMES.get(flag.name);
    if (!option) {
      const guess = nearest(flag.name, [...FLAG_NAMES.keys()]);
      return {
        ok: false,
        code: 'unknown-flag',
        message: `Unknown flag --${flag.name}.${guess ? ` Did you mean --${guess}?` : ` See ${helpCommand} for the flags.`}`,
      };
    }
    if (flags[option]) {
      const same = flags[option]!.spelled === flag.name ? 'is given twice' : `repeats --${flags[option]!.spelled}`;
      return { ok: false, code: 'duplicate-flag', message: `--${flag.name} ${same}; give it once.` };
    }
    i++;
    const valueWords: string[] = flag.inlineValue !== undefined && flag.inlineValue !== '' ? [flag.inlineValue] : [];
    const takesMany = option === 'no';
    if (takesMany) {
      while (i < words.length && !flagOf(words[i])) valueWords.push(words[i++].text);
    } else if (flag.inlineValue === undefined && i < words.length && !flagOf(words[i])) {
      valueWords.push(words[i++].text);
    }
    const value = collapse(valueWords.join(' '));
    if (value === '') {
      return { ok: false, code: 'missing-value', message: `--${flag.name} needs a value, e.g. ${EXAMPLES[option]}.` };
    }
    flags[option] = { spelled: flag.name, value };
  }
  return { ok: true, prompt: collapse(promptWords.join(' ')), flags };
}

const EXAMPLES: Record<OptionName, string> = {
  ar: '--ar 16:9',
  seed: '--seed 42',
  no: '--no text, watermark',
  steps: '--steps 30',
  cfg: '--cfg 7.5',
  n: '--n 2',
  sampler: '--sampler euler_a',
  strength: '--strength 0.5',
  model: '--model <name>',
};
