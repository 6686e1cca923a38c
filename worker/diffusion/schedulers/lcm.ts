/**
 * Latent Consistency Model sampling as diffusers' LCMScheduler: timesteps picked from the
 * 50-step distillation schedule, each step maps the sample to a denoised estimate through
 * the consistency boundary scalings and re-noises it to the next timestep (except at the
 * last one). steps_offset and timestep_spacing play no part.
 */
import { AlphaSchedule } from './alpha-schedule.ts';
import type { ResolvedConfig } from './config.ts';
import { stepNoise } from './noise.ts';
import { numpyLinspace } from './spacing.ts';
import { StepCursor } from './step-index.ts';
import type { Scheduler, StepOptions } from './types.ts';
import { assertSameLength, assertStepCount } from './validate.ts';
import { predictionKind, workBuffer, type Prediction } from './work-buffer.ts';
import { SamplerScratch } from '../kernels/sampler-scratch.ts';

const f32 = Math.fround;
const SIGMA_DATA = 0.5;

export class LcmScheduler implements Scheduler {
  readonly name = 'lcm' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  timesteps: number[] = [];
  /** Each step's `denoised` output; the LCM pipeline decodes the last one. */
  lastDenoised?: Float32Array;
  private readonly alphas: AlphaSchedule;
  private readonly cursor = new StepCursor();
  private numInferenceSteps: number | null = null;
  private readonly prediction: Prediction;

  constructor(private readonly cfg: ResolvedConfig) {
    if (cfg.original_inference_steps > cfg.num_train_timesteps) {
      throw new Error(`lcm: original_inference_steps ${cfg.original_inference_steps} exceeds num_train_timesteps`);
    }
    this.alphas = new AlphaSchedule(cfg);
    this.prediction = predictionKind(cfg.prediction_type);
  }

  setTimesteps(n: number): void {
    assertStepCount(n, this.cfg.num_train_timesteps, 'lcm');
    const original = this.cfg.original_inference_steps;
    if (n > original) throw new Error(`lcm.setTimesteps(${n}): at most original_inference_steps (${original}) steps`);
    const k = Math.floor(this.cfg.num_train_timesteps / original);
    // the distillation schedule k-1, 2k-1, ..., original*k - 1, walked from the top
    const origin = Array.from({ length: original }, (_, i) => (i + 1) * k - 1).reverse();
    const indices = numpyLinspace(0, origin.length, n, false).map(Math.floor);
    this.timesteps = indices.map((i) => origin[i]);
    this.numInferenceSteps = n;
    this.cursor.reset();
    this.lastDenoised = undefined;
  }

  setBeginIndex(i: number): void {
    this.cursor.setBegin(i, this.timesteps.length, 'lcm');
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  modelInputDivisor(): number {
    return 1;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts?: StepOptions): Float32Array {
    if (this.numInferenceSteps === null) throw new Error('lcm.step: call setTimesteps first');
    assertSameLength(modelOutput, sample, 'lcm.step');
    const i = this.cursor.current(this.timesteps, t, 'throw', 'lcm.step');
    // the last step returns the denoised sample itself, so one-step sampling needs no noise
    const isLast = i === this.numInferenceSteps - 1;
    const noise = isLast ? null : stepNoise(sample.length, opts, 'lcm');
    const prevT = i + 1 < this.timesteps.length ? this.timesteps[i + 1] : t;

    const alphaT = this.alphas.at(t, 'lcm.step');
    const alphaPrev = this.alphas.prevAt(prevT, 'lcm.step');
    const sqrtA = f32(Math.sqrt(alphaT));
    const sqrtB = f32(Math.sqrt(f32(1 - alphaT)));
    const sqrtAPrev = f32(Math.sqrt(alphaPrev));
    const sqrtBPrev = f32(Math.sqrt(f32(1 - alphaPrev)));

    // consistency-model boundary condition: c_skip -> 1, c_out -> 0 as t -> 0
    const scaled = f32(t * this.cfg.timestep_scaling);
    const scaledSq = f32(f32(scaled * scaled) + SIGMA_DATA ** 2);
    const cSkip = f32(SIGMA_DATA ** 2 / scaledSq);
    const cOut = f32(scaled / f32(Math.sqrt(scaledSq)));
    const clip = this.cfg.clip_sample ? this.cfg.clip_sample_range : Infinity;

    const denoised = (this.lastDenoised = workBuffer(this.lastDenoised, sample.length));
    // the denoised estimate through the consistency boundary into `denoised`, re-noised to the
    // next timestep (or, with no noise on the last step, the estimate itself) into `sample`
    const k = SamplerScratch.of(sample.length);
    const noiseAt = noise ? k.load(2, noise) : 0;
    k.run.lcm(this.prediction, k.load(0, sample), k.load(1, modelOutput), k.at(3), noiseAt, noise ? 1 : 0, k.count, sqrtA, sqrtB, sqrtAPrev, sqrtBPrev, cSkip, cOut, clip);
    k.store(0, sample);
    k.store(3, denoised);
    this.cursor.advance();
    return sample;
  }

  /** diffusers' LatentConsistencyModelPipeline decodes `denoised`, not the re-noised sample. */
  finalSample(sample: Float32Array): Float32Array {
    return this.lastDenoised ?? sample;
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    return this.alphas.addNoise(x0, noise, t, 'lcm');
  }
}
