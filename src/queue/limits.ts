/**
 * Admission control for the queue, atomic in one Lua script: deduplication, per-user
 * queued/running cap, per-user per-minute rate, and the global depth cap are checked and the
 * slot reserved in a single step, so 200 producers racing cannot overshoot a limit.
 *
 * Per-user counts are derived from BullMQ's own state, not kept as counters: a user's set
 * holds job ids, and the script counts an id only while it is still reserved (pending) or its
 * job hash exists without `finishedOn`. A completed, finally failed, removed or evicted job
 * therefore frees its slot by itself; no consumer has to remember to decrement anything,
 * and a crashed worker or producer cannot leak a slot.
 *
 * Reservation lifecycle: reserve (id enters `pending`, the user's set, the rate window and
 * the dedupe key) -> BullMQ add -> commit (id leaves `pending`). If the add fails, release
 * undoes all four. A producer that dies between reserve and add leaves a pending id that is
 * dropped after PENDING_GRACE_MS.
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { EnqueueRefusal } from './types.ts';
import type { QueueKeys } from './keys.ts';
import { luaScript, runLua } from './lua.ts';

export const RATE_WINDOW_MS = 60_000;
export const PENDING_GRACE_MS = 60_000;
/** Platforms redeliver an event within minutes; an hour covers every retry policy we know. */
export const DEDUPE_TTL_MS = 60 * 60_000;
/** The user's set expires if untouched this long (its entries prune themselves anyway). */
const USER_SET_TTL_MS = 7 * 86_400_000;

const reserveScript = luaScript(
  'reserve',
  `
-- KEYS: 1 user set, 2 user rate window, 3 pending, 4 dedupe key, 5 wait, 6 paused, 7 delayed, 8 prioritized
-- ARGV: 1 job id, 2 job key prefix, 3 user cap, 4 per-minute cap, 5 depth cap, 6 dedupe ttl ms (0 = none),
--       7 pending grace ms, 8 rate window ms, 9 user set ttl ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local jobId, jobPrefix = ARGV[1], ARGV[2]
local dedupeTtl = tonumber(ARGV[6])

if dedupeTtl > 0 then
  local first = redis.call('GET', KEYS[4])
  if first then return {'duplicate', first} end
end

redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[7]))

local function unfinished(id)
  if redis.call('ZSCORE', KEYS[3], id) then return true end
  local key = jobPrefix .. id
  return redis.call('EXISTS', key) == 1 and redis.call('HEXISTS', key, 'finishedOn') == 0
end

local live = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if unfinished(id) then live = live + 1 else redis.call('ZREM', KEYS[1], id) end
end
if live >= tonumber(ARGV[3]) then return {'user-queued-limit', tostring(live)} end

local window = tonumber(ARGV[8])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {'user-rate-limit', tostring(tonumber(oldest[2]) + window - now)}
end

local depth = redis.call('LLEN', KEYS[5]) + redis.call('LLEN', KEYS[6]) + redis.call('ZCARD', KEYS[7]) + redis.call('ZCARD', KEYS[8])
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if redis.call('EXISTS', jobPrefix .. id) == 0 then depth = depth + 1 end
end
if depth >= tonumber(ARGV[5]) then return {'queue-full', tostring(depth)} end

redis.call('ZADD', KEYS[1], now, jobId)
redis.call('PEXPIRE', KEYS[1], ARGV[9])
redis.call('ZADD', KEYS[2], now, jobId)
redis.call('PEXPIRE', KEYS[2], window)
redis.call('ZADD', KEYS[3], now, jobId)
if dedupeTtl > 0 then redis.call('SET', KEYS[4], jobId, 'PX', dedupeTtl) end
return {'ok', tostring(depth + 1)}
`,
);

const releaseScript = luaScript(
  'release',
  `
-- KEYS: 1 user set, 2 user rate window, 3 pending, 4 dedupe key; ARGV: 1 job id
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('DEL', KEYS[4]) end
return 1
`,
);

