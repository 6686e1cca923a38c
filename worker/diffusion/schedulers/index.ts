/**
 * Noise schedulers compatible with diffusers' (DDIM, PNDM, Euler, Euler ancestral,
 * DPM-Solver++ 2M with and without Karras sigmas, LCM), configured from a model's
 * `scheduler/scheduler_config.json`.
 */
import { resolveConfig, type SchedulerConfig } from './config.ts';
import { SAMPLER_TABLE, SCHEDULER_NAMES, isSchedulerName, type SchedulerName } from './table.ts';
import type { Scheduler } from './types.ts';

export { SCHEDULER_NAMES, isSchedulerName, samplerLabel, samplerFromLabel } from './table.ts';
export type { SchedulerName, SamplerRow } from './table.ts';
export type { Scheduler, StepOptions } from './types.ts';
export type { SchedulerConfig } from './config.ts';

/**
 * A scheduler of kind `name` for a model whose scheduler_config.json is `config` (checked at
 * run time, so a freshly parsed file can be passed as is); fields the file leaves out take
 * the defaults of the corresponding diffusers class (see table.ts).
 */
export function createScheduler(
  name: SchedulerName,
  config: SchedulerConfig | Readonly<Record<string, unknown>> = {},
): Scheduler {
  if (!isSchedulerName(name)) {
    throw new Error(`unknown scheduler "${String(name)}"; expected one of ${SCHEDULER_NAMES.join(', ')}`);
  }
  return SAMPLER_TABLE[name].create(resolveConfig(name, config));
}

export interface Img2ImgTimesteps {
  /** The timesteps the img2img loop runs over. */
  timesteps: number[];
  /** The timestep the init image latent is noised to (timesteps[0]). */
  latentTimestep: number;
  /** How many of the `steps` scheduled steps are skipped. */
  tStart: number;
}

/**
 * StableDiffusionImg2ImgPipeline's timestep selection: schedule `steps` steps, then keep the
 * last `strength` fraction of them (and tell the scheduler where it starts). PNDM keeps
 * one more timestep than that because it lists N+1.
 */
export function img2imgTimesteps(scheduler: Scheduler, steps: number, strength: number): Img2ImgTimesteps {
  if (!(strength >= 0 && strength <= 1)) throw new Error(`img2img strength must be in [0, 1], got ${strength}`);
  scheduler.setTimesteps(steps);
  const initTimestep = Math.min(Math.trunc(steps * strength), steps);
  const tStart = Math.max(steps - initTimestep, 0);
  const timesteps = scheduler.timesteps.slice(tStart * scheduler.order);
  if (timesteps.length === 0 || initTimestep === 0) {
    throw new Error(`img2img with strength ${strength} and ${steps} steps would run no denoising step`);
  }
  scheduler.setBeginIndex?.(tStart * scheduler.order);
  return { timesteps, latentTimestep: timesteps[0], tStart };
}
