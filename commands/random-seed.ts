/** Where seeds come from: the system's CSPRNG by default, and never the seed being replaced. */
import { randomInt } from 'node:crypto';
import { MAX_SEED } from '../src/jobs.ts';

/** A uniformly random seed in 0..MAX_SEED; what a command context draws from unless a test injects a source. */
export function systemRandomSeed(): number {
  return randomInt(0, MAX_SEED + 1);
}

/** A seed for a derived job: drawn from the injected source, never equal to the seed being replaced. */
export function freshSeed(draw: () => number, avoid?: number): number {
  const seed = draw() >>> 0;
  // A repeat would silently redo the same image; the next seed is as random as any other.
  return seed === avoid ? (seed + 1) % (MAX_SEED + 1) : seed;
}
