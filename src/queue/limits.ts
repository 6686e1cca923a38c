/**
 * Admission control for the queue, atomic in one Lua script: deduplication, per-user
 * queued/running cap, per-user per-minute rate (the same two again for the client behind the
 * user when the adapter names one: the web playground's address), and the global depth cap are
 * checked and the slot reserved in a single step, so 200 producers racing cannot overshoot a limit.
 *
 * Per-user counts are derived from BullMQ's own state, not kept as counters: a user's set
 * holds job ids, and the script counts an id only while it is still reserved (pending) or it
 * is waiting, delayed or active in one of the model queues (every key the script reads is
 * declared, so it runs on a Redis Cluster as is). A completed, finally failed, removed or evicted job
 * therefore frees its slot by itself; no consumer has to remember to decrement anything,
 * and a crashed worker or producer cannot leak a slot.
 *
 * Reservation lifecycle: reserve (id enters `pending`, the user's set, the rate window and
 * the dedupe key) -> BullMQ add -> commit (id leaves `pending`). If the add fails, release
 * undoes all four. A producer that dies between reserve and add leaves a pending id that is
 * dropped after PENDING_GRACE_MS.
 */
// A connection to one Redis or to a Redis Cluster (src/redis.ts).
import type { RedisClient as Redis } from '../redis.ts';
import type { Config } from '../config.ts';
import type { EnqueueRefusal, LimitSubject } from './types.ts';
import type { QueueKeys } from './keys.ts';
import { luaScript, runLua } from './lua.ts';

export const RATE_WINDOW_MS = 60_000;
export const PENDING_GRACE_MS = 60_000;
/** Platforms redeliver an event within minutes; an hour covers every retry policy we know. */
export const DEDUPE_TTL_MS = 60 * 60_000;
/** A user's (or client's) set expires if untouched this long (its entries prune themselves anyway). */
const USER_SET_TTL_MS = 7 * 86_400_000;

const reserveScript = luaScript(
  'reserve',
  `
-- KEYS: 1 pending, 2 dedupe key, then for each lane (model queue) its wait, paused, active, delayed and
--       prioritized keys, then for each limited subject (the user, then the client when there is one) its
--       job set and its rate window
-- ARGV: 1 job id, 2 lane count, 3 queued cap, 4 per-minute cap, 5 depth cap, 6 dedupe ttl ms (0 = none),
--       7 pending grace ms, 8 rate window ms, 9 subject set ttl ms, then each subject's name ('user', 'client')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local jobId, lanes = ARGV[1], tonumber(ARGV[2])
local dedupeTtl = tonumber(ARGV[6])
local window = tonumber(ARGV[8])
local subjects = #ARGV - 9
local firstSubjectKey = 2 + 5 * lanes

if dedupeTtl > 0 then
  local first = redis.call('GET', KEYS[2])
  if first then return {'duplicate', first} end
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[7]))

-- Whether the job waits, is delayed for a retry or runs in one of the lanes.
local function queued(id)
  for l = 0, lanes - 1 do
    local k = 3 + 5 * l
    if redis.call('ZSCORE', KEYS[k + 4], id) or redis.call('ZSCORE', KEYS[k + 3], id)
       or redis.call('LPOS', KEYS[k], id) or redis.call('LPOS', KEYS[k + 1], id) or redis.call('LPOS', KEYS[k + 2], id) then
      return true
    end
  end
  return false
end

local function unfinished(id)
  return redis.call('ZSCORE', KEYS[1], id) ~= false or queued(id)
end

for s = 1, subjects do
  local set, rate, name = KEYS[firstSubjectKey + 2 * s - 1], KEYS[firstSubjectKey + 2 * s], ARGV[9 + s]
  local live = 0
  for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do
    if unfinished(id) then live = live + 1 else redis.call('ZREM', set, id) end
  end
  if live >= tonumber(ARGV[3]) then return {name .. '-queued-limit', tostring(live)} end
  redis.call('ZREMRANGEBYSCORE', rate, '-inf', now - window)
  if redis.call('ZCARD', rate) >= tonumber(ARGV[4]) then
    local oldest = redis.call('ZRANGE', rate, 0, 0, 'WITHSCORES')
    return {name .. '-rate-limit', tostring(tonumber(oldest[2]) + window - now)}
  end
end

local depth = 0
for l = 0, lanes - 1 do
  local k = 3 + 5 * l
  depth = depth + redis.call('LLEN', KEYS[k]) + redis.call('LLEN', KEYS[k + 1]) + redis.call('ZCARD', KEYS[k + 3]) + redis.call('ZCARD', KEYS[k + 4])
end
-- Reservations whose job is in no lane yet (not added, or finished before its commit: a moment).
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not queued(id) then depth = depth + 1 end
end
if depth >= tonumber(ARGV[5]) then return {'queue-full', tostring(depth)} end

for s = 1, subjects do
  redis.call('ZADD', KEYS[firstSubjectKey + 2 * s - 1], now, jobId)
  redis.call('PEXPIRE', KEYS[firstSubjectKey + 2 * s - 1], ARGV[9])
  redis.call('ZADD', KEYS[firstSubjectKey + 2 * s], now, jobId)
  redis.call('PEXPIRE', KEYS[firstSubjectKey + 2 * s], window)
end
redis.call('ZADD', KEYS[1], now, jobId)
if dedupeTtl > 0 then redis.call('SET', KEYS[2], jobId, 'PX', dedupeTtl) end
return {'ok', tostring(depth + 1)}
`,
);

