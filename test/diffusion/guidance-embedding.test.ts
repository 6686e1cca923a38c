/** The LCM guidance embedding (timestep_cond): sin/cos of (guidance - 1) * 1000 times the frequencies, as diffusers. */
import { describe, expect, it } from 'vitest';
import { guidanceEmbedding } from '../../worker/diffusion/guidance-embedding.ts';

describe('guidance embedding (LCM timestep_cond)', () => {
  it('is sin/cos of (guidance - 1) * 1000 times the frequencies, as diffusers', () => {
    const dim = 8;
    const emb = guidanceEmbedding(8.5, dim);
    const w = 7.5 * 1000;
    for (let i = 0; i < 4; i++) {
      const freq = Math.exp((-Math.log(10000) / 3) * i);
      expect(emb[i]).toBeCloseTo(Math.sin(w * freq), 3);
      expect(emb[4 + i]).toBeCloseTo(Math.cos(w * freq), 3);
    }
    expect(Array.from(guidanceEmbedding(1, 4))).toEqual([0, 0, 1, 1]);
    // an odd size pads one zero at the end
    const odd = guidanceEmbedding(3, 5);
    expect(odd).toHaveLength(5);
    expect(odd[4]).toBe(0);
  });
});
