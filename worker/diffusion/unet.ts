/**
 * One UNet run over a batch of latents. The tensors follow the session's metadata:
 * `timestep` as int64/int32 per batch item or a float/float16 scalar, float16 or float32
 * latents, and whatever per-image conditioning the model family feeds (hidden states,
 * SDXL's text_embeds and time_ids, LCM's timestep_cond), stacked on the batch axis.
 */
import type * as ort from 'onnxruntime-node';
import type { OnnxModel, ValueSpec } from './sessions.ts';
import type { UNetIO } from './model-contract.ts';
import type { Conditioning } from './families/types.ts';
import { StepInput, TimestepInput, type NoisePredictions } from './step-tensors.ts';

interface StepFeeds {
  batch: UNetBatch;
  input: StepInput;
  timestep: TimestepInput;
  feeds: Record<string, ort.Tensor>;
}

/** The per-batch inputs that stay the same across steps (built once, not per step). */
export interface UNetBatch {
  size: number;
  inputs: Record<string, ort.Tensor>;
}

export class UNet {
  constructor(
    readonly model: OnnxModel,
    readonly io: UNetIO,
    readonly latentChannels: number,
    /** LCM's time_cond_proj_dim; 0 when the UNet takes no timestep_cond */
    readonly condDim: number,
    /** an inpainting UNet's mask and masked-image latent channels after the latents (0: an ordinary UNet) */
    readonly inpaintChannels = 0,
  ) {}

  /** Fed the mask and the masked image's latents beside the latents (a 9-channel SD inpainting UNet). */
  get isInpainting(): boolean {
    return this.inpaintChannels > 0;
  }

  get takesGuidanceEmbedding(): boolean {
    return this.io.timestepCond !== undefined;
  }

  /** One image's dims of a conditioning input: [sequence, width] for rank 3, [width] for rank 2. */
  private itemDims(spec: ValueSpec, length: number): number[] {
    if (spec.shape.length !== 3) return [length];
    const seq = typeof spec.shape[1] === 'number' ? spec.shape[1] : 77;
    return [seq, length / seq];
  }

  /** `items[i]` is batch item i's conditioning; every input the UNet takes must be in each. */
  prepare(items: Conditioning[]): UNetBatch {
    const inputs: Record<string, ort.Tensor> = {};
    for (const spec of this.io.conditioning) {
      const first = items[0][spec.name];
      if (!first) throw new Error(`${this.model.label}: no value for input ${spec.name} (the model family did not provide it)`);
      const per = first.length;
      const all = new Float32Array(per * items.length);
      items.forEach((item, i) => {
        const value = item[spec.name];
        if (!value) throw new Error(`${this.model.label} needs ${spec.name} for every batch item`);
        if (value.length !== per) throw new Error(`${this.model.label}: ${spec.name} differs in size within one batch`);
        all.set(value, i * per);
      });
      inputs[spec.name] = this.model.floatTensor(spec.name, all, [items.length, ...this.itemDims(spec, per)]);
    }
    return { size: items.length, inputs };
  }

  /**
   * Noise predictions for each latent. `latents[i] / divisors[i]` is item i's model input
   * (the scheduler's scaleModelInput, fused here with the batch copy and any fp16
   * conversion); with `cfg` every item goes in twice, unconditional half first. The input
   * tensor is reused from step to step, so a step allocates no latent-sized input.
   * `inpaint[i]` (an inpainting UNet only): item i's mask and masked-image latents, which go
   * in unscaled after its latents.
   */
  async predict(
    batch: UNetBatch,
    latents: Float32Array[],
    divisors: number[],
    cfg: boolean,
    t: number,
    height: number,
    width: number,
    inpaint?: Float32Array[],
  ): Promise<NoisePredictions> {
    const count = cfg ? 2 * latents.length : latents.length;
    if (this.isInpainting) {
      const plane = height * width;
      if (!inpaint || inpaint.some((x) => x.length !== this.inpaintChannels * plane)) {
        throw new Error(`${this.model.label} is an inpainting UNet: every image needs a mask and masked-image latents (${this.inpaintChannels} channels of ${width}x${height})`);
      }
    } else if (inpaint) {
      throw new Error(`${this.model.label} takes no mask channels`);
    }
    const dims = [count, this.latentChannels + this.inpaintChannels, height, width];
    const key = dims.join('x');
    if (this.input?.key !== key) this.input = new StepInput(key, this.model.input(this.io.sample.name).type, dims, this.model.label);
    this.input.fill(latents, divisors, cfg, inpaint);
    const step = this.stepFeeds(batch, this.input, count);
    step.timestep.set(t);
    const out = (await this.model.run(step.feeds))[this.io.output.name];
    const expected = count * latents[0].length;
    if (out.size !== expected) {
      throw new Error(`${this.model.label}: ${this.io.output.name} has ${out.size} values, expected ${expected}`);
    }
    return this.input.predictions(out, latents.length, latents[0].length, cfg);
  }

  /**
   * The feeds of a step of `batch` with `input`: built once while both stay, only the sample's
   * and the timestep's values rewritten each step (a step allocates no tensor).
   */
  private stepFeeds(batch: UNetBatch, input: StepInput, count: number): StepFeeds {
    if (this.feeds?.batch === batch && this.feeds.input === input) return this.feeds;
    const spec = this.io.timestep;
    const form = this.io.timestepForm;
    const dims = form === 'batch' ? [count] : form === 'single' ? [1] : [];
    const values = form === 'batch' ? count : 1;
    const integer = spec.type === 'int64' || spec.type === 'int32';
    const timestep = new TimestepInput(integer ? this.model.intTensor(spec.name, new Array<number>(values).fill(0), dims) : this.model.floatTensor(spec.name, new Float32Array(values), dims));
    const feeds = { [this.io.sample.name]: input.tensor, [spec.name]: timestep.tensor, ...batch.inputs };
    this.feeds = { batch, input, timestep, feeds };
    return this.feeds;
  }

  /** the sample tensor of the last step's batch shape, reused while the shape stays */
  private input?: StepInput;
  private feeds?: StepFeeds;
}
