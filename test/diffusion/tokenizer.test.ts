/**
 * CLIP tokenizer: conformance with openai/CLIP's own output (clip-tokenizer.json in
 * test/fixtures/reference/, see its README) for every reference prompt — cleaned text, raw ids,
 * SD 1.x and SD 2.x input ids, truncation — plus the behaviour around it: reading a model's
 * tokenizer folder (pad tokens, errors), token counting for the "prompt too long" warning,
 * and the text clean-up on prompts the reference does not cover.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../worker/diffusion/tokenizer/clip-tokenizer.ts';
import { htmlUnescape } from '../../worker/diffusion/tokenizer/html-unescape.ts';
import { cleanClipText, fixText } from '../../worker/diffusion/tokenizer/text-cleaning.ts';
import { readReferenceJson, referencePath } from '../support/reference-data.ts';

const vocabFile = referencePath('clip', 'vocab.json');
const mergesFile = referencePath('clip', 'merges.txt');

interface ReferenceCase {
  category: string;
  text: string;
  cleaned: string;
  ftfy_changed: boolean;
  ids: number[];
  tokens: string[];
  num_tokens: number;
  truncated: boolean;
  input_ids_sd1: number[];
  input_ids_sd2: number[];
}

interface Reference {
  bos_id: number;
  eos_id: number;
  vocab_size: number;
  context_length: number;
  sd1_pad_id: number;
  sd2_pad_id: number;
  cases: ReferenceCase[];
}

const reference = readReferenceJson<Reference>('clip-tokenizer.json');
const cases = reference.cases;

describe('CLIP tokenizer conformance (openai/CLIP reference)', () => {
  let tokenizer: ClipTokenizer;
  beforeAll(() => {
    tokenizer = ClipTokenizer.fromFiles(vocabFile, mergesFile);
  });

  it('has the reference special ids, vocabulary size and context length', () => {
    expect(tokenizer.bosTokenId).toBe(reference.bos_id);
    expect(tokenizer.eosTokenId).toBe(reference.eos_id);
    expect(tokenizer.padTokenId).toBe(reference.sd1_pad_id);
    expect(tokenizer.vocabSize).toBe(reference.vocab_size);
    expect(tokenizer.maxLength).toBe(reference.context_length);
    expect(tokenizer.inputIds('a photo of a cat').slice(0, 7)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
  });

  it('covers every category of the reference', () => {
    const categories = new Set(cases.map((c) => c.category));
    for (const category of ['ordinary', 'empty', 'accents', 'html', 'whitespace', 'special', 'long', 'emoji', 'cjk']) {
      expect(categories).toContain(category);
    }
  });

  it.each(cases.map((c, i) => [i, c.category, JSON.stringify(c.text).slice(0, 60), c] as const))(
    'case %i (%s) %s',
    (_i, _category, _label, c) => {
      expect(cleanClipText(c.text)).toBe(c.cleaned);
      expect(tokenizer.encode(c.text)).toEqual(c.ids);
      expect(tokenizer.inputIds(c.text)).toEqual(c.input_ids_sd1);
      expect(tokenizer.inputIds(c.text, { padTokenId: 0 })).toEqual(c.input_ids_sd2);
      const counted = tokenizer.countTokens(c.text);
      expect(counted.count).toBe(c.num_tokens);
      expect(counted.truncated).toBe(c.truncated);
      expect(counted.droppedText !== undefined).toBe(c.truncated);
    },
  );

  it('pads with the id given at construction (SD 2.x)', () => {
    const sd2 = ClipTokenizer.fromFiles(vocabFile, mergesFile, { padTokenId: 0 });
    for (const c of cases) expect(sd2.inputIds(c.text)).toEqual(c.input_ids_sd2);
  });

  it('names the text beyond token 75 when a prompt is too long', () => {
    const longCases = cases.filter((c) => c.truncated);
    expect(longCases.length).toBeGreaterThan(1);
    const cats = longCases.find((c) => c.num_tokens === 76 && c.text.startsWith('cat cat'));
    expect(tokenizer.countTokens((cats as ReferenceCase).text)).toEqual({ count: 76, truncated: true, droppedText: 'cat' });

    // The dropped text must be the cleaned prompt after the 75th token, which the reference
    // tokens spell out (these prompts are ASCII, so tokens are plain text; spaces aside).
    const squash = (s: string) => s.replace(/ /g, '');
    for (const c of longCases) {
      const kept = c.tokens.slice(0, 75).join('').replace(/<\/w>/g, '');
      const { droppedText } = tokenizer.countTokens(c.text);
      expect(squash(c.cleaned).startsWith(kept)).toBe(true);
      expect(squash(droppedText as string)).toBe(squash(c.cleaned).slice(kept.length));
      expect(droppedText).toBe((droppedText as string).trim());
    }
  });

  it('cuts inside a word when token 75 ends mid-word', () => {
    const word = cases.find((c) => c.text === 'supercalifragilisticexpialidocious') as ReferenceCase;
    const prompt = `${'cat '.repeat(73)}${word.text} dog`;
    const counted = tokenizer.countTokens(prompt);
    expect(counted.count).toBe(73 + word.num_tokens + 1);
    expect(counted.truncated).toBe(true);
    // 73 cats + the word's first two pieces fill the 75 places.
    const kept = word.tokens[0] + word.tokens[1];
    expect(counted.droppedText).toBe(`${word.text.slice(kept.length)} dog`);
  });

  it('does not flag a prompt of exactly 75 tokens', () => {
    const prompt = 'cat '.repeat(75);
    expect(tokenizer.countTokens(prompt)).toEqual({ count: 75, truncated: false });
    expect(tokenizer.inputIds(prompt)).toEqual([49406, ...Array(75).fill(2368), 49407]);
  });

  it('keeps literal special tokens whole', () => {
    expect(tokenizer.encode('<|startoftext|>cat<|endoftext|>')).toEqual([49406, 2368, 49407]);
  });

  it('loads the full vocabulary and merges quickly', () => {
    // Not a timing assertion (a shared machine can be slow); a sanity bound on pathological costs.
    const started = performance.now();
    ClipTokenizer.fromFiles(vocabFile, mergesFile);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

// A tokenizer folder small enough to write by hand: the 256 byte characters (in the order
// the reference README gives), the same with </w>, two merges ("c a", "ca t</w>"), and the
// special tokens.
const BYTE_CHARS = [
  ...range(0x21, 0x7e),
  ...range(0xa1, 0xac),
  ...range(0xae, 0xff),
  ...range(0x100, 0x143),
].map((cp) => String.fromCodePoint(cp));

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

const TINY_VOCAB: Record<string, number> = {};
BYTE_CHARS.forEach((ch, i) => {
  TINY_VOCAB[ch] = i;
  TINY_VOCAB[`${ch}</w>`] = 256 + i;
});
TINY_VOCAB['ca'] = 512;
TINY_VOCAB['cat</w>'] = 513;
TINY_VOCAB['<|startoftext|>'] = 514;
TINY_VOCAB['<|endoftext|>'] = 515;
const TINY_MERGES = '#version: 0.2\nc a\nca t</w>\n';
const idOf = (token: string) => TINY_VOCAB[token];

describe('ClipTokenizer.fromModelDir', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function tokenizerDir(files: Record<string, string | object | null>): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'clip-tokenizer-'));
    dirs.push(dir);
    const all: Record<string, string | object | null> = { 'vocab.json': TINY_VOCAB, 'merges.txt': TINY_MERGES, ...files };
    for (const [name, content] of Object.entries(all)) {
      if (content === null) continue;
      writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
    }
    return dir;
  }

  it('pads with <|endoftext|> for an SD 1.x folder (pad_token as an object)', () => {
    const dir = tokenizerDir({
      'tokenizer_config.json': { model_max_length: 77, pad_token: { content: '<|endoftext|>', lstrip: false } },
    });
    const tok = ClipTokenizer.fromModelDir(dir);
    expect(tok.padTokenId).toBe(515);
    expect(tok.inputIds('a cat')).toEqual([514, idOf('a</w>'), 513, 515, ...Array(73).fill(515)]);
  });

  it('pads with "!" (id 0) for an SD 2.x folder (pad_token as a string)', () => {
    const dir = tokenizerDir({ 'special_tokens_map.json': { bos_token: '<|startoftext|>', pad_token: '!' } });
    const tok = ClipTokenizer.fromModelDir(dir);
    expect(tok.padTokenId).toBe(0);
    const ids = tok.inputIds('Cat!');
    expect(ids).toHaveLength(77);
    expect(ids.slice(0, 4)).toEqual([514, 513, idOf('!</w>'), 515]);
    expect(ids.slice(4)).toEqual(Array(73).fill(0));
  });

  it('lets special_tokens_map.json override tokenizer_config.json, as Hugging Face does', () => {
    const dir = tokenizerDir({
      'tokenizer_config.json': { pad_token: '!' },
      'special_tokens_map.json': { pad_token: { content: '<|endoftext|>' } },
    });
    expect(ClipTokenizer.fromModelDir(dir).padTokenId).toBe(515);
  });

  it('pads with EOS when no config names a pad token', () => {
    expect(ClipTokenizer.fromModelDir(tokenizerDir({})).padTokenId).toBe(515);
    expect(ClipTokenizer.fromModelDir(tokenizerDir({ 'tokenizer_config.json': { pad_token: null } })).padTokenId).toBe(515);
  });

  it('applies merges in rank order and marks the end of each word', () => {
    const tok = ClipTokenizer.fromModelDir(tokenizerDir({}));
    // "cat" merges fully; "cats" cannot use "ca t</w>" because its t is not word-final.
    expect(tok.encode('cat')).toEqual([513]);
    expect(tok.encode('cats')).toEqual([512, idOf('t'), idOf('s</w>')]);
    // Bytes outside ASCII map to their byte characters: é is C3 A9.
    expect(tok.encode('é')).toEqual([idOf('Ã'), idOf('©</w>')]);
  });

  it('names the missing file and what it should hold', () => {
    expect(() => ClipTokenizer.fromModelDir(tokenizerDir({ 'merges.txt': null }))).toThrow(/merges\.txt.*BPE merges/);
    expect(() => ClipTokenizer.fromModelDir(tokenizerDir({ 'vocab.json': null }))).toThrow(/vocab\.json.*CLIP vocabulary/);
    const absent = path.join(tmpdir(), 'no-such-tokenizer-folder-for-clip-test');
    expect(() => ClipTokenizer.fromModelDir(absent)).toThrow(new RegExp(`${absent}.*does not exist.*vocab\\.json`));
    expect(() => ClipTokenizer.fromFiles(path.join(absent, 'vocab.json'), path.join(absent, 'merges.txt'))).toThrow(
      /no-such-tokenizer-folder-for-clip-test[/\\]vocab\.json/,
    );
  });

  it('rejects unreadable or inconsistent files with the file named', () => {
    expect(() => ClipTokenizer.fromModelDir(tokenizerDir({ 'vocab.json': '{"a": 1,' }))).toThrow(/vocab\.json is not valid JSON/);
    expect(() => ClipTokenizer.fromModelDir(tokenizerDir({ 'vocab.json': { a: 'one' } }))).toThrow(/vocab\.json: token "a" maps to "one"/);
    expect(() => ClipTokenizer.fromModelDir(tokenizerDir({ 'vocab.json': { a: 0 } }))).toThrow(/vocab\.json lacks <\|startoftext\|>/);
    expect(() => ClipTokenizer.fromModelDir(tokenizerDir({ 'merges.txt': '#version: 0.2\nc a b\n' }))).toThrow(/merges\.txt:2: "c a b" is not a merge/);
    expect(() => ClipTokenizer.fromModelDir(tokenizerDir({ 'special_tokens_map.json': { pad_token: '<pad>' } }))).toThrow(
      /special_tokens_map\.json: pad_token "<pad>" is not a token of .*vocab\.json/,
    );
    expect(() => ClipTokenizer.fromModelDir(tokenizerDir({ 'tokenizer_config.json': { pad_token: 7 } }))).toThrow(
      /tokenizer_config\.json: pad_token is 7/,
    );
    expect(() => ClipTokenizer.fromModelDir(tokenizerDir({ 'tokenizer_config.json': 'not json' }))).toThrow(/tokenizer_config\.json is not valid JSON/);
  });

  it('returns synchronously and honours maxLength', () => {
    const dir = tokenizerDir({});
    const tok = ClipTokenizer.fromFiles(path.join(dir, 'vocab.json'), path.join(dir, 'merges.txt'), { maxLength: 5 });
    expect(tok).toBeInstanceOf(ClipTokenizer);
    expect(tok.inputIds('cat cat cat cat')).toEqual([514, 513, 513, 513, 515]);
    expect(tok.countTokens('cat cat cat cat')).toEqual({ count: 4, truncated: true, droppedText: 'cat' });
    expect(() => tok.inputIds('cat', { padTokenId: -1 })).toThrow(/padTokenId/);
  });
});

// Expected values below are what ftfy 6.3.1 + html.unescape (openai/CLIP's basic_clean and
// whitespace_clean) give for the same input.
describe('CLIP text cleaning', () => {
  it.each([
    ['itâ€™s a cafÃ©', "it's a café"],
    ['Ð¿Ñ€Ð¸Ð²ÐµÑ‚ Ð¼Ð¸Ñ€', 'привет мир'],
    ['cafÃƒÂ©', 'café'],
    ['ðŸ˜€ Ã\u00a0 la', '😀 à la'],
    ['ﬁne ＡＢＣ ｶﾞ', 'fine abc ガ'],
    ['&amp;lt;b&amp;gt;', '<b>'],
    ['<b>&amp;amp;</b>', '<b>&</b>'],
    ['a\u0000b\u000bc\u200ad\ufeffe\u001b[31mf\u2028g', 'abc def g'],
    ['line\r\nbreak\rhere', 'line break here'],
    ['  \u3000 spaced \u00a0 out \t', 'spaced out'],
  ])('cleans %j', (text, cleaned) => {
    expect(cleanClipText(text)).toBe(cleaned);
  });

  it('leaves legitimate accented text alone', () => {
    const text = 'voilà\u00a0» «Ö» Straße» “CAFÉ” Zürich naïve IRMÃ E';
    expect(cleanClipText(text)).toBe('voilà » «ö» straße» "café" zürich naïve irmã e');
  });

  it('composes characters and keeps lines apart', () => {
    expect(fixText('cafe\u0301\r\nsecond line')).toBe('café\nsecond line');
  });

  it('unescapes character references the way Python html.unescape does', () => {
    expect(htmlUnescape('&#0;|&#128;|&#x110000;|&#7;|&#13;|&#xD800;|&#x1F431;')).toBe('\ufffd|€|\ufffd||\r|\ufffd|🐱');
    expect(htmlUnescape('&ampfoo &notit; &notin; &copy2024 &hellip &hellip; &#x; &AMP')).toBe('&foo ¬it; ∉ ©2024 &hellip … &#x; &');
    expect(cleanClipText('&EACUTE;T&Eacute;')).toBe('été');
  });
});
