/**
 * The /imagine prompt language as a table: every valid case checks the exact job payload,
 * every invalid one the exact error code and the key part of its message.
 */
import { describe, expect, it } from 'vitest';
import { imagine, type ImagineInput } from '../../commands/imagine.ts';
import type { CommandContext, CommandWarning } from '../../commands/context.ts';
import type { GenerationParams } from '../../src/jobs.ts';
import { context, NOW, origin } from '../support/command-context.ts';

/** Everything /imagine defaults to on the SD 1.5 model with default limits and seed source 42. */
const SD_PARAMS: GenerationParams = {
  prompt: 'a cat',
  negativePrompt: '',
  seed: 42,
  steps: 25,
  guidance: 7,
  width: 512,
  height: 512,
  n: 4,
  sampler: 'dpmpp_2m',
  model: 'sd15',
};
const TINY_PARAMS: Partial<GenerationParams> = { steps: 20, guidance: 5, sampler: 'euler_a', model: 'tiny', width: 64, height: 64 };

function payload(params: Partial<GenerationParams>, extra: Record<string, unknown> = {}) {
  return { v: 1, kind: 'txt2img', origin: origin(), params: { ...SD_PARAMS, ...params }, createdAt: NOW, ...extra };
}

type Valid = {
  name: string;
  input: string | ImagineInput;
  ctx?: Parameters<typeof context>[0];
  params: Partial<GenerationParams>;
  extra?: Record<string, unknown>;
  warnings?: Array<Pick<CommandWarning, 'code'> & { includes: string }>;
};

const LONG_80 = Array.from({ length: 80 }, (_, i) => `w${i}`).join(' ');

