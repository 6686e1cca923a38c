/**
 * The samplers' kernels (sampler-kernels.wat) and the scratch they run in: a sampler copies its
 * step's inputs into scratch regions, runs one kernel over them and copies the results back
 * into its own buffers. A copy is a memcpy, a few microseconds for a 512 px latent, against the
 * per-value arithmetic the kernel saves; and the samplers keep their buffers and their contract
 * (Float32Arrays they own, stepping in place).
 */
import { KernelMemory, kernelModule } from './kernel-memory.ts';

export interface SamplerKernelExports {
  euler(kind: number, s: number, m: number, x0s: number, noise: number, hasNoise: number, n: number, sigma: number, dt: number, vIn: number, vSkip: number, sigmaUp: number): void;
  ddim(kind: number, s: number, m: number, x0s: number, n: number, sqrtA: number, sqrtB: number, sqrtAPrev: number, dirCoeff: number, clip: number): void;
  lcm(kind: number, s: number, m: number, denoised: number, noise: number, hasNoise: number, n: number, sqrtA: number, sqrtB: number, sqrtAPrev: number, sqrtBPrev: number, cSkip: number, cOut: number, clip: number): void;
  accumulate(acc: number, hasAcc: number, x: number, out: number, n: number, w: number): void;
  plms(order: number, e0: number, e1: number, e2: number, e3: number, out: number, n: number): void;
  pndmPrev(v: number, s: number, m: number, out: number, n: number, sampleCoeff: number, diff: number, denom: number, sqrtA: number, sqrtB: number): void;
  dpmX0(kind: number, s: number, m: number, out: number, n: number, alpha: number, sigmaT: number): void;
  dpmUpdate(second: number, plus: number, s: number, m0: number, m1: number, n: number, sampleCoeff: number, d0Coeff: number, d1Coeff: number, invR0: number): void;
}

/** Regions per scratch: the most one kernel call reads and writes (PNDM's four outputs and the result). */
const REGIONS = 6;

const samplerKernelModule = kernelModule(new URL('./sampler-kernels.wasm', import.meta.url));

export class SamplerScratch {
  readonly run: SamplerKernelExports;
  /** values per region: the latent's, rounded up to the kernels' four */
  readonly count: number;
  private readonly regions: Float32Array[];

  private constructor(readonly length: number) {
    this.count = Math.ceil(length / 4) * 4;
    const memory = new KernelMemory<SamplerKernelExports>(samplerKernelModule(), REGIONS * this.count * 4, REGIONS);
    this.run = memory.run;
    this.regions = Array.from({ length: REGIONS }, () => memory.float32(this.count));
  }

  /** Region i's address, after copying `values` into it. */
  load(i: number, values: Float32Array): number {
    this.regions[i].set(values);
    return this.regions[i].byteOffset;
  }

  /** Region i's address, for a kernel's output. */
  at(i: number): number {
    return this.regions[i].byteOffset;
  }

  /** Copies region i's first `into.length` values into `into`. */
  store(i: number, into: Float32Array): void {
    into.set(this.regions[i].subarray(0, into.length));
  }

  private static last: SamplerScratch | undefined;

  /**
   * The scratch for latents of `length` values. One per process, remade when the latent size
   * changes (a few hundred KB at 512 px): every sampler's step finishes before the next starts.
   */
  static of(length: number): SamplerScratch {
    if (SamplerScratch.last?.length !== length) SamplerScratch.last = new SamplerScratch(length);
    return SamplerScratch.last;
  }
}
