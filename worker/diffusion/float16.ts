/**
 * IEEE 754 half-precision conversion for fp16 ONNX models.
 *
 * Node 20 has no Float16Array, so onnxruntime-node 1.30 takes and returns 'float16'
 * tensors as Uint16Array holding the raw half bits; newer runtimes may hand back a
 * Float16Array instead, which `float16ToFloat32` also accepts.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round-to-nearest-even float32 -> float16 bits (what numpy's astype(float16) does). */
export function toHalfBits(value: number): number {
  f32[0] = value;
  return fastBitsToHalf(u32[0]);
}

/** float32 bits -> half bits; the branchy reference the fast path below must agree with. */
function bitsToHalf(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflows to signed zero
    mant |= 0x800000; // make the implicit bit explicit for the subnormal shift
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    const rounded = rem > mid || (rem === mid && (half & 1) === 1) ? half + 1 : half;
    return sign | rounded;
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to inf)
  const rounded = rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1) ? half + 1 : half;
  return sign | rounded;
}

/** |x| at or above this (65520 rounds up to it) is inf or NaN in half precision */
const HALF_OVERFLOW = 0x47800000;
/** |x| below this (2^-14) is a half subnormal or zero */
const HALF_NORMAL_MIN = 0x38800000;
const REBIAS = (15 - 127) << 23;

/**
 * The same bits as bitsToHalf, branch-light for the common case (a normal half): rebias
 * the exponent and round to nearest even by adding 0xfff plus the kept mantissa's lowest
 * bit before the shift (F. Giesen's float_to_half_fast3_rtne). Runs on every UNet input
 * value of an fp16 model every step, so it must cost a few integer operations.
 */
function fastBitsToHalf(x: number): number {
  const abs = x & 0x7fffffff;
  if (abs >= HALF_OVERFLOW || abs < HALF_NORMAL_MIN) return bitsToHalf(x);
  return ((x >>> 16) & 0x8000) | ((abs + REBIAS + 0xfff + ((abs >>> 13) & 1)) >>> 13);
}

export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function float32ToFloat16(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  if (src instanceof Float32Array) {
    float32ToFloat16Into(src, out, 0);
    return out;
  }
  for (let i = 0; i < src.length; i++) out[i] = toHalfBits(src[i]);
  return out;
}

/**
 * Writes `src` as half bits into `out` from `offset`, reading the float bits in place (no
 * allocation). This loop is the whole cost of feeding an fp16 UNet, every step: one pass
 * computes every value as a normal half (fastBitsToHalf written out, no call in the loop) and
 * notes whether any value was not one (zero, subnormal, too large, Inf, NaN); only then does
 * a second pass redo those through the reference.
 */
export function float32ToFloat16Into(src: Float32Array, out: Uint16Array, offset: number): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = bits.length;
  let rare = 0;
  for (let i = 0; i < n; i++) {
    const x = bits[i];
    const abs = x & 0x7fffffff;
    // bit 31 of either difference is set exactly when abs is below the normal range or at/above overflow
    rare |= ((abs - HALF_NORMAL_MIN) | (HALF_OVERFLOW - 1 - abs)) >>> 31;
    out[offset + i] = ((x >>> 16) & 0x8000) | ((abs + REBIAS + 0xfff + ((abs >>> 13) & 1)) >>> 13);
  }
  if (rare === 0) return;
  for (let i = 0; i < n; i++) {
    const abs = bits[i] & 0x7fffffff;
    if (abs >= HALF_OVERFLOW || abs < HALF_NORMAL_MIN) out[offset + i] = bitsToHalf(bits[i]);
  }
}

// Half values have only 65536 bit patterns: a lookup table makes decoding a single load.
let decodeTable: Float32Array | undefined;

/** half bits -> float32 value, indexed by the bits */
export function halfDecodeTable(): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) decodeTable[h] = fromHalfBits(h);
  }
  return decodeTable;
}

/** 2^(e - 25) by a half's sign and exponent bits (subnormals share exponent 1's scale), negated for the sign. */
const HALF_SCALE = new Float64Array(64);
for (let e = 0; e < 32; e++) {
  HALF_SCALE[e] = 2 ** (Math.max(e, 1) - 25);
  HALF_SCALE[e + 32] = -HALF_SCALE[e];
}

/**
 * One half's value by arithmetic (exact: a small integer times a power of two), for loops that
 * decode values scattered among other work: the 256 KB decode table would push their own data
 * out of the cache. Inf and NaN come from the table.
 */
export function halfValue(h: number): number {
  const e = (h >> 10) & 31;
  if (e === 31) return halfDecodeTable()[h];
  return HALF_SCALE[h >> 10] * ((e === 0 ? 0 : 1024) + (h & 1023));
}

export function float16ToFloat32(src: ArrayBufferView & { length: number }): Float32Array {
  const table = halfDecodeTable();
  const bits = src instanceof Uint16Array ? src : new Uint16Array(src.buffer, src.byteOffset, src.length);
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}
