/**
 * A job's place in line, read atomically. BullMQ pushes new jobs on the left of the wait
 * list and workers pop from the right, so position = length - index (1 = next to run).
 */
// A connection to one Redis or to a Redis Cluster (src/redis.ts).
import type { RedisClient as Redis } from '../redis.ts';
import type { QueueKeys } from './keys.ts';
import { luaScript, runLua } from './lua.ts';

const positionScript = luaScript(
  'position',
  `
-- KEYS: 1 wait, 2 paused, 3 active, 4 delayed, 5 prioritized, 6 pending; ARGV: 1 job id, 2 job key prefix
local id = ARGV[1]
local idx = redis.call('LPOS', KEYS[1], id)
if idx then return redis.call('LLEN', KEYS[1]) - idx end
idx = redis.call('LPOS', KEYS[2], id)
if idx then return redis.call('LLEN', KEYS[2]) - idx end
if redis.call('LPOS', KEYS[3], id) then return 0 end
-- Retrying (delayed) jobs and reservations about to be added rejoin at the back of the line.
if redis.call('ZSCORE', KEYS[4], id) or redis.call('ZSCORE', KEYS[5], id)
   or (redis.call('ZSCORE', KEYS[6], id) and redis.call('EXISTS', ARGV[2] .. id) == 0) then
  return redis.call('LLEN', KEYS[1]) + 1
end
return -1
`,
);

/** 1-based position among waiting jobs; 0 while running; null when finished or unknown. */
export async function jobPosition(redis: Redis, keys: QueueKeys, jobId: string): Promise<number | null> {
  const reply = Number(
    await runLua(redis, positionScript, [keys.wait, keys.paused, keys.active, keys.delayed, keys.prioritized, keys.pending], [jobId, keys.jobPrefix]),
  );
  return reply < 0 ? null : reply;
}
