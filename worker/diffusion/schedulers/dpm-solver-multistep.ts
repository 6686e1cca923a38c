/**
 * DPM-Solver++ 2M (Lu et al. 2022) as diffusers' DPMSolverMultistepScheduler with
 * algorithm_type dpmsolver++ and solver_order 2: the model output is turned into an x0
 * estimate, and each step extrapolates from the last two estimates in log-SNR (lambda).
 * The first step, and the last (final sigma 0, or fewer than 15 steps), are first order.
 * `karras` selects Karras sigmas, with integer timesteps rounded from them.
 */
import { makeAlphasCumprod, sigmasFromAlphasCumprod } from './betas.ts';
import type { ResolvedConfig } from './config.ts';
import { dpmSolverTimesteps, interpolate, karrasSigmas, logTable, roundHalfEven, sigmaToTimestep } from './spacing.ts';
import { StepCursor } from './step-index.ts';
import type { Scheduler } from './types.ts';
import { assertSameLength, assertStepCount } from './validate.ts';
import { predictionKind, workBuffer, type Prediction } from './work-buffer.ts';
import { SamplerScratch } from '../kernels/sampler-scratch.ts';

const f32 = Math.fround;
const SOLVER_ORDER = 2;

/** The VP-SDE coefficients of a sigma: alpha = 1/sqrt(sigma²+1), sigma_t = sigma·alpha, lambda = log(alpha/sigma_t). */
function alphaSigma(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const alpha = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  const sigmaT = f32(sigma * alpha);
  return { alpha, sigmaT, lambda: f32(f32(Math.log(alpha)) - f32(Math.log(sigmaT))) };
}

export class DpmSolverMultistepScheduler implements Scheduler {
  readonly order = 1;
  readonly initNoiseSigma = 1;
  timesteps: number[] = [];
  sigmas: number[] = [];
  lastDenoised?: Float32Array;
  private readonly sigmaTable: Float32Array;
  private readonly lastTimestep: number;
  private readonly cursor = new StepCursor();
  /** The x0 estimates of the previous and the current step. */
  private modelOutputs: (Float32Array | null)[] = [null, null];
  private lowerOrderNums = 0;
  private readonly prediction: Prediction;

  constructor(
    readonly name: 'dpmpp_2m' | 'dpmpp_2m_karras',
    private readonly cfg: ResolvedConfig,
  ) {
    this.prediction = predictionKind(cfg.prediction_type);
    const alphasCumprod = makeAlphasCumprod(cfg);
    this.sigmaTable = sigmasFromAlphasCumprod(alphasCumprod);
    // lambda_min_clipped cuts the noisiest end off the schedule (numerical stability for cosine schedules)
    let clipped = 0;
    for (const ac of alphasCumprod) {
      const lambda = f32(f32(Math.log(f32(Math.sqrt(ac)))) - f32(Math.log(f32(Math.sqrt(f32(1 - ac))))));
      if (lambda < cfg.lambda_min_clipped) clipped++;
    }
    this.lastTimestep = cfg.num_train_timesteps - clipped;
  }

  setTimesteps(n: number): void {
    assertStepCount(n, this.cfg.num_train_timesteps, this.name);
    let timesteps: number[];
    let sigmas: number[];
    if (this.cfg.use_karras_sigmas) {
      const table = this.sigmaTable;
      // the whole training range; DPMSolverMultistepScheduler has no sigma_min/sigma_max settings
      sigmas = karrasSigmas(table[0], table[table.length - 1], n);
      const logSigmas = logTable(table);
      timesteps = sigmas.map((s) => roundHalfEven(sigmaToTimestep(s, logSigmas)));
    } else {
      timesteps = dpmSolverTimesteps(
        this.cfg.timestep_spacing,
        this.cfg.num_train_timesteps,
        this.lastTimestep,
        n,
        this.cfg.steps_offset,
      );
      sigmas = timesteps.map((t) => interpolate(t, this.sigmaTable));
    }
    const last = this.cfg.final_sigmas_type === 'sigma_min' ? this.sigmaTable[0] : 0;
    this.timesteps = timesteps;
    this.sigmas = [...sigmas, last].map(f32);
    this.modelOutputs = [null, null];
    this.lowerOrderNums = 0;
    this.cursor.reset();
    this.lastDenoised = undefined;
  }

