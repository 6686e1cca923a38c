/**
 * Fair turns: the order in which a lane's waiting jobs are taken, decided once at enqueue as a
 * BullMQ priority (lower runs first; equal priorities run in arrival order). Open-source BullMQ
 * has no groups, so the round robin is computed into the priority, as in weighted fair queueing:
 *
 * - Every job gets a tag (virtual finish time). The lane's virtual time V is the tag of the job
 *   at the head of the line (the next to be taken), or the highest tag given when none waits.
 * - A user's next job is tagged max(V, the user's last tag) + n, where n is the number of users
 *   of the job's workspace (Discord server, Slack team; DMs and the web count as one per
 *   platform) with jobs at or after the head, this user included.
 *
 * So each workspace advances by about one tag per job it is served, whatever its number of users
 * (workspaces take turns), and within a workspace its users take turns. A user with nothing
 * queued enters at V + n: behind about one job per active user, never behind the whole queue.
 * A user's own jobs keep their order (each tag is above the user's last). A job retried after
 * a failure keeps its tag and so its place.
 *
 * Tags only grow while jobs wait; BullMQ caps priorities at 2^21 - 1, and a tag beyond that is
 * clamped, which degrades to arrival order (still correct, no longer fair) after some millions
 * of user-turns without the lane ever emptying.
 *
 * Two implementations with one arithmetic: the Lua script for the Redis queue (atomic beside
 * concurrent enqueues) and FairClock for the in-process queue; test/fair-order.test.ts runs
 * both on the same arrivals and expects the same order.
 */
import type { Redis } from 'ioredis';
import { PRIORITY_LIMIT } from 'bullmq';
import type { Origin } from '../jobs.ts';
import type { LaneKeys, QueueKeys } from './keys.ts';
import { luaScript, runLua } from './lua.ts';

/** BullMQ's prioritized set scores a job priority × 2^32 + an arrival counter. */
export const PRIORITY_SCORE_UNIT = 0x100000000;
/** How long a workspace's user tags are kept without an enqueue (they prune themselves as V passes them). */
const WORKSPACE_TTL_MS = 7 * 86_400_000;

/** Who takes turns: the workspace a job counts for, and the user within it. */
export function fairSubject(origin: Pick<Origin, 'platform' | 'workspaceId' | 'userId'>): { workspace: string; user: string } {
  return { workspace: `${origin.platform}:${origin.workspaceId ?? 'direct'}`, user: origin.userId };
}

const tagScript = luaScript(
  'fair-tag',
  `
-- KEYS: 1 lane prioritized set, 2 lane's highest tag given, 3 the workspace's users (user -> last tag)
-- ARGV: 1 user id, 2 workspace ttl ms, 3 priority limit, 4 priority score unit
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local v
if head[2] then v = math.floor(tonumber(head[2]) / tonumber(ARGV[4])) else v = tonumber(redis.call('GET', KEYS[2]) or '0') end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. v)
local active = redis.call('ZCOUNT', KEYS[3], v, '+inf')
local last = redis.call('ZSCORE', KEYS[3], ARGV[1])
local base = v
if last then
  base = math.max(v, tonumber(last))
else
  active = active + 1
end
local tag = math.min(base + active, tonumber(ARGV[3]))
redis.call('ZADD', KEYS[3], tag, ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
if tag > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], tag) end
return tag
`,
);

/** The tag (BullMQ priority) of a job about to be added to a lane. */
export async function fairPriority(redis: Redis, keys: QueueKeys, lane: LaneKeys, origin: Origin): Promise<number> {
  const { workspace, user } = fairSubject(origin);
  return Number(
    await runLua(redis, tagScript, [lane.prioritized, keys.fairMax(lane.name), keys.fairWorkspace(lane.name, workspace)], [user, WORKSPACE_TTL_MS, PRIORITY_LIMIT, PRIORITY_SCORE_UNIT]),
  );
}

/** The same arithmetic for the in-process queue, which keeps its own line (headTag = the first waiting job's tag). */
export class FairClock {
  private readonly workspaces = new Map<string, Map<string, number>>();
  private max = 0;

  tag(origin: Origin, headTag: number | undefined): number {
    const { workspace, user } = fairSubject(origin);
    const v = headTag ?? this.max;
    this.prune(v);
    const users = this.workspaces.get(workspace) ?? new Map<string, number>();
    const last = users.get(user);
    const active = users.size + (last === undefined ? 1 : 0);
    const tag = Math.min(Math.max(v, last ?? v) + active, PRIORITY_LIMIT);
    users.set(user, tag);
    this.workspaces.set(workspace, users);
    this.max = Math.max(this.max, tag);
    return tag;
  }

  /** How many workspaces are remembered (each only while one of its users has a tag at or after the head). */
  get size(): number {
    return this.workspaces.size;
  }

  /** Workspaces whose users are all behind the head are forgotten, as their Redis sets expire. */
  private prune(v: number): void {
    for (const [id, users] of this.workspaces) {
      for (const [user, t] of users) if (t < v) users.delete(user);
      if (users.size === 0) this.workspaces.delete(id);
    }
  }
}
