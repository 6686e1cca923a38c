/**
 * A job's place in line, read atomically over every lane (model queue) at once. BullMQ takes
 * a queue's wait list first (jobs added without a priority: none of ours, but a job left by an
 * older producer), popping from the right, then its prioritized set in score order
 * (priority × 2^32 + arrival counter). Every job of ours carries its fair-order tag as
 * priority (fair-order.ts), so position = the wait list's length + the job's rank in the set.
 */
// A connection to one Redis or to a Redis Cluster (src/redis.ts).
import type { RedisClient as Redis } from '../redis.ts';
import { PRIORITY_SCORE_UNIT } from './fair-order.ts';
import type { QueueKeys } from './keys.ts';
import { luaScript, runLua } from './lua.ts';

const positionScript = luaScript(
  'position',
  `
-- KEYS: 1 pending, then for each lane: wait, paused, active, delayed, prioritized, the job's hash in that lane
-- ARGV: 1 job id, 2 priority score unit
local id, unit = ARGV[1], tonumber(ARGV[2])
local lanes = (#KEYS - 1) / 6
local waiting = 0
for l = 0, lanes - 1 do
  local wait, paused, active, delayed, prio, job = KEYS[2 + l * 6], KEYS[3 + l * 6], KEYS[4 + l * 6], KEYS[5 + l * 6], KEYS[6 + l * 6], KEYS[7 + l * 6]
  local idx = redis.call('LPOS', wait, id)
  if idx then return redis.call('LLEN', wait) - idx end
  idx = redis.call('LPOS', paused, id)
  if idx then return redis.call('LLEN', paused) - idx end
  if redis.call('LPOS', active, id) then return 0 end
  local ahead = redis.call('LLEN', wait)
  local rank = redis.call('ZRANK', prio, id)
  if rank then return ahead + rank + 1 end
  if redis.call('ZSCORE', delayed, id) then
    -- Waiting for a retry: it rejoins with its tag, behind the jobs tagged up to its own.
    local p = tonumber(redis.call('HGET', job, 'priority') or '0')
    if p > 0 then return ahead + redis.call('ZCOUNT', prio, '-inf', (p + 1) * unit - 1) + 1 end
    return ahead + redis.call('ZCARD', prio) + 1
  end
  if redis.call('EXISTS', job) == 1 then return -1 end
  waiting = waiting + ahead + redis.call('ZCARD', prio)
end
-- A reservation about to be added: behind every waiting job until its tag is given.
if redis.call('ZSCORE', KEYS[1], id) then return waiting + 1 end
return -1
`,
);

/** 1-based position among waiting jobs of its lane; 0 while running; null when finished or unknown. */
export async function jobPosition(redis: Redis, keys: QueueKeys, jobId: string): Promise<number | null> {
  const laneKeys = keys.lanes.flatMap((l) => [l.wait, l.paused, l.active, l.delayed, l.prioritized, l.jobPrefix + jobId]);
  const reply = Number(await runLua(redis, positionScript, [keys.pending, ...laneKeys], [jobId, PRIORITY_SCORE_UNIT]));
  return reply < 0 ? null : reply;
}
