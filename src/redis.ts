/**
 * ioredis connections from REDIS_URL, or to a Redis Cluster from REDIS_CLUSTER_NODES. One
 * factory so every connection gets the same bounded connect timeout, reconnect backoff and
 * password-free error logging, and so every caller can hold either kind as a RedisClient.
 *
 * Roles differ in one way BullMQ cares about: a worker's connection runs blocking commands
 * and must retry forever (`maxRetriesPerRequest: null`, no command timeout); a client
 * (adapters enqueueing, the cancel publisher) should fail a command after a bounded time so
 * a user hears "try again" instead of waiting on a dead Redis.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { backoffCeilingMs } from './backoff.ts';
import type { Config } from './config.ts';
import { createLogger, type Logger } from './logger.ts';

export type RedisRole = 'client' | 'worker' | 'subscriber';

/** A connection to one Redis or to a Redis Cluster: every product path works on both. */
export type RedisClient = Redis | Cluster;

export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

export interface RedisConnectOptions {
  role?: RedisRole;
  /** Shown in CLIENT LIST and in log lines. */
  name?: string;
  logger?: Logger;
  connectTimeoutMs?: number;
  /** Client role only: a command that gets no answer in this time fails. */
  commandTimeoutMs?: number;
}

/** The URL with any user/password replaced, safe for logs and error messages. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//[credentials]@');
}

/** Exponential backoff with jitter, capped: 100 ms, 200 ms, ... 5 s. Retries never stop; the process decides when to give up. */
export function reconnectDelayMs(attempt: number): number {
  const base = backoffCeilingMs(attempt, 100, 5_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

let defaultLogger: Logger | undefined;

export function redisOptions(opts: RedisConnectOptions = {}): RedisOptions {
  const role = opts.role ?? 'client';
  const blocking = role !== 'client';
  return {
    connectionName: opts.name ? `imagine:${opts.name}` : `imagine:${role}`,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    maxRetriesPerRequest: blocking ? null : 3,
    commandTimeout: blocking ? undefined : (opts.commandTimeoutMs ?? 10_000),
    enableReadyCheck: true,
    retryStrategy: reconnectDelayMs,
    // After a failover the old primary answers READONLY: reconnect (DNS/sentinel finds the new one) and resend.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
}

/**
 * A new connection. Errors are logged (never thrown as unhandled 'error' events) with the
 * role, name and redacted URL; repeated identical errors while reconnecting are logged once.
 */
export function createRedis(url: string, opts: RedisConnectOptions = {}): Redis {
  return logErrors(new Redis(url, redisOptions(opts)), redactRedisUrl(url), opts);
}

function logErrors<C extends RedisClient>(client: C, where: string, opts: RedisConnectOptions): C {
  const logger = opts.logger ?? (defaultLogger ??= createLogger({ name: 'redis' }));
  const context = { redis: where, role: opts.role ?? 'client', connection: opts.name };
  let lastError = '';
  client.on('error', (err: Error & { code?: string; lastNodeError?: Error }) => {
    // A cluster client's own error ("Failed to refresh slots cache.") carries the node's reason beside it.
    if (err.lastNodeError) err = Object.assign(new Error(`${err.message} ${err.lastNodeError.message}`), { code: (err.lastNodeError as { code?: string }).code });
    const text = `${err.code ?? ''} ${err.message}`;
    if (text === lastError) return;
    lastError = text;
    logger.warn({ ...context, err: { message: err.message, code: err.code } }, 'redis connection error');
  });
  client.on('ready', () => {
    if (lastError) logger.info(context, 'redis connection restored');
    lastError = '';
  });
  return client;
}

export type RedisTargetConfig = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>;

/** Whether the configuration names a shared Redis (one server or a cluster) rather than the in-process queue. */
export function usesRedis(config: RedisTargetConfig): boolean {
  return !!config.REDIS_URL || config.REDIS_CLUSTER_NODES.length > 0;
}

/** Where the configuration points, safe for logs: the redacted URL or the cluster's seed nodes. */
export function describeRedisTarget(config: RedisTargetConfig): string {
  if (config.REDIS_CLUSTER_NODES.length > 0) return `cluster ${config.REDIS_CLUSTER_NODES.map((n) => `${n.host}:${n.port}`).join(',')}`;
  return config.REDIS_URL ? redactRedisUrl(config.REDIS_URL) : 'none';
}

/**
 * The cluster client's options. Each node connection gets the role's options (timeouts,
 * retries) plus REDIS_URL's username, password and TLS (rediss://) when a URL is set too: a
 * managed cluster takes the same credentials on every node. With TLS the nodes' addresses from
 * CLUSTER SLOTS are used as they are, without a DNS lookup (ioredis's advice for managed
 * clusters with TLS, whose certificates name the addresses the cluster hands out).
 */
export function clusterOptions(config: Pick<Config, 'REDIS_URL'>, opts: RedisConnectOptions = {}): ClusterOptions {
  const node: RedisOptions = redisOptions(opts);
  let tls = false;
  if (config.REDIS_URL) {
    const url = new URL(config.REDIS_URL);
    if (url.username) node.username = decodeURIComponent(url.username);
    if (url.password) node.password = decodeURIComponent(url.password);
    tls = url.protocol === 'rediss:';
    if (tls) node.tls = {};
  }
  // The cluster client owns reconnection (clusterRetryStrategy); a node's own retryStrategy is not used.
  delete node.retryStrategy;
  return {
    redisOptions: node,
    clusterRetryStrategy: reconnectDelayMs,
    enableReadyCheck: true,
    // Every read and write goes to the slot's master: the queue must never read a lagging replica.
    scaleReads: 'master',
    slotsRefreshTimeout: opts.connectTimeoutMs ?? 10_000,
    // A failover moves slots: retry moved or refused commands after a short pause, a bounded number of times.
    retryDelayOnFailover: FAILOVER_RETRY_MS,
    retryDelayOnClusterDown: FAILOVER_RETRY_MS,
    retryDelayOnTryAgain: FAILOVER_RETRY_MS,
    maxRedirections: maxRedirections(opts.role ?? 'client'),
    ...(tls ? { dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) => callback(null, address) } : {}),
  };
}

const FAILOVER_RETRY_MS = 200;
/**
 * How long a command of a role that waits out outages keeps retrying through a Cluster failover.
 * ioredis counts every retry of a command (a MOVED, a CLUSTERDOWN, a closed connection to the
 * dead master) against maxRedirections, 16 by default: about 3 s, shorter than a master's
 * failure detection and election take. A worker's or bot's command would then fail mid-job.
 */
const WAIT_OUT_FAILOVER_MS = 120_000;

function maxRedirections(role: RedisRole): number {
  return role === 'client' ? 16 : Math.ceil(WAIT_OUT_FAILOVER_MS / FAILOVER_RETRY_MS);
}

/**
 * A new cluster client on the seed nodes; errors are logged like createRedis's. A client-role
 * command fails after the command timeout even while no node can be reached: the cluster client
 * would otherwise hold it until the cluster is back (its node connections' timeout only starts
 * once a command is sent to a node), and the user would wait instead of hearing "try again".
 */
export function createRedisCluster(config: RedisTargetConfig, opts: RedisConnectOptions = {}): Cluster {
  const cluster = new Cluster(config.REDIS_CLUSTER_NODES, clusterOptions(config, opts));
  const timeoutMs = (opts.role ?? 'client') === 'client' ? (opts.commandTimeoutMs ?? 10_000) : 0;
  if (timeoutMs > 0) {
    const send = cluster.sendCommand.bind(cluster);
    cluster.sendCommand = (command, ...rest) => {
      command.setTimeout(timeoutMs);
      return send(command, ...rest);
    };
  }
  return logErrors(cluster, describeRedisTarget(config), opts);
}

/** A connection for the configured Redis (the cluster when REDIS_CLUSTER_NODES is set); throws a clear error when neither is set. */
export function redisFromConfig(config: RedisTargetConfig, opts: RedisConnectOptions = {}): RedisClient {
  if (config.REDIS_CLUSTER_NODES.length > 0) return createRedisCluster(config, opts);
  if (!config.REDIS_URL) throw new Error('REDIS_URL is not set: the Redis-backed queue needs it (or REDIS_CLUSTER_NODES; or run without both for the one-process local mode)');
  return createRedis(config.REDIS_URL, opts);
}

/**
 * A second connection like `client` for blocking reads or a subscription: its commands wait out
 * outages (no retry cap, no command timeout). A cluster client is duplicated as a cluster.
 */
export function duplicateRedis(client: RedisClient, name: string): RedisClient {
  const blocking = { connectionName: `imagine:${name}`, maxRetriesPerRequest: null, commandTimeout: undefined };
  if (isCluster(client)) return client.duplicate([], { maxRedirections: maxRedirections('worker'), redisOptions: { ...client.options.redisOptions, ...blocking } });
  return client.duplicate(blocking);
}

/** Close politely, and hard if Redis does not answer (a dead server must not hang shutdown). */
export async function closeRedis(client: RedisClient, timeoutMs = 2_000): Promise<void> {
  if (client.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit().then(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
  } catch {
    /* quitting a broken connection fails; disconnect below */
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
