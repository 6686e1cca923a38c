/**
 * One CLIP text encoder run on one text: tokenize, run at batch 1, read the outputs the
 * model family conditions on. Each distinct text runs alone, so a prompt's embedding is
 * the same bytes whatever it is batched with.
 */
import type { ClipTokenizer } from './tokenizer/clip-tokenizer.ts';
import type { OnnxModel } from './sessions.ts';
import type { TextEncoderIO } from './model-contract.ts';

export interface EncodedText {
  /** [sequence, hidden] */
  hidden: Float32Array;
  /** the pooled projection, when the encoder has one the family reads */
  pooled?: Float32Array;
}

export class TextEncoder {
  constructor(
    private readonly model: OnnxModel,
    private readonly io: TextEncoderIO,
    readonly tokenizer: ClipTokenizer,
  ) {}

  async encode(text: string): Promise<EncodedText> {
    const ids = this.tokenizer.inputIds(text);
    const name = this.io.ids.name;
    const out = await this.model.run({ [name]: this.model.intTensor(name, ids, [1, ids.length]) });
    const hidden = this.model.floats(out[this.io.output.name]);
    return this.io.pooled ? { hidden, pooled: this.model.floats(out[this.io.pooled.name]) } : { hidden };
  }
}