  setBeginIndex(i: number): void {
    this.cursor.setBegin(i, this.timesteps.length, this.name);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  modelInputDivisor(): number {
    return 1;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    assertSameLength(modelOutput, sample, `${this.name}.step`);
    if (this.timesteps.length === 0) throw new Error(`${this.name}.step: call setTimesteps first`);
    const i = this.cursor.current(this.timesteps, t, 'last', `${this.name}.step`);
    const count = this.timesteps.length;
    const lowerOrderFinal =
      i === count - 1 &&
      (this.cfg.euler_at_final || (this.cfg.lower_order_final && count < 15) || this.cfg.final_sigmas_type === 'zero');

    // two x0 buffers take turns: this step's estimate overwrites the one from two steps back
    const x0 = this.toX0(modelOutput, sample, this.sigmas[i], workBuffer(this.modelOutputs[0], sample.length));
    this.modelOutputs = [this.modelOutputs[1], x0];
    this.lastDenoised = x0;

    if (this.lowerOrderNums < 1 || lowerOrderFinal) this.firstOrder(x0, sample, i);
    else this.secondOrder(sample, i);
    if (this.lowerOrderNums < SOLVER_ORDER) this.lowerOrderNums += 1;
    this.cursor.advance();
    return sample;
  }

  /** convert_model_output for dpmsolver++: the data (x0) prediction, written into `out`. */
  private toX0(modelOutput: Float32Array, sample: Float32Array, sigma: number, out: Float32Array): Float32Array {
    if (this.prediction === 2) {
      out.set(modelOutput);
      return out;
    }
    const { alpha, sigmaT } = alphaSigma(sigma);
    // epsilon: (x - sigma_t m) / alpha; v_prediction: alpha x - sigma_t m
    const k = SamplerScratch.of(sample.length);
    k.run.dpmX0(this.prediction, k.load(0, sample), k.load(1, modelOutput), k.at(2), k.count, alpha, sigmaT);
    k.store(2, out);
    return out;
  }

  /** DPM-Solver++ first order (DDIM in lambda), in place. */
  private firstOrder(x0: Float32Array, sample: Float32Array, i: number): void {
    const t = alphaSigma(this.sigmas[i + 1]);
    const s = alphaSigma(this.sigmas[i]);
    const h = f32(t.lambda - s.lambda);
    const sampleCoeff = f32(t.sigmaT / s.sigmaT);
    const x0Coeff = f32(t.alpha * f32(f32(Math.exp(-h)) - 1));
    // sampleCoeff x - x0Coeff x0
    const k = SamplerScratch.of(sample.length);
    k.run.dpmUpdate(0, 0, k.load(0, sample), k.load(1, x0), 0, k.count, sampleCoeff, x0Coeff, 0, 0);
    k.store(0, sample);
  }

  /** Multistep DPM-Solver++ second order from the last two x0 estimates, in place. */
  private secondOrder(sample: Float32Array, i: number): void {
    const [m1, m0] = this.modelOutputs;
    if (!m0 || !m1) throw new Error(`${this.name}.step: second-order step without two model outputs`);
    const t = alphaSigma(this.sigmas[i + 1]);
    const s0 = alphaSigma(this.sigmas[i]);
    const s1 = alphaSigma(this.sigmas[i - 1]);
    const h = f32(t.lambda - s0.lambda);
    const h0 = f32(s0.lambda - s1.lambda);
    const r0 = f32(h0 / h);
    const invR0 = f32(1 / r0);
    const sampleCoeff = f32(t.sigmaT / s0.sigmaT);
    const expm1 = f32(f32(Math.exp(-h)) - 1);
    const d0Coeff = f32(t.alpha * expm1);
    const midpoint = this.cfg.solver_type === 'midpoint';
    // midpoint: - 0.5 * alpha_t (e^-h - 1) * D1; heun: + alpha_t ((e^-h - 1) / h + 1) * D1
    const d1Coeff = midpoint ? f32(0.5 * d0Coeff) : f32(t.alpha * f32(f32(expm1 / h) + 1));
    // (sampleCoeff x - d0Coeff m0) -/+ d1Coeff D1, D1 = (m0 - m1) / r0
    const k = SamplerScratch.of(sample.length);
    k.run.dpmUpdate(1, midpoint ? 0 : 1, k.load(0, sample), k.load(1, m0), k.load(2, m1), k.count, sampleCoeff, d0Coeff, d1Coeff, invR0);
    k.store(0, sample);
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    assertSameLength(x0, noise, `${this.name}.addNoise`);
    const { alpha, sigmaT } = alphaSigma(this.sigmas[this.cursor.noiseIndex(this.timesteps, t, 'last', `${this.name}.addNoise`)]);
    const out = new Float32Array(x0.length);
    for (let k = 0; k < x0.length; k++) out[k] = f32(alpha * x0[k]) + f32(sigmaT * noise[k]);
    return out;
  }
}
