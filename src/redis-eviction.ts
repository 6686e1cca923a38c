/**
 * BullMQ keeps jobs, locks and our limits in ordinary keys: a Redis that evicts keys under
 * memory pressure silently loses jobs. So a process that enqueues refuses to start unless
 * `maxmemory-policy` is `noeviction`; REDIS_ALLOW_EVICTION=1 turns that into a warning for
 * throwaway development servers. Managed services that forbid CONFIG GET cannot be checked:
 * that is a warning, not a refusal.
 */
import type { Redis } from 'ioredis';

export class EvictionPolicyError extends Error {
  constructor(readonly policy: string) {
    super(
      `Redis maxmemory-policy is ${policy}, but the job queue needs noeviction (an evicted key is a lost job): run CONFIG SET maxmemory-policy noeviction and set it in redis.conf, or set REDIS_ALLOW_EVICTION=1 for development`,
    );
    this.name = 'EvictionPolicyError';
  }
}

export type EvictionCheck = { ok: true; policy: 'noeviction' } | { ok: false; policy: string; warning: string };

export async function checkEvictionPolicy(redis: Redis, allowEviction: boolean): Promise<EvictionCheck> {
  let policy: string;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1] ?? '';
  } catch (err) {
    const message = (err as Error).message;
    // A refused command (ERR unknown command, NOPERM) means this server forbids CONFIG; anything else is a real failure.
    if (!/unknown command|NOPERM|not allowed|disabled/i.test(message)) throw err;
    return { ok: false, policy: 'unknown', warning: `could not read Redis maxmemory-policy (${message.slice(0, 120)}); make sure it is noeviction` };
  }
  if (policy === 'noeviction') return { ok: true, policy };
  if (!allowEviction) throw new EvictionPolicyError(policy || 'unset');
  return { ok: false, policy, warning: `Redis maxmemory-policy is ${policy}; jobs may be lost under memory pressure (allowed by REDIS_ALLOW_EVICTION)` };
}
