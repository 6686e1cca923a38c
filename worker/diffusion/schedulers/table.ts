/**
 * Every sampler the product offers, in one table: its name (what users type and jobs
 * carry), the label other SD tools write in a PNG's parameters (A1111's spelling), the
 * diffusers class whose constructor defaults fill what a scheduler_config.json leaves
 * out, and how to build it. Adding a sampler is one scheduler file, one row here and its
 * name in src/samplers.ts (which config validation, the job schema and `--sampler` read);
 * the table is typed over those names, so a name without a row does not compile.
 */
import type { SamplerName } from '../../../src/samplers.ts';
import type { ResolvedConfig } from './config.ts';
import { DdimScheduler } from './ddim.ts';
import { DpmSolverMultistepScheduler } from './dpm-solver-multistep.ts';
import { EulerAncestralScheduler } from './euler-ancestral.ts';
import { EulerScheduler } from './euler.ts';
import { LcmScheduler } from './lcm.ts';
import { PndmScheduler } from './pndm.ts';
import type { Scheduler } from './types.ts';

export interface SamplerRow {
  /** written in PNG parameters as A1111 does, and read back from them */
  label: string;
  /** the diffusers class this sampler reproduces */
  diffusersClass: string;
  /** that class's constructor defaults where they differ from the shared ones (config.ts COMMON) */
  classDefaults: Partial<ResolvedConfig>;
  create(cfg: ResolvedConfig): Scheduler;
}

const SIGMA_SPACING: Partial<ResolvedConfig> = { timestep_spacing: 'linspace' };

export const SAMPLER_TABLE = {
  ddim: {
    label: 'DDIM',
    diffusersClass: 'DDIMScheduler',
    classDefaults: { clip_sample: true, set_alpha_to_one: true, timestep_spacing: 'leading' },
    create: (cfg) => new DdimScheduler(cfg),
  },
  pndm: {
    label: 'PLMS',
    diffusersClass: 'PNDMScheduler',
    classDefaults: { set_alpha_to_one: false, skip_prk_steps: false, timestep_spacing: 'leading' },
    create: (cfg) => new PndmScheduler(cfg),
  },
  euler: {
    label: 'Euler',
    diffusersClass: 'EulerDiscreteScheduler',
    classDefaults: SIGMA_SPACING,
    create: (cfg) => new EulerScheduler(cfg),
  },
  euler_a: {
    label: 'Euler a',
    diffusersClass: 'EulerAncestralDiscreteScheduler',
    classDefaults: SIGMA_SPACING,
    create: (cfg) => new EulerAncestralScheduler(cfg),
  },
  // the DPM-Solver names fix the algorithm (dpmsolver++, order 2) and whether sigmas are Karras'
  dpmpp_2m: {
    label: 'DPM++ 2M',
    diffusersClass: 'DPMSolverMultistepScheduler',
    classDefaults: SIGMA_SPACING,
    create: (cfg) => new DpmSolverMultistepScheduler('dpmpp_2m', { ...cfg, use_karras_sigmas: false }),
  },
  dpmpp_2m_karras: {
    label: 'DPM++ 2M Karras',
    diffusersClass: 'DPMSolverMultistepScheduler',
    classDefaults: SIGMA_SPACING,
    create: (cfg) => new DpmSolverMultistepScheduler('dpmpp_2m_karras', { ...cfg, use_karras_sigmas: true }),
  },
  lcm: {
    label: 'LCM',
    diffusersClass: 'LCMScheduler',
    classDefaults: { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', set_alpha_to_one: true, timestep_spacing: 'leading' },
    create: (cfg) => new LcmScheduler(cfg),
  },
} as const satisfies Record<SamplerName, SamplerRow>;

export type SchedulerName = keyof typeof SAMPLER_TABLE;

/** The names in table order (the first is no default: models declare theirs). */
export const SCHEDULER_NAMES = Object.keys(SAMPLER_TABLE) as [SchedulerName, ...SchedulerName[]];

export function isSchedulerName(name: string): name is SchedulerName {
  return Object.hasOwn(SAMPLER_TABLE, name);
}

export function samplerRow(name: SchedulerName): SamplerRow {
  return SAMPLER_TABLE[name];
}

/** A1111's label for a sampler name; an unknown name is written as is. */
export function samplerLabel(name: string): string {
  return isSchedulerName(name) ? SAMPLER_TABLE[name].label : name;
}

/** The sampler name for a label read from PNG parameters; an unknown label comes back as is. */
export function samplerFromLabel(label: string): string {
  return SCHEDULER_NAMES.find((name) => SAMPLER_TABLE[name].label === label) ?? label;
}
