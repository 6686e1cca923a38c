/**
 * The UNet's per-step latent tensors without per-step garbage: the sample input is one
 * buffer reused while the batch shape stays, filled per item in one kernel pass that scales
 * (scaleModelInput) and converts (fp16), then copied into the second CFG half; the
 * predictions are read per item in one kernel pass that decodes (fp16) and mixes the guidance,
 * into a buffer the caller owns. This is the JavaScript on the critical path between two UNet
 * calls, so the value loops are the WebAssembly SIMD kernels of kernels/step-kernels.wat
 * (float64 inputs, which no export we know of uses, keep a scalar loop). Each kernel handles
 * a multiple of four values; the few left over go through the scalar conversions here.
 */
import * as ort from 'onnxruntime-node';
import { halfValue, toHalfBits } from './float16.ts';
import { readFloats } from './sessions.ts';
import { kernelCount, type KernelMemory } from './kernels/kernel-memory.ts';
import { stepKernels, type StepKernelExports } from './kernels/step-kernels.ts';

export interface NoisePredictions {
  /**
   * Item i's noise prediction. `guidance` given (CFG): uncond + guidance * (cond - uncond),
   * written into `into`. Without: the prediction itself, in `into` or a view of the output.
   * Valid until the next UNet call.
   */
  eps(i: number, guidance: number | undefined, into: Float32Array): Float32Array;
}

/** The regions of the kernels' memory one UNet input shape uses. */
interface Regions {
  kernels: KernelMemory<StepKernelExports>;
  /** one item's latents (or inpainting extras) on their way into the input */
  staging: Float32Array;
  /** the UNet's output, copied in for the kernels (as its floats, or its half bits) */
  outFloats: Float32Array;
  outHalves: Uint16Array;
  /** one item's guided prediction */
  eps: Float32Array;
}

export class StepInput {
  readonly tensor: ort.Tensor;
  private readonly data: Float32Array | Uint16Array | Float64Array;
  /** absent for a float64 input, which takes the scalar loop */
  private readonly regions?: Regions;

