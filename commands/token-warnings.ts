/** Prompts past the model's token window are accepted; the user is told what gets ignored. */
import type { ModelInfo } from '../src/models.ts';
import type { CommandWarning, TokenCounter } from './context.ts';
import { quoteForMessage } from './prompt-lexer.ts';

export function tokenWarnings(prompt: string, negativePrompt: string, model: ModelInfo, count: TokenCounter): CommandWarning[] {
  const warnings: CommandWarning[] = [];
  const check = (text: string, code: CommandWarning['code'], what: string) => {
    if (!text) return;
    const tokens = count(text, model);
    if (!tokens.truncated) return;
    const dropped = tokens.droppedText ? `, so ${quoteForMessage(tokens.droppedText)} is ignored` : '; the rest is ignored';
    warnings.push({ code, message: `${what} is ${tokens.count} tokens long; the model reads the first ${model.maxTokens}${dropped}.` });
  };
  check(prompt, 'prompt-truncated', 'The prompt');
  check(negativePrompt, 'negative-truncated', 'The --no text');
  return warnings;
}
