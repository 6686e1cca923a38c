/**
 * PNDM (Liu et al. 2022) as diffusers' PNDMScheduler: linear multistep (PLMS) over a
 * history of up to four model outputs, warmed up either by Runge–Kutta (PRK) steps or,
 * with skip_prk_steps (what Stable Diffusion configs set), by repeating the second
 * timestep and averaging the first two outputs.
 */
import { AlphaSchedule } from './alpha-schedule.ts';
import type { ResolvedConfig } from './config.ts';
import { integerTimesteps } from './spacing.ts';
import type { Scheduler } from './types.ts';
import { assertSameLength, assertStepCount } from './validate.ts';
import { workBuffer } from './work-buffer.ts';
import { SamplerScratch } from '../kernels/sampler-scratch.ts';

const PNDM_ORDER = 4;
/** Scratch regions of a step: 0-3 the outputs combined (then formula (9)'s result), the noise estimate, the sample. */
const PREDICTION = 4;
const SAMPLE = 5;
const f32 = Math.fround;

export class PndmScheduler implements Scheduler {
  readonly name = 'pndm' as const;
  readonly order = 1;
  readonly initNoiseSigma = 1;
  timesteps: number[] = [];
  private readonly alphas: AlphaSchedule;
  private numInferenceSteps: number | null = null;
  private prkCount = 0;
  private ets: Float32Array[] = [];
  private counter = 0;
  private curModelOutput: Float32Array | null = null;
  private curSample: Float32Array | null = null;
  /** owned buffers reused across steps: what curSample and curModelOutput point at */
  private sampleCopy: Float32Array | null = null;
  private accumulated: Float32Array | null = null;

  constructor(private readonly cfg: ResolvedConfig) {
    if (cfg.prediction_type === 'sample') throw new Error('pndm: prediction_type sample is not supported (nor by diffusers)');
    this.alphas = new AlphaSchedule(cfg);
  }

  private get ratio(): number {
    return Math.floor(this.cfg.num_train_timesteps / (this.numInferenceSteps ?? 1));
  }