export type LimitConfig = Pick<Config, 'LIMIT_USER_QUEUED' | 'LIMIT_USER_PER_MINUTE' | 'LIMIT_QUEUE_DEPTH'>;

export type Reservation =
  | { kind: 'reserved' }
  | { kind: 'duplicate'; jobId: string }
  | { kind: 'refused'; reason: EnqueueRefusal; message: string; retryAfterMs?: number };

export interface ReserveRequest {
  jobId: string;
  userId: string;
  dedupeId?: string;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function refusalMessage(reason: EnqueueRefusal, limits: LimitConfig, retryAfterMs = 0): string {
  switch (reason) {
    case 'user-queued-limit':
      return `You already have ${plural(limits.LIMIT_USER_QUEUED, 'image job', 'image jobs')} queued or running, the most allowed at once. Wait for one to finish or cancel one, then try again.`;
    case 'user-rate-limit':
      return `You have started ${plural(limits.LIMIT_USER_PER_MINUTE, 'image job', 'image jobs')} in the last minute, the most allowed. Try again in ${plural(Math.max(1, Math.ceil(retryAfterMs / 1000)), 'second', 'seconds')}.`;
    case 'queue-full':
      return `The image queue is full (${plural(limits.LIMIT_QUEUE_DEPTH, 'job', 'jobs')} waiting). Please try again in a few minutes.`;
  }
}

export async function reserveSlot(redis: Redis, keys: QueueKeys, limits: LimitConfig, req: ReserveRequest): Promise<Reservation> {
  const reply = (await runLua(
    redis,
    reserveScript,
    [keys.userJobs(req.userId), keys.userRate(req.userId), keys.pending, keys.dedupe(req.dedupeId ?? ''), keys.wait, keys.paused, keys.delayed, keys.prioritized],
    [req.jobId, keys.jobPrefix, limits.LIMIT_USER_QUEUED, limits.LIMIT_USER_PER_MINUTE, limits.LIMIT_QUEUE_DEPTH, req.dedupeId ? DEDUPE_TTL_MS : 0, PENDING_GRACE_MS, RATE_WINDOW_MS, USER_SET_TTL_MS],
  )) as [string, string];
  const [status, detail] = reply;
  if (status === 'ok') return { kind: 'reserved' };
  if (status === 'duplicate') return { kind: 'duplicate', jobId: detail };
  const reason = status as EnqueueRefusal;
  const retryAfterMs = reason === 'user-rate-limit' ? Number(detail) : undefined;
  return { kind: 'refused', reason, message: refusalMessage(reason, limits, retryAfterMs), retryAfterMs };
}

/** The add succeeded: the job hash now stands for the reservation. */
export async function commitSlot(redis: Redis, keys: QueueKeys, jobId: string): Promise<void> {
  await redis.zrem(keys.pending, jobId);
}

/** Undo a reservation whose add failed (or a job removed before it ran): frees the user slot, the rate entry and the dedupe key. */
export async function releaseSlot(redis: Redis, keys: QueueKeys, req: ReserveRequest): Promise<void> {
  await runLua(redis, releaseScript, [keys.userJobs(req.userId), keys.userRate(req.userId), keys.pending, keys.dedupe(req.dedupeId ?? '')], [req.jobId]);
}

/** Forget a job in the user's set (after a cancel removed it); the rate window keeps it, as it was started. */
export async function forgetUserJob(redis: Redis, keys: QueueKeys, userId: string, jobId: string): Promise<void> {
  await redis.multi().zrem(keys.userJobs(userId), jobId).zrem(keys.pending, jobId).exec();
}

/** Job ids in a user's set, oldest first (may include finished ones until the next reserve prunes them). */
export async function userJobIds(redis: Redis, keys: QueueKeys, userId: string): Promise<string[]> {
  return redis.zrange(keys.userJobs(userId), 0, -1);
}
