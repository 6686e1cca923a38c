/**
 * Euler ancestral as diffusers' EulerAncestralDiscreteScheduler: an Euler step down to
 * sigma_down, then fresh noise of size sigma_up, drawn on every step (also the last, where
 * sigma_up is 0, so that a seed consumes the same noise whatever the step count).
 */
import type { ResolvedConfig } from './config.ts';
import { stepNoise } from './noise.ts';
import { eulerStep, SigmaScheduler } from './sigma-scheduler.ts';
import type { Scheduler, StepOptions } from './types.ts';
import { assertSameLength } from './validate.ts';

const f32 = Math.fround;

export class EulerAncestralScheduler extends SigmaScheduler implements Scheduler {
  readonly name = 'euler_a' as const;
  protected readonly supportsSigmaOptions = false;

  constructor(cfg: ResolvedConfig) {
    if (cfg.prediction_type === 'sample') throw new Error('euler_a: prediction_type sample is not supported (nor by diffusers)');
    super(cfg);
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts?: StepOptions): Float32Array {
    assertSameLength(modelOutput, sample, 'euler_a.step');
    const i = this.currentIndex(t, 'step');
    const noise = stepNoise(sample.length, opts, 'euler_a');
    const sigmaFrom = this.sigmas[i];
    const sigmaTo = this.sigmas[i + 1];
    const from2 = f32(sigmaFrom * sigmaFrom);
    const to2 = f32(sigmaTo * sigmaTo);
    const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
    const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
    const dt = f32(sigmaDown - sigmaFrom);
    const [vIn, vSkip] = SigmaScheduler.vCoefficients(sigmaFrom);
    eulerStep(this.prediction, modelOutput, sample, this.denoisedBuffer(sample.length), sigmaFrom, dt, vIn, vSkip, { noise, sigmaUp });
    this.cursor.advance();
    return sample;
  }
}