  setTimesteps(n: number): void {
    assertStepCount(n, this.cfg.num_train_timesteps, 'pndm');
    this.numInferenceSteps = n;
    const ascending = integerTimesteps(this.cfg.timestep_spacing, this.cfg.num_train_timesteps, n, this.cfg.steps_offset).reverse();
    let prk: number[] = [];
    let plms: number[];
    if (this.cfg.skip_prk_steps) {
      // the second timestep is listed twice: its second visit completes the first PLMS step
      plms = [...ascending.slice(0, -1), ...ascending.slice(-2, -1), ...ascending.slice(-1)].reverse();
    } else {
      if (n < PNDM_ORDER) throw new Error(`pndm: PRK warm-up needs at least ${PNDM_ORDER} steps, got ${n}`);
      const half = Math.floor(this.ratio / 2);
      const pairs = ascending.slice(-PNDM_ORDER).flatMap((t) => [t, t + half]);
      const repeated = pairs.slice(0, -1).flatMap((t) => [t, t]);
      prk = repeated.slice(1, -1).reverse();
      plms = ascending.slice(0, -3).reverse();
    }
    this.prkCount = prk.length;
    this.timesteps = [...prk, ...plms];
    this.ets = [];
    this.counter = 0;
    this.curModelOutput = null;
    this.curSample = null;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  modelInputDivisor(): number {
    return 1;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    if (this.numInferenceSteps === null) throw new Error('pndm.step: call setTimesteps first');
    assertSameLength(modelOutput, sample, 'pndm.step');
    const out = this.counter < this.prkCount && !this.cfg.skip_prk_steps
      ? this.stepPrk(modelOutput, t, sample)
      : this.stepPlms(modelOutput, t, sample);
    this.counter += 1;
    return out;
  }

  /** One of the four evaluations of a Runge–Kutta step (weights 1/6, 1/3, 1/3, 1/6). */
  private stepPrk(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(this.ratio / 2);
    const prevT = t - diffToPrev;
    const fromT = this.timesteps[Math.floor(this.counter / 4) * 4];
    let output = modelOutput;
    switch (this.counter % 4) {
      case 0:
        this.curModelOutput = this.accumulate(null, modelOutput, 1 / 6);
        // copies: the history outlives this call, the caller's buffers do not (see Scheduler.step)
        this.pushEts(modelOutput);
        this.curSample = this.copyOfSample(sample);
        break;
      case 1:
      case 2:
        this.curModelOutput = this.accumulate(this.curModelOutput, modelOutput, 1 / 3);
        break;
      case 3:
        output = this.accumulate(this.curModelOutput, modelOutput, 1 / 6);
        this.curModelOutput = null;
        break;
    }
    const k = SamplerScratch.of(sample.length);
    this.prevSample(k, this.curSample ?? sample, fromT, prevT, k.load(PREDICTION, output), sample);
    return sample;
  }

  /** acc + w * x as float32 torch computes it (acc null = the 0 it starts from), into the owned accumulator. */
  private accumulate(acc: Float32Array | null, x: Float32Array, w: number): Float32Array {
    const out = (this.accumulated = workBuffer(this.accumulated, x.length));
    const k = SamplerScratch.of(x.length);
    k.run.accumulate(acc ? k.load(0, acc) : 0, acc ? 1 : 0, k.load(1, x), k.at(2), k.count, f32(w));
    k.store(2, out);
    return out;
  }

  /** Appends a copy of the model output to the history, keeping the last four (a dropped slot is reused). */
  private pushEts(modelOutput: Float32Array): void {
    const slot = workBuffer(this.ets.length > 3 ? this.ets.shift() : null, modelOutput.length);
    slot.set(modelOutput);
    this.ets.push(slot);
  }

  private copyOfSample(sample: Float32Array): Float32Array {
    this.sampleCopy = workBuffer(this.sampleCopy, sample.length);
    this.sampleCopy.set(sample);
    return this.sampleCopy;
  }

  private stepPlms(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    if (!this.cfg.skip_prk_steps && this.ets.length < 3) {
      throw new Error('pndm.step: PLMS needs the 3 PRK warm-up steps first');
    }
    let fromT = t;
    let prevT = t - this.ratio;
    if (this.counter !== 1) {
      this.pushEts(modelOutput);
    } else {
      // second visit of the repeated timestep: step again from the previous timestep
      prevT = t;
      fromT = t + this.ratio;
    }
    const e = this.ets;
    const n = e.length;
    let x = sample;
    // the noise estimate goes into the scratch's PREDICTION region, where formula (9) reads it
    const k = SamplerScratch.of(sample.length);
    if (n === 1 && this.counter === 0) {
      k.load(PREDICTION, modelOutput);
      this.curSample = this.copyOfSample(sample);
    } else {
      // the repeated timestep's second visit: (m + ets[-1]) / 2, stepping again from its sample;
      // else the linear multistep combination of the last n outputs (oldest first)
      const outputs = n === 1 ? [modelOutput, e[0]] : e;
      const at = [0, 1, 2, 3].map((i) => (i < outputs.length ? k.load(i, outputs[i]) : 0));
      k.run.plms(n === 1 ? 1 : n, at[0], at[1], at[2], at[3], k.at(PREDICTION), k.count);
      if (n === 1) {
        if (!this.curSample) throw new Error('pndm.step: lost the sample of the first step');
        x = this.curSample;
        this.curSample = null;
      }
    }
    this.prevSample(k, x, fromT, prevT, k.at(PREDICTION), sample);
    return sample;
  }

  /**
   * Formula (9) of the PNDM paper: x_t -> x_(t-δ) given the noise estimate at `predictionAt` in
   * the scratch `k`, written into `out` (which may be `sample`).
   */
  private prevSample(k: SamplerScratch, sample: Float32Array, t: number, prevT: number, predictionAt: number, out: Float32Array): void {
    const alphaT = this.alphas.at(t, 'pndm.step');
    const alphaPrev = this.alphas.prevAt(prevT, 'pndm.step');
    const betaT = f32(1 - alphaT);
    const betaPrev = f32(1 - alphaPrev);
    const sampleCoeff = f32(Math.sqrt(f32(alphaPrev / alphaT)));
    const denom = f32(f32(alphaT * f32(Math.sqrt(betaPrev))) + f32(Math.sqrt(f32(f32(alphaT * betaT) * alphaPrev))));
    const diff = f32(alphaPrev - alphaT);
    const v = this.cfg.prediction_type === 'v_prediction' ? 1 : 0;
    k.run.pndmPrev(v, k.load(SAMPLE, sample), predictionAt, k.at(0), k.count, sampleCoeff, diff, denom, f32(Math.sqrt(alphaT)), f32(Math.sqrt(betaT)));
    k.store(0, out);
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    return this.alphas.addNoise(x0, noise, t, 'pndm');
  }
}
