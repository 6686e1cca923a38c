/**
 * The UNet's per-step latent tensors without per-step garbage: the sample input is one
 * buffer reused while the batch shape stays, filled in one pass per item that scales
 * (scaleModelInput), converts (fp16) and writes both CFG halves; the predictions are read
 * in one pass per item that decodes (fp16, by arithmetic) and mixes the guidance into a buffer the
 * caller owns. This is the JavaScript on the critical path between two UNet calls, so
 * each latent value is touched as few times as possible.
 */
import * as ort from 'onnxruntime-node';
import { float32ToFloat16Into, halfValue } from './float16.ts';
import { readFloats } from './sessions.ts';

export interface NoisePredictions {
  /**
   * Item i's noise prediction. `guidance` given (CFG): uncond + guidance * (cond - uncond),
   * written into `into`. Without: the prediction itself, in `into` or a view of the output.
   * Valid until the next UNet call.
   */
  eps(i: number, guidance: number | undefined, into: Float32Array): Float32Array;
}

type SampleData = Float32Array | Uint16Array | Float64Array;

export class StepInput {
  readonly tensor: ort.Tensor;
  private readonly data: SampleData;
  /** one item's scaled latent as float32, for the fp16 conversion */
  private scratch?: Float32Array;

  constructor(
    readonly key: string,
    type: string,
    dims: readonly number[],
    private readonly label: string,
  ) {
    const size = dims.reduce((a, b) => a * b, 1);
    if (type === 'float32') this.data = new Float32Array(size);
    else if (type === 'float16') this.data = new Uint16Array(size);
    else if (type === 'float64') this.data = new Float64Array(size);
    else throw new Error(`${label}: input sample is ${type}, expected a float type`);
    this.tensor = new ort.Tensor(type as 'float32', this.data as Float32Array, dims);
  }

  /**
   * Writes latents[i] / divisors[i] for every item, twice (uncond half first) with `cfg`;
   * `extras[i]` (an inpainting UNet's mask and masked-image latents) follows item i's
   * latents unscaled.
   */
  fill(latents: Float32Array[], divisors: number[], cfg: boolean, extras?: Float32Array[]): void {
    const per = latents[0].length;
    const extra = extras ? extras[0].length : 0;
    const stride = per + extra;
    const second = cfg ? latents.length * stride : -1;
    const data = this.data;
    for (let i = 0; i < latents.length; i++) {
      const latent = latents[i];
      if (latent.length !== per) throw new Error(`latents of ${per} and ${latent.length} values in one batch`);
      const d = divisors[i];
      const at = i * stride;
      // x / 1 is x exactly: the samplers whose inputs are not scaled (DDIM, PNDM, DPM-Solver, LCM) skip a pass
      if (data instanceof Uint16Array) {
        float32ToFloat16Into(d === 1 ? latent : divided(latent, d, (this.scratch ??= new Float32Array(per))), data, at);
        if (extras) float32ToFloat16Into(extras[i], data, at + per);
      } else if (data instanceof Float32Array) {
        if (d === 1) data.set(latent, at);
        else for (let k = 0; k < per; k++) data[at + k] = latent[k] / d;
        if (extras) data.set(extras[i], at + per);
      } else {
        for (let k = 0; k < per; k++) data[at + k] = Math.fround(latent[k] / d);
        if (extras) data.set(extras[i], at + per);
      }
      if (second >= 0) data.copyWithin(second + at, at, at + stride);
    }
  }

  /** The predictions of a batch of `items` latents of `per` values run with or without CFG. */
  predictions(out: ort.Tensor, items: number, per: number, cfg: boolean): NoisePredictions {
    const half = out.type === 'float16' ? (out.data as unknown as Uint16Array) : undefined;
    const floats = half ? undefined : readFloats(out, this.label);
    return {
      eps(i, guidance, into) {
        const c0 = (cfg ? items + i : i) * per;
        if (!cfg || guidance === undefined) {
          if (floats) return floats.subarray(c0, c0 + per);
          for (let k = 0; k < per; k++) into[k] = halfValue(half![c0 + k]);
          return into;
        }
        const u0 = i * per;
        if (floats) {
          for (let k = 0; k < per; k++) {
            const u = floats[u0 + k];
            into[k] = u + guidance * (floats[c0 + k] - u);
          }
        } else {
          for (let k = 0; k < per; k++) {
            const u = halfValue(half![u0 + k]);
            into[k] = u + guidance * (halfValue(half![c0 + k]) - u);
          }
        }
        return into;
      },
    };
  }
}

/** `values / d` into `out`. */
function divided(values: Float32Array, d: number, out: Float32Array): Float32Array {
  for (let k = 0; k < values.length; k++) out[k] = values[k] / d;
  return out;
}
