/**
 * Prompt -> CLIP hidden states. Each distinct text runs through the encoder alone
 * (batch 1), so a prompt's embedding is the same bytes whatever it is batched with;
 * recent results are cached because variations and reseeds repeat the same prompts.
 */
import type { ClipTokenizer } from './tokenizer/clip-tokenizer.ts';
import type { OnnxModel } from './sessions.ts';
import { readFloats } from './sessions.ts';
import type { TextEncoderIO } from './model-contract.ts';

const CACHE_LIMIT = 64;

export class PromptEncoder {
  private readonly cache = new Map<string, Float32Array>();

  constructor(
    private readonly model: OnnxModel,
    private readonly io: TextEncoderIO,
    private readonly tokenizer: ClipTokenizer,
  ) {}

  /** Hidden states [sequence, hidden] of one text. */
  async encode(text: string): Promise<Float32Array> {
    const hit = this.cache.get(text);
    if (hit) {
      // re-insert: Map order is the LRU order
      this.cache.delete(text);
      this.cache.set(text, hit);
      return hit;
    }
    const ids = this.tokenizer.inputIds(text);
    const name = this.io.ids.name;
    const out = await this.model.run({ [name]: this.model.intTensor(name, ids, [1, ids.length]) });
    const hidden = readFloats(out[this.io.output.name], this.model.label);
    this.cache.set(text, hidden);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    return hidden;
  }
}
