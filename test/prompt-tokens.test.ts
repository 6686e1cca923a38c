/**
 * The long-prompt warning with the real CLIP tokenizer (as the process wires it) on the
 * reference vocabulary. Skipped, loudly, where the reference data is absent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imagine } from '../commands/imagine.ts';
import type { TokenCounter } from '../commands/context.ts';
import { REPO_ROOT } from '../src/config.ts';
import { ClipTokenizer } from '../worker/diffusion/index.ts';
import { context } from './support/command-context.ts';

const referenceDir = process.env.IMAGINE_REFERENCE_DIR ?? path.resolve(REPO_ROOT, '../shared/reference');
const vocab = path.join(referenceDir, 'clip', 'vocab.json');
const merges = path.join(referenceDir, 'clip', 'merges.txt');
const present = fs.existsSync(vocab) && fs.existsSync(merges);
if (!present) console.warn(`SKIPPED prompt-tokens.test.ts: no CLIP reference vocabulary at ${path.join(referenceDir, 'clip')} (set IMAGINE_REFERENCE_DIR)`);

describe.skipIf(!present)('token limit warning with the CLIP tokenizer', () => {
  const tokenizer = present ? ClipTokenizer.fromFiles(vocab, merges) : null;
  const countTokens: TokenCounter = (text) => tokenizer!.countTokens(text);

  it('75 tokens pass silently; 80 are accepted with the ignored words named', () => {
    const ok = imagine({ text: Array(75).fill('cat').join(' ') }, { ...context(), countTokens });
    expect(ok.kind === 'job' && ok.warnings).toEqual([]);
    const long = imagine({ text: `${Array(75).fill('cat').join(' ')} purple striped hat wearing dog --seed 1` }, { ...context(), countTokens });
    expect(long.kind === 'job' && long.warnings).toEqual([
      { code: 'prompt-truncated', message: 'The prompt is 80 tokens long; the model reads the first 75, so “purple striped hat wear…” is ignored.' },
    ]);
  });
});