const valid: Valid[] = [
  { name: 'plain prompt', input: 'a cat', params: {} },
  { name: 'outer and inner whitespace collapse', input: '   a \t  cat  ', params: {} },
  { name: 'newlines become spaces', input: 'line one\nline two\r\nthree', params: { prompt: 'line one line two three' } },
  { name: 'control characters are removed', input: 'a\u0000cat\u001b --seed 3', params: { prompt: 'a cat', seed: 3 } },
  { name: '--ar 1:1', input: 'a cat --ar 1:1', params: {} },
  { name: '--ar 16:9 on SD', input: 'a cat --ar 16:9', params: { width: 704, height: 384 } },
  { name: '--ar 9:16 on SD', input: 'a cat --ar 9:16', params: { width: 384, height: 704 } },
  { name: '--ar 2:3 on SD', input: 'a cat --ar 2:3', params: { width: 384, height: 576 } },
  { name: '--ar 4:3 on SD', input: 'a cat --ar 4:3', params: { width: 576, height: 448 } },
  { name: '--ar 4:1 (the limit)', input: 'a cat --ar 4:1', params: { width: 1024, height: 256 } },
  { name: '--ar 32:18 equals 16:9', input: 'a cat --ar 32:18', params: { width: 704, height: 384 } },
  { name: '--aspect alias', input: 'a cat --aspect 16:9', params: { width: 704, height: 384 } },
  { name: 'tiny model at 3:2 is not square', input: 'a cat --ar 3:2 --model tiny', params: { ...TINY_PARAMS, width: 96, height: 64 } },
  { name: 'tiny model at 1:1 uses its own defaults', input: 'a cat --model tiny', params: TINY_PARAMS },
  { name: 'model names ignore case', input: 'a cat --model TINY', params: TINY_PARAMS },
  { name: '--seed 0', input: 'a cat --seed 0', params: { seed: 0 } },
  { name: '--seed at the maximum', input: 'a cat --seed 4294967295', params: { seed: 4294967295 } },
  { name: '--seed=N form', input: 'a cat --seed=123', params: { seed: 123 } },
  { name: '--seed with a plus sign', input: 'a cat --seed +7', params: { seed: 7 } },
  { name: 'full-width digits (CJK keyboards)', input: 'a cat --seed １２３', params: { seed: 123 } },
  { name: 'full-width colon in --ar', input: 'a cat --ar 16：9', params: { width: 704, height: 384 } },
  { name: '--no takes words up to the end', input: 'a cat --no dogs, blurry text', params: { negativePrompt: 'dogs, blurry text' } },
  { name: '--no stops at the next flag', input: 'a cat --no dogs   and birds --seed 5', params: { negativePrompt: 'dogs and birds', seed: 5 } },
  { name: '--no=words form', input: 'a cat --no=dogs cats', params: { negativePrompt: 'dogs cats' } },
  { name: '--steps at both ends', input: 'a cat --steps 1', params: { steps: 1 } },
  { name: '--steps at MAX_STEPS', input: 'a cat --steps 50', params: { steps: 50 } },
  { name: '--steps 10.0 is whole', input: 'a cat --steps 10.0', params: { steps: 10 } },
  { name: '--cfg with decimals', input: 'a cat --cfg 7.5', params: { guidance: 7.5 } },
  { name: '--cfg .5', input: 'a cat --cfg .5', params: { guidance: 0.5 } },
  { name: '--guidance alias at 0', input: 'a cat --guidance 0', params: { guidance: 0 } },
  { name: '--n 1', input: 'a cat --n 1', params: { n: 1 } },
  { name: '--sampler by name', input: 'a cat --sampler euler_a', params: { sampler: 'euler_a' } },
  { name: '--sampler spelled Euler-A', input: 'a cat --sampler Euler-A', params: { sampler: 'euler_a' } },
  { name: '--sampler DPM++_2M_Karras', input: 'a cat --sampler DPM++_2M_Karras', params: { sampler: 'dpmpp_2m_karras' } },
  { name: 'flag names ignore case', input: 'a cat --SEED 7 --Steps 9', params: { seed: 7, steps: 9 } },
  { name: 'em dashes (phone autocorrect)', input: 'a cat —ar 16:9 —seed 7', params: { width: 704, height: 384, seed: 7 } },
  { name: 'en dash', input: 'a cat –seed 7', params: { seed: 7 } },
  { name: 'all flags at once', input: 'a cat --ar 2:3 --seed 9 --no dog --steps 30 --cfg 4 --n 2 --sampler ddim --model sd15', params: { width: 384, height: 576, seed: 9, negativePrompt: 'dog', steps: 30, guidance: 4, n: 2, sampler: 'ddim' } },
  { name: 'a flag inside double quotes is prompt text', input: 'a sign saying "--no entry" --seed 1', params: { prompt: 'a sign saying "--no entry"', seed: 1 } },
  { name: 'curly quotes too', input: 'a poster “hello --seed 5 world” --seed 6', params: { prompt: 'a poster “hello --seed 5 world”', seed: 6 } },
  { name: 'an unpaired quote is an ordinary character', input: 'a 5" tall robot --seed 1', params: { prompt: 'a 5" tall robot', seed: 1 } },
  { name: 'quoted words keep their inner spaces collapsed', input: '"two   words" here', params: { prompt: '"two words" here' } },
  { name: 'a bare -- is text', input: "'; DROP TABLE users; --", params: { prompt: "'; DROP TABLE users; --" } },
  { name: 'hyphens and dashes in prose', input: 'sci-fi city — at night --- wide', params: { prompt: 'sci-fi city — at night --- wide' } },
  { name: 'an em dash inside a word is text', input: 'cat—dog hybrid', params: { prompt: 'cat—dog hybrid' } },
  { name: 'HTML is kept verbatim', input: '<script>alert(1)</script> --seed 2', params: { prompt: '<script>alert(1)</script>', seed: 2 } },
  { name: 'mentions are kept verbatim', input: '@everyone look <@123> @here', params: { prompt: '@everyone look <@123> @here' } },
  { name: 'markdown is kept verbatim', input: '**bold** _it_ `code` ~~x~~ > quote', params: { prompt: '**bold** _it_ `code` ~~x~~ > quote' } },
  { name: 'CJK prompt', input: '猫が宇宙を飛ぶ --ar 16:9', params: { prompt: '猫が宇宙を飛ぶ', width: 704, height: 384 } },
  { name: 'emoji prompt', input: '🐱🚀 👩‍🚀 --seed 9', params: { prompt: '🐱🚀 👩‍🚀', seed: 9 } },
  { name: 'accented prompt', input: 'café naïve Zürich', params: { prompt: 'café naïve Zürich' } },
  { name: 'RTL prompt', input: 'قطة في الفضاء', params: { prompt: 'قطة في الفضاء' } },
  {
    name: 'a structured option wins over the inline flag',
    input: { text: 'a cat --seed 5', options: { seed: 9 } },
    params: { seed: 9 },
    warnings: [{ code: 'option-overrides-flag', includes: 'The seed option (9) overrides --seed “5”' }],
  },
  { name: 'an equal structured option is no conflict', input: { text: 'a cat --seed 5', options: { seed: 5 } }, params: { seed: 5 } },
  { name: 'structured numbers may come as text', input: { text: 'a cat', options: { steps: '30', cfg: '6.5' } }, params: { steps: 30, guidance: 6.5 } },
  { name: 'structured negative prompt', input: { text: 'a cat --no dogs', options: { no: 'birds' } }, params: { negativePrompt: 'birds' }, warnings: [{ code: 'option-overrides-flag', includes: 'The no option (birds)' }] },
  { name: 'structured aspect and model', input: { text: 'a cat', options: { ar: '3:2', model: 'tiny' } }, params: { ...TINY_PARAMS, width: 96, height: 64 } },
  { name: 'empty structured values are ignored', input: { text: 'a cat --seed 5', options: { seed: '  ', no: '' } }, params: { seed: 5 } },
  {
    name: 'attached image with --strength is img2img',
    input: { text: 'a cat --strength 0.3', initImage: { artifactKey: 'uploads/a.png' } },
    params: {},
    extra: { initImage: { artifactKey: 'uploads/a.png', strength: 0.3 } },
  },
  { name: 'attached image defaults to strength 0.6', input: { text: 'a cat', initImage: { artifactKey: 'uploads/a.png' } }, params: {}, extra: { initImage: { artifactKey: 'uploads/a.png', strength: 0.6 } } },
  { name: '--strength without an image is ignored with a warning', input: 'a cat --strength 0.5', params: {}, warnings: [{ code: 'strength-ignored', includes: 'only applies to variations' }] },
  {
    name: 'a prompt past 75 tokens is accepted with a warning',
    input: LONG_80,
    params: { prompt: LONG_80 },
    warnings: [{ code: 'prompt-truncated', includes: 'is 80 tokens long; the model reads the first 75, so “w75 w76 w77 w78 w79” is ignored' }],
  },
  {
    name: 'a --no past 75 tokens is accepted with a warning',
    input: `a cat --no ${LONG_80}`,
    params: { negativePrompt: LONG_80 },
    warnings: [{ code: 'negative-truncated', includes: 'The --no text is 80 tokens long' }],
  },
  { name: 'a disallowed model default sampler falls back to the first allowed', input: 'a cat', ctx: { env: { ALLOWED_SAMPLERS: 'euler,ddim' } }, params: { sampler: 'euler' } },
  { name: 'a model default above MAX_STEPS is capped', input: 'a cat', ctx: { env: { MAX_STEPS: '20' } }, params: { steps: 20 } },
  { name: 'n defaults to MAX_N', input: 'a cat', ctx: { env: { MAX_N: '2' } }, params: { n: 2 } },
  { name: 'no event id means no dedupe id', input: 'a cat', ctx: { origin: { eventId: undefined } }, params: {} },
];

