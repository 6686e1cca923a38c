/**
 * What the k-diffusion style schedulers of diffusers (EulerDiscrete, EulerAncestralDiscrete)
 * share: a float32 sigma per listed timestep, model inputs scaled by 1/sqrt(sigma²+1),
 * noising as x0 + sigma * noise, and a step index that set_begin_index can preset.
 */
import { makeAlphasCumprod, sigmasFromAlphasCumprod } from './betas.ts';
import type { ResolvedConfig } from './config.ts';
import { eulerTimesteps, interpolate, karrasSigmas, logTable, sigmaToTimestep } from './spacing.ts';
import { StepCursor } from './step-index.ts';
import type { SchedulerName } from './types.ts';
import { assertSameLength, assertStepCount } from './validate.ts';
import { predictionKind, workBuffer, type Prediction } from './work-buffer.ts';
import { SamplerScratch } from '../kernels/sampler-scratch.ts';

const f32 = Math.fround;

export abstract class SigmaScheduler {
  abstract readonly name: SchedulerName;
  readonly order = 1;
  timesteps: number[] = [];
  sigmas: number[] = [];
  lastDenoised?: Float32Array;
  /** sqrt((1 - ac) / ac) per training timestep (float32). */
  protected readonly sigmaTable: Float32Array;
  protected readonly cursor = new StepCursor();
  protected readonly prediction: Prediction;

  constructor(protected readonly cfg: ResolvedConfig) {
    this.sigmaTable = sigmasFromAlphasCumprod(makeAlphasCumprod(cfg));
    this.prediction = predictionKind(cfg.prediction_type);
  }

  /** The buffer this step's x0 estimates go into, which lastDenoised then shows. */
  protected denoisedBuffer(length: number): Float32Array {
    this.lastDenoised = workBuffer(this.lastDenoised, length);
    return this.lastDenoised;
  }

  /** Whether this class honours use_karras_sigmas and final_sigmas_type (Euler does, Euler a does not). */
  protected abstract readonly supportsSigmaOptions: boolean;

  setTimesteps(n: number): void {
    assertStepCount(n, this.cfg.num_train_timesteps, this.name);
    let timesteps = eulerTimesteps(this.cfg.timestep_spacing, this.cfg.num_train_timesteps, n, this.cfg.steps_offset);
    let sigmas = timesteps.map((t) => interpolate(t, this.sigmaTable));
    let last = 0;
    if (this.supportsSigmaOptions) {
      if (this.cfg.use_karras_sigmas) {
        sigmas = karrasSigmas(this.cfg.sigma_min ?? sigmas[sigmas.length - 1], this.cfg.sigma_max ?? sigmas[0], n);
        const logSigmas = logTable(this.sigmaTable);
        timesteps = sigmas.map((s) => f32(sigmaToTimestep(s, logSigmas)));
      }
      if (this.cfg.final_sigmas_type === 'sigma_min') last = this.sigmaTable[0];
    }
    this.timesteps = timesteps;
    this.sigmas = [...sigmas, last].map(f32);
    this.cursor.reset();
    this.lastDenoised = undefined;
  }

  /** The initial latent's standard deviation: the largest sigma (sqrt(sigma²+1) for leading spacing). */
  get initNoiseSigma(): number {
    const sigmas = this.sigmas.length > 0 ? this.sigmas : Array.from(this.sigmaTable);
    const max = sigmas.reduce((a, b) => Math.max(a, b), 0);
    if (this.cfg.timestep_spacing === 'linspace' || this.cfg.timestep_spacing === 'trailing') return max;
    return f32(Math.sqrt(f32(f32(max * max) + 1)));
  }

  setBeginIndex(i: number): void {
    this.cursor.setBegin(i, this.timesteps.length, this.name);
  }

  protected currentIndex(t: number, who: string): number {
    if (this.timesteps.length === 0) throw new Error(`${this.name}.${who}: call setTimesteps first`);
    return this.cursor.current(this.timesteps, t, 'throw', `${this.name}.${who}`);
  }

  modelInputDivisor(t: number): number {
    const sigma = this.sigmas[this.currentIndex(t, 'scaleModelInput')];
    return f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
  }

  scaleModelInput(sample: Float32Array, t: number): Float32Array {
    const denom = this.modelInputDivisor(t);
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) out[i] = sample[i] / denom;
    return out;
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    assertSameLength(x0, noise, `${this.name}.addNoise`);
    const sigma = this.sigmas[this.cursor.noiseIndex(this.timesteps, t, 'throw', `${this.name}.addNoise`)];
    const out = new Float32Array(x0.length);
    for (let i = 0; i < x0.length; i++) out[i] = x0[i] + f32(noise[i] * sigma);
    return out;
  }

  /** The two v-prediction coefficients of predictX0 for one sigma. */
  protected static vCoefficients(sigma: number): [number, number] {
    const s2p1 = f32(f32(sigma * sigma) + 1);
    return [f32(-sigma / f32(Math.sqrt(s2p1))), s2p1];
  }
}

/**
 * One Euler step over every value, in place: x0 into `x0s`, then sample + (sample - x0) / sigma * dt,
 * plus `ancestral.noise * sigmaUp` for Euler ancestral (the `euler` kernel).
 */
export function eulerStep(
  kind: Prediction,
  modelOutput: Float32Array,
  sample: Float32Array,
  x0s: Float32Array,
  sigma: number,
  dt: number,
  vIn: number,
  vSkip: number,
  ancestral: { noise: Float32Array; sigmaUp: number } | null,
): void {
  const k = SamplerScratch.of(sample.length);
  const noise = ancestral ? k.load(2, ancestral.noise) : 0;
  k.run.euler(kind, k.load(0, sample), k.load(1, modelOutput), k.at(3), noise, ancestral ? 1 : 0, k.count, sigma, dt, vIn, vSkip, ancestral?.sigmaUp ?? 0);
  k.store(0, sample);
  k.store(3, x0s);
}
