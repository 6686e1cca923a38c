/**
 * DDIM (Song et al. 2020) with eta = 0, as diffusers' DDIMScheduler: deterministic, each
 * step jumps from t to t - num_train_timesteps // N whatever the spacing. Arithmetic
 * mirrors the float32 torch expressions (see alpha-schedule.ts).
 */
import { AlphaSchedule } from './alpha-schedule.ts';
import type { ResolvedConfig } from './config.ts';
import { integerTimesteps } from './spacing.ts';
import type { Scheduler } from './types.ts';
import { assertSameLength, assertStepCount } from './validate.ts';
import { predictionKind, workBuffer, type Prediction } from './work-buffer.ts';
import { SamplerScratch } from '../kernels/sampler-scratch.ts';

const f32 = Math.fround;

export class DdimScheduler implements Scheduler {
  readonly name = 'ddim' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  timesteps: number[] = [];
  lastDenoised?: Float32Array;
  private readonly alphas: AlphaSchedule;
  private numInferenceSteps: number | null = null;
  private readonly prediction: Prediction;

  constructor(private readonly cfg: ResolvedConfig) {
    this.alphas = new AlphaSchedule(cfg);
    this.prediction = predictionKind(cfg.prediction_type);
  }

  setTimesteps(n: number): void {
    assertStepCount(n, this.cfg.num_train_timesteps, 'ddim');
    this.numInferenceSteps = n;
    this.timesteps = integerTimesteps(this.cfg.timestep_spacing, this.cfg.num_train_timesteps, n, this.cfg.steps_offset);
    this.lastDenoised = undefined;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  modelInputDivisor(): number {
    return 1;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    if (this.numInferenceSteps === null) throw new Error('ddim.step: call setTimesteps first');
    assertSameLength(modelOutput, sample, 'ddim.step');
    const prevT = t - Math.floor(this.cfg.num_train_timesteps / this.numInferenceSteps);
    const alphaT = this.alphas.at(t, 'ddim.step');
    const alphaPrev = this.alphas.prevAt(prevT, 'ddim.step');
    const sqrtA = f32(Math.sqrt(alphaT));
    const sqrtB = f32(Math.sqrt(f32(1 - alphaT)));
    const sqrtAPrev = f32(Math.sqrt(alphaPrev));
    // eta = 0: no variance term, all the remaining noise goes into the direction term
    const dirCoeff = f32(Math.sqrt(f32(1 - alphaPrev)));
    const clip = this.cfg.clip_sample ? this.cfg.clip_sample_range : Infinity;
    const x0s = (this.lastDenoised = workBuffer(this.lastDenoised, sample.length));
    // x0 by prediction type, clipped; eps stays the unclipped one (diffusers recomputes it only
    // with use_clipped_model_output); sample = sqrt(alpha_prev) x0 + sqrt(1 - alpha_prev) eps
    const k = SamplerScratch.of(sample.length);
    k.run.ddim(this.prediction, k.load(0, sample), k.load(1, modelOutput), k.at(2), k.count, sqrtA, sqrtB, sqrtAPrev, dirCoeff, clip);
    k.store(0, sample);
    k.store(2, x0s);
    return sample;
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    return this.alphas.addNoise(x0, noise, t, 'ddim');
  }
}
