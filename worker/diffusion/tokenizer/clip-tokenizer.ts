import { existsSync } from 'node:fs';
import path from 'node:path';
import { BpeMerges, END_OF_WORD } from './bpe.ts';
import { BYTE_TO_UNICODE } from './byte-unicode.ts';
import { cleanClipText } from './text-cleaning.ts';
import { readMergesFile, readPadToken, readVocabFile } from './tokenizer-files.ts';

export interface ClipTokenizerOptions {
  /** Id that fills `inputIds` after EOS. SD 1.x pads with EOS (the default), SD 2.x with 0. */
  padTokenId?: number;
  /** Length of `inputIds`, BOS and EOS included: the text encoder's 77 positions. */
  maxLength?: number;
}

export interface TokenCount {
  /** Tokens in the prompt, BOS/EOS not counted. */
  count: number;
  /** True when more than `maxLength - 2` tokens: the text encoder never sees the rest. */
  truncated: boolean;
  /** The (cleaned, lower-cased) part of the prompt that falls beyond the limit. */
  droppedText?: string;
}

const BOS_TOKEN = '<|startoftext|>';
const EOS_TOKEN = '<|endoftext|>';
const DEFAULT_MAX_LENGTH = 77;

// CLIP's pre-tokenizer. \s is spelled \p{White_Space} because that is what Python's `regex`
// module means by it (JS's \s also takes U+FEFF, which CLIP tokenizes as a symbol).
const WORD_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\p{White_Space}\p{L}\p{N}]+/giu;

// Prompts repeat words endlessly ("highly detailed"), so BPE results are cached; the bound keeps
// a long-running worker fed with arbitrary prompts from growing without limit.
const WORD_CACHE_LIMIT = 20_000;

interface EncodedWord {
  ids: number[];
  /** UTF-8 length of each piece, to map a token back to where it starts in the text. */
  byteLengths: number[];
}

const utf8 = new TextEncoder();