  constructor(
    readonly key: string,
    type: string,
    dims: readonly number[],
    private readonly label: string,
  ) {
    const size = dims.reduce((a, b) => a * b, 1);
    // one item's values: its latents and any inpainting extras
    const stride = size / dims[0];
    if (type === 'float32' || type === 'float16') {
      const inputBytes = size * (type === 'float32' ? 4 : 2);
      // staging and eps hold one item; the output, read as float32 or as half bits, the batch
      const kernels = stepKernels(inputBytes + 4 * stride + 4 * size + 2 * size + 4 * stride, 5);
      this.data = type === 'float32' ? kernels.float32(size) : kernels.uint16(size);
      this.regions = {
        kernels,
        staging: kernels.float32(stride),
        outFloats: kernels.float32(size),
        outHalves: kernels.uint16(size),
        eps: kernels.float32(stride),
      };
    } else if (type === 'float64') {
      this.data = new Float64Array(size);
    } else {
      throw new Error(`${label}: input sample is ${type}, expected a float type`);
    }
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
      const at = i * stride;
      this.write(latent, divisors[i], at);
      if (extras) this.write(extras[i], 1, at + per);
      if (second >= 0) data.copyWithin(second + at, at, at + stride);
    }
  }

  /** values / d into the input from `at`. */
  private write(values: Float32Array, d: number, at: number): void {
    const data = this.data;
    const r = this.regions;
    const n = values.length;
    // what the kernels wrote; the rest (all of it without them) takes the scalar conversions
    let done = 0;
    // the kernels divide in float32, which is the same as dividing a float32 value in float64
    // and rounding only when d is itself a float32 value (every scheduler's divisor is)
    if (r && Math.fround(d) === d) {
      // x / 1 is x exactly: the samplers whose inputs are not scaled (DDIM, PNDM, DPM-Solver, LCM) copy
      if (data instanceof Float32Array && d === 1) return data.set(values, at);
      done = kernelCount(n);
      r.staging.set(values);
      if (data instanceof Float32Array) r.kernels.run.divide(r.staging.byteOffset, data.byteOffset + 4 * at, done, d);
      else r.kernels.run.toHalf(r.staging.byteOffset, data.byteOffset + 2 * at, done, d);
    }
    if (data instanceof Uint16Array) for (let k = done; k < n; k++) data[at + k] = toHalfBits(values[k] / d);
    else for (let k = done; k < n; k++) data[at + k] = Math.fround(values[k] / d);
  }

  /** The predictions of a batch of `items` latents of `per` values run with or without CFG. */
  predictions(out: ort.Tensor, items: number, per: number, cfg: boolean): NoisePredictions {
    const r = this.regions;
    const half = out.type === 'float16' ? (out.data as unknown as Uint16Array) : undefined;
    if (!r) {
      const floats = readFloats(out, this.label);
      return { eps: (i, guidance, into) => guidedScalar(floats, items, per, cfg, i, guidance, into) };
    }
    // copied into the kernels' memory: a memcpy, against a pass of arithmetic per value saved
    if (half) r.outHalves.set(half);
    const floats = half ? undefined : readFloats(out, this.label);
    if (floats) r.outFloats.set(floats);
    const main = kernelCount(per);
    const run = r.kernels.run;
    const eps = r.eps.subarray(0, per);
    return {
      eps(i, guidance, into) {
        const c0 = (cfg ? items + i : i) * per;
        if (!cfg || guidance === undefined) {
          if (floats) return floats.subarray(c0, c0 + per);
          run.fromHalf(r.outHalves.byteOffset + 2 * c0, eps.byteOffset, main);
          for (let k = main; k < per; k++) eps[k] = halfValue(half![c0 + k]);
        } else {
          const u0 = i * per;
          if (floats) run.guide(r.outFloats.byteOffset + 4 * u0, r.outFloats.byteOffset + 4 * c0, eps.byteOffset, main, guidance);
          else run.guideHalf(r.outHalves.byteOffset + 2 * u0, r.outHalves.byteOffset + 2 * c0, eps.byteOffset, main, guidance);
          for (let k = main; k < per; k++) {
            eps[k] = guided(floats ? floats[u0 + k] : halfValue(half![u0 + k]), floats ? floats[c0 + k] : halfValue(half![c0 + k]), guidance);
          }
        }
        into.set(eps);
        return into;
      },
    };
  }
}

/** The scalar form of eps() over float32 predictions (a float64 input's path). */
function guidedScalar(floats: Float32Array, items: number, per: number, cfg: boolean, i: number, guidance: number | undefined, into: Float32Array): Float32Array {
  const c0 = (cfg ? items + i : i) * per;
  if (!cfg || guidance === undefined) return floats.subarray(c0, c0 + per);
  const u0 = i * per;
  for (let k = 0; k < per; k++) into[k] = guided(floats[u0 + k], floats[c0 + k], guidance);
  return into;
}

/** Classifier-free guidance of one value, in float64 (the kernels' guide does the same, rounded once on store). */
const guided = (u: number, c: number, g: number) => u + g * (c - u);

/**
 * The UNet's timestep input, one tensor reused from step to step with its value rewritten, as
 * the sample input is, written as diffusers' ONNX pipeline writes it.
 */
export class TimestepInput {
  private readonly data: BigInt64Array | Int32Array | Float32Array | Uint16Array | Float64Array;

  /** `tensor`: the session's timestep input as OnnxModel.intTensor or floatTensor built it. */
  constructor(readonly tensor: ort.Tensor) {
    this.data = tensor.data as TimestepInput['data'];
  }

  set(t: number): void {
    const data = this.data;
    // an integer timestep truncates a float one, as np.array([t], dtype=int64) does; a float
    // one is the float32 value (in half bits for fp16)
    if (data instanceof BigInt64Array) data.fill(BigInt(Math.trunc(t)));
    else if (data instanceof Int32Array) data.fill(Math.trunc(t));
    else if (data instanceof Uint16Array) data.fill(toHalfBits(t));
    else data.fill(Math.fround(t));
  }
}
