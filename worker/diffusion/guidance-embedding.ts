/**
 * The guidance-scale embedding LCM-distilled UNets take as `timestep_cond`, as diffusers'
 * `get_guidance_scale_embedding`: sinusoidal features of w * 1000 where w = guidance - 1.
 */
export function guidanceEmbedding(guidance: number, dim: number): Float32Array {
  const w = (guidance - 1) * 1000;
  const half = Math.floor(dim / 2);
  const out = new Float32Array(dim); // odd dim: the last entry stays 0 (diffusers pads)
  const step = Math.log(10000) / (half - 1);
  for (let i = 0; i < half; i++) {
    // diffusers computes the frequencies in float32; fround keeps the same inputs to sin/cos
    const freq = Math.fround(Math.exp(-step * i));
    const arg = Math.fround(w * freq);
    out[i] = Math.sin(arg);
    out[half + i] = Math.cos(arg);
  }
  return out;
}