type Invalid = { name: string; input: string | ImagineInput; ctx?: Parameters<typeof context>[0]; code: string; message: string };

const invalid: Invalid[] = [
  { name: 'empty', input: '', code: 'empty-prompt', message: 'Nothing to draw yet: write a prompt after /imagine' },
  { name: 'whitespace only', input: ' \t\n ', code: 'empty-prompt', message: 'Nothing to draw yet: write a prompt' },
  { name: 'zero-width characters only', input: '\u200b\u200d\ufeff', code: 'empty-prompt', message: 'Nothing to draw yet: write a prompt' },
  { name: 'flags only', input: '--seed 5', code: 'empty-prompt', message: 'Write a prompt before the flags' },
  { name: 'flags before the prompt', input: '--ar 16:9 a cat', code: 'text-after-flags', message: 'Put the whole prompt before the flags: “a cat” comes after them.' },
  { name: 'words after a one-word flag', input: 'a cat --seed 5 in a hat', code: 'text-after-flags', message: '“in a hat”' },
  { name: 'unknown flag suggests the nearest', input: 'a cat --sed 4', code: 'unknown-flag', message: 'Unknown flag --sed. Did you mean --seed?' },
  { name: 'swapped letters', input: 'a cat --stpes 4', code: 'unknown-flag', message: 'Did you mean --steps?' },
  { name: 'negative spelled --neg', input: 'a cat --neg blurry', code: 'unknown-flag', message: 'Did you mean --no?' },
  { name: 'cut-short flag', input: 'a cat --str 0.5', code: 'unknown-flag', message: 'Did you mean --strength?' },
  { name: 'nothing close', input: 'a cat --zzzzzzzz 1', code: 'unknown-flag', message: 'Unknown flag --zzzzzzzz. See /help for the flags.' },
  { name: 'unknown flag with an em dash', input: 'a cat —sede 5', code: 'unknown-flag', message: 'Did you mean --seed?' },
  { name: '--steps with no value', input: 'a cat --steps', code: 'missing-value', message: '--steps needs a value, e.g. --steps 30.' },
  { name: 'value is another flag', input: 'a cat --steps --seed 4', code: 'missing-value', message: '--steps needs a value' },
  { name: '--no with no words', input: 'a cat --no', code: 'missing-value', message: '--no needs a value' },
  { name: '--seed= empty', input: 'a cat --seed= 5', code: 'missing-value', message: '--seed needs a value' },
  { name: 'duplicate flag', input: 'a cat --seed 1 --seed 2', code: 'duplicate-flag', message: '--seed is given twice; give it once.' },
  { name: 'duplicate through an alias', input: 'a cat --cfg 5 --guidance 6', code: 'duplicate-flag', message: '--guidance repeats --cfg' },
  { name: 'negative seed', input: 'a cat --seed -1', code: 'out-of-range', message: '--seed must be from 0 to 4294967295.' },
  { name: 'seed one past the maximum', input: 'a cat --seed 4294967296', code: 'out-of-range', message: '--seed must be from 0 to 4294967295.' },
  { name: 'a 400-digit seed', input: `a cat --seed ${'9'.repeat(400)}`, code: 'out-of-range', message: '--seed must be from 0 to 4294967295.' },
  { name: 'NaN', input: 'a cat --seed NaN', code: 'bad-number', message: '--seed needs a whole number from 0 to 4294967295, not “NaN”.' },
  { name: 'Infinity', input: 'a cat --seed Infinity', code: 'bad-number', message: 'not “Infinity”' },
  { name: 'exponent notation', input: 'a cat --seed 1e3', code: 'bad-number', message: 'not “1e3”' },
  { name: 'hex', input: 'a cat --seed 0x10', code: 'bad-number', message: 'not “0x10”' },
  { name: 'decimal comma', input: 'a cat --cfg 7,5', code: 'bad-number', message: '--cfg needs a number from 0 to 30, not “7,5”.' },
  { name: 'fractional seed', input: 'a cat --seed 1.5', code: 'bad-number', message: '--seed needs a whole number from 0 to 4294967295, not “1.5”.' },
  { name: 'quoted number', input: 'a cat --seed "5"', code: 'bad-number', message: 'not “"5"”' },
  { name: 'zero steps', input: 'a cat --steps 0', code: 'out-of-range', message: '--steps must be from 1 to 50.' },
  { name: 'steps past MAX_STEPS', input: 'a cat --steps 51', code: 'out-of-range', message: '--steps must be from 1 to 50.' },
  { name: 'steps past a lowered MAX_STEPS', input: 'a cat --steps 21', ctx: { env: { MAX_STEPS: '20' } }, code: 'out-of-range', message: '--steps must be from 1 to 20.' },
  { name: 'five images', input: 'a cat --n 5', code: 'out-of-range', message: '--n must be from 1 to 4.' },
  { name: 'zero images', input: 'a cat --n 0', code: 'out-of-range', message: '--n must be from 1 to 4.' },
  { name: 'cfg too high', input: 'a cat --cfg 31', code: 'out-of-range', message: '--cfg must be from 0 to 30.' },
  { name: 'cfg negative', input: 'a cat --cfg -0.5', code: 'out-of-range', message: '--cfg must be from 0 to 30.' },
  { name: 'cfg in words', input: 'a cat --cfg seven', code: 'bad-number', message: '--cfg needs a number from 0 to 30' },
  { name: 'strength too low', input: 'a cat --strength 0.01', code: 'out-of-range', message: '--strength must be from 0.05 to 1.' },
  { name: 'strength too high', input: 'a cat --strength 2', code: 'out-of-range', message: '--strength must be from 0.05 to 1.' },
  { name: 'aspect with x', input: 'a cat --ar 16x9', code: 'bad-aspect', message: '--ar needs two whole numbers like 16:9' },
  { name: 'aspect with a zero', input: 'a cat --ar 0:1', code: 'bad-aspect', message: '--ar needs two whole numbers' },
  { name: 'aspect in words', input: 'a cat --ar wide', code: 'bad-aspect', message: '--ar needs two whole numbers' },
  { name: 'aspect with decimals', input: 'a cat --ar 1.5:1', code: 'bad-aspect', message: '--ar needs two whole numbers' },
  { name: 'aspect too wide', input: 'a cat --ar 5:1', code: 'out-of-range', message: '--ar must be between 1:4 and 4:1.' },
  { name: 'aspect too tall', input: 'a cat --ar 1:1000', code: 'out-of-range', message: '--ar must be between 1:4 and 4:1.' },
  { name: 'unknown sampler', input: 'a cat --sampler foo', code: 'unknown-sampler', message: 'Unknown sampler “foo”. Samplers: ddim, pndm, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, lcm.' },
  { name: 'cut-short sampler', input: 'a cat --sampler dpm', code: 'unknown-sampler', message: 'Did you mean dpmpp_2m?' },
  { name: 'sampler switched off here', input: 'a cat --sampler lcm', ctx: { env: { ALLOWED_SAMPLERS: 'euler,ddim' } }, code: 'unknown-sampler', message: 'The lcm sampler is not enabled here. Use one of: euler, ddim.' },
  { name: 'unknown model', input: 'a cat --model sdxl', code: 'unknown-model', message: 'Unknown model “sdxl”. Did you mean sd15? Models: sd15, tiny.' },
  { name: 'model with nothing close', input: 'a cat --model kandinsky', code: 'unknown-model', message: 'Unknown model “kandinsky”. Models: sd15, tiny.' },
  { name: 'misspelt model', input: 'a cat --model tiyn', code: 'unknown-model', message: 'Did you mean tiny?' },
  { name: 'prompt over 4000 characters', input: 'a'.repeat(4001), code: 'too-long', message: 'The prompt is longer than 4000 characters' },
  { name: '--no over 4000 characters', input: `a cat --no ${'b'.repeat(4001)}`, code: 'too-long', message: '--no is longer than 4000 characters' },
  { name: 'structured seed out of range names the option', input: { text: 'a cat', options: { seed: -5 } }, code: 'out-of-range', message: 'The seed option must be from 0 to 4294967295.' },
  { name: 'structured steps not a number', input: { text: 'a cat', options: { steps: 'abc' } }, code: 'bad-number', message: 'The steps option needs a whole number from 1 to 50, not “abc”.' },
  { name: 'structured n not whole', input: { text: 'a cat', options: { n: 2.5 } }, code: 'bad-number', message: 'The n option needs a whole number from 1 to 4' },
  { name: 'structured aspect too wide', input: { text: 'a cat', options: { ar: '9:1' } }, code: 'out-of-range', message: 'The ar option must be between 1:4 and 4:1.' },
  { name: 'structured NaN', input: { text: 'a cat', options: { cfg: Number.NaN } }, code: 'bad-number', message: 'The cfg option needs a number' },
  { name: 'an invalid inline flag still fails when an option overrides it', input: { text: 'a cat --seed abc', options: { seed: 3 } }, code: 'bad-number', message: '--seed needs a whole number' },
  { name: 'injection after a flag', input: 'a cat --seed 1; DROP TABLE jobs', code: 'text-after-flags', message: '“DROP TABLE jobs” comes after them' },
  { name: 'injection glued to a value', input: "a cat --seed 1;DROP'--", code: 'bad-number', message: 'not “1;DROP\'--”' },
  { name: 'script tag as a model', input: 'a cat --model <script>', code: 'unknown-model', message: 'Unknown model “<script>”' },
  { name: 'mention as a sampler', input: 'a cat --sampler @everyone', code: 'unknown-sampler', message: 'Unknown sampler “@everyone”' },
];

