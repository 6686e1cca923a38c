/** The prompt-language rules in words, shared by help and the README so they say the same thing. */
import { SD_DEFAULTS } from '../src/models.ts';
import { snapSize } from './aspect.ts';

const sd = (w: number, h: number) => {
  const size = snapSize(w, h, SD_DEFAULTS);
  return `${w}:${h} → ${size.width}x${size.height}`;
};
export const LANGUAGE_RULES = [
  'Write the prompt first and the flags after it, e.g. `a lighthouse at dusk --ar 16:9 --seed 7`.',
  'Options filled in the command’s own fields win over the same flag typed in the prompt.',
  '`--no` takes every word up to the next flag; other flags take one value (`--seed 7` or `--seed=7`).',
  'Flag names ignore case, and an em dash (—) or en dash (–) works as `--`, as phones type it.',
  'Text in double quotes is always prompt text, even if it looks like a flag.',
  'Numbers are plain decimals (`7`, `7.5`); each flag may be given once.',
  'Prompts longer than the model’s 75 tokens are accepted; you are told which words it ignores.',
  `\`--ar\` picks the size nearest that shape within about the model’s pixel budget (sides in multiples of 64 for SD, 32 for the embedded model): ${sd(1, 1)}, ${sd(16, 9)} and ${sd(2, 3)} on SD 1.5.`,
] as const;
