/**
 * The `scheduler_config.json` fields the schedulers read, validated with zod, and each
 * diffusers class's constructor defaults for the fields a file leaves out.
 */
import { z } from 'zod';
import { SAMPLER_TABLE, type SchedulerName } from './table.ts';

const inf = (s: string): number => (s.startsWith('-') ? -Infinity : Infinity);

const schema = z.object({
  num_train_timesteps: z.number().int().positive().optional(),
  beta_start: z.number().positive().optional(),
  beta_end: z.number().positive().optional(),
  beta_schedule: z.enum(['linear', 'scaled_linear', 'squaredcos_cap_v2']).optional(),
  trained_betas: z.array(z.number()).nullable().optional(),
  steps_offset: z.number().int().nonnegative().optional(),
  set_alpha_to_one: z.boolean().optional(),
  timestep_spacing: z.enum(['leading', 'trailing', 'linspace']).optional(),
  prediction_type: z.enum(['epsilon', 'v_prediction', 'sample']).optional(),
  clip_sample: z.boolean().optional(),
  clip_sample_range: z.number().positive().optional(),
  skip_prk_steps: z.boolean().optional(),
  use_karras_sigmas: z.boolean().nullable().optional(),
  sigma_min: z.number().nullable().optional(),
  sigma_max: z.number().nullable().optional(),
  final_sigmas_type: z.enum(['zero', 'sigma_min']).optional(),
  interpolation_type: z.enum(['linear', 'log_linear']).optional(),
  timestep_type: z.enum(['discrete', 'continuous']).optional(),
  use_exponential_sigmas: z.boolean().optional(),
  use_beta_sigmas: z.boolean().optional(),
  use_lu_lambdas: z.boolean().optional(),
  solver_type: z.enum(['midpoint', 'heun']).optional(),
  lower_order_final: z.boolean().optional(),
  euler_at_final: z.boolean().optional(),
  // Python writes -inf as a string in these files
  lambda_min_clipped: z
    .union([z.number(), z.enum(['-inf', '-Infinity', 'inf', 'Infinity']).transform(inf)])
    .optional(),
  original_inference_steps: z.number().int().positive().optional(),
  timestep_scaling: z.number().optional(),
  thresholding: z.boolean().optional(),
  rescale_betas_zero_snr: z.boolean().optional(),
});

/** The fields of a diffusers `scheduler_config.json`; other keys (`_class_name`, ...) are ignored. */
export type SchedulerConfig = z.input<typeof schema> & Record<string, unknown>;

type Parsed = z.output<typeof schema>;

export interface ResolvedConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
  trained_betas: number[] | null;
  steps_offset: number;
  set_alpha_to_one: boolean;
  timestep_spacing: 'leading' | 'trailing' | 'linspace';
  prediction_type: 'epsilon' | 'v_prediction' | 'sample';
  clip_sample: boolean;
  clip_sample_range: number;
  skip_prk_steps: boolean;
  use_karras_sigmas: boolean;
  sigma_min: number | null;
  sigma_max: number | null;
  final_sigmas_type: 'zero' | 'sigma_min';
  solver_type: 'midpoint' | 'heun';
  lower_order_final: boolean;
  euler_at_final: boolean;
  lambda_min_clipped: number;
  original_inference_steps: number;
  timestep_scaling: number;
}

/** diffusers' defaults shared by DDIM, PNDM, Euler, Euler-ancestral and DPM-Solver. */
const COMMON: ResolvedConfig = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null,
  steps_offset: 0,
  set_alpha_to_one: true,
  timestep_spacing: 'leading',
  prediction_type: 'epsilon',
  clip_sample: false,
  clip_sample_range: 1,
  skip_prk_steps: false,
  use_karras_sigmas: false,
  sigma_min: null,
  sigma_max: null,
  final_sigmas_type: 'zero',
  solver_type: 'midpoint',
  lower_order_final: true,
  euler_at_final: false,
  lambda_min_clipped: -Infinity,
  original_inference_steps: 50,
  timestep_scaling: 10,
};

/** Features of the diffusers classes these schedulers do not implement: refuse them rather than differ silently. */
function rejectUnsupported(name: SchedulerName, p: Parsed): void {
  const unsupported: string[] = [];
  if (p.thresholding) unsupported.push('thresholding');
  if (p.rescale_betas_zero_snr) unsupported.push('rescale_betas_zero_snr');
  if (p.use_exponential_sigmas) unsupported.push('use_exponential_sigmas');
  if (p.use_beta_sigmas) unsupported.push('use_beta_sigmas');
  if (p.use_lu_lambdas) unsupported.push('use_lu_lambdas');
  if (p.interpolation_type === 'log_linear') unsupported.push('interpolation_type log_linear');
  if (p.timestep_type === 'continuous') unsupported.push('timestep_type continuous');
  if (unsupported.length > 0) {
    throw new Error(`scheduler ${name}: unsupported scheduler_config setting(s): ${unsupported.join(', ')}`);
  }
}

export function resolveConfig(name: SchedulerName, raw: unknown): ResolvedConfig {
  const result = schema.safeParse(raw ?? {});
  if (!result.success) {
    throw new Error(`scheduler ${name}: invalid scheduler config: ${z.prettifyError(result.error)}`);
  }
  const parsed = result.data;
  rejectUnsupported(name, parsed);
  const given = Object.fromEntries(
    Object.entries(parsed).filter(([key, value]) => value !== undefined && !(value === null && key === 'use_karras_sigmas')),
  ) as Partial<ResolvedConfig>;
  return { ...COMMON, ...SAMPLER_TABLE[name].classDefaults, ...given };
}
