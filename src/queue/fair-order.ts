/**
 * Fair turns: the order in which a model queue's waiting jobs are taken, decided once at
 * enqueue as the job's BullMQ priority (lower runs first; equal priorities in arrival order).
 * Open-source BullMQ has no groups, so the round robin is written into the priority:
 *
 * - Turns go in rounds. In each round every user with jobs waiting has one job: a user's next
 *   job goes in the round after their last one; a user with nothing waiting joins the round
 *   being served now (the round of the job at the head of the line).
 * - Within a round, workspaces (Discord servers, Slack teams; DMs and the web count as one per
 *   platform) take turns: the k-th job a workspace places in a round gets slot k, so the round
 *   runs the first job of every workspace, then the second of every workspace, and so on.
 *
 * priority = round × SLOTS + slot. A newcomer's first job therefore waits for at most about one
 * job per active user (what is left of the current round), never for the whole queue, and a
 * newcomer from a quiet server comes early in that round. A user's own jobs keep their order
 * (each in a later round). A job retried after a failure keeps its priority and so its turn.
 *
 * Rounds only grow while jobs wait; BullMQ caps priorities at 2^21 - 1 (32767 rounds), and a
 * priority beyond that is clamped, which degrades to arrival order (correct, no longer fair)
 * only after tens of thousands of rounds without the queue ever emptying.
 *
 * Two implementations of one arithmetic: the Lua script for the Redis queue (atomic beside
 * concurrent enqueues) and FairClock for the in-process queue; test/queue/fair-order.test.ts runs
 * both on the same arrivals and expects the same order.
 */
// A connection to one Redis or to a Redis Cluster (src/redis.ts).
import type { RedisClient as Redis } from '../redis.ts';
import type { Origin } from '../jobs.ts';
import type { LaneKeys, QueueKeys } from './keys.ts';
import { luaScript, runLua } from './lua.ts';

/**
 * BullMQ's highest job priority (its PRIORITY_LIMIT), written here so the in-process queue,
 * which uses this file, does not load BullMQ; test/queue/in-process-without-bullmq.test.ts
 * checks the two agree.
 */
export const PRIORITY_LIMIT = 2 ** 21 - 1;
/** BullMQ's prioritized set scores a job priority × 2^32 + an arrival counter. */
export const PRIORITY_SCORE_UNIT = 0x100000000;
/** Slots per round: a workspace's jobs beyond this many in one round share the last slot (arrival order). */
export const ROUND_SLOTS = 64;
/** How long a workspace's records are kept without an enqueue (they prune themselves as rounds pass). */
const WORKSPACE_TTL_MS = 7 * 86_400_000;
/** A workspace's per-round counts are pruned one round at a time; after a longer gap they are dropped at once. */
const MAX_PRUNE_ROUNDS = 1000;

/** Who takes turns: the workspace a job counts for, and the user within it. */
export function fairSubject(origin: Pick<Origin, 'platform' | 'workspaceId' | 'userId'>): { workspace: string; user: string } {
  return { workspace: `${origin.platform}:${origin.workspaceId ?? 'direct'}`, user: origin.userId };
}

const tagScript = luaScript(
  'fair-turn',
  `
-- KEYS: 1 lane prioritized set, 2 lane's highest round given, 3 the workspace's users (user -> last round),
--       4 the workspace's jobs per round (round -> count, 'low' -> oldest round kept)
-- ARGV: 1 user id, 2 workspace ttl ms, 3 priority limit, 4 priority score unit, 5 slots per round, 6 max prune rounds
local slots = tonumber(ARGV[5])
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local v
if head[2] then
  v = math.floor(math.floor(tonumber(head[2]) / tonumber(ARGV[4])) / slots)
else
  v = tonumber(redis.call('GET', KEYS[2]) or '0')
end
if v < 1 then v = 1 end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. v)
local last = redis.call('ZSCORE', KEYS[3], ARGV[1])
local round = v
if last then round = math.max(v, tonumber(last) + 1) end
local low = tonumber(redis.call('HGET', KEYS[4], 'low') or v)
if v - low > tonumber(ARGV[6]) then
  redis.call('DEL', KEYS[4])
else
  for r = low, v - 1 do redis.call('HDEL', KEYS[4], r) end
end
redis.call('HSET', KEYS[4], 'low', v)
local slot = redis.call('HINCRBY', KEYS[4], round, 1) - 1
local priority = math.min(round * slots + math.min(slot, slots - 1), tonumber(ARGV[3]))
redis.call('ZADD', KEYS[3], round, ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
if round > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], round) end
return priority
`,
);

/** The priority (turn) of a job about to be added to a lane. */
export async function fairPriority(redis: Redis, keys: QueueKeys, lane: LaneKeys, origin: Origin): Promise<number> {
  const { workspace, user } = fairSubject(origin);
  return Number(
    await runLua(
      redis,
      tagScript,
      [lane.prioritized, keys.fairMax(lane.name), keys.fairWorkspace(lane.name, workspace), keys.fairRounds(lane.name, workspace)],
      [user, WORKSPACE_TTL_MS, PRIORITY_LIMIT, PRIORITY_SCORE_UNIT, ROUND_SLOTS, MAX_PRUNE_ROUNDS],
    ),
  );
}

/** The same arithmetic for the in-process queue, which keeps its own line (headPriority = the first waiting job's). */
export class FairClock {
  private readonly workspaces = new Map<string, { users: Map<string, number>; rounds: Map<number, number> }>();
  private maxRound = 0;

  priority(origin: Origin, headPriority: number | undefined): number {
    const { workspace, user } = fairSubject(origin);
    const v = Math.max(1, headPriority === undefined ? this.maxRound : Math.floor(headPriority / ROUND_SLOTS));
    this.prune(v);
    const ws = this.workspaces.get(workspace) ?? { users: new Map<string, number>(), rounds: new Map<number, number>() };
    const last = ws.users.get(user);
    const round = last === undefined ? v : Math.max(v, last + 1);
    const slot = ws.rounds.get(round) ?? 0;
    ws.rounds.set(round, slot + 1);
    ws.users.set(user, round);
    this.workspaces.set(workspace, ws);
    this.maxRound = Math.max(this.maxRound, round);
    return Math.min(round * ROUND_SLOTS + Math.min(slot, ROUND_SLOTS - 1), PRIORITY_LIMIT);
  }

  /** Users and rounds behind the head are forgotten, as the Redis script prunes them. */
  private prune(v: number): void {
    for (const [id, ws] of this.workspaces) {
      for (const [user, round] of ws.users) if (round < v) ws.users.delete(user);
      for (const round of ws.rounds.keys()) if (round < v) ws.rounds.delete(round);
      if (ws.users.size === 0) this.workspaces.delete(id);
    }
  }
}
