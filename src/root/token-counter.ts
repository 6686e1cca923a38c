/**
 * Prompt token counting for the commands' "your prompt was cut" warnings, with each model's
 * own CLIP tokenizer (read once per model folder). A process that cannot read a model's
 * tokenizer files (a bot whose machine does not hold the model weights) counts nothing for
 * that model: the warning is a courtesy, never a reason to refuse a job.
 */
import path from 'node:path';
import type { TokenCounter } from '../../commands/context.ts';
import { ClipTokenizer } from '../../worker/diffusion/index.ts';

export function tokenCounter(onUnavailable?: (modelName: string, err: unknown) => void): TokenCounter {
  const tokenizers = new Map<string, ClipTokenizer | null>();
  return (text, model) => {
    let tokenizer = tokenizers.get(model.dir);
    if (tokenizer === undefined) {
      try {
        tokenizer = ClipTokenizer.fromModelDir(path.join(model.dir, 'tokenizer'));
      } catch (err) {
        tokenizer = null;
        onUnavailable?.(model.name, err);
      }
      tokenizers.set(model.dir, tokenizer);
    }
    return tokenizer ? tokenizer.countTokens(text) : { count: 0, truncated: false };
  };
}