const releaseScript = luaScript(
  'release',
  `
-- KEYS: 1 pending, 2 dedupe key, then each subject's job set and rate window; ARGV: 1 job id
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
for i = 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
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
  /** Counted against the same caps as the user (EnqueueOptions.clientKey). */
  clientKey?: string;
  dedupeId?: string;
}

/** Who a job counts against, in the order their limits are checked: the user, then the client when there is one. */
export function limitSubjects(req: Pick<ReserveRequest, 'userId' | 'clientKey'>): { name: LimitSubject; id: string }[] {
  return [{ name: 'user', id: req.userId }, ...(req.clientKey ? [{ name: 'client' as const, id: req.clientKey }] : [])];
}

/** Each subject's job set and rate window, as the scripts take them. */
function subjectKeys(keys: QueueKeys, req: ReserveRequest): string[] {
  return limitSubjects(req).flatMap(({ name, id }) => (name === 'user' ? [keys.userJobs(id), keys.userRate(id)] : [keys.clientJobs(id), keys.clientRate(id)]));
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function refusalMessage(reason: EnqueueRefusal, limits: LimitConfig, retryAfterMs = 0): string {
  const wait = plural(Math.max(1, Math.ceil(retryAfterMs / 1000)), 'second', 'seconds');
  switch (reason) {
    case 'user-queued-limit':
      return `You already have ${plural(limits.LIMIT_USER_QUEUED, 'image job', 'image jobs')} queued or running, the most allowed at once. Wait for one to finish or cancel one, then try again.`;
    case 'user-rate-limit':
      return `You have started ${plural(limits.LIMIT_USER_PER_MINUTE, 'image job', 'image jobs')} in the last minute, the most allowed. Try again in ${wait}.`;
    case 'client-queued-limit':
      return `Your network address already has ${plural(limits.LIMIT_USER_QUEUED, 'image job', 'image jobs')} queued or running (from this or other browser sessions), the most allowed at once. Wait for one to finish, then try again.`;
    case 'client-rate-limit':
      return `Your network address has started ${plural(limits.LIMIT_USER_PER_MINUTE, 'image job', 'image jobs')} in the last minute (from this or other browser sessions), the most allowed. Try again in ${wait}.`;
    case 'queue-full':
      return `The image queue is full (${plural(limits.LIMIT_QUEUE_DEPTH, 'job', 'jobs')} waiting). Please try again in a few minutes.`;
  }
}

export async function reserveSlot(redis: Redis, keys: QueueKeys, limits: LimitConfig, req: ReserveRequest): Promise<Reservation> {
  const reply = (await runLua(
    redis,
    reserveScript,
    [keys.pending, keys.dedupe(req.dedupeId ?? ''), ...keys.lanes.flatMap((l) => [l.wait, l.paused, l.active, l.delayed, l.prioritized]), ...subjectKeys(keys, req)],
    [
      req.jobId,
      keys.lanes.length,
      limits.LIMIT_USER_QUEUED,
      limits.LIMIT_USER_PER_MINUTE,
      limits.LIMIT_QUEUE_DEPTH,
      req.dedupeId ? DEDUPE_TTL_MS : 0,
      PENDING_GRACE_MS,
      RATE_WINDOW_MS,
      USER_SET_TTL_MS,
      ...limitSubjects(req).map((s) => s.name),
    ],
  )) as [string, string];
  const [status, detail] = reply;
  if (status === 'ok') return { kind: 'reserved' };
  if (status === 'duplicate') return { kind: 'duplicate', jobId: detail };
  const reason = status as EnqueueRefusal;
  const retryAfterMs = reason.endsWith('-rate-limit') ? Number(detail) : undefined;
  return { kind: 'refused', reason, message: refusalMessage(reason, limits, retryAfterMs), retryAfterMs };
}

/** The add succeeded: the job hash now stands for the reservation. */
export async function commitSlot(redis: Redis, keys: QueueKeys, jobId: string): Promise<void> {
  await redis.zrem(keys.pending, jobId);
}

/** Undo a reservation whose add failed (or a job removed before it ran): frees the user slot, the rate entry and the dedupe key. */
export async function releaseSlot(redis: Redis, keys: QueueKeys, req: ReserveRequest): Promise<void> {
  await runLua(redis, releaseScript, [keys.pending, keys.dedupe(req.dedupeId ?? ''), ...subjectKeys(keys, req)], [req.jobId]);
}

/** Forget a job in the user's set (after a cancel removed it); the rate window keeps it, as it was started. */
export async function forgetUserJob(redis: Redis, keys: QueueKeys, userId: string, jobId: string): Promise<void> {
  await redis.multi().zrem(keys.userJobs(userId), jobId).zrem(keys.pending, jobId).exec();
}

/** Job ids in a user's set, oldest first (may include finished ones until the next reserve prunes them). */
export async function userJobIds(redis: Redis, keys: QueueKeys, userId: string): Promise<string[]> {
  return redis.zrange(keys.userJobs(userId), 0, -1);
}
