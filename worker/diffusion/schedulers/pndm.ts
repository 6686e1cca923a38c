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

const PNDM_ORDER = 4;
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
  /** owned buffers reused across steps: what curSample and curModelOutput point at, the PLMS combination */
  private sampleCopy: Float32Array | null = null;
  private accumulated: Float32Array | null = null;
  private combined: Float32Array | null = null;

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
    this.prevSample(this.curSample ?? sample, fromT, prevT, output, sample);
    return sample;
  }

  /** acc + w * x as float32 torch computes it (acc null = the 0 it starts from), into the owned accumulator. */
  private accumulate(acc: Float32Array | null, x: Float32Array, w: number): Float32Array {
    const wf = f32(w);
    const out = (this.accumulated = workBuffer(this.accumulated, x.length));
    if (acc) for (let i = 0; i < x.length; i++) out[i] = acc[i] + f32(wf * x[i]);
    // 0 + keeps what the zero tensor it starts from gives: -0 becomes +0.
    else for (let i = 0; i < x.length; i++) out[i] = 0 + f32(wf * x[i]);
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
    let combined: Float32Array;
    if (n === 1 && this.counter === 0) {
      combined = modelOutput;
      this.curSample = this.copyOfSample(sample);
    } else if (n === 1 && this.counter === 1) {
      // (m + ets[-1]) / 2
      const [e0] = e;
      combined = this.combinedBuffer(modelOutput.length);
      for (let i = 0; i < combined.length; i++) combined[i] = f32(modelOutput[i] + e0[i]) / 2;
      if (!this.curSample) throw new Error('pndm.step: lost the sample of the first step');
      x = this.curSample;
      this.curSample = null;
    } else if (n === 2) {
      // (3 ets[-1] - ets[-2]) / 2
      const [e0, e1] = e;
      combined = this.combinedBuffer(e1.length);
      for (let i = 0; i < combined.length; i++) combined[i] = f32(f32(3 * e1[i]) - e0[i]) / 2;
    } else if (n === 3) {
      // (23 ets[-1] - 16 ets[-2] + 5 ets[-3]) / 12
      const [e0, e1, e2] = e;
      combined = this.combinedBuffer(e2.length);
      for (let i = 0; i < combined.length; i++) combined[i] = f32(f32(f32(23 * e2[i]) - f32(16 * e1[i])) + f32(5 * e0[i])) / 12;
    } else {
      // (1/24) (55 ets[-1] - 59 ets[-2] + 37 ets[-3] - 9 ets[-4])
      const w = f32(1 / 24);
      const [e0, e1, e2, e3] = e;
      combined = this.combinedBuffer(e3.length);
      for (let i = 0; i < combined.length; i++) {
        combined[i] = w * f32(f32(f32(f32(55 * e3[i]) - f32(59 * e2[i])) + f32(37 * e1[i])) - f32(9 * e0[i]));
      }
    }
    this.prevSample(x, fromT, prevT, combined, sample);
    return sample;
  }

  private combinedBuffer(length: number): Float32Array {
    this.combined = workBuffer(this.combined, length);
    return this.combined;
  }

  /** Formula (9) of the PNDM paper: x_t -> x_(t-δ) given the noise estimate, written into `out` (which may be `sample`). */
  private prevSample(sample: Float32Array, t: number, prevT: number, modelOutput: Float32Array, out: Float32Array): void {
    const alphaT = this.alphas.at(t, 'pndm.step');
    const alphaPrev = this.alphas.prevAt(prevT, 'pndm.step');
    const betaT = f32(1 - alphaT);
    const betaPrev = f32(1 - alphaPrev);
    const sampleCoeff = f32(Math.sqrt(f32(alphaPrev / alphaT)));
    const denom = f32(f32(alphaT * f32(Math.sqrt(betaPrev))) + f32(Math.sqrt(f32(f32(alphaT * betaT) * alphaPrev))));
    const diff = f32(alphaPrev - alphaT);
    const v = this.cfg.prediction_type === 'v_prediction';
    const sqrtA = f32(Math.sqrt(alphaT));
    const sqrtB = f32(Math.sqrt(betaT));
    for (let i = 0; i < sample.length; i++) {
      const eps = v ? f32(f32(sqrtA * modelOutput[i]) + f32(sqrtB * sample[i])) : modelOutput[i];
      out[i] = f32(sampleCoeff * sample[i]) - f32(f32(diff * eps) / denom);
    }
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    return this.alphas.addNoise(x0, noise, t, 'pndm');
  }
}