const inputOf = (input: string | ImagineInput): ImagineInput => (typeof input === 'string' ? { text: input } : input);

describe('/imagine prompt language', () => {
  it('has a table of at least 60 cases', () => {
    expect(valid.length + invalid.length).toBeGreaterThanOrEqual(60);
    expect(new Set([...valid, ...invalid].map((c) => c.name)).size).toBe(valid.length + invalid.length);
  });

  it.each(valid)('accepts: $name', (c) => {
    const ctx: CommandContext = context(c.ctx);
    const out = imagine(inputOf(c.input), ctx);
    if (out.kind !== 'job') throw new Error(`expected a job, got ${JSON.stringify(out)}`);
    expect(out.payload).toEqual({ ...payload(c.params, c.extra), origin: ctx.origin });
    expect(out.dedupeId).toBe(ctx.origin.eventId);
    expect(out.warnings.map((w) => w.code)).toEqual((c.warnings ?? []).map((w) => w.code));
    (c.warnings ?? []).forEach((w, i) => expect(out.warnings[i].message).toContain(w.includes));
  });

  it.each(invalid)('refuses: $name', (c) => {
    const out = imagine(inputOf(c.input), context(c.ctx));
    expect(out).toMatchObject({ kind: 'message', ephemeral: true, code: c.code });
    if (out.kind !== 'message') return;
    expect(out.message).toContain(c.message);
    // Short enough for an ephemeral reply.
    expect(out.message.length).toBeLessThan(200);
  });

  // `/imagine help` on Discord or the playground would draw a picture of "help": each names its own.
  it.each([
    ['discord', '/help'],
    ['web', '/help'],
    ['slack', '/imagine help'],
  ] as const)('an unknown flag on %s points to %s', (platform, help) => {
    const out = imagine({ text: 'a cat --zzzzzzzz 1' }, context({ origin: { platform } }));
    expect(out).toMatchObject({ kind: 'message', code: 'unknown-flag', message: `Unknown flag --zzzzzzzz. See ${help} for the flags.` });
  });

  it('summarises what will be made', () => {
    const out = imagine({ text: 'a cat --ar 16:9 --seed 5 --n 1' }, context());
    expect(out.kind === 'job' && out.summary).toBe('704x384 · 1 image · seed 5 · 25 steps · dpmpp_2m · cfg 7 · sd15');
  });

  it('draws the seed from the injected source when none is given', () => {
    const out = imagine({ text: 'a cat' }, context({ randomSeed: () => 4294967295 }));
    expect(out.kind === 'job' && out.payload.params.seed).toBe(4294967295);
  });
});
