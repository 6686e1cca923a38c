/**
 * The long-prompt warning with the real CLIP tokenizer (as the process wires it) on the
 * CLIP vocabulary kept in test/fixtures/reference/clip/.
 */
import { describe, expect, it } from 'vitest';
import { imagine } from '../../commands/imagine.ts';
import type { TokenCounter } from '../../commands/context.ts';
import { ClipTokenizer } from '../../worker/diffusion/index.ts';
import { context } from '../support/command-context.ts';
import { referencePath } from '../support/reference-data.ts';

const tokenizer = ClipTokenizer.fromFiles(referencePath('clip', 'vocab.json'), referencePath('clip', 'merges.txt'));

describe('token limit warning with the CLIP tokenizer', () => {
  const countTokens: TokenCounter = (text) => tokenizer.countTokens(text);

  it('75 tokens pass silently; 80 are accepted with the ignored words named', () => {
    const ok = imagine({ text: Array(75).fill('cat').join(' ') }, { ...context(), countTokens });
    expect(ok.kind === 'job' && ok.warnings).toEqual([]);
    const long = imagine({ text: `${Array(75).fill('cat').join(' ')} purple striped hat wearing dog --seed 1` }, { ...context(), countTokens });
    expect(long.kind === 'job' && long.warnings).toEqual([
      { code: 'prompt-truncated', message: 'The prompt is 80 tokens long; the model reads the first 75, so “purple striped hat wear…” is ignored.' },
    ]);
  });
});
