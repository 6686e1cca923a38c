/**
 * A running average of how long jobs take on the workers, for the waiting times the queued
 * reply and /queue show on every platform. Workers record each job they generate; an
 * exponential average follows the fleet as it changes. Kept in the shared key-value store
 * (Redis in a fleet), since the bot that answers and the worker that measures are different
 * processes.
 */
import type { KeyValueStore } from './kv.ts';

const AVERAGE_KEY = 'jobs:average-ms';
const AVERAGE_WEIGHT = 0.2;
const WEEK_S = 7 * 86_400;

export async function recordJobDuration(kv: KeyValueStore, ms: number): Promise<void> {
  if (!Number.isFinite(ms) || ms <= 0) return;
  const previous = Number((await kv.get(AVERAGE_KEY)) ?? NaN);
  const next = Number.isFinite(previous) && previous > 0 ? previous + AVERAGE_WEIGHT * (ms - previous) : ms;
  await kv.set(AVERAGE_KEY, String(Math.round(next)), WEEK_S);
}

/** null until a worker has finished a job (or for a week after the last one). */
export async function averageJobMs(kv: KeyValueStore): Promise<number | null> {
  const value = Number((await kv.get(AVERAGE_KEY)) ?? NaN);
  return Number.isFinite(value) && value > 0 ? value : null;
}
