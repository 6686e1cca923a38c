/** Seeds for derived jobs: drawn from the injected source, never equal to the seed being replaced. */
import { MAX_SEED } from '../src/jobs.ts';

export function freshSeed(draw: () => number, avoid?: number): number {
  const seed = draw() >>> 0;
  // A repeat would silently redo the same image; the next seed is as random as any other.
  return seed === avoid ? (seed + 1) % (MAX_SEED + 1) : seed;
}
