/** float16 conversion: known values, round-to-nearest-even across every exponent, and every half value surviving a round trip. */
import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16, float32ToFloat16Into, fromHalfBits, halfValue, toHalfBits } from '../../worker/diffusion/float16.ts';

describe('float16', () => {
  it('converts known values with round-to-nearest-even', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff],
      [65520, 0x7c00], // rounds up to infinity
      [Infinity, 0x7c00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // a tie: rounds to even (zero)
      [3 * 2 ** -25, 0x0002], // a tie between 1 and 2 subnormal units: rounds to even
      [1 + 2 ** -11, 0x3c00], // a tie between 1 and the next half: rounds to even
      [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [value, bits] of cases) expect(toHalfBits(value), String(value)).toBe(bits);
    expect(toHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(toHalfBits(NaN) & 0x3ff).not.toBe(0);
  });

  it('float32 -> half agrees with the nearest half (ties to even) across every exponent and the rounding boundaries', () => {
    // independent reference: the finite halves in value order, searched for the nearest
    const finite = Array.from({ length: 0x7c00 }, (_, h) => h); // +0 .. 65504, increasing
    const nearest = (v: number): number => {
      const a = Math.abs(v);
      const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
      if (Number.isNaN(v)) return -1;
      if (a >= 65520) return sign | 0x7c00;
      let lo = 0;
      let hi = finite.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (fromHalfBits(mid) <= a) lo = mid;
        else hi = mid;
      }
      const dLo = a - fromHalfBits(lo);
      const dHi = fromHalfBits(hi) - a;
      const h = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
      return sign | h;
    };
    const mantissas = [0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x5000, 0x7fe000, 0x7fefff, 0x7ff000, 0x7fffff];
    const bits: number[] = [];
    for (let exp = 0; exp < 255; exp++) for (const m of mantissas) for (const sign of [0, 0x80000000]) bits.push((sign | (exp << 23) | m) >>> 0);
    const values = new Float32Array(new Uint32Array(bits).buffer);
    const half = float32ToFloat16(values);
    values.forEach((v, i) => {
      const want = nearest(v);
      expect(half[i], `${v} (float bits 0x${bits[i].toString(16)})`).toBe(want);
      expect(toHalfBits(v), String(v)).toBe(want);
    });
  });

  it('a block of normal values only (one pass, no fix-ups) converts as the reference does, at an offset', () => {
    const values = new Float32Array(4096).map((_, i) => (i % 2 ? -1 : 1) * (0.001 + i * 3.7));
    const out = new Uint16Array(4096 + 7);
    float32ToFloat16Into(values, out, 7);
    expect(Array.from(out.subarray(7))).toEqual(Array.from(values, toHalfBits));
    expect(Array.from(out.subarray(0, 7))).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('halfValue gives every half bit pattern the value the decode table does (signed zeros, subnormals, Inf, NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = halfValue(h);
      const want = fromHalfBits(h);
      if (Number.isNaN(want)) expect(v, `0x${h.toString(16)}`).toBeNaN();
      else if (!Object.is(v, want)) throw new Error(`half 0x${h.toString(16)}: ${v}, expected ${want}`);
    }
  });

  it('every half value survives half -> float32 -> half', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = float32ToFloat16(float16ToFloat32(all));
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(fromHalfBits(h))) continue;
      if (back[h] !== h) throw new Error(`half 0x${h.toString(16)} came back as 0x${back[h].toString(16)}`);
    }
  });
});
