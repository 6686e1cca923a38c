/**
 * The training noise schedule (betas, alphas_cumprod) every scheduler derives from.
 *
 * diffusers builds these as float32 torch tensors, and later values (sigmas, Karras
 * timesteps, integer timestep rounding) inherit that rounding. So the arithmetic here
 * mirrors torch's float32 operations with Math.fround after each one instead of working
 * in float64: the tables come out bit-identical to diffusers' own.
 */
const f32 = Math.fround;

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

export interface BetaScheduleConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: BetaSchedule;
  trained_betas: number[] | null;
}

/**
 * torch.linspace(start, end, steps, dtype=float32) as its x86 CPU kernel computes it: lanes
 * of 8, each lane `base + k*step` with one fused multiply-add, where the lane group's base
 * is taken from `start` in the first half and from `end` in the second half; a tail shorter
 * than 8 goes through the scalar formula. The products here (float32 times a small
 * integer) and the sums stay exact in float64, so one Math.fround is the fused rounding.
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  const s = f32(start);
  const e = f32(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const scalarAt = (idx: number) => (idx < halfway ? f32(s + step * idx) : f32(e - step * (steps - idx - 1)));
  const LANES = 8;
  const vectorEnd = steps - (steps % LANES);
  for (let group = 0; group < vectorEnd; group += LANES) {
    const base = scalarAt(group);
    for (let k = 0; k < LANES; k++) out[group + k] = f32(base + step * k);
  }
  for (let idx = vectorEnd; idx < steps; idx++) out[idx] = scalarAt(idx);
  return out;
}

/** diffusers' betas_for_alpha_bar with the cosine transform (squaredcos_cap_v2), max_beta 0.999. */
function cosineBetas(n: number): Float32Array {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
  }
  return out;
}

export function makeBetas(cfg: BetaScheduleConfig): Float32Array {
  const n = cfg.num_train_timesteps;
  if (cfg.trained_betas) {
    if (cfg.trained_betas.length !== n) {
      throw new Error(`trained_betas has ${cfg.trained_betas.length} values, num_train_timesteps is ${n}`);
    }
    return Float32Array.from(cfg.trained_betas);
  }
  switch (cfg.beta_schedule) {
    case 'linear':
      return torchLinspaceF32(cfg.beta_start, cfg.beta_end, n);
    case 'scaled_linear': {
      // "scaled_linear" is linear in sqrt(beta), the latent-diffusion schedule
      const roots = torchLinspaceF32(Math.sqrt(cfg.beta_start), Math.sqrt(cfg.beta_end), n);
      return roots.map((r) => f32(r * r));
    }
    case 'squaredcos_cap_v2':
      return cosineBetas(n);
  }
}

/** cumprod(1 - betas): torch's CPU cumprod accumulates in double and stores float32. */
export function alphasCumprodFromBetas(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i]);
    out[i] = acc;
  }
  return out;
}

export function makeAlphasCumprod(cfg: BetaScheduleConfig): Float32Array {
  return alphasCumprodFromBetas(makeBetas(cfg));
}

/** sqrt((1 - ac) / ac) per training timestep, as the float32 tensor expression computes it. */
export function sigmasFromAlphasCumprod(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((ac) => f32(Math.sqrt(f32(f32(1 - ac) / ac))));
}
