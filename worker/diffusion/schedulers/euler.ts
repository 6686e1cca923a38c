/**
 * Euler (Karras et al. 2022, Algorithm 2 without churn) as diffusers' EulerDiscreteScheduler:
 * deterministic first-order steps in sigma, float32 timesteps, optional Karras sigmas.
 */
import type { ResolvedConfig } from './config.ts';
import { eulerStep, SigmaScheduler } from './sigma-scheduler.ts';
import type { Scheduler } from './types.ts';
import { assertSameLength } from './validate.ts';

const f32 = Math.fround;

export class EulerScheduler extends SigmaScheduler implements Scheduler {
  readonly name = 'euler' as const;
  protected readonly supportsSigmaOptions = true;

  constructor(cfg: ResolvedConfig) {
    super(cfg);
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    assertSameLength(modelOutput, sample, 'euler.step');
    const i = this.currentIndex(t, 'step');
    // s_churn = 0, so sigma_hat = sigma and no noise is added
    const sigma = this.sigmas[i];
    const dt = f32(this.sigmas[i + 1] - sigma);
    const [vIn, vSkip] = SigmaScheduler.vCoefficients(sigma);
    eulerStep(this.prediction, modelOutput, sample, this.denoisedBuffer(sample.length), sigma, dt, vIn, vSkip, null);
    this.cursor.advance();
    return sample;
  }
}