function utf8Length(codePoint: number): number {
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

/** UTF-16 offset of the character that holds byte `byteOffset` of `word`'s UTF-8 form. */
function charOffsetOfByte(word: string, byteOffset: number): number {
  let bytes = 0;
  let chars = 0;
  for (const ch of word) {
    const size = utf8Length(ch.codePointAt(0) as number);
    if (bytes + size > byteOffset) break;
    bytes += size;
    chars += ch.length;
  }
  return chars;
}

/** Byte-level BPE tokenizer identical to openai/CLIP's and Hugging Face's CLIPTokenizer. */
export class ClipTokenizer {
  readonly maxLength: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  private readonly defaultPadTokenId: number;
  private readonly merges: BpeMerges;
  private readonly cache = new Map<string, EncodedWord>();

  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    merges: ReadonlyArray<readonly [string, string]>,
    opts: ClipTokenizerOptions & { vocabSource?: string } = {},
  ) {
    const source = opts.vocabSource ?? 'the vocabulary';
    const bos = vocab.get(BOS_TOKEN);
    const eos = vocab.get(EOS_TOKEN);
    if (bos === undefined || eos === undefined) {
      throw new Error(`${source} lacks ${bos === undefined ? BOS_TOKEN : EOS_TOKEN}: not a CLIP vocabulary`);
    }
    this.bosTokenId = bos;
    this.eosTokenId = eos;
    this.maxLength = opts.maxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 2) {
      throw new Error(`maxLength must be an integer of at least 2 (room for BOS and EOS), got ${opts.maxLength}`);
    }
    this.defaultPadTokenId = checkTokenId(opts.padTokenId ?? eos, 'padTokenId');
    this.merges = new BpeMerges(merges);
  }

  /** Synchronous so that start-up code can call it with or without await. */
  static fromFiles(vocabJsonPath: string, mergesTxtPath: string, opts: ClipTokenizerOptions = {}): ClipTokenizer {
    return new ClipTokenizer(readVocabFile(vocabJsonPath), readMergesFile(mergesTxtPath), {
      ...opts,
      vocabSource: vocabJsonPath,
    });
  }

  /** A model export's `tokenizer/` folder: vocab.json, merges.txt and, when present, the pad token its configs name. */
  static fromModelDir(tokenizerDir: string): ClipTokenizer {
    if (!existsSync(tokenizerDir)) {
      throw new Error(`tokenizer folder ${tokenizerDir} does not exist (expected vocab.json and merges.txt in it)`);
    }
    const vocabPath = path.join(tokenizerDir, 'vocab.json');
    const vocab = readVocabFile(vocabPath);
    const merges = readMergesFile(path.join(tokenizerDir, 'merges.txt'));
    const pad = readPadToken(tokenizerDir);
    let padTokenId: number | undefined;
    if (pad !== undefined) {
      padTokenId = vocab.get(pad.token);
      if (padTokenId === undefined) {
        throw new Error(`${pad.file}: pad_token ${JSON.stringify(pad.token)} is not a token of ${vocabPath}`);
      }
    }
    return new ClipTokenizer(vocab, merges, { padTokenId, vocabSource: vocabPath });
  }

  get padTokenId(): number {
    return this.defaultPadTokenId;
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  /** Token ids of the cleaned prompt, without BOS/EOS and without truncation. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const { encoded } of this.words(cleanClipText(text))) {
      for (const id of encoded.ids) ids.push(id);
    }
    return ids;
  }

  /** The text encoder's input: BOS, at most `maxLength - 2` ids, EOS, then padding to `maxLength`. */
  inputIds(text: string, opts: { padTokenId?: number } = {}): number[] {
    const pad = opts.padTokenId === undefined ? this.defaultPadTokenId : checkTokenId(opts.padTokenId, 'padTokenId');
    const ids = [this.bosTokenId, ...this.encode(text).slice(0, this.maxLength - 2), this.eosTokenId];
    while (ids.length < this.maxLength) ids.push(pad);
    return ids;
  }

  countTokens(text: string): TokenCount {
    const cleaned = cleanClipText(text);
    const limit = this.maxLength - 2;
    let count = 0;
    let droppedFrom: number | undefined;
    for (const { word, index, encoded } of this.words(cleaned)) {
      if (droppedFrom === undefined && count + encoded.ids.length > limit) {
        const keptPieces = limit - count;
        let keptBytes = 0;
        for (let i = 0; i < keptPieces; i++) keptBytes += encoded.byteLengths[i];
        droppedFrom = index + charOffsetOfByte(word, keptBytes);
      }
      count += encoded.ids.length;
    }
    if (droppedFrom === undefined) return { count, truncated: false };
    return { count, truncated: true, droppedText: cleaned.slice(droppedFrom).trim() };
  }

  private *words(cleaned: string): Generator<{ word: string; index: number; encoded: EncodedWord }> {
    for (const match of cleaned.matchAll(WORD_PATTERN)) {
      yield { word: match[0], index: match.index as number, encoded: this.encodeWord(match[0]) };
    }
  }

  private encodeWord(word: string): EncodedWord {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    let encoded: EncodedWord;
    if (word === BOS_TOKEN || word === EOS_TOKEN) {
      // Written literally in a prompt, the special tokens are kept whole, as CLIP does.
      encoded = { ids: [word === BOS_TOKEN ? this.bosTokenId : this.eosTokenId], byteLengths: [word.length] };
    } else {
      const symbols = Array.from(utf8.encode(word), (byte) => BYTE_TO_UNICODE[byte]);
      symbols[symbols.length - 1] += END_OF_WORD;
      const pieces = this.merges.apply(symbols);
      encoded = {
        // A piece missing from a trimmed vocabulary becomes the unknown token, which CLIP
        // defines as <|endoftext|> (Hugging Face does the same).
        ids: pieces.map((piece) => this.vocab.get(piece) ?? this.eosTokenId),
        byteLengths: pieces.map((piece) => (piece.endsWith(END_OF_WORD) ? piece.length - END_OF_WORD.length : piece.length)),
      };
    }
    if (this.cache.size >= WORD_CACHE_LIMIT) {
      // Maps iterate in insertion order: drop the oldest entry.
      this.cache.delete(this.cache.keys().next().value as string);
    }
    this.cache.set(word, encoded);
    return encoded;
  }
}

function checkTokenId(id: number, name: string): number {
  if (!Number.isInteger(id) || id < 0) throw new Error(`${name} must be a non-negative integer token id, got ${id}`);
  return id;
}
