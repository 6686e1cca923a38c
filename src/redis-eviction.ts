/**
 * BullMQ keeps jobs, locks and our limits in ordinary keys: a Redis that evicts keys under
 * memory pressure silently loses jobs. So a process that enqueues refuses to start unless
 * `maxmemory-policy` is `noeviction`; REDIS_ALLOW_EVICTION=1 turns that into a warning for
 * throwaway development servers. Managed services that forbid CONFIG GET cannot be checked:
 * that is a warning, not a refusal.
 *
 * On a Redis Cluster every node is asked, replicas too: a replica becomes the master of its
 * slots at the next failover, and its policy then decides what the queue keeps.
 */
import type { Cluster, Redis } from 'ioredis';
import { isCluster, type RedisClient } from './redis.ts';

export class EvictionPolicyError extends Error {
  constructor(
    readonly policy: string,
    /** The cluster node (`host:port (master)`) whose policy this is; absent for a single server. */
    readonly node?: string,
  ) {
    super(
      `${node ? `Redis Cluster node ${node} has maxmemory-policy ${policy}` : `Redis maxmemory-policy is ${policy}`}, but the job queue needs noeviction (an evicted key is a lost job): run CONFIG SET maxmemory-policy noeviction${node ? ' on every node' : ''} and set it in redis.conf, or set REDIS_ALLOW_EVICTION=1 for development`,
    );
    this.name = 'EvictionPolicyError';
  }
}

export type EvictionCheck = { ok: true; policy: 'noeviction' } | { ok: false; policy: string; warning: string };

/** How long a cluster client may take to learn its nodes before the check gives up. */
const CLUSTER_READY_TIMEOUT_MS = 15_000;
/** Failed tries at reading the slot map (wrong password, no node reachable) before the check gives up, like a single server's retries. */
const CLUSTER_FAILED_REFRESHES = 3;

export async function checkEvictionPolicy(redis: RedisClient, allowEviction: boolean): Promise<EvictionCheck> {
  if (!isCluster(redis)) return checkNode(redis, allowEviction);
  for (const { client, name } of await clusterNodes(redis)) {
    const check = await checkNode(client, allowEviction, name);
    if (!check.ok) return check;
  }
  return { ok: true, policy: 'noeviction' };
}

async function checkNode(redis: Redis, allowEviction: boolean, node?: string): Promise<EvictionCheck> {
  const where = node ? `Redis Cluster node ${node}` : 'Redis';
  let policy: string;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1] ?? '';
  } catch (err) {
    const message = (err as Error).message;
    // A refused command (ERR unknown command, NOPERM) means this server forbids CONFIG; anything else is a real failure.
    if (!/unknown command|NOPERM|not allowed|disabled/i.test(message)) throw err;
    return { ok: false, policy: 'unknown', warning: `could not read ${where} maxmemory-policy (${message.slice(0, 120)}); make sure it is noeviction` };
  }
  if (policy === 'noeviction') return { ok: true, policy };
  if (!allowEviction) throw new EvictionPolicyError(policy || 'unset', node);
  return { ok: false, policy, warning: `${where} maxmemory-policy is ${policy}; jobs may be lost under memory pressure (allowed by REDIS_ALLOW_EVICTION)` };
}

/** Every node the cluster client knows, once it has learnt the slot map (masters first). */
async function clusterNodes(cluster: Cluster): Promise<{ client: Redis; name: string }[]> {
  if (cluster.status !== 'ready') {
    let timer: NodeJS.Timeout | undefined;
    let onError: ((err: Error & { lastNodeError?: Error }) => void) | undefined;
    let onReady: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        let failures = 0;
        onReady = resolve;
        onError = (err) => {
          // The cluster client retries for ever; a start-up check answers like one server's bounded retries, with the node's own words.
          if (++failures >= CLUSTER_FAILED_REFRESHES) reject(new Error(err.lastNodeError ? `${err.message} ${err.lastNodeError.message}` : err.message));
        };
        cluster.once('ready', onReady);
        cluster.on('error', onError);
        timer = setTimeout(() => reject(new Error(`the cluster did not answer within ${CLUSTER_READY_TIMEOUT_MS / 1000} s`)), CLUSTER_READY_TIMEOUT_MS);
      });
    } finally {
      clearTimeout(timer);
      if (onReady) cluster.off('ready', onReady);
      if (onError) cluster.off('error', onError);
    }
  }
  const named = (role: 'master' | 'slave', label: string) => cluster.nodes(role).map((client) => ({ client, name: `${client.options.host}:${client.options.port} (${label})` }));
  return [...named('master', 'master'), ...named('slave', 'replica')];
}
