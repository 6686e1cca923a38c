import type { SeededRandom } from '../random.ts';

export type { SchedulerName } from './table.ts';

export interface StepOptions {
  /** The random noise an ancestral step injects, one value per sample element. */
  noise?: Float32Array;
  /** Where to draw that noise from when `noise` is not given. */
  generator?: SeededRandom;
}

/**
 * A diffusers-compatible noise scheduler over flat float32 latents (NCHW, any batch size:
 * every operation is elementwise). Stateful like diffusers': `setTimesteps` resets it.
 */
export interface Scheduler {
  /** the sampler name (a key of the sampler table) */
  readonly name: string;
  setTimesteps(n: number): void;
  /** The loop's timesteps; float32 kinds hold Math.fround values. */
  timesteps: number[];
  /** len(timesteps) + 1 noise levels, the last the final one (Euler and DPM-Solver kinds). */
  sigmas?: number[];
  initNoiseSigma: number;
  order: number;
  scaleModelInput(sample: Float32Array, t: number): Float32Array;
  /**
   * What scaleModelInput divides every value by at timestep `t` (1: it passes the sample
   * through), so a caller can fuse the scaling into its own copy of the sample.
   */
  modelInputDivisor(t: number): number;
  /**
   * One denoising step from timestep `t`, in place: `sample` is overwritten with the previous
   * (less noisy) sample and returned. It keeps no reference to `modelOutput` after returning
   * (callers reuse that buffer every step); a caller that still needs the noisier sample
   * copies it first.
   */
  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts?: StepOptions): Float32Array;
  /** Forward-noises a clean sample to timestep `t`. */
  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array;
  /** Where the loop starts in `timesteps` (img2img), for schedulers that track a step index. */
  setBeginIndex?(i: number): void;
  /** The clean-sample estimate of the last step (LCM: its `denoised` output), in a buffer the next step reuses. */
  lastDenoised?: Float32Array;
  /**
   * What the pipeline decodes once the loop is over, when that is not the last step's
   * sample: LCM's pipeline returns the last step's denoised estimate. Absent: the sample.
   */
  finalSample?(sample: Float32Array): Float32Array;
}
