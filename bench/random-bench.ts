/**
 * The seeded generator's cost: one 512 px latent's worth of normals (4 x 64 x 64 = 16,384,
 * what euler_a draws per image per step) from worker/diffusion/random.ts (64-bit state in
 * 32-bit halves) and from the BigInt reference it replaced (kit/pcg32-bigint.ts),
 * timed alternately in the same run; medians of many draws.
 */
import { createRandom, type SeededRandom } from '../worker/diffusion/random.ts';
import { createBigIntRandom } from '../kit/pcg32-bigint.ts';
import type { BenchFigure } from './figure.ts';

const LATENT = 4 * 64 * 64;
const ROUNDS = 41;
const UINTS = 1_000_000;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeNormals(make: (seed: number) => SeededRandom, seed: number): number {
  const t0 = performance.now();
  const out = make(seed).normal(LATENT);
  const ms = performance.now() - t0;
  if (!(out[LATENT - 1] > -100)) throw new Error('normal() returned no samples');
  return ms;
}

function timeUints(make: (seed: number) => SeededRandom): number {
  const r = make(7);
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < UINTS; i++) acc ^= r.nextUint32();
  const ms = performance.now() - t0;
  if (acc === 0.5) throw new Error('unreachable: keeps the loop from being optimised away');
  return ms;
}

export async function run(): Promise<BenchFigure[]> {
  const halves = (seed: number) => createRandom(seed);
  const bigint = (seed: number) => createBigIntRandom(seed);
  // Warm-up: both paths compiled before anything is timed.
  for (let i = 0; i < 5; i++) timeNormals(halves, i), timeNormals(bigint, i);
  const ours: number[] = [];
  const ref: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    ours.push(timeNormals(halves, 1000 + i));
    ref.push(timeNormals(bigint, 1000 + i));
  }
  const oursUint = median([timeUints(halves), timeUints(halves), timeUints(halves)]);
  const refUint = median([timeUints(bigint), timeUints(bigint), timeUints(bigint)]);
  return [
    { name: 'PCG32 16k normals (32-bit halves)', value: median(ours), unit: 'ms', note: `one 512 px latent; median of ${ROUNDS}` },
    { name: 'PCG32 16k normals (BigInt reference)', value: median(ref), unit: 'ms', note: `same run, alternating; speed-up ${(median(ref) / median(ours)).toFixed(1)}x` },
    { name: 'PCG32 nextUint32 (32-bit halves)', value: (oursUint / UINTS) * 1e6, unit: 'ns', note: `${UINTS} draws` },
    { name: 'PCG32 nextUint32 (BigInt reference)', value: (refUint / UINTS) * 1e6, unit: 'ns', note: `speed-up ${(refUint / oursUint).toFixed(1)}x` },
  ];
}
