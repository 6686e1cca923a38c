/**
 * What the alpha-indexed schedulers (DDIM, PNDM, LCM) share: alphas_cumprod looked up by
 * integer timestep, the value used past timestep 0, and DDPM's forward noising.
 *
 * Tensor arithmetic in these files follows diffusers' float32 torch expressions operation
 * by operation (Math.fround after each), so results track the reference to the last bits
 * instead of drifting through the many steps of a run.
 */
import { makeAlphasCumprod } from './betas.ts';
import type { ResolvedConfig } from './config.ts';
import { assertSameLength } from './validate.ts';

const f32 = Math.fround;

export class AlphaSchedule {
  readonly alphasCumprod: Float32Array;
  /** alphas_cumprod "before" timestep 0: 1, or alphas_cumprod[0] when set_alpha_to_one is false. */
  readonly finalAlphaCumprod: number;

  constructor(cfg: ResolvedConfig) {
    this.alphasCumprod = makeAlphasCumprod(cfg);
    this.finalAlphaCumprod = cfg.set_alpha_to_one ? 1 : this.alphasCumprod[0];
  }

  at(t: number, who: string): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.alphasCumprod.length) {
      throw new Error(`${who}: timestep ${t} is not an integer in [0, ${this.alphasCumprod.length})`);
    }
    return this.alphasCumprod[t];
  }

  /** alphas_cumprod at a step's target timestep, which may lie below 0. */
  prevAt(t: number, who: string): number {
    return t >= 0 ? this.at(t, who) : this.finalAlphaCumprod;
  }

  /** sqrt(ac) * x0 + sqrt(1 - ac) * noise at integer timestep `t`. */
  addNoise(x0: Float32Array, noise: Float32Array, t: number, who: string): Float32Array {
    assertSameLength(x0, noise, `${who}.addNoise`);
    const ac = this.at(t, `${who}.addNoise`);
    const a = f32(Math.sqrt(ac));
    const b = f32(Math.sqrt(f32(1 - ac)));
    const out = new Float32Array(x0.length);
    for (let i = 0; i < x0.length; i++) out[i] = f32(a * x0[i]) + f32(b * noise[i]);
    return out;
  }
}
