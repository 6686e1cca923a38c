/**
 * One UNet run over a batch of latents. The tensors follow the session's metadata:
 * `timestep` as int64/int32 per batch item or a float/float16 scalar, float16 or float32
 * latents and hidden states, and `timestep_cond` for LCM-distilled UNets.
 */
import type * as ort from 'onnxruntime-node';
import type { OnnxModel } from './sessions.ts';
import { readFloats } from './sessions.ts';
import type { UNetIO } from './model-contract.ts';

/** The per-batch inputs that stay the same across steps (built once, not per step). */
export interface UNetBatch {
  size: number;
  hidden: ort.Tensor;
  cond?: ort.Tensor;
}

export class UNet {
  constructor(
    readonly model: OnnxModel,
    readonly io: UNetIO,
    readonly latentChannels: number,
    /** LCM's time_cond_proj_dim; 0 when the UNet takes no timestep_cond */
    readonly condDim: number,
  ) {}

  get takesGuidanceEmbedding(): boolean {
    return this.io.timestepCond !== undefined;
  }

  /** `hidden[i]` is item i's [sequence, dim] text states; `conds[i]` its guidance embedding (LCM). */
  prepare(hidden: Float32Array[], conds?: Float32Array[]): UNetBatch {
    const per = hidden[0].length;
    const all = new Float32Array(per * hidden.length);
    hidden.forEach((h, i) => {
      if (h.length !== per) throw new Error('text hidden states of one batch differ in size');
      all.set(h, i * per);
    });
    const seq = this.io.hidden.shape[1];
    const sequence = typeof seq === 'number' ? seq : 77;
    const batch: UNetBatch = {
      size: hidden.length,
      hidden: this.model.floatTensor(this.io.hidden.name, all, [hidden.length, sequence, per / sequence]),
    };
    if (this.io.timestepCond) {
      if (!conds || conds.length !== hidden.length) throw new Error(`${this.model.label} needs timestep_cond for every batch item`);
      const flat = new Float32Array(this.condDim * conds.length);
      conds.forEach((c, i) => flat.set(c, i * this.condDim));
      batch.cond = this.model.floatTensor(this.io.timestepCond.name, flat, [conds.length, this.condDim]);
    }
    return batch;
  }

  private timestepTensor(t: number, batch: number): ort.Tensor {
    const spec = this.io.timestep;
    const dims = this.io.timestepForm === 'batch' ? [batch] : this.io.timestepForm === 'single' ? [1] : [];
    const count = this.io.timestepForm === 'batch' ? batch : 1;
    if (spec.type === 'int64' || spec.type === 'int32') {
      // as diffusers' ONNX pipeline: np.array([t], dtype=int64) truncates a float timestep
      return this.model.intTensor(spec.name, new Array<number>(count).fill(Math.trunc(t)), dims);
    }
    const values = new Float32Array(count).fill(t);
    return this.model.floatTensor(spec.name, values, dims);
  }

  /** Noise predictions for each item, as views into one output buffer. */
  async predict(batch: UNetBatch, samples: Float32Array[], t: number, height: number, width: number): Promise<Float32Array[]> {
    const per = samples[0].length;
    const flat = new Float32Array(per * samples.length);
    samples.forEach((s, i) => flat.set(s, i * per));
    const feeds: Record<string, ort.Tensor> = {
      [this.io.sample.name]: this.model.floatTensor(this.io.sample.name, flat, [samples.length, this.latentChannels, height, width]),
      [this.io.timestep.name]: this.timestepTensor(t, samples.length),
      [this.io.hidden.name]: batch.hidden,
    };
    if (batch.cond && this.io.timestepCond) feeds[this.io.timestepCond.name] = batch.cond;
    const out = await this.model.run(feeds);
    const values = readFloats(out[this.io.output.name], this.model.label);
    if (values.length !== flat.length) {
      throw new Error(`${this.model.label}: ${this.io.output.name} has ${values.length} values, expected ${flat.length}`);
    }
    return samples.map((_, i) => values.subarray(i * per, (i + 1) * per));
  }
}

