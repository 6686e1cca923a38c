import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

// Reading the Hugging Face tokenizer files of a Stable Diffusion export. Each failure names
// the file and what it should have held, because a half-copied model folder is the usual cause.

function readText(file: string, expected: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot read ${file} (expected ${expected}): ${reason}`, { cause: err });
  }
}

function parseJson(file: string, text: string, expected: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`${file} is not valid JSON (expected ${expected}): ${reason}`, { cause: err });
  }
}

const VOCAB_EXPECTED = 'the CLIP vocabulary: a JSON object mapping each token to an integer id';

export function readVocabFile(file: string): Map<string, number> {
  const parsed = parseJson(file, readText(file, VOCAB_EXPECTED), VOCAB_EXPECTED);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file} holds no JSON object (expected ${VOCAB_EXPECTED})`);
  }
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(parsed)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new Error(`${file}: token ${JSON.stringify(token)} maps to ${JSON.stringify(id)} (expected ${VOCAB_EXPECTED})`);
    }
    vocab.set(token, id);
  }
  return vocab;
}

const MERGES_EXPECTED = 'the BPE merges: a "#version" line, then one "left right" pair per line';

export function readMergesFile(file: string): Array<[string, string]> {
  const lines = readText(file, MERGES_EXPECTED).split('\n');
  const merges: Array<[string, string]> = [];
  lines.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || (index === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new Error(`${file}:${index + 1}: ${JSON.stringify(line)} is not a merge (expected ${MERGES_EXPECTED})`);
    }
    merges.push([parts[0], parts[1]]);
  });
  if (merges.length === 0) throw new Error(`${file} has no merges (expected ${MERGES_EXPECTED})`);
  return merges;
}

export interface PadTokenSource {
  token: string;
  file: string;
}

// Hugging Face lets special_tokens_map.json override tokenizer_config.json, so it is read last.
const PAD_TOKEN_FILES = ['tokenizer_config.json', 'special_tokens_map.json'] as const;

/** The pad token a tokenizer folder declares, or undefined when it declares none. */
export function readPadToken(tokenizerDir: string): PadTokenSource | undefined {
  let found: PadTokenSource | undefined;
  for (const name of PAD_TOKEN_FILES) {
    const file = path.join(tokenizerDir, name);
    if (!existsSync(file)) continue;
    const expected = 'a JSON object whose optional "pad_token" is a string or {"content": string}';
    const parsed = parseJson(file, readText(file, expected), expected);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${file} holds no JSON object (expected ${expected})`);
    }
    const pad = (parsed as Record<string, unknown>).pad_token;
    if (pad === undefined || pad === null) continue;
    if (typeof pad === 'string') {
      found = { token: pad, file };
    } else if (typeof pad === 'object' && typeof (pad as { content?: unknown }).content === 'string') {
      found = { token: (pad as { content: string }).content, file };
    } else {
      throw new Error(`${file}: pad_token is ${JSON.stringify(pad)} (expected ${expected})`);
    }
  }
  return found;
}
